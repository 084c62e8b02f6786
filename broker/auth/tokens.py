"""Development tokens: HS256, signed with KYODO_JWT_HS256_SECRET (`kyodo token`)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable

import jwt

from broker.auth.policy import ALL_SCOPES
from broker.auth.settings import AuthConfigError, audiences, hs256_secret
from broker.config import Settings


def mint_token(settings: Settings, *, tenants: Iterable[str], scopes: Iterable[str], subject: str,
               ttl_s: int, now: float | None = None) -> str:
    """A token the broker accepts when configured with the same secret (and iss/aud, if set)."""
    secret = hs256_secret(settings)
    if secret is None:
        raise AuthConfigError("no KYODO_JWT_HS256_SECRET is configured: there is nothing to sign a token with")
    scope_names = sorted({name for name in scopes})
    unknown = set(scope_names) - ALL_SCOPES
    if unknown:
        raise AuthConfigError(f"unknown scope(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(ALL_SCOPES))}")
    if ttl_s <= 0:
        raise AuthConfigError("the token lifetime must be positive")
    issued = int(time.time() if now is None else now)
    claims: dict[str, object] = {
        "sub": subject,
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl_s,
        "jti": uuid.uuid4().hex,
        "scope": " ".join(scope_names),
        settings.jwt_tenants_claim: [name.strip().lower() for name in tenants],
    }
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if audiences(settings):
        claims["aud"] = audiences(settings)[0]
    return jwt.encode(claims, secret, algorithm="HS256")
