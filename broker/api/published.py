"""Reading a tenant through its published datasets: the catalog view of a catalog reader, and its refusals."""

from __future__ import annotations

from collections.abc import Awaitable

from aiohttp import web

from broker.api.request import tenant_of
from broker.api.state import services
from broker.auth.principal import catalog_reader
from broker.ngsild.catalog_view import CatalogView, NotPublished, WithheldAttribute, restrict_query, withhold
from broker.ngsild.errors import ResourceNotFound
from broker.ngsild.model import Entity
from broker.ngsild.query_ast import EntityQuery


async def catalog_view(request: web.Request) -> CatalogView | None:
    """What a catalog reader may see of the request's tenant; None when the request has the tenant's own
    access. Called before the tenant is admitted: a tenant that publishes nothing to this reader
    (or does not exist) gets exactly the refusal it had before the catalog existed."""
    reader = catalog_reader(request)
    tenant = tenant_of(request)
    if reader is None or tenant == services(request).settings.wide_area_tenant:
        return None  # the wide-area tenant has a view per publishing tenant (broker/api/wide_area.py)
    readable = await services(request).published.readable_types(tenant, member=reader.member)
    if not readable:
        raise reader.refusal_for(None)
    return CatalogView(readable)


def restricted(request: web.Request, query: EntityQuery, view: CatalogView) -> EntityQuery:
    """The query limited to the view. Reaching an unpublished type is refused as the access rules
    would have refused it (401 without a token, 403 with another tenant's); a withheld attribute is 403."""
    try:
        return restrict_query(query, view)
    except WithheldAttribute:
        raise
    except NotPublished as exc:
        raise _refusal(request, exc.detail) from None


async def published_entity(request: web.Request, view: CatalogView, entity_id: str,
                           lookup: Awaitable[Entity]) -> Entity:
    """The entity without its withheld attributes when a readable dataset publishes its type.

    A missing entity and one of an unpublished type get the same refusal, so a reader without
    access to the tenant never learns whether an unpublished entity exists.
    """
    try:
        entity: Entity | None = await lookup
    except ResourceNotFound:
        entity = None
    if entity is None or not view.types.keys() & set(entity.get("type", ())):
        raise _refusal(request, f"Entity {entity_id} is not readable through a dataset published to this reader")
    return withhold(entity, view)


def _refusal(request: web.Request, reason: str) -> Exception:
    reader = catalog_reader(request)
    assert reader is not None  # only called with a view, which only catalog readers have
    return reader.refusal_for(reason)
