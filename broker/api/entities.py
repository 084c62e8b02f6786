"""Single-entity endpoints: /entities and /entities/{entityId}[/attrs[/{attrId}]] (5.6, 5.7.1, 6.4-6.7)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web

from broker.api import changes, wide_area
from broker.api.http import (
    API_BASE,
    boolean_param,
    check_params,
    created,
    geojson_response,
    json_response,
    no_content,
    read_json,
    utc_now,
    write_options,
)
from broker.api.published import catalog_view, published_entity
from broker.api.request import RequestContext, body_context, request_context
from broker.ngsild import entity as payload
from broker.ngsild import update
from broker.ngsild.catalog_view import refuse_withheld
from broker.ngsild.errors import BadRequestData, InvalidRequest, ResourceNotFound
from broker.ngsild.media import GEO_JSON, JSON, JSON_LD, negotiate, request_media_type
from broker.ngsild.model import Entity
from broker.ngsild.names import is_valid_name, parse_datetime, require_entity_id
from broker.ngsild.params import parse_render_options
from broker.ngsild.render import render_entity, render_geojson_feature

_RETRIEVE_PARAMS = ("attrs", "pick", "omit", "type", "options", "format", "lang", "geometryProperty",
                    "datasetId", "local")
_UNSUPPORTED_RETRIEVE = ("join", "joinLevel", "containedBy", "entityMap")


def entity_location(entity_id: str) -> str:
    return f"{API_BASE}/entities/{quote(entity_id, safe=':/')}"


def _path_entity_id(request: web.Request) -> str:
    return require_entity_id(request.match_info["entityId"], "entityId in the URL path")


def _path_attribute(request: web.Request) -> str:
    name = request.match_info["attrId"]
    if name in (".", "..") or not is_valid_name(name):
        raise BadRequestData(f"Invalid attribute name in the URL path: {name!r}")
    return name


def _types(request: web.Request, ctx: RequestContext) -> list[str] | None:
    raw = request.query.get("type")
    if raw is None:
        return None
    names = [name.strip() for name in raw.split(",")]
    for name in names:
        if not is_valid_name(name):
            raise BadRequestData(f"Invalid entity type in 'type': {name!r}")
    return [ctx.terms.expand(name) for name in names]


async def _body_request(request: web.Request, *, merge_patch: bool = False,
                        create: bool = False) -> tuple[Any, RequestContext]:
    """Media type → JSON body → @context rules → tenant: the common head of every write."""
    media = request_media_type(request.headers.get("Content-Type"), merge_patch=merge_patch)
    body = await read_json(request)
    ctx = await request_context(request, context=body_context(body, media, request), from_link=False,
                                create=create)
    return body, ctx


def _update_result(outcome: update.WriteOutcome, ctx: RequestContext) -> web.Response:
    """204 when every attribute was written, 207 with the UpdateResult otherwise (5.2.18)."""
    result = outcome.result
    if not result.not_updated:
        return no_content()
    body = {
        "updated": [ctx.terms.compact(name) for name in result.updated],
        "notUpdated": [
            {"attributeName": ctx.terms.compact(item.attribute_name), "reason": item.reason,
             **({"datasetId": item.dataset_id} if item.dataset_id else {})}
            for item in result.not_updated
        ],
    }
    return json_response(body, status=207)


async def create_entity(request: web.Request) -> web.Response:
    """POST /entities — 5.6.1: 201 + Location, 409 if the id exists."""
    check_params(request, ("local",))
    body, ctx = await _body_request(request, create=True)
    if not isinstance(body, dict):
        raise InvalidRequest(f"The entity must be a JSON object, got a JSON {type(body).__name__}")
    entity = payload.parse_entity(body, ctx.terms, now=utc_now())
    await ctx.require_entity_room()
    await ctx.register_tenant()
    await ctx.entities.create(entity)
    await changes.entities_changed(ctx, [changes.created(entity)])
    return created(entity_location(entity["id"]))


async def retrieve_entity(request: web.Request) -> web.Response:
    """GET /entities/{entityId} — 5.7.1, with attrs/pick/omit, formats, lang and GeoJSON; a catalog
    reader sees it only when its type is published to them."""
    view = await catalog_view(request)  # first: refused readers learn nothing more than before
    media = negotiate(request.headers.get("Accept"), (JSON, JSON_LD, GEO_JSON))
    check_params(request, _RETRIEVE_PARAMS, _UNSUPPORTED_RETRIEVE)
    entity_id = _path_entity_id(request)
    ctx = await request_context(request)
    options = parse_render_options(request.query, ctx.terms)
    geometry_property = request.query.get("geometryProperty")
    if geometry_property is not None and media != GEO_JSON:
        raise BadRequestData("geometryProperty is only allowed with Accept: application/geo+json")
    if view is not None:
        refuse_withheld(options.attrs or (), view)
    headers: dict[str, str] = {}
    if ctx.wide_area:
        entity, options, headers = await wide_area.retrieve(ctx, entity_id, types=_types(request, ctx),
                                                            options=options)
    else:
        lookup = ctx.entities.get(entity_id, types=_types(request, ctx), attrs=options.attrs)
        entity = await lookup if view is None else await published_entity(request, view, entity_id, lookup)
        if options.attrs is not None and not entity["attrs"]:
            raise ResourceNotFound(f"Entity {entity_id} has none of the requested attributes")
    if media == GEO_JSON:
        name = ctx.terms.expand(geometry_property or "location")
        feature = render_geojson_feature(entity, ctx.terms, options, name)
        return geojson_response(feature, request, ctx.context, headers)
    rendered = render_entity(entity, ctx.terms, options)
    if rendered is None:
        raise ResourceNotFound(f"Nothing of entity {entity_id} is left after the requested projection")
    return json_response(rendered, media=media, context=ctx.context, headers=headers)


async def delete_entity(request: web.Request) -> web.Response:
    """DELETE /entities/{entityId} — 5.6.6."""
    check_params(request, ("type", "local"))
    entity_id = _path_entity_id(request)
    ctx = await request_context(request)
    deleted = await ctx.entities.delete(entity_id, types=_types(request, ctx))
    await changes.entities_changed(ctx, [changes.deleted(deleted, utc_now())])
    return no_content()


def _fragment(body: Any, ctx: RequestContext, entity_id: str, *, allow_null: bool) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidRequest(f"The fragment must be a JSON object, got a JSON {type(body).__name__}")
    fragment = payload.parse_fragment(body, ctx.terms, now=utc_now(), allow_null=allow_null)
    if fragment.get("id", entity_id) != entity_id:
        raise BadRequestData(f"The body's id {fragment['id']!r} differs from the URL's {entity_id!r}")
    return fragment


async def replace_entity(request: web.Request) -> web.Response:
    """PUT /entities/{entityId} — 5.6.18: attributes, type and scope replaced, createdAt kept."""
    check_params(request, ("type", "local", "options", "format"))
    entity_id = _path_entity_id(request)
    body, ctx = await _body_request(request)
    if not isinstance(body, dict):
        raise InvalidRequest(f"The entity must be a JSON object, got a JSON {type(body).__name__}")
    if body.get("id", body.get("@id", entity_id)) != entity_id:
        raise BadRequestData(f"The body's id differs from the URL's {entity_id!r}")
    now = utc_now()
    replacement: Entity = payload.parse_entity({**body, "id": entity_id}, ctx.terms, now=now)
    outcome = await ctx.entities.modify(entity_id, lambda old: update.replace_entity(old, replacement, now=now))
    await changes.entities_changed(ctx, changes.updated(outcome))
    return no_content()


async def merge_entity(request: web.Request) -> web.Response:
    """PATCH /entities/{entityId} — 5.6.17 merge-patch: 204, or 207 when attributes failed."""
    check_params(request, ("type", "local", "options", "format", "observedAt", "lang"))
    entity_id = _path_entity_id(request)
    observed_at = request.query.get("observedAt")
    if observed_at is not None:
        parse_datetime(observed_at, "observedAt")
    body, ctx = await _body_request(request, merge_patch=True)
    fragment = _fragment(body, ctx, entity_id, allow_null=True)
    now = utc_now()
    outcome = await ctx.entities.modify(
        entity_id, lambda old: update.merge_entity(old, fragment, now=now, observed_at=observed_at),
        types=_types(request, ctx))
    await changes.entities_changed(ctx, changes.updated(outcome))
    return _update_result(outcome, ctx)


async def append_attributes(request: web.Request) -> web.Response:
    """POST /entities/{entityId}/attrs — 5.6.3: 204, or 207 when noOverwrite skipped attributes."""
    check_params(request, ("options", "type", "local"))
    entity_id = _path_entity_id(request)
    options = write_options(request, ("noOverwrite",))
    body, ctx = await _body_request(request)
    fragment = _fragment(body, ctx, entity_id, allow_null=False)
    now = utc_now()
    outcome = await ctx.entities.modify(
        entity_id, lambda old: update.append_attributes(old, fragment, overwrite="noOverwrite" not in options,
                                                        now=now))
    await changes.entities_changed(ctx, changes.updated(outcome))
    return _update_result(outcome, ctx)


async def update_attributes(request: web.Request) -> web.Response:
    """PATCH /entities/{entityId}/attrs — 5.6.2: 204, or 207 when some attributes were not updated."""
    check_params(request, ("options", "type", "local"))
    entity_id = _path_entity_id(request)
    body, ctx = await _body_request(request, merge_patch=True)
    fragment = _fragment(body, ctx, entity_id, allow_null=True)
    now = utc_now()
    outcome = await ctx.entities.modify(entity_id, lambda old: update.update_attributes(old, fragment, now=now))
    await changes.entities_changed(ctx, changes.updated(outcome))
    return _update_result(outcome, ctx)


async def partial_update_attribute(request: web.Request) -> web.Response:
    """PATCH /entities/{entityId}/attrs/{attrId} — 5.6.4: only the given members change."""
    check_params(request, ("type", "local", "options"))
    entity_id = _path_entity_id(request)
    name = _path_attribute(request)
    if name == "scope":
        raise BadRequestData("scope is not an attribute; use Update Attributes or Merge to change it")
    body, ctx = await _body_request(request, merge_patch=True)
    now = utc_now()
    instances = payload.parse_attribute(body, name, ctx.terms, now=now, allow_null=True, partial=True)
    expanded = ctx.terms.expand(name)
    outcome = await ctx.entities.modify(
        entity_id, lambda old: update.partial_update_attribute(old, expanded, instances, now=now))
    await changes.entities_changed(ctx, changes.updated(outcome))
    return no_content()


async def replace_attribute(request: web.Request) -> web.Response:
    """PUT /entities/{entityId}/attrs/{attrId} — 5.6.19: the attribute replaced, createdAt kept."""
    check_params(request, ("type", "local"))
    entity_id = _path_entity_id(request)
    name = _path_attribute(request)
    if name == "scope":
        raise BadRequestData("scope is not an attribute and cannot be replaced here")
    body, ctx = await _body_request(request)
    now = utc_now()
    instances = payload.parse_attribute(body, name, ctx.terms, now=now, allow_null=False, partial=False)
    expanded = ctx.terms.expand(name)
    outcome = await ctx.entities.modify(
        entity_id, lambda old: update.replace_attribute(old, expanded, instances, now=now))
    await changes.entities_changed(ctx, changes.updated(outcome))
    return no_content()


async def delete_attribute(request: web.Request) -> web.Response:
    """DELETE /entities/{entityId}/attrs/{attrId} — 5.6.5 (`datasetId`, `deleteAll`); also deletes scope."""
    check_params(request, ("datasetId", "deleteAll", "type", "local"))
    entity_id = _path_entity_id(request)
    name = _path_attribute(request)
    delete_all = boolean_param(request, "deleteAll")
    dataset_id = request.query.get("datasetId")
    if dataset_id is not None:
        require_entity_id(dataset_id, "datasetId")
    ctx = await request_context(request)
    now = utc_now()
    if name == "scope":
        outcome = await ctx.entities.modify(entity_id, lambda old: update.delete_scope(old, now=now))
    else:
        expanded = ctx.terms.expand(name)
        outcome = await ctx.entities.modify(entity_id, lambda old: update.delete_attribute(
            old, expanded, dataset_id=dataset_id, delete_all=delete_all, now=now), types=_types(request, ctx))
    await changes.entities_changed(ctx, changes.updated(outcome))
    return no_content()


async def missing_entity_id(request: web.Request) -> web.Response:
    """PUT/PATCH /entities/ without an id."""
    raise BadRequestData("An entity id is required in the URL path")


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post(f"{API_BASE}/entities", create_entity)
    r.add_route("PUT", f"{API_BASE}/entities/", missing_entity_id)
    r.add_route("PATCH", f"{API_BASE}/entities/", missing_entity_id)
    entity = f"{API_BASE}/entities/{{entityId}}"
    r.add_get(entity, retrieve_entity, allow_head=False)
    r.add_delete(entity, delete_entity)
    r.add_put(entity, replace_entity)
    r.add_patch(entity, merge_entity)
    r.add_post(f"{entity}/attrs", append_attributes)
    r.add_patch(f"{entity}/attrs", update_attributes)
    r.add_post(f"{entity}/attrs/", append_attributes)
    r.add_patch(f"{entity}/attrs/", update_attributes)
    attribute = f"{entity}/attrs/{{attrId}}"
    r.add_patch(attribute, partial_update_attribute)
    r.add_put(attribute, replace_attribute)
    r.add_delete(attribute, delete_attribute)
