"""Access-control settings (KYODO_AUTH, KYODO_JWT_*) checked and compiled once at start-up."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from pydantic import SecretStr

from broker.auth.policy import ALL_SCOPES
from broker.config import Settings

#: the asymmetric algorithms KYODO_JWT_ALGORITHMS may name; HS256 has its own secret setting
ASYMMETRIC_ALGORITHMS = {
    "RS256": "RSA", "RS384": "RSA", "RS512": "RSA", "PS256": "RSA", "PS384": "RSA", "PS512": "RSA",
    "ES256": "EC", "ES384": "EC", "ES512": "EC", "EdDSA": "OKP",
}
MIN_HS256_SECRET_BYTES = 32
"""RFC 7518 3.2: an HS256 key must be at least as long as the hash output (256 bits)."""

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey


class AuthConfigError(ValueError):
    """The access-control settings cannot work; the message says which setting to fix."""


@dataclass(frozen=True)
class AuthSettings:
    mode: Literal["none", "jwt"]
    algorithms: tuple[str, ...] = ()
    """Asymmetric algorithms accepted with the PEM key or the JWKS keys."""
    jwks_url: str | None = None
    issuer: str | None = None
    public_key: PublicKey | None = None
    hs256_secret: bytes | None = None
    audience: tuple[str, ...] = ()
    leeway_s: float = 30.0
    tenants_claim: str = "tenants"
    role_scopes: Mapping[str, frozenset[str]] = field(default_factory=dict)
    jwks_ttl_s: float = 600.0
    jwks_cooldown_s: float = 30.0
    fetch_timeout_s: float = 5.0

    @property
    def uses_jwks(self) -> bool:
        """Asymmetric keys come from a JWKS (given, or found through OIDC discovery)."""
        return self.public_key is None and (self.jwks_url is not None or self.issuer is not None)


def _text(value: Any) -> str | None:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return value.strip() if isinstance(value, str) and value.strip() else None


def hs256_secret(settings: Settings) -> bytes | None:
    """KYODO_JWT_HS256_SECRET as bytes; too short a secret is a configuration error."""
    secret = _text(settings.jwt_hs256_secret)
    if secret is None:
        return None
    if len(secret.encode()) < MIN_HS256_SECRET_BYTES:
        raise AuthConfigError(f"KYODO_JWT_HS256_SECRET must be at least {MIN_HS256_SECRET_BYTES} bytes long")
    return secret.encode()


def audiences(settings: Settings) -> tuple[str, ...]:
    """KYODO_JWT_AUDIENCE: one audience, or several separated by commas or spaces (any one will do)."""
    raw = _text(settings.jwt_audience)
    return tuple(raw.replace(",", " ").split()) if raw else ()


def _http_url(value: str, name: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise AuthConfigError(f"{name} must be an http:// or https:// URL, got {value!r}")
    return value


def _public_key(value: str) -> PublicKey:
    """A PEM public key or certificate, given as the PEM text itself or as a file path."""
    if "-----BEGIN" in value:
        pem = value.encode()
    else:
        try:
            pem = Path(value).read_bytes()
        except OSError as exc:
            raise AuthConfigError(f"KYODO_JWT_PUBLIC_KEY: cannot read {value!r}: {exc.strerror}") from None
    try:
        if b"BEGIN CERTIFICATE" in pem:
            key = x509.load_pem_x509_certificate(pem).public_key()
        else:
            key = load_pem_public_key(pem)
    except ValueError as exc:
        raise AuthConfigError(f"KYODO_JWT_PUBLIC_KEY is not a PEM public key or certificate: {exc}") from None
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
        raise AuthConfigError("KYODO_JWT_PUBLIC_KEY must be an RSA, EC or Ed25519 public key")
    return key


def _key_family(key: PublicKey) -> str:
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA"
    return "EC" if isinstance(key, ec.EllipticCurvePublicKey) else "OKP"


def _algorithms(raw: str) -> tuple[str, ...]:
    names = tuple(raw.replace(",", " ").split())
    wrong = [name for name in names if name not in ASYMMETRIC_ALGORITHMS]
    if wrong:
        raise AuthConfigError(
            f"KYODO_JWT_ALGORITHMS may only name asymmetric algorithms ({', '.join(ASYMMETRIC_ALGORITHMS)}), "
            f"not {', '.join(wrong)}; HS256 is enabled by KYODO_JWT_HS256_SECRET alone")
    return names


def parse_role_scopes(raw: str) -> dict[str, frozenset[str]]:
    """'kyodo-admin=admin,kyodo-writer=ngsi-ld:read ngsi-ld:write' → role → scopes."""
    mapping: dict[str, frozenset[str]] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        role, sep, scopes = item.partition("=")
        names = frozenset(scopes.split())
        if not sep or not role.strip() or not names:
            raise AuthConfigError(f"KYODO_JWT_ROLE_SCOPES: {item!r} is not role=scope[ scope…]")
        unknown = names - ALL_SCOPES
        if unknown:
            raise AuthConfigError(f"KYODO_JWT_ROLE_SCOPES: unknown scope(s) {', '.join(sorted(unknown))}; "
                                  f"known: {', '.join(sorted(ALL_SCOPES))}")
        mapping[role.strip()] = mapping.get(role.strip(), frozenset()) | names
    return mapping


def auth_settings(settings: Settings) -> AuthSettings:
    """The compiled access-control settings, or AuthConfigError naming what to fix."""
    if settings.auth == "none":
        return AuthSettings(mode="none")
    secret = hs256_secret(settings)
    jwks_url = _text(settings.jwt_jwks_url)
    issuer = _text(settings.jwt_issuer)
    pem = _text(settings.jwt_public_key)
    if pem and jwks_url:
        raise AuthConfigError("Set KYODO_JWT_PUBLIC_KEY or KYODO_JWT_JWKS_URL, not both")
    if not (secret or jwks_url or issuer or pem):
        raise AuthConfigError("KYODO_AUTH=jwt needs a key: KYODO_JWT_JWKS_URL, KYODO_JWT_ISSUER (OIDC discovery), "
                              "KYODO_JWT_PUBLIC_KEY or KYODO_JWT_HS256_SECRET")
    algorithms = _algorithms(settings.jwt_algorithms)
    public_key = _public_key(pem) if pem else None
    if public_key is not None:
        family = _key_family(public_key)
        algorithms = tuple(name for name in algorithms if ASYMMETRIC_ALGORITHMS[name] == family)
        if not algorithms:
            raise AuthConfigError(f"KYODO_JWT_ALGORITHMS names no algorithm for the {family} key "
                                  "in KYODO_JWT_PUBLIC_KEY")
    if (jwks_url or issuer or pem) and not algorithms:
        raise AuthConfigError("KYODO_JWT_ALGORITHMS is empty")
    return AuthSettings(
        mode="jwt",
        algorithms=algorithms if (jwks_url or issuer or pem) else (),
        jwks_url=_http_url(jwks_url, "KYODO_JWT_JWKS_URL") if jwks_url else None,
        issuer=_http_url(issuer, "KYODO_JWT_ISSUER") if issuer else None,
        public_key=public_key,
        hs256_secret=secret,
        audience=audiences(settings),
        leeway_s=settings.jwt_leeway_s,
        tenants_claim=settings.jwt_tenants_claim,
        role_scopes=parse_role_scopes(settings.jwt_role_scopes),
        jwks_ttl_s=settings.jwt_jwks_ttl_s,
        jwks_cooldown_s=settings.jwt_jwks_cooldown_s,
    )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def insecure_bind_refusal(settings: Settings) -> str | None:
    """Why `kyodo serve` must not start (no access control on a non-loopback address), or None."""
    if settings.auth != "none" or settings.insecure_bind or is_loopback(settings.host):
        return None
    return (f"refusing to serve on {settings.host} with KYODO_AUTH=none: anyone who can reach it could read and "
            "change every tenant's data. Set KYODO_AUTH=jwt, bind 127.0.0.1, or pass --insecure-bind "
            "(KYODO_INSECURE_BIND=true) if this is really wanted.")
