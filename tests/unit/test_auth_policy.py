"""The route table: every route of the application has exactly one access rule (policy.py)."""

from __future__ import annotations

import pytest
from aiohttp import web

from broker.app import create_app
from broker.auth import policy
from broker.auth.policy import ADMIN, CONTEXTS, PUBLISH, READ, SUBSCRIBE, WRITE, Rule, rule_for
from broker.config import Settings

NGSI_LD = "/ngsi-ld/v1"


def routes(app: web.Application) -> list[tuple[str, str]]:
    return [(route.method, route.resource.canonical) for route in app.router.routes() if route.resource]


@pytest.fixture(scope="module")
def app() -> web.Application:
    """The whole application, every add_routes included, as `kyodo serve` builds it with JWT on."""
    settings = Settings(auth="jwt", jwt_hs256_secret="s" * 32)
    return create_app(settings, "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=100")


def test_every_route_of_the_application_has_an_access_rule(app):
    uncovered = [f"{method} {path}" for method, path in routes(app) if rule_for(method, path) is None]
    assert uncovered == []


def test_every_ngsi_ld_route_is_listed_explicitly_not_by_a_prefix(app):
    unlisted = [f"{method} {path}" for method, path in routes(app)
                if path.startswith(NGSI_LD) and ("GET" if method == "HEAD" else method, path) not in policy.ROUTES]
    assert unlisted == []


def test_the_table_lists_no_ngsi_ld_route_the_application_does_not_have(app):
    registered = {("GET" if method == "HEAD" else method, path) for method, path in routes(app)}
    stale = [key for key in policy.ROUTES if key[1].startswith(NGSI_LD) and key not in registered]
    assert stale == []


def test_admin_routes_added_later_are_covered_by_the_admin_prefix():
    app = web.Application()

    async def handler(request: web.Request) -> web.Response:
        return web.Response()
    app.router.add_route("PATCH", "/admin/v1/tenants/{name}/quotas/{quota}", handler)
    ((method, path),) = routes(app)
    assert rule_for(method, path) == Rule(ADMIN, tenant_bound=False)


@pytest.mark.parametrize(("method", "path", "rule"), [
    ("GET", "/version", Rule(None, tenant_bound=False)),
    ("HEAD", "/health", Rule(None, tenant_bound=False)),
    ("GET", "/ready", Rule(None, tenant_bound=False)),
    ("GET", "/metrics", Rule(None, tenant_bound=False)),
    ("GET", f"{NGSI_LD}/entities", Rule(READ)),
    ("POST", f"{NGSI_LD}/entityOperations/query", Rule(READ)),
    ("GET", f"{NGSI_LD}/types/{{type}}", Rule(READ)),
    ("POST", f"{NGSI_LD}/entities", Rule(WRITE)),
    ("DELETE", f"{NGSI_LD}/entities", Rule(WRITE)),
    ("PATCH", f"{NGSI_LD}/entities/{{entityId}}/attrs/{{attrId}}", Rule(WRITE)),
    ("POST", f"{NGSI_LD}/entityOperations/upsert", Rule(WRITE)),
    ("POST", f"{NGSI_LD}/subscriptions", Rule(SUBSCRIBE)),
    ("GET", f"{NGSI_LD}/subscriptions", Rule(SUBSCRIBE)),
    ("GET", f"{NGSI_LD}/subscriptions/{{subscriptionId}}", Rule(SUBSCRIBE)),
    ("GET", f"{NGSI_LD}/jsonldContexts/{{contextId}}", Rule(READ)),
    ("POST", f"{NGSI_LD}/jsonldContexts", Rule(CONTEXTS)),
    ("DELETE", f"{NGSI_LD}/jsonldContexts/{{contextId}}", Rule(CONTEXTS)),
    ("GET", "/admin/v1/tenants", Rule(ADMIN, tenant_bound=False)),
    ("DELETE", "/admin/v1/tenants/{name}", Rule(ADMIN, tenant_bound=False)),
    ("GET", "/catalog/datasets", Rule(None, tenant_bound=False)),
    ("POST", "/catalog/datasets", Rule(PUBLISH)),
    ("GET", "/somewhere/else", None),
    ("POST", f"{NGSI_LD}/csourceRegistrations", None),
])
def test_rule_for_each_route_class(method, path, rule):
    assert rule_for(method, path) == rule
