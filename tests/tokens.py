"""Real signing keys and tokens for the access-control tests: RSA, EC and Ed25519 keys, JWKS, raw JWS."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

ISSUER = "https://idp.example.jp/realms/kyodo"
AUDIENCE = "kyodo-broker"
SECRET = "a development secret of at least 32 bytes!"

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


@cache
def private_key(kid: str) -> PrivateKey:
    """One key per kid for the whole run; the kid's prefix says the kind (rsa-, ec-, ed-)."""
    if kid.startswith("ec-"):
        return ec.generate_private_key(ec.SECP256R1())
    if kid.startswith("ed-"):
        return ed25519.Ed25519PrivateKey.generate()
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def algorithm_of(kid: str) -> str:
    return "ES256" if kid.startswith("ec-") else "EdDSA" if kid.startswith("ed-") else "RS256"


def public_jwk(kid: str) -> dict[str, Any]:
    public = private_key(kid).public_key()
    kind = ECAlgorithm if kid.startswith("ec-") else OKPAlgorithm if kid.startswith("ed-") else RSAAlgorithm
    return {**kind.to_jwk(public, as_dict=True), "kid": kid, "alg": algorithm_of(kid), "use": "sig"}


def public_pem(kid: str) -> bytes:
    return private_key(kid).public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo)


def claims(*, scope: str = "ngsi-ld:read", tenants: Any = ("osaka",), ttl_s: int = 300,
           **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    body: dict[str, Any] = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "iat": now, "exp": now + ttl_s,
                            "scope": scope, "tenants": list(tenants) if isinstance(tenants, tuple) else tenants}
    body.update(extra)
    return {name: value for name, value in body.items() if value is not None}


def sign(payload: dict[str, Any], kid: str = "rsa-1", *, header_kid: str | None = "") -> str:
    """A token signed with `kid`'s private key; header_kid=None leaves the kid out of the header."""
    headers = {} if header_kid is None else {"kid": header_kid or kid}
    return jwt.encode(payload, private_key(kid), algorithm=algorithm_of(kid), headers=headers)


def token(kid: str = "rsa-1", **claim_args: Any) -> str:
    return sign(claims(**claim_args), kid)


def hs256(payload: dict[str, Any], secret: str = SECRET) -> str:
    return jwt.encode(payload, secret, algorithm="HS256")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_jws(header: dict[str, Any], payload: dict[str, Any], key: bytes | None) -> str:
    """A compact JWS built by hand: HMAC-SHA256 with `key` as the secret, or no signature (alg none)."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    if key is None:
        return signing_input + "."
    return signing_input + "." + _b64(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())


@dataclass
class Jwks:
    """What an in-test JWKS endpoint publishes, and how often it was asked."""

    kids: list[str] = field(default_factory=lambda: ["rsa-1"])
    hits: int = 0

    def document(self) -> dict[str, Any]:
        return {"keys": [public_jwk(kid) for kid in self.kids]}
