"""The usage middleware: each request access control let through counts for its tenant by kind and bytes.

Reads of published data without access to the tenant (catalog readers) count for the publishing
tenant; reads of the wide-area virtual tenant count for the default tenant (the platform).

Kinds come from the route's access rule (broker/auth/policy.py); public routes are not metered.
Requests are attributed as README "Usage meters and cost allocation" describes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import cache

from aiohttp import web

from broker.api.request import TENANT_KEY
from broker.api.state import SERVICES
from broker.auth.policy import ADMIN, CONTEXTS, PUBLISH, READ, REGISTER, SUBSCRIBE, WRITE, rule_for
from broker.auth.principal import PRINCIPAL_KEY, READER_KEY
from broker.logs import log
from tenants.admin import TENANTS_PATH
from tenants.names import InvalidTenantName, normalize_tenant

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

KIND_OF_SCOPE = {READ: "read", WRITE: "write", CONTEXTS: "write", PUBLISH: "write", REGISTER: "write",
                 SUBSCRIBE: "subscribe", ADMIN: "admin"}
ADMIN_TENANT_ROUTES = f"{TENANTS_PATH}/"


@cache
def request_kind(method: str, route: str) -> str | None:
    """read | write | subscribe | admin, or None for a public or unknown route (not metered)."""
    rule = rule_for(method, route)
    return KIND_OF_SCOPE.get(rule.scope) if rule is not None and rule.scope is not None else None


@web.middleware
async def usage_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outside problem_middleware: it sees the final answer, errors included."""
    response = await handler(request)
    try:
        _count(request, response)
    except Exception:  # metering never fails a request
        log.exception("usage metering failed", path=request.path)
    return response


def _count(request: web.Request, response: web.StreamResponse) -> None:
    resource = request.match_info.route.resource
    reader = request.get(READER_KEY)
    if resource is None or (PRINCIPAL_KEY not in request and reader is None):
        return  # no route, or refused by access control
    if reader is not None and response.status in (401, 403):
        return  # a catalog reader refused: what the tenant publishes did not cover the request
    svc = request.app[SERVICES]
    kind = request_kind(request.method, resource.canonical)
    if kind is None:
        return
    if kind == "admin":
        tenant = _admin_tenant(request, resource.canonical, response.status)
    else:
        tenant = request.get(TENANT_KEY)
        if tenant == svc.settings.wide_area_tenant:
            tenant = ""  # wide-area reads serve every publisher at once: the platform's own usage
        # an unknown tenant is never metered: garbage tenant headers must not grow the counters
        if tenant is None or not svc.tenants.is_known(tenant):
            return
    svc.usage.count_request(tenant, kind, request.content_length or 0, response.content_length or 0)


def _admin_tenant(request: web.Request, route: str, status: int) -> str:
    """The tenant an admin request names in its path when it is registered; else the platform's own
    (the default tenant)."""
    if not route.startswith(ADMIN_TENANT_ROUTES):
        return ""
    try:
        name = normalize_tenant(request.match_info.get("name", ""))
    except InvalidTenantName:
        return ""
    return name if status < 400 or request.app[SERVICES].tenants.is_known(name) else ""
