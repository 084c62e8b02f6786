"""Access control over HTTP: real RS256/ES256/EdDSA keys served by an in-test JWKS endpoint (issue 6)."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
import structlog
from aiohttp import web
from aiohttp.test_utils import TestServer

from broker.app import create_app
from broker.auth.principal import principal_of
from tests.conftest import API
from tests.tokens import (
    AUDIENCE,
    ISSUER,
    SECRET,
    Jwks,
    claims,
    hs256,
    public_pem,
    raw_jws,
    sign,
    token,
)

ADMIN_PROBE = "/admin/v1/_auth-probe"
OSAKA = {"NGSILD-Tenant": "osaka"}
ALL_SCOPES = "ngsi-ld:read ngsi-ld:write ngsi-ld:subscribe ngsi-ld:contexts admin"


def bearer(value: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}", **headers}


def entity(number: Any = None) -> dict[str, Any]:
    return {"id": f"urn:ngsi-ld:Shelter:{number or uuid.uuid4().hex}", "type": "Shelter", "occupancy": 10}


@dataclass
class IdP:
    """An identity provider on loopback: a JWKS endpoint and an OIDC discovery document."""

    server: TestServer
    jwks: Jwks

    def url(self, path: str = "") -> str:
        return str(self.server.make_url(path))


@pytest.fixture
async def idp(aiohttp_server: Any) -> IdP:
    published = Jwks()
    holder: dict[str, IdP] = {}

    async def jwks(request: web.Request) -> web.Response:
        published.hits += 1
        return web.json_response(published.document())

    async def discovery(request: web.Request) -> web.Response:
        return web.json_response({"issuer": holder["idp"].url(), "jwks_uri": holder["idp"].url("/certs")})

    app = web.Application()
    app.router.add_get("/certs", jwks)
    app.router.add_get("/.well-known/openid-configuration", discovery)
    holder["idp"] = IdP(await aiohttp_server(app), published)
    return holder["idp"]


async def admin_probe(request: web.Request) -> web.Response:
    """A stand-in admin route: answers with the subject admitted and the one bound for the logs."""
    principal = principal_of(request)
    return web.json_response({"subject": principal.subject if principal else None,
                              "logged_as": structlog.contextvars.get_contextvars().get("subject")})


@pytest.fixture
def broker(aiohttp_client: Any, mongo_url: str, settings: Any, idp: IdP) -> Any:
    """A broker with KYODO_AUTH=jwt trusting the in-test JWKS, plus an admin route to probe."""
    async def make(**overrides: Any) -> Any:
        values = {"auth": "jwt", "jwt_jwks_url": idp.url("/certs"), "jwt_issuer": ISSUER,
                  "jwt_audience": AUDIENCE, "tenant_autocreate": True, **overrides}
        app = create_app(settings.model_copy(update=values), mongo_url)
        app.router.add_get(ADMIN_PROBE, admin_probe)
        return await aiohttp_client(app)
    return make


async def refusal(response: Any, status: int, name: str) -> dict[str, Any]:
    assert response.status == status, await response.text()
    body = await response.json()
    assert body["type"] == f"urn:kyodo:error:{name}", body
    return body


# --- the authorization matrix: scope × tenant × route class ------------------------------------------

CLASSES = {  # route class → (the scope it needs, whether the token must name the tenant, success status)
    "read": ("ngsi-ld:read", True, 200),
    "write": ("ngsi-ld:write", True, 201),
    "subscribe": ("ngsi-ld:subscribe", True, 200),
    "contexts": ("ngsi-ld:contexts", True, 201),
    "admin": ("admin", False, 200),
}


async def call(client: Any, route_class: str, headers: dict[str, str], existing: str) -> Any:
    if route_class == "read":
        return await client.get(f"{API}/entities/{existing}", headers=headers)
    if route_class == "write":
        return await client.post(f"{API}/entities", json=entity(), headers=headers)
    if route_class == "subscribe":
        return await client.get(f"{API}/subscriptions", headers=headers)
    if route_class == "contexts":
        return await client.post(f"{API}/jsonldContexts", json={"@context": {"occupancy": "https://ex.jp/o"}},
                                 headers=headers)
    return await client.get(ADMIN_PROBE, headers=headers)


async def test_authorization_matrix_of_scope_tenant_and_route_class(broker):
    client = await broker()
    shelter = entity("matrix")
    setup = await client.post(f"{API}/entities", json=shelter, headers=bearer(token(scope=ALL_SCOPES), **OSAKA))
    assert setup.status == 201
    expected, got = {}, {}
    for scope in ("ngsi-ld:read", "ngsi-ld:write", "ngsi-ld:subscribe", "ngsi-ld:contexts", "admin"):
        for tenants in (("osaka",), ("hyogo",), ("*",)):
            headers = bearer(token(scope=scope, tenants=tenants), **OSAKA)
            for route_class, (needed, tenant_bound, success) in CLASSES.items():
                allowed = scope == needed and (not tenant_bound or tenants != ("hyogo",))
                expected[scope, tenants, route_class] = success if allowed else 403
                got[scope, tenants, route_class] = (await call(client, route_class, headers, shelter["id"])).status
    assert got == expected


async def test_a_missing_scope_is_403_naming_the_scope_with_an_insufficient_scope_challenge(broker):
    client = await broker()
    response = await client.post(f"{API}/entities", json=entity(), headers=bearer(token(scope="ngsi-ld:read"), **OSAKA))
    body = await refusal(response, 403, "Forbidden")
    assert body == {"type": "urn:kyodo:error:Forbidden", "title": "Forbidden",
                    "detail": "The token lacks the scope 'ngsi-ld:write' that POST /ngsi-ld/v1/entities requires"}
    assert response.headers["WWW-Authenticate"] == \
        'Bearer realm="kyodo", error="insufficient_scope", scope="ngsi-ld:write"'


async def test_admin_routes_refuse_a_token_with_every_data_scope(broker):
    client = await broker()
    data_scopes = "ngsi-ld:read ngsi-ld:write ngsi-ld:subscribe ngsi-ld:register ngsi-ld:contexts catalog:publish"
    response = await client.get(ADMIN_PROBE, headers=bearer(token(scope=data_scopes, tenants="*")))
    body = await refusal(response, 403, "Forbidden")
    assert "'admin'" in body["detail"]


async def test_admin_does_not_grant_data_access(broker):
    client = await broker()
    response = await client.get(f"{API}/subscriptions", headers=bearer(token(scope="admin", tenants="*")))
    await refusal(response, 403, "Forbidden")


async def test_the_admitted_principal_is_stored_on_the_request_and_bound_into_the_logs(broker):
    client = await broker()
    response = await client.get(ADMIN_PROBE, headers=bearer(token(scope="admin", sub="operator-7")))
    assert (response.status, await response.json()) == (200, {"subject": "operator-7", "logged_as": "operator-7"})


# --- tenants ------------------------------------------------------------------------------------------

async def test_a_token_for_tenant_a_is_refused_on_tenant_b(broker):
    client = await broker()
    headers = bearer(token(scope="ngsi-ld:write", tenants=("osaka",)), **{"NGSILD-Tenant": "hyogo"})
    response = await client.post(f"{API}/entities", json=entity(), headers=headers)
    body = await refusal(response, 403, "Forbidden")
    assert body["detail"] == "The token does not grant access to tenant 'hyogo'"
    assert "WWW-Authenticate" not in response.headers
    assert response.headers["NGSILD-Tenant"] == "hyogo"


async def test_tenant_names_in_the_header_and_the_token_are_compared_in_lower_case(broker):
    client = await broker()
    headers = bearer(token(scope="ngsi-ld:write", tenants=["Osaka"]), **{"Fiware-Service": "OSAKA"})
    response = await client.post(f"{API}/entities", json=entity(), headers=headers)
    assert response.status == 201


async def test_star_grants_every_tenant_including_the_default_one(broker):
    client = await broker()
    write = token(scope="ngsi-ld:write", tenants="*")
    for headers in ({"NGSILD-Tenant": "hyogo"}, {"NGSILD-Tenant": "nara"}, {}):
        response = await client.post(f"{API}/entities", json=entity(), headers=bearer(write, **headers))
        assert response.status == 201, headers


async def test_the_default_tenant_is_named_default_in_tokens(broker):
    client = await broker()
    read = "ngsi-ld:subscribe"
    allowed = await client.get(f"{API}/subscriptions", headers=bearer(token(scope=read, tenants=("default",))))
    refused = await client.get(f"{API}/subscriptions", headers=bearer(token(scope=read, tenants=("osaka",))))
    assert (allowed.status, refused.status) == (200, 403)
    assert (await refused.json())["detail"] == "The token does not grant access to tenant 'default'"


@pytest.mark.parametrize("tenant", ["../osaka", "osaka/../hyogo", "osaka%2Fhyogo", "osaka\\hyogo", "catalog"])
async def test_a_tenant_header_with_path_characters_is_400(broker, tenant):
    client = await broker()
    headers = bearer(token(scope="ngsi-ld:write", tenants="*"), **{"NGSILD-Tenant": tenant})
    response = await client.post(f"{API}/entities", json=entity(), headers=headers)
    assert response.status == 400
    assert (await response.json())["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"


async def test_a_tenant_header_with_a_nul_character_is_400(broker):
    client = await broker()
    request = (f"GET {API}/subscriptions HTTP/1.1\r\nHost: localhost\r\nNGSILD-Tenant: osaka\x00hyogo\r\n"
               f"Authorization: Bearer {token(scope='ngsi-ld:subscribe', tenants='*')}\r\nConnection: close\r\n\r\n")
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    writer.write(request.encode())
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    assert status_line.split()[1] == b"400"


# --- 401: missing, malformed, forged, expired ---------------------------------------------------------

async def test_a_missing_token_is_401_with_the_bare_bearer_challenge(broker):
    client = await broker()
    response = await client.get(f"{API}/entities/urn:ngsi-ld:Shelter:1", headers=OSAKA)
    body = await refusal(response, 401, "Unauthorized")
    assert body == {"type": "urn:kyodo:error:Unauthorized", "title": "Unauthorized",
                    "detail": "This resource needs a bearer token (Authorization: Bearer <token>)"}
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="kyodo"'
    assert response.headers["NGSILD-Tenant"] == "osaka"


@pytest.mark.parametrize("authorization", [
    "Basic dXNlcjpwYXNzd29yZA==", "Bearer", "Bearer ", "Bearer two tokens", "Token abc", "abc",
])
async def test_a_malformed_authorization_header_is_401_invalid_token(broker, authorization):
    client = await broker()
    response = await client.get(f"{API}/subscriptions", headers={"Authorization": authorization})
    await refusal(response, 401, "Unauthorized")
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="kyodo", error="invalid_token"')


async def test_the_bearer_scheme_is_case_insensitive(broker):
    client = await broker()
    read = token(scope="ngsi-ld:subscribe", tenants="*")
    response = await client.get(f"{API}/subscriptions", headers={"Authorization": f"bearer {read}"})
    assert response.status == 200


def _forged(kind: str) -> str:
    now = int(time.time())
    return {
        "alg=none": lambda: raw_jws({"alg": "none", "typ": "JWT"}, claims(scope=ALL_SCOPES, tenants="*"), None),
        "hs256 keyed with the rsa public key": lambda: raw_jws(
            {"alg": "HS256", "kid": "rsa-1"}, claims(scope=ALL_SCOPES, tenants="*"), public_pem("rsa-1")),
        "expired": lambda: token(scope=ALL_SCOPES, ttl_s=-120),
        "not yet valid": lambda: token(scope=ALL_SCOPES, nbf=now + 120),
        "issued in the future": lambda: token(scope=ALL_SCOPES, iat=now + 120),
        "wrong issuer": lambda: token(scope=ALL_SCOPES, iss="https://evil.example/realms/kyodo"),
        "wrong audience": lambda: token(scope=ALL_SCOPES, aud="another-app"),
        "signed by an unknown key with a known kid": lambda: sign(claims(scope=ALL_SCOPES), "rsa-2",
                                                                  header_kid="rsa-1"),
        "tampered payload": lambda: token(scope="ngsi-ld:read").rsplit(".", 1)[0][:-4] + "AAAA."
        + token(scope="ngsi-ld:read").rsplit(".", 1)[1],
    }[kind]()


@pytest.mark.parametrize(("kind", "detail"), [
    ("alg=none", "The token's algorithm 'none' is not accepted"),
    ("hs256 keyed with the rsa public key", "HS256 tokens are not accepted by this broker"),
    ("expired", "The token has expired"),
    ("not yet valid", "The token is not valid yet (nbf or iat in the future)"),
    ("issued in the future", "The token is not valid yet (nbf or iat in the future)"),
    ("wrong issuer", "The token's issuer (iss) is not accepted"),
    ("wrong audience", "The token's audience (aud) is not accepted"),
    ("signed by an unknown key with a known kid", "The token's signature does not verify"),
    ("tampered payload", None),
])
async def test_forged_expired_and_foreign_tokens_are_401_invalid_token(broker, kind, detail):
    client = await broker()
    response = await client.get(f"{API}/subscriptions", headers=bearer(_forged(kind)))
    body = await refusal(response, 401, "Unauthorized")
    if detail is not None:
        assert body["detail"] == detail
        assert response.headers["WWW-Authenticate"] == \
            f'Bearer realm="kyodo", error="invalid_token", error_description="{detail}"'


async def test_algorithm_confusion_fails_against_the_hs256_secret_too(broker):
    client = await broker(jwt_hs256_secret=SECRET)
    forged = raw_jws({"alg": "HS256"}, claims(scope=ALL_SCOPES, tenants="*"), public_pem("rsa-1"))
    body = await refusal(await client.get(f"{API}/subscriptions", headers=bearer(forged)), 401, "Unauthorized")
    assert body["detail"] == "The token's signature does not verify"


async def test_a_token_within_the_leeway_of_its_expiry_is_accepted(broker):
    client = await broker(jwt_leeway_s=30)
    response = await client.get(f"{API}/subscriptions", headers=bearer(
        token(scope="ngsi-ld:subscribe", tenants="*", ttl_s=-10)))
    assert response.status == 200


async def test_an_authorization_header_over_8000_bytes_is_401_and_over_8190_the_parser_refuses_it(broker):
    client = await broker()
    long = await client.get(f"{API}/subscriptions", headers=bearer("a" * 8001))
    body = await refusal(long, 401, "Unauthorized")
    assert body["detail"] == "The Authorization header is longer than 8000 bytes"
    huge = await client.get(f"{API}/subscriptions", headers=bearer("a" * 64 * 1024))
    assert huge.status == 400


async def test_public_routes_need_no_token_and_unknown_paths_are_plain_404(broker):
    client = await broker()
    statuses = [(await client.get(path)).status for path in ("/version", "/health", "/ready")]
    assert statuses == [200, 200, 200]
    missing = await client.get("/nowhere")
    assert missing.status == 404
    assert (await missing.json())["type"] == "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound"


async def test_with_auth_none_every_request_passes_without_a_token(client):
    response = await client.post(f"{API}/entities", json=entity(), headers=OSAKA)
    assert response.status == 201


# --- keys: JWKS caching, rotation, outage, discovery, PEM, HS256 --------------------------------------

async def test_a_jwks_that_goes_down_keeps_its_cached_keys_and_an_unknown_kid_is_401(broker, idp):
    client = await broker()
    read = {"scope": "ngsi-ld:subscribe", "tenants": "*"}
    assert (await client.get(f"{API}/subscriptions", headers=bearer(token(**read)))).status == 200
    await idp.server.close()
    another = token(**read, jti="second")  # a new token: the claims cache cannot answer for it
    assert (await client.get(f"{API}/subscriptions", headers=bearer(another))).status == 200
    unknown = sign(claims(**read), "rsa-2")
    body = await refusal(await client.get(f"{API}/subscriptions", headers=bearer(unknown)), 401, "Unauthorized")
    assert body["detail"] == "The issuer publishes no signing key with kid 'rsa-2'"
    assert idp.jwks.hits == 1


async def test_a_new_kid_in_the_jwks_is_fetched_and_accepted_then_refetches_cool_down(broker, idp):
    client = await broker(jwt_jwks_cooldown_s=30)
    read = {"scope": "ngsi-ld:subscribe", "tenants": "*"}
    assert (await client.get(f"{API}/subscriptions", headers=bearer(token(**read)))).status == 200
    idp.jwks.kids = ["rsa-1", "ec-2"]  # the issuer rotates: a new key appears
    assert (await client.get(f"{API}/subscriptions", headers=bearer(token("ec-2", **read)))).status == 200
    assert idp.jwks.hits == 2
    for _ in range(3):  # made-up kids within the cooldown do not reach the issuer
        response = await client.get(f"{API}/subscriptions", headers=bearer(sign(claims(**read), "rsa-3")))
        assert response.status == 401
    assert idp.jwks.hits == 2


async def test_after_the_ttl_the_jwks_is_refreshed_in_the_background_and_removed_keys_stop_working(broker, idp):
    client = await broker(jwt_jwks_ttl_s=0)
    read = {"scope": "ngsi-ld:subscribe", "tenants": "*"}
    assert (await client.get(f"{API}/subscriptions", headers=bearer(token(**read)))).status == 200
    idp.jwks.kids = ["rsa-2"]  # the issuer retires rsa-1
    stale = await client.get(f"{API}/subscriptions", headers=bearer(token(**read, jti="2")))
    assert stale.status == 200  # answered with the keys at hand while the refresh runs
    for attempt in range(100):  # the background refresh lands within a few requests
        retired = await client.get(f"{API}/subscriptions", headers=bearer(token(**read, jti=f"r{attempt}")))
        if retired.status != 200:
            break
        await asyncio.sleep(0.02)
    assert retired.status == 401
    assert (await client.get(f"{API}/subscriptions", headers=bearer(token("rsa-2", **read)))).status == 200


async def test_a_jwks_never_reached_is_503_not_500(broker, idp):
    client = await broker()
    await idp.server.close()
    response = await client.get(f"{API}/subscriptions", headers=bearer(token(scope="ngsi-ld:subscribe")))
    body = await refusal(response, 503, "AuthUnavailable")
    assert body["detail"] == "The token issuer's signing keys cannot be fetched; retry shortly"


async def test_concurrent_requests_with_a_new_kid_fetch_the_jwks_once(broker, idp):
    client = await broker()
    idp.jwks.kids = ["rsa-1", "ed-1"]
    read = {"scope": "ngsi-ld:subscribe", "tenants": "*"}
    responses = await asyncio.gather(*(client.get(f"{API}/subscriptions", headers=bearer(token("ed-1", **read,
                                                                                               jti=str(n))))
                                       for n in range(10)))
    assert [response.status for response in responses] == [200] * 10
    assert idp.jwks.hits == 1


async def test_oidc_discovery_from_the_issuer_finds_the_jwks(broker, idp):
    client = await broker(jwt_jwks_url=None, jwt_issuer=idp.url())
    ok = token(scope="ngsi-ld:subscribe", tenants="*", iss=idp.url())
    assert (await client.get(f"{API}/subscriptions", headers=bearer(ok))).status == 200
    foreign = token(scope="ngsi-ld:subscribe", tenants="*")  # iss is the default test issuer
    assert (await client.get(f"{API}/subscriptions", headers=bearer(foreign))).status == 401


@pytest.mark.parametrize("kid", ["ec-1", "ed-1"])
async def test_es256_and_eddsa_keys_from_the_jwks_are_accepted(broker, idp, kid):
    idp.jwks.kids = ["rsa-1", kid]
    client = await broker()
    response = await client.get(f"{API}/subscriptions", headers=bearer(token(kid, scope="ngsi-ld:subscribe",
                                                                             tenants="*")))
    assert response.status == 200


async def test_a_pem_public_key_instead_of_a_jwks(broker, idp):
    client = await broker(jwt_jwks_url=None, jwt_public_key=public_pem("ec-1").decode())
    read = {"scope": "ngsi-ld:subscribe", "tenants": "*"}
    assert (await client.get(f"{API}/subscriptions", headers=bearer(token("ec-1", **read)))).status == 200
    refused = await client.get(f"{API}/subscriptions", headers=bearer(token("rsa-1", **read)))
    assert (await refusal(refused, 401, "Unauthorized"))["detail"] == "The token's algorithm 'RS256' is not accepted"
    assert idp.jwks.hits == 0


async def test_hs256_secret_mode_accepts_hs256_and_nothing_asymmetric(broker):
    client = await broker(jwt_jwks_url=None, jwt_issuer=None, jwt_hs256_secret=SECRET)
    read = {"scope": "ngsi-ld:subscribe", "tenants": "*", "iss": None}
    assert (await client.get(f"{API}/subscriptions", headers=bearer(hs256(claims(**read))))).status == 200
    refused = await client.get(f"{API}/subscriptions", headers=bearer(token(**read)))
    assert (await refusal(refused, 401, "Unauthorized"))["detail"] == "The token's algorithm 'RS256' is not accepted"
    wrong = await client.get(f"{API}/subscriptions", headers=bearer(hs256(claims(**read), secret="b" * 40)))
    assert (await refusal(wrong, 401, "Unauthorized"))["detail"] == "The token's signature does not verify"


async def test_a_keycloak_access_token_works_as_it_comes(broker, idp):
    idp.jwks.kids = ["rsa-kc"]
    client = await broker(jwt_audience="kyodo-broker", jwt_role_scopes="kyodo-writer=ngsi-ld:write")
    now = int(time.time())
    keycloak = {
        "exp": now + 300, "iat": now, "auth_time": now, "jti": "onrtac:6f1c", "iss": ISSUER,
        "aud": ["kyodo-broker", "account"], "sub": "f3b0c2de-5a3b-4c8e-9d0a-1b2c3d4e5f60", "typ": "Bearer",
        "azp": "osaka-dashboard", "sid": "9a8b7c6d", "acr": "1", "allowed-origins": ["https://osaka.example.jp"],
        "realm_access": {"roles": ["offline_access", "uma_authorization", "kyodo-writer", "default-roles-kyodo"]},
        "resource_access": {"account": {"roles": ["manage-account", "view-profile"]}},
        "scope": "openid ngsi-ld:read profile email", "email_verified": True,
        "preferred_username": "tanaka", "tenants": ["osaka"],
    }
    kc_token = sign(keycloak, "rsa-kc")
    created = await client.post(f"{API}/entities", json=entity(), headers=bearer(kc_token, **OSAKA))
    assert created.status == 201  # ngsi-ld:write from the kyodo-writer realm role
    read = await client.get(f"{API}/entities/{entity('x')['id']}", headers=bearer(kc_token, **OSAKA))
    assert read.status == 404  # admitted by the scope claim; the entity does not exist
    subscribe = await client.get(f"{API}/subscriptions", headers=bearer(kc_token, **OSAKA))
    assert subscribe.status == 403
