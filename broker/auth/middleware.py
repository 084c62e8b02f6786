"""The access middleware: every request passes the route table (policy.py) before its handler.

It runs inside problem_middleware, so the request id, tenant echo and access log apply to its
refusals too; it builds those refusals itself because they carry a WWW-Authenticate header.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from broker.api.request import tenant_of
from broker.api.state import services
from broker.auth.errors import AccessError, AuthUnavailable, Forbidden, MissingToken, Unauthorized
from broker.auth.jwks import KeysUnavailable
from broker.auth.policy import CATALOG_READS, WIDE_AREA_READS, Rule, rule_for
from broker.auth.principal import (
    ANONYMOUS,
    PRINCIPAL_KEY,
    READER_KEY,
    CatalogReader,
    Principal,
)
from broker.auth.settings import auth_settings
from broker.auth.verify import InvalidToken, TokenVerifier
from broker.config import Settings
from broker.logs import log
from tenants.names import tenant_label

MAX_AUTHORIZATION_BYTES = 8000
"""Longer Authorization headers are refused unread. aiohttp's parser itself refuses any header
over 8190 bytes (400) before Kyodo sees the request."""

VERIFIER = web.AppKey("token_verifier", TokenVerifier)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def setup_auth(app: web.Application, settings: Settings) -> None:
    """Check the access-control settings and, with KYODO_AUTH=jwt, give the app its verifier."""
    config = auth_settings(settings)
    if config.mode == "none":
        return
    app[VERIFIER] = TokenVerifier(config)

    async def close(app: web.Application) -> None:
        await app[VERIFIER].close()
    app.on_cleanup.append(close)


def bearer_token(request: web.Request) -> str:
    """The token of `Authorization: Bearer <token>`; MissingToken or Unauthorized otherwise."""
    header = request.headers.get("Authorization")
    if header is None:
        raise MissingToken("This resource needs a bearer token (Authorization: Bearer <token>)")
    if len(header) > MAX_AUTHORIZATION_BYTES:
        raise Unauthorized(f"The Authorization header is longer than {MAX_AUTHORIZATION_BYTES} bytes")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise Unauthorized("The Authorization header must be 'Bearer <token>'")
    return token


async def verified(request: web.Request, verifier: TokenVerifier) -> Principal:
    """The principal of the request's bearer token; 401 (or 503) when it has none or it is not valid."""
    try:
        return await verifier.verify(bearer_token(request))
    except InvalidToken as exc:
        raise Unauthorized(str(exc)) from None
    except KeysUnavailable as exc:
        raise AuthUnavailable(str(exc)) from None


def authorize(request: web.Request, principal: Principal, rule: Rule, pattern: str) -> None:
    """403 unless the principal has the route's scope and, for tenant-bound routes, the tenant."""
    if rule.scope not in principal.scopes:
        raise Forbidden(f"The token lacks the scope '{rule.scope}' that {request.method} "
                        f"{pattern} requires", scope=rule.scope)
    tenant = tenant_of(request)
    if rule.tenant_bound and not principal.may_act_on(tenant):
        raise Forbidden(f"The token does not grant access to tenant '{tenant_label(tenant)}'")


def _route(request: web.Request) -> tuple[str, str] | None:
    resource = request.match_info.route.resource
    if resource is None:
        return None
    return ("GET" if request.method == "HEAD" else request.method), resource.canonical


def is_wide_area_read(request: web.Request) -> bool:
    route = _route(request)
    return route in WIDE_AREA_READS and tenant_of(request) == services(request).settings.wide_area_tenant


async def admit(request: web.Request, verifier: TokenVerifier) -> Principal | None:
    """The principal allowed to make this request (None on public routes), or an AccessError.

    Catalog readers (see principal.CatalogReader) are admitted with READER_KEY set on the request.
    """
    route = _route(request)
    if route is None:
        return None  # no route matched: the handler answers 404 or 405, revealing nothing
    method, pattern = route
    rule = rule_for(method, pattern)
    if rule is None:
        log.error("no access rule for this route; refusing it", method=request.method, route=pattern)
        raise Forbidden(f"No access rule covers {request.method} {pattern}")
    presented = "Authorization" in request.headers
    if rule.scope is None:
        # on the catalog a token changes the answer (members-only datasets): never ignore a bad one
        return await verified(request, verifier) if presented and pattern.startswith("/catalog/") else None
    if is_wide_area_read(request):
        principal = await verified(request, verifier) if presented else None
        request[READER_KEY] = CatalogReader(member=principal is not None)
        return principal
    catalog_read = route in CATALOG_READS
    if catalog_read and not presented:
        request[READER_KEY] = CatalogReader(member=False, refusal=MissingToken(
            "This resource needs a bearer token (Authorization: Bearer <token>)"))
        return None
    principal = await verified(request, verifier)
    try:
        authorize(request, principal, rule, pattern)
    except Forbidden as refusal:
        if not catalog_read:
            raise
        request[READER_KEY] = CatalogReader(member=True, refusal=refusal)
    return principal


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Admit the request by the route table, or answer 401/403/503; store who asked."""
    verifier = request.app.get(VERIFIER)
    if verifier is None:
        request[PRINCIPAL_KEY] = ANONYMOUS
        if is_wide_area_read(request):
            request[READER_KEY] = CatalogReader(member=True)
        return await handler(request)
    try:
        principal = await admit(request, verifier)
    except AccessError as exc:
        log.info("access refused", status=exc.status, reason=exc.detail)
        return exc.response()
    if principal is not None:
        request[PRINCIPAL_KEY] = principal
        structlog.contextvars.bind_contextvars(subject=principal.subject)
    return await handler(request)
