"""The @context resource: /jsonldContexts[/{contextId}] — GS CIM 009 5.13, HTTP binding 6.29-6.30."""

from __future__ import annotations

from aiohttp import web

from broker.api.http import (
    API_BASE,
    boolean_param,
    check_params,
    created,
    json_response,
    no_content,
    read_json,
)
from broker.api.request import admitted_tenant, existing_tenant
from broker.api.state import services
from broker.ngsild.context import parse_context_document
from broker.ngsild.errors import BadRequestData, ResourceNotFound
from broker.ngsild.media import negotiate, request_media_type
from broker.ngsild.names import format_datetime
from broker.store.contexts import CACHED, HOSTED, IMPLICIT, StoredContext

CONTEXTS_PATH = f"{API_BASE}/jsonldContexts"
_KINDS = (HOSTED, CACHED, IMPLICIT)


def _kind(request: web.Request) -> str | None:
    kind = request.query.get("kind")
    if kind is not None and kind not in _KINDS:
        raise BadRequestData(f"URL parameter 'kind' must be one of {', '.join(_KINDS)}, got {kind!r}")
    return kind


def _url(stored: StoredContext, request: web.Request) -> str:
    """A Cached entry's source URL, or the absolute URL this broker serves a hosted entry at."""
    return stored.url or f"{request.url.origin()}{CONTEXTS_PATH}/{stored.local_id}"


def _details(stored: StoredContext, request: web.Request) -> dict[str, str]:
    return {"URL": _url(stored, request), "localId": stored.local_id, "kind": stored.kind,
            "createdAt": format_datetime(stored.created_at)}


async def add_context(request: web.Request) -> web.Response:
    """POST /jsonldContexts — spec 5.13.2: host an @context for the tenant."""
    request_media_type(request.headers.get("Content-Type"))
    check_params(request, ())
    context = parse_context_document(await read_json(request))
    svc = services(request)
    tenant = await admitted_tenant(request, create=True)
    local_id = await svc.contexts.host_context(context, tenant)
    await svc.tenants.ensure(tenant)
    return created(f"{CONTEXTS_PATH}/{local_id}")


async def list_contexts(request: web.Request) -> web.Response:
    """GET /jsonldContexts — spec 5.13.3: URLs, or details, of the @contexts the tenant can use."""
    media = negotiate(request.headers.get("Accept"))
    check_params(request, ("details", "kind"))
    details, kind = boolean_param(request, "details"), _kind(request)
    svc = services(request)
    found = await svc.contexts.list_contexts(await existing_tenant(request), kind)
    render = _details if details else _url
    return json_response([render(stored, request) for stored in found], media=media)


async def serve_context(request: web.Request) -> web.Response:
    """GET /jsonldContexts/{contextId} — spec 5.13.4: the stored document, or its details."""
    media = negotiate(request.headers.get("Accept"))
    check_params(request, ("details",))
    details = boolean_param(request, "details")
    svc = services(request)
    context_id = request.match_info["contextId"]
    stored = await svc.contexts.find_context(context_id, await existing_tenant(request))
    if stored is None:
        raise ResourceNotFound(f"No @context {context_id!r}")
    return json_response(_details(stored, request) if details else stored.body, media=media)


async def delete_context(request: web.Request) -> web.Response:
    """DELETE /jsonldContexts/{contextId} — spec 5.13.5: delete, or with reload=true fetch again."""
    check_params(request, ("reload",))
    reload = boolean_param(request, "reload")
    svc = services(request)
    context_id, tenant = request.match_info["contextId"], await existing_tenant(request)
    if reload:
        found = await svc.contexts.reload_context(context_id, tenant)
    else:
        found = await svc.contexts.delete_context(context_id, tenant)
    if not found:
        raise ResourceNotFound(f"No @context {context_id!r}")
    return no_content()


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post(CONTEXTS_PATH, add_context)
    r.add_get(CONTEXTS_PATH, list_contexts, allow_head=False)
    r.add_get(f"{CONTEXTS_PATH}/{{contextId}}", serve_context, allow_head=False)
    r.add_delete(f"{CONTEXTS_PATH}/{{contextId}}", delete_context)
