"""Query Entities: GET /entities and POST /entityOperations/query (5.7.2, 6.4.3.2, 6.23)."""

from __future__ import annotations

import dataclasses
from typing import Any

from aiohttp import web

from broker.api import wide_area
from broker.api.http import API_BASE, json_response, read_json
from broker.api.published import catalog_view, restricted
from broker.api.request import RequestContext, body_context, request_context
from broker.api.state import services
from broker.ngsild.catalog_view import CatalogView, withhold
from broker.ngsild.errors import BadRequestData, HttpError
from broker.ngsild.media import GEO_JSON, JSON, JSON_LD, negotiate, request_media_type
from broker.ngsild.pagination import pagination_links
from broker.ngsild.query import UNSUPPORTED_PARAMS, parse_query_body, parse_query_params
from broker.ngsild.query_ast import EntityQuery
from broker.ngsild.render import render_entity, render_geojson_feature
from broker.ngsild.wide_area import SOURCE_TENANTS_HEADER, wide_area_render
from broker.store.query import find_entities

ENTITIES_PATH = f"{API_BASE}/entities"


def _reject_unsupported(request: web.Request) -> None:
    for name in request.query:
        if name in UNSUPPORTED_PARAMS:
            raise HttpError(501, "Not implemented", f"URL parameter '{name}' is not supported yet",
                            "urn:kyodo:error:NotImplemented")


async def _answer(request: web.Request, ctx: RequestContext, query: EntityQuery, media: str, *,
                  paginate: bool, view: CatalogView | None = None) -> web.Response:
    """Run the query (one extra item tells whether a next page exists) and render the page.

    With a catalog view (a reader without access to the tenant) withheld attributes are dropped."""
    headers: dict[str, str] = {}
    if ctx.wide_area:
        page = await wide_area.query_page(ctx, query)
        entities, has_next, count = page.entities, page.has_next, page.count
        headers[SOURCE_TENANTS_HEADER] = ",".join(page.tenants)
        query = dataclasses.replace(query, render=wide_area_render(query.render))
    else:
        probe = dataclasses.replace(query, limit=query.limit + 1) if query.limit else query
        result = await find_entities(ctx.db, probe)
        entities, has_next, count = result.entities[:query.limit], len(result.entities) > query.limit, result.count
    if view is not None:
        entities = [withhold(entity, view) for entity in entities]
    if query.count and count is not None:
        headers["NGSILD-Results-Count"] = str(count)
    links = pagination_links(ENTITIES_PATH, dict(request.query), offset=query.offset, limit=query.limit,
                             has_next=has_next, media=media) if paginate else []
    if media == GEO_JSON:
        name = ctx.terms.expand(request.query.get("geometryProperty") or "location")
        features = [render_geojson_feature(entity, ctx.terms, query.render, name) for entity in entities]
        collection: dict[str, Any] = {"type": "FeatureCollection", "features": features}
        if request.headers.get("Prefer", "").replace(" ", "") == "body=json":
            return json_response(collection, media=GEO_JSON, headers=headers, links=links)
        return json_response(collection, media=GEO_JSON, context=ctx.context, headers=headers, links=links)
    rendered = [body for entity in entities if (body := render_entity(entity, ctx.terms, query.render)) is not None]
    return json_response(rendered, media=media, context=ctx.context, headers=headers, links=links)


def _geometry_property_needs_geojson(request: web.Request, media: str) -> None:
    if "geometryProperty" in request.query and media != GEO_JSON:
        raise BadRequestData("geometryProperty is only allowed with Accept: application/geo+json")


async def query_entities(request: web.Request) -> web.Response:
    """GET /entities — 5.7.2: filter by id, type, attrs, q, scopeQ, geoQ; paginate; count. Catalog readers
    see only the published types (broker/api/published.py)."""
    view = await catalog_view(request)  # first: refused readers learn nothing more than before
    media = negotiate(request.headers.get("Accept"), (JSON, JSON_LD, GEO_JSON))
    _reject_unsupported(request)
    _geometry_property_needs_geojson(request, media)
    ctx = await request_context(request)
    settings = services(request).settings
    query = parse_query_params(request.query, ctx.terms, default_limit=settings.default_limit,
                               max_limit=settings.max_limit, types_implied=ctx.wide_area)
    if view is not None:
        query = restricted(request, query, view)
    return await _answer(request, ctx, query, media, paginate=True, view=view)


async def query_entities_by_body(request: web.Request) -> web.Response:
    """POST /entityOperations/query — 5.7.2 with a Query body (5.2.23); catalog readers as for GET."""
    view = await catalog_view(request)
    media = negotiate(request.headers.get("Accept"), (JSON, JSON_LD, GEO_JSON))
    _reject_unsupported(request)
    _geometry_property_needs_geojson(request, media)
    body_media = request_media_type(request.headers.get("Content-Type"))
    body = await read_json(request)
    context = body_context(body, body_media, request)
    ctx = await request_context(request, context=context, from_link=False)
    settings = services(request).settings
    if isinstance(body, dict):
        body = {key: value for key, value in body.items() if key != "@context"}
    query = parse_query_body(body, ctx.terms, request.query, default_limit=settings.default_limit,
                             max_limit=settings.max_limit, types_implied=ctx.wide_area)
    if view is not None:
        query = restricted(request, query, view)
    return await _answer(request, ctx, query, media, paginate=False, view=view)


def add_routes(app: web.Application) -> None:
    app.router.add_get(ENTITIES_PATH, query_entities, allow_head=False)
    app.router.add_post(f"{API_BASE}/entityOperations/query", query_entities_by_body)
