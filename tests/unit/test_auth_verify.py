"""Token verification without a network: PEM and HS256 keys, each attack of the issue, the claims cache."""

from __future__ import annotations

import json
import time

import jwt
import pytest

from broker.auth import verify
from broker.auth.settings import auth_settings
from broker.auth.verify import InvalidToken, TokenVerifier
from broker.config import Settings
from tests.tokens import AUDIENCE, ISSUER, SECRET, claims, hs256, public_jwk, public_pem, raw_jws, sign, token


def verifier(**values) -> TokenVerifier:
    base = {"auth": "jwt", "jwt_issuer": ISSUER, "jwt_audience": AUDIENCE,
            "jwt_public_key": public_pem("rsa-1").decode()}
    return TokenVerifier(auth_settings(Settings(**{**base, **values})))


async def refused(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(InvalidToken) as raised:
        await verifier.verify(token)
    return str(raised.value)


async def test_a_valid_rs256_token_gives_its_principal():
    principal = await verifier().verify(token(scope="ngsi-ld:read ngsi-ld:write", tenants=("osaka",)))
    assert (principal.subject, principal.scopes, principal.tenants) == (
        "alice", {"ngsi-ld:read", "ngsi-ld:write"}, {"osaka"})


@pytest.mark.parametrize(("make", "reason"), [
    (lambda: raw_jws({"alg": "none", "typ": "JWT"}, claims(), None), "algorithm 'none' is not accepted"),
    (lambda: raw_jws({"alg": "None"}, claims(), None), "algorithm 'None' is not accepted"),
    # algorithm confusion: HMAC keyed with the RSA public key the broker trusts
    (lambda: raw_jws({"alg": "HS256"}, claims(), public_pem("rsa-1")), "HS256 tokens are not accepted"),
    (lambda: raw_jws({"alg": "HS256"}, claims(), json.dumps(public_jwk("rsa-1")).encode()),
     "HS256 tokens are not accepted"),
    (lambda: token(ttl_s=-300), "The token has expired"),
    (lambda: token(nbf=int(time.time()) + 300), "not valid yet"),
    (lambda: token(iss="https://evil.example/realms/kyodo"), "issuer (iss) is not accepted"),
    (lambda: token(iss=None), "no 'iss' claim"),
    (lambda: token(aud="another-app"), "audience (aud) is not accepted"),
    (lambda: token(aud=None), "no 'aud' claim"),
    (lambda: sign({k: v for k, v in claims().items() if k != "exp"}), "no 'exp' claim"),
    (lambda: token("rsa-2"), "signature does not verify"),
    (lambda: token("ec-1"), "algorithm 'ES256' is not accepted"),
    (lambda: "not.a.jwt", "not a well-formed JWT"),
    (lambda: "abc", "not a well-formed JWT"),
    (lambda: token()[:-8] + "AAAAAAAA", "signature does not verify"),
])
async def test_bad_tokens_are_refused_with_a_reason(make, reason):
    assert reason in await refused(verifier(), make())


async def test_leeway_accepts_a_token_that_expired_a_moment_ago():
    assert (await verifier(jwt_leeway_s=30).verify(token(ttl_s=-10))).subject == "alice"
    assert "expired" in await refused(verifier(jwt_leeway_s=0), token(ttl_s=-10))


async def test_hs256_with_the_configured_secret_and_confusion_against_it():
    check = verifier(jwt_hs256_secret=SECRET)
    assert (await check.verify(hs256(claims()))).subject == "alice"
    assert "signature does not verify" in await refused(check, hs256(claims(), secret="x" * 40))
    assert "signature does not verify" in await refused(
        check, raw_jws({"alg": "HS256"}, claims(), public_pem("rsa-1")))


async def test_an_rs256_token_is_refused_when_only_a_secret_is_configured():
    check = verifier(jwt_public_key=None, jwt_issuer=None, jwt_hs256_secret=SECRET)
    assert "algorithm 'RS256' is not accepted" in await refused(check, token())


async def test_verified_claims_are_cached_until_the_token_expires(monkeypatch):
    check = verifier(jwt_leeway_s=0)
    calls = []
    decode = jwt.decode
    monkeypatch.setattr(verify.jwt, "decode", lambda *a, **k: calls.append(1) or decode(*a, **k))
    short = token(ttl_s=60)
    await check.verify(short)
    await check.verify(short)
    assert len(calls) == 1
    check.clock = lambda: time.time() + 61
    await check.verify(short)
    assert len(calls) == 2


async def test_the_claims_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(verify, "CACHE_SIZE", 3)
    check = verifier()
    for number in range(5):
        await check.verify(token(jti=str(number)))
    assert len(check._verified) == 3
