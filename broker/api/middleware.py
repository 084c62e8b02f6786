"""Request middleware: request id, tenant echo, access log, and every error as ProblemDetails (6.3.2)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from broker.api.http import problem_response
from broker.api.request import TENANT_HEADERS, TENANT_KEY, tenant_of
from broker.logs import log
from broker.ngsild.errors import HttpError, InternalError, NgsiLdError, ResourceNotFound
from broker.store.errors import DATABASE_UNAVAILABLE, DATABASE_UNAVAILABLE_TYPE
from tenants.names import tenant_label

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _from_http_exception(exc: web.HTTPException, request: web.Request) -> NgsiLdError:
    if exc.status == 404:
        return ResourceNotFound(f"No resource at {request.method} {request.path}")
    if exc.status == 405:
        allowed = ", ".join(sorted(getattr(exc, "allowed_methods", ()) or ()))
        return HttpError(405, "Method not allowed",
                         f"{request.method} is not allowed on {request.path}" + (f"; allowed: {allowed}"
                                                                                if allowed else ""))
    if exc.status == 413:
        return HttpError(413, "Request entity too large", "The request body is larger than the limit")
    return HttpError(exc.status, exc.reason or "HTTP error", exc.text or exc.reason or "HTTP error")


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure into a ProblemDetails response; echo tenant and request id; log once."""
    request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id)
    started = time.perf_counter()
    error: NgsiLdError | None = None
    allow: str | None = None
    try:
        tenant_of(request)
        structlog.contextvars.bind_contextvars(tenant=tenant_label(request[TENANT_KEY]))
        response = await handler(request)
    except NgsiLdError as exc:
        error = exc
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        error = _from_http_exception(exc, request)
        allow = exc.headers.get("Allow")
    except DATABASE_UNAVAILABLE as exc:
        log.warning("database unavailable", error=str(exc).splitlines()[0][:300])
        error = HttpError(503, "Database unavailable",
                          "The database cannot be reached; retry shortly", DATABASE_UNAVAILABLE_TYPE)
    except Exception:
        log.exception("unhandled error", method=request.method, path=request.path)
        error = InternalError("The broker failed to handle this request; the error was logged with "
                              f"request id {request_id}")
    if error is not None:
        response = web.Response(status=411) if error.status == 411 else problem_response(error)
        if allow:
            response.headers["Allow"] = allow
        response.headers.update(error.headers)
    tenant = request.get(TENANT_KEY)
    if tenant and any(h in request.headers for h in TENANT_HEADERS):
        response.headers["NGSILD-Tenant"] = tenant
    response.headers["X-Request-Id"] = request_id
    resource = request.match_info.route.resource
    log.info("request", method=request.method, path=request.path,
             route=resource.canonical if resource is not None else None, status=response.status,
             ms=round((time.perf_counter() - started) * 1000, 2))
    return response
