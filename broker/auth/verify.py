"""Bearer token verification with PyJWT: signature, alg, iss, aud, exp, nbf; results cached until exp.

HS256 tokens are checked only against KYODO_JWT_HS256_SECRET and only with ["HS256"]; every other
token only against the PEM key or the JWKS and only with the asymmetric algorithms. The header's
`alg` picks the path, never the key material, so an HS256 token signed with the RSA public key
(algorithm confusion) meets the secret, not the public key, and fails.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import jwt
from jwt import PyJWK
from jwt import exceptions as jwt_errors

from broker.auth.jwks import JwksKeys, UnknownKey
from broker.auth.principal import Principal, principal_from_claims
from broker.auth.settings import AuthSettings, PublicKey

CACHE_SIZE = 10_000


class InvalidToken(Exception):
    """The token cannot be accepted; the message says why, for the client."""


_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (jwt_errors.ExpiredSignatureError, "The token has expired"),
    (jwt_errors.ImmatureSignatureError, "The token is not valid yet (nbf or iat in the future)"),
    (jwt_errors.InvalidIssuerError, "The token's issuer (iss) is not accepted"),
    (jwt_errors.InvalidAudienceError, "The token's audience (aud) is not accepted"),
    (jwt_errors.InvalidAlgorithmError, "The token's algorithm is not accepted"),
    (jwt_errors.InvalidSignatureError, "The token's signature does not verify"),
    (jwt_errors.InvalidKeyError, "The token's key is not usable with its algorithm"),
    (jwt_errors.DecodeError, "The token is not a well-formed JWT"),
)


def _reason(exc: jwt_errors.PyJWTError) -> str:
    if isinstance(exc, jwt_errors.MissingRequiredClaimError):
        return f"The token has no '{exc.claim}' claim"
    return next((text for kind, text in _REASONS if isinstance(exc, kind)), "The token is not valid")


class TokenVerifier:
    def __init__(self, settings: AuthSettings, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.clock = clock
        self.jwks = JwksKeys(jwks_url=settings.jwks_url, issuer=settings.issuer, ttl_s=settings.jwks_ttl_s,
                             cooldown_s=settings.jwks_cooldown_s,
                             timeout_s=settings.fetch_timeout_s) if settings.uses_jwks else None
        # sha256(token) → (principal, accepted until); a dict in LRU order, bounded
        self._verified: OrderedDict[bytes, tuple[Principal, float]] = OrderedDict()

    async def verify(self, token: str) -> Principal:
        """The principal of a valid token; InvalidToken, or jwks.KeysUnavailable, otherwise."""
        digest = hashlib.sha256(token.encode()).digest()
        cached = self._verified.get(digest)
        if cached is not None:
            if self.clock() < cached[1]:
                self._verified.move_to_end(digest)
                return cached[0]
            del self._verified[digest]
        claims = await self._claims(token)
        principal = principal_from_claims(claims, tenants_claim=self.settings.tenants_claim,
                                          role_scopes=self.settings.role_scopes)
        self._verified[digest] = (principal, float(claims["exp"]) + self.settings.leeway_s)
        if len(self._verified) > CACHE_SIZE:
            self._verified.popitem(last=False)
        return principal

    async def _claims(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt_errors.PyJWTError as exc:
            raise InvalidToken(_reason(exc)) from None
        key, algorithms = await self._key(header)
        options: dict[str, Any] = {"require": ["exp"], "verify_aud": bool(self.settings.audience)}
        try:
            claims = jwt.decode(token, key, algorithms=algorithms, options=options,  # type: ignore[arg-type]
                                audience=list(self.settings.audience) or None, issuer=self.settings.issuer,
                                leeway=self.settings.leeway_s)
        except jwt_errors.PyJWTError as exc:
            raise InvalidToken(_reason(exc)) from None
        if not isinstance(claims.get("exp"), int | float):
            raise InvalidToken("The token's exp claim is not a number")
        return claims

    async def _key(self, header: dict[str, Any]) -> tuple[bytes | PublicKey | PyJWK, list[str]]:
        """The key and algorithm list for the token's header alg, each kind on its own path."""
        alg = header.get("alg")
        if alg == "HS256":
            if self.settings.hs256_secret is None:
                raise InvalidToken("HS256 tokens are not accepted by this broker")
            return self.settings.hs256_secret, ["HS256"]
        if not isinstance(alg, str) or alg not in self.settings.algorithms:
            raise InvalidToken(f"The token's algorithm {alg!r} is not accepted")
        if self.settings.public_key is not None:
            return self.settings.public_key, list(self.settings.algorithms)
        assert self.jwks is not None
        kid = header.get("kid")
        try:
            return await self.jwks.key(kid if isinstance(kid, str) else None), list(self.settings.algorithms)
        except UnknownKey as exc:
            raise InvalidToken(str(exc)) from None

    async def close(self) -> None:
        if self.jwks is not None:
            await self.jwks.close()
