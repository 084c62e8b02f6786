"""Discovery: GET /types[/{type}] and /attributes[/{attrId}] (5.7.5-5.7.10, 6.25-6.28).

Names are compacted with the request's @context; `id` members are the expanded IRIs. On the
wide-area tenant each answer is the union over every tenant's open published types (api/wide_area.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from broker.api import wide_area
from broker.api.http import API_BASE, boolean_param, check_params, json_response
from broker.api.request import RequestContext, request_context
from broker.ngsild.errors import BadRequestData, ResourceNotFound
from broker.ngsild.media import JSON, JSON_LD, negotiate
from broker.ngsild.names import is_valid_name
from broker.store import discovery


async def _context(request: web.Request) -> tuple[str, RequestContext]:
    media = negotiate(request.headers.get("Accept"), (JSON, JSON_LD))
    check_params(request, ("details", "local"))
    boolean_param(request, "local")
    return media, await request_context(request)


async def _discover(ctx: RequestContext, request: web.Request, read: Callable[..., Awaitable[Any]], *args: Any,
                    single: bool = False) -> Any:
    """A broker/store/discovery.py reader on the tenant's database, or over every open dataset (wide area)."""
    if ctx.wide_area:
        return await wide_area.discover(request, read, *args, single=single)
    return await read(ctx.db, *args)


def _name(request: web.Request, key: str, what: str) -> str:
    name = request.match_info[key]
    if not is_valid_name(name):
        raise BadRequestData(f"Invalid {what} in the URL path: {name!r}")
    return name


async def list_types(request: web.Request) -> web.Response:
    """GET /types — EntityTypeList, or EntityType objects with details=true."""
    media, ctx = await _context(request)
    compact = ctx.terms.compact
    body: Any
    if boolean_param(request, "details"):
        body = [{"id": row["typeName"], "type": "EntityType", "typeName": compact(row["typeName"]),
                 "attributeNames": [compact(name) for name in row["attributeNames"]]}
                for row in await _discover(ctx, request, discovery.type_details)]
    else:
        body = {"id": f"urn:ngsi-ld:EntityTypeList:{uuid.uuid4()}", "type": "EntityTypeList",
                "typeList": [compact(name) for name in await _discover(ctx, request, discovery.list_types)]}
    return json_response(body, media=media, context=ctx.context)


async def retrieve_type(request: web.Request) -> web.Response:
    """GET /types/{type} — EntityTypeInfo; 404 when no entity has the type."""
    media, ctx = await _context(request)
    expanded = ctx.terms.expand(_name(request, "type", "entity type"))
    info = await _discover(ctx, request, discovery.type_info, expanded, single=True)
    if info is None:
        raise ResourceNotFound(f"No entity has type {request.match_info['type']}")
    compact = ctx.terms.compact
    body = {"id": expanded, "type": "EntityTypeInfo", "typeName": compact(expanded),
            "entityCount": info["entityCount"],
            "attributeDetails": [{"id": row["attributeName"], "type": "Attribute",
                                  "attributeName": compact(row["attributeName"]),
                                  "attributeTypes": row["attributeTypes"]}
                                 for row in info["attributeDetails"]]}
    return json_response(body, media=media, context=ctx.context)


async def list_attributes(request: web.Request) -> web.Response:
    """GET /attributes — AttributeList, or Attribute objects with details=true."""
    media, ctx = await _context(request)
    compact = ctx.terms.compact
    body: Any
    if boolean_param(request, "details"):
        body = [{"id": row["attributeName"], "type": "Attribute", "attributeName": compact(row["attributeName"]),
                 "typeNames": [compact(name) for name in row["typeNames"]]}
                for row in await _discover(ctx, request, discovery.attribute_details)]
    else:
        body = {"id": f"urn:ngsi-ld:AttributeList:{uuid.uuid4()}", "type": "AttributeList",
                "attributeList": [compact(name) for name in await _discover(ctx, request, discovery.list_attributes)]}
    return json_response(body, media=media, context=ctx.context)


async def retrieve_attribute(request: web.Request) -> web.Response:
    """GET /attributes/{attrId} — Attribute with count, attribute types and entity types; 404 if none."""
    media, ctx = await _context(request)
    expanded = ctx.terms.expand(_name(request, "attrId", "attribute name"))
    info = await _discover(ctx, request, discovery.attribute_info, expanded, single=True)
    if info is None:
        raise ResourceNotFound(f"No entity has attribute {request.match_info['attrId']}")
    compact = ctx.terms.compact
    body = {"id": expanded, "type": "Attribute", "attributeName": compact(expanded),
            "attributeCount": info["attributeCount"], "attributeTypes": info["attributeTypes"],
            "typeNames": [compact(name) for name in info["typeNames"]]}
    return json_response(body, media=media, context=ctx.context)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(f"{API_BASE}/types", list_types, allow_head=False)
    r.add_get(f"{API_BASE}/types/{{type}}", retrieve_type, allow_head=False)
    r.add_get(f"{API_BASE}/attributes", list_attributes, allow_head=False)
    r.add_get(f"{API_BASE}/attributes/{{attrId}}", retrieve_attribute, allow_head=False)
