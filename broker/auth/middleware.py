"""The access middleware: every request passes the route table (policy.py) before its handler.

It runs inside problem_middleware, so the request id, tenant echo and access log apply to its
refusals too; it builds those refusals itself because they carry a WWW-Authenticate header.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from broker.api.request import tenant_of
from broker.auth.errors import AccessError, AuthUnavailable, Forbidden, MissingToken, Unauthorized
from broker.auth.jwks import KeysUnavailable
from broker.auth.policy import rule_for
from broker.auth.principal import ANONYMOUS, DEFAULT_TENANT_NAME, PRINCIPAL_KEY, Principal
from broker.auth.settings import auth_settings
from broker.auth.verify import InvalidToken, TokenVerifier
from broker.config import Settings
from broker.logs import log

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


async def admit(request: web.Request, verifier: TokenVerifier) -> Principal | None:
    """The principal allowed to make this request (None on public routes), or an AccessError."""
    route = request.match_info.route
    if route.resource is None:
        return None  # no route matched: the handler answers 404 or 405, revealing nothing
    rule = rule_for(request.method, route.resource.canonical)
    if rule is None:
        log.error("no access rule for this route; refusing it", method=request.method,
                  route=route.resource.canonical)
        raise Forbidden(f"No access rule covers {request.method} {route.resource.canonical}")
    if rule.scope is None:
        return None
    try:
        principal = await verifier.verify(bearer_token(request))
    except InvalidToken as exc:
        raise Unauthorized(str(exc)) from None
    except KeysUnavailable as exc:
        raise AuthUnavailable(str(exc)) from None
    if rule.scope not in principal.scopes:
        raise Forbidden(f"The token lacks the scope '{rule.scope}' that {request.method} "
                        f"{route.resource.canonical} requires", scope=rule.scope)
    tenant = tenant_of(request)
    if rule.tenant_bound and not principal.may_act_on(tenant):
        raise Forbidden(f"The token does not grant access to tenant '{tenant or DEFAULT_TENANT_NAME}'")
    return principal


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Admit the request by the route table, or answer 401/403/503; store who asked."""
    verifier = request.app.get(VERIFIER)
    if verifier is None:
        request[PRINCIPAL_KEY] = ANONYMOUS
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
