"""The one table of who may call what: route → required scope (DESIGN.md "Access control").

Keys are (method, route pattern as registered in aiohttp). HEAD is looked up as GET. Every
NGSI-LD route is listed explicitly; /admin/v1/ and /catalog/ are covered by prefix rules so that
routes added there later are never left open. tests/unit/test_auth_policy.py walks the router and
fails on any route without a rule.

Decisions:
- Scopes do not imply one another; `admin` does not grant data access (the operator's staff
  manage tenants, the members' data stays theirs; grant a data scope as well when needed).
- Reading subscriptions needs `ngsi-ld:subscribe`, not `ngsi-ld:read`: a subscription holds
  notification endpoints and their receiverInfo headers, which can carry credentials.
- NGSI-LD and catalog-publishing routes are tenant-bound: the token must name the request's
  tenant (or `*`). Admin routes act on the platform and are not tenant-bound.
"""

from __future__ import annotations

from dataclasses import dataclass

NGSI_LD = "/ngsi-ld/v1"

READ = "ngsi-ld:read"
WRITE = "ngsi-ld:write"
SUBSCRIBE = "ngsi-ld:subscribe"
REGISTER = "ngsi-ld:register"
CONTEXTS = "ngsi-ld:contexts"
PUBLISH = "catalog:publish"
ADMIN = "admin"
ALL_SCOPES = frozenset({READ, WRITE, SUBSCRIBE, REGISTER, CONTEXTS, PUBLISH, ADMIN})


@dataclass(frozen=True)
class Rule:
    """What a route requires: a scope (None = public) and whether the token must name the tenant."""

    scope: str | None
    tenant_bound: bool = True


PUBLIC = Rule(None, tenant_bound=False)
_READ, _WRITE, _SUBSCRIBE, _CONTEXTS = Rule(READ), Rule(WRITE), Rule(SUBSCRIBE), Rule(CONTEXTS)
_ADMIN = Rule(ADMIN, tenant_bound=False)
_PUBLISH = Rule(PUBLISH)

_ENTITY = f"{NGSI_LD}/entities/{{entityId}}"
_ATTRIBUTE = f"{_ENTITY}/attrs/{{attrId}}"
_SUBSCRIPTION = f"{NGSI_LD}/subscriptions/{{subscriptionId}}"

ROUTES: dict[tuple[str, str], Rule] = {
    ("GET", "/version"): PUBLIC,
    ("GET", "/health"): PUBLIC,
    ("GET", "/ready"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    # Entities (5.6, 5.7)
    ("GET", f"{NGSI_LD}/entities"): _READ,
    ("POST", f"{NGSI_LD}/entities"): _WRITE,
    ("DELETE", f"{NGSI_LD}/entities"): _WRITE,  # purge (V1.9.1 5.6.21)
    ("PUT", f"{NGSI_LD}/entities/"): _WRITE,
    ("PATCH", f"{NGSI_LD}/entities/"): _WRITE,
    ("GET", _ENTITY): _READ,
    ("PUT", _ENTITY): _WRITE,
    ("PATCH", _ENTITY): _WRITE,
    ("DELETE", _ENTITY): _WRITE,
    ("POST", f"{_ENTITY}/attrs"): _WRITE,
    ("PATCH", f"{_ENTITY}/attrs"): _WRITE,
    ("POST", f"{_ENTITY}/attrs/"): _WRITE,
    ("PATCH", f"{_ENTITY}/attrs/"): _WRITE,
    ("PUT", _ATTRIBUTE): _WRITE,
    ("PATCH", _ATTRIBUTE): _WRITE,
    ("DELETE", _ATTRIBUTE): _WRITE,
    # Batch operations (5.6.7-5.6.10, 5.6.20) and Query Entities by POST (5.7.2)
    ("POST", f"{NGSI_LD}/entityOperations/create"): _WRITE,
    ("POST", f"{NGSI_LD}/entityOperations/upsert"): _WRITE,
    ("POST", f"{NGSI_LD}/entityOperations/update"): _WRITE,
    ("POST", f"{NGSI_LD}/entityOperations/delete"): _WRITE,
    ("POST", f"{NGSI_LD}/entityOperations/merge"): _WRITE,
    ("POST", f"{NGSI_LD}/entityOperations/query"): _READ,
    # Discovery (5.7.5-5.7.8)
    ("GET", f"{NGSI_LD}/types"): _READ,
    ("GET", f"{NGSI_LD}/types/{{type}}"): _READ,
    ("GET", f"{NGSI_LD}/attributes"): _READ,
    ("GET", f"{NGSI_LD}/attributes/{{attrId}}"): _READ,
    # Subscriptions (5.8)
    ("POST", f"{NGSI_LD}/subscriptions"): _SUBSCRIBE,
    ("GET", f"{NGSI_LD}/subscriptions"): _SUBSCRIBE,
    ("GET", _SUBSCRIPTION): _SUBSCRIBE,
    ("PATCH", _SUBSCRIPTION): _SUBSCRIBE,
    ("DELETE", _SUBSCRIPTION): _SUBSCRIBE,
    # @contexts (5.13)
    ("GET", f"{NGSI_LD}/jsonldContexts"): _READ,
    ("POST", f"{NGSI_LD}/jsonldContexts"): _CONTEXTS,
    ("GET", f"{NGSI_LD}/jsonldContexts/{{contextId}}"): _READ,
    ("DELETE", f"{NGSI_LD}/jsonldContexts/{{contextId}}"): _CONTEXTS,
    # CKAN clients (ckanapi) call the read-only actions by POST as well as GET
    ("POST", "/catalog/api/3/action/{action}"): PUBLIC,
    # A tenant's own usage meters (README "Usage meters and cost allocation")
    ("GET", "/tenant/v1/usage"): _READ,
}

_QUERY_BY_BODY = ("POST", f"{NGSI_LD}/entityOperations/query")
CATALOG_READS = frozenset({("GET", f"{NGSI_LD}/entities"), ("GET", _ENTITY), _QUERY_BY_BODY})
"""Readable without access to the tenant, through its published datasets (README "Reading published
data without a token"): without a token, or with a valid token of another tenant, the middleware
admits the request as a catalog reader instead of refusing it, and the handler answers only what
the tenant publishes to that reader (or the refusal it would have had)."""

WIDE_AREA_READS = frozenset({("GET", f"{NGSI_LD}/entities"), ("GET", _ENTITY), _QUERY_BY_BODY,
                             ("GET", f"{NGSI_LD}/types"),
                             ("GET", f"{NGSI_LD}/types/{{type}}"), ("GET", f"{NGSI_LD}/attributes"),
                             ("GET", f"{NGSI_LD}/attributes/{{attrId}}")})
"""On the wide-area virtual tenant (KYODO_WIDE_AREA_TENANT) these need no token: everyone is a catalog
reader there; a token, if presented, is verified (a member) but not bound to a tenant."""

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def rule_for(method: str, pattern: str) -> Rule | None:
    """The rule for a route, or None when no rule covers it (the middleware then refuses)."""
    method = "GET" if method == "HEAD" else method
    rule = ROUTES.get((method, pattern))
    if rule is not None:
        return rule
    if pattern.startswith("/admin/v1/") or pattern == "/admin/v1":
        return _ADMIN
    if pattern.startswith("/catalog/") or pattern == "/catalog":
        # Data published as open in the shared catalog is readable without a token (DESIGN.md).
        return PUBLIC if method in _READ_METHODS else _PUBLISH
    return None
