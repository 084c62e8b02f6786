"""Access-control settings: what is refused at start-up, and the bind guard of `kyodo serve`."""

from __future__ import annotations

import pytest

from broker.auth.settings import AuthConfigError, auth_settings, insecure_bind_refusal, parse_role_scopes
from broker.config import Settings
from tests.tokens import SECRET, public_pem


def jwt_settings(**values) -> Settings:
    return Settings(auth="jwt", **values)


def test_auth_none_needs_nothing_else():
    assert auth_settings(Settings()).mode == "none"


@pytest.mark.parametrize(("values", "message"), [
    ({}, "KYODO_AUTH=jwt needs a key"),
    ({"jwt_hs256_secret": "too short"}, "at least 32 bytes"),
    ({"jwt_jwks_url": "https://idp/jwks", "jwt_algorithms": "RS256,HS256"}, "not HS256"),
    ({"jwt_jwks_url": "https://idp/jwks", "jwt_algorithms": "none"}, "not none"),
    ({"jwt_jwks_url": "https://idp/jwks", "jwt_algorithms": ""}, "KYODO_JWT_ALGORITHMS is empty"),
    ({"jwt_jwks_url": "file:///etc/passwd"}, "http:// or https://"),
    ({"jwt_issuer": "idp.example.jp"}, "http:// or https://"),
    ({"jwt_jwks_url": "https://idp/jwks", "jwt_public_key": "-----BEGIN PUBLIC KEY-----"}, "not both"),
    ({"jwt_public_key": "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----"}, "not a PEM"),
    ({"jwt_public_key": "/nonexistent/key.pem"}, "cannot read"),
    ({"jwt_hs256_secret": SECRET, "jwt_role_scopes": "kyodo-admin"}, "is not role=scope"),
    ({"jwt_hs256_secret": SECRET, "jwt_role_scopes": "kyodo-admin=superuser"}, "unknown scope(s) superuser"),
])
def test_unworkable_jwt_settings_are_refused_with_the_setting_to_fix(values, message):
    with pytest.raises(AuthConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        auth_settings(jwt_settings(**values))


def test_a_pem_key_keeps_only_the_algorithms_of_its_kind():
    config = auth_settings(jwt_settings(jwt_public_key=public_pem("ec-1").decode(),
                                        jwt_algorithms="RS256,ES256,EdDSA"))
    assert config.algorithms == ("ES256",)
    with pytest.raises(AuthConfigError, match="no algorithm for the EC key"):
        auth_settings(jwt_settings(jwt_public_key=public_pem("ec-1").decode(), jwt_algorithms="RS256"))


def test_a_pem_key_may_be_given_as_a_file_path(tmp_path):
    path = tmp_path / "issuer.pem"
    path.write_bytes(public_pem("rsa-1"))
    config = auth_settings(jwt_settings(jwt_public_key=str(path)))
    assert config.public_key is not None and config.algorithms == ("RS256",) and not config.uses_jwks


def test_hs256_alone_accepts_no_asymmetric_algorithm():
    config = auth_settings(jwt_settings(jwt_hs256_secret=SECRET))
    assert (config.algorithms, config.hs256_secret) == ((), SECRET.encode())


def test_an_issuer_without_jwks_url_or_pem_means_oidc_discovery():
    config = auth_settings(jwt_settings(jwt_issuer="https://idp.example.jp/realms/kyodo",
                                        jwt_audience="kyodo-broker, account"))
    assert config.uses_jwks and config.jwks_url is None
    assert config.audience == ("kyodo-broker", "account")


def test_role_scopes_map_a_role_to_one_or_more_scopes():
    assert parse_role_scopes("kyodo-admin=admin, kyodo-writer=ngsi-ld:read ngsi-ld:write,") == {
        "kyodo-admin": frozenset({"admin"}), "kyodo-writer": frozenset({"ngsi-ld:read", "ngsi-ld:write"})}


@pytest.mark.parametrize(("values", "refused"), [
    ({"host": "127.0.0.1"}, False),
    ({"host": "127.0.0.2"}, False),
    ({"host": "::1"}, False),
    ({"host": "localhost"}, False),
    ({"host": "0.0.0.0"}, True),
    ({"host": "::"}, True),
    ({"host": "192.168.1.10"}, True),
    ({"host": "broker.example.jp"}, True),
    ({"host": "0.0.0.0", "insecure_bind": True}, False),
    ({"host": "0.0.0.0", "auth": "jwt"}, False),
])
def test_auth_none_refuses_a_non_loopback_address_unless_told_otherwise(values, refused):
    refusal = insecure_bind_refusal(Settings(**values))
    assert (refusal is not None) == refused
    if refused:
        assert "--insecure-bind" in refusal and values["host"] in refusal


def test_the_ssrf_guard_is_on_by_default_in_production_mode():
    assert Settings(auth="jwt", jwt_hs256_secret=SECRET).notification_target_policy == "public"
    assert Settings().notification_target_policy == "any"
    explicit = Settings(auth="jwt", jwt_hs256_secret=SECRET, notification_targets="any")
    assert explicit.notification_target_policy == "any"
