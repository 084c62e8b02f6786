"""The wide-area virtual tenant (広域): read-only, its queries and discovery fan out to every open dataset.

The tenant named KYODO_WIDE_AREA_TENANT (default `open`) always exists and is never provisioned.
Its own database holds only its subscriptions; GET /entities, POST /entityOperations/query, /types
/attributes and GET /entities/{id} read every active tenant's openly published types through their CatalogViews
(broker/ngsild/catalog_view.py), concurrently, and merge (broker/ngsild/wide_area.py). Every other
write is 403 ReadOnlyTenant.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from broker.api.http import API_BASE
from broker.api.request import RequestContext, tenant_of
from broker.api.state import Services, services
from broker.ngsild.catalog_view import CatalogView, refuse_withheld, withhold
from broker.ngsild.errors import AmbiguousEntity, ResourceNotFound
from broker.ngsild.model import Entity
from broker.ngsild.params import RenderOptions
from broker.ngsild.query_ast import EntityQuery
from broker.ngsild.wide_area import (
    SOURCE_TENANTS_HEADER,
    MergedPage,
    TenantPage,
    check_window,
    merge_discovery,
    merge_pages,
    tenant_query,
    views_by_tenant,
    wide_area_render,
    with_source,
)
from broker.store.entities import EntityStore
from broker.store.query import find_entities
from tenants.errors import ReadOnlyTenant

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: writes that are still allowed on the wide-area tenant: a query by body, and its own subscriptions
_ALLOWED_WRITES = re.compile(rf"^{API_BASE}/(entityOperations/query|subscriptions(/.*)?)$")
_READS = frozenset({"GET", "HEAD", "OPTIONS"})


@web.middleware
async def read_only_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """403 ReadOnlyTenant for every NGSI-LD write to the wide-area tenant (before any body is read)."""
    if (request.method not in _READS and request.path.startswith(API_BASE + "/")
            and not _ALLOWED_WRITES.match(request.path)
            and tenant_of(request) == services(request).settings.wide_area_tenant):
        raise ReadOnlyTenant(f"Tenant '{tenant_of(request)}' is the read-only wide-area tenant: it shows every "
                             f"tenant's open datasets and accepts no {request.method} on {request.path}; "
                             "write to the publishing tenant instead")
    return await handler(request)


async def open_views(svc: Services) -> dict[str, CatalogView]:
    """Each active tenant publishing open datasets → what the wide-area tenant sees of it (suspended and
    deactivated tenants publish nothing: tenants/published.py)."""
    return views_by_tenant((p.tenant, p.entity_type, p.excluded_attributes)
                           for p in await svc.published.open_types()
                           if p.tenant and p.tenant != svc.settings.wide_area_tenant)


async def query_page(ctx: RequestContext, query: EntityQuery) -> MergedPage:
    """One page of a Query Entities over every open dataset: each tenant concurrently, then merged."""
    check_window(query)
    svc = ctx.services
    parts = [(tenant, view, part) for tenant, view in (await open_views(svc)).items()
             if (part := tenant_query(query, view)) is not None]
    results = await asyncio.gather(*(find_entities(svc.databases.tenant(tenant), part, order_values=True)
                                     for tenant, _, part in parts))
    pages = [TenantPage(tenant, view, result.entities, result.order_values or [], result.count)
             for (tenant, view, _), result in zip(parts, results, strict=True)]
    return merge_pages(pages, offset=query.offset, limit=query.limit, count=query.count)


async def retrieve(ctx: RequestContext, entity_id: str, *, types: list[str] | None,
                   options: RenderOptions) -> tuple[Entity, RenderOptions, dict[str, str]]:
    """Retrieve Entity over every open dataset: the entity without withheld attributes and with its
    source tenant, the rendering that keeps that tenant, and the response headers naming it.

    Every publishing tenant is asked concurrently for the id among its openly published types; 404
    when none holds it (or none of the requested attributes), 409 AmbiguousEntity when several do,
    403 when `attrs` names an attribute its publisher withheld."""
    svc = ctx.services
    asked = [(tenant, view, readable) for tenant, view in (await open_views(svc)).items()
             if (readable := [t for t in view.types if types is None or t in types])]
    found = await asyncio.gather(*(_entity_or_none(EntityStore(svc.databases.tenant(tenant)), entity_id,
                                                   readable, options.attrs) for tenant, _, readable in asked))
    holders = [(tenant, view, entity) for (tenant, view, _), entity in zip(asked, found, strict=True)
               if entity is not None]
    if not holders:
        raise ResourceNotFound(f"Entity {entity_id} is not in any openly published dataset"
                               + (" with the requested type" if types else ""))
    if len(holders) > 1:
        raise AmbiguousEntity(entity_id, [tenant for tenant, _, _ in holders])
    tenant, view, entity = holders[0]
    refuse_withheld(options.attrs or (), view)
    entity = withhold(entity, view)
    if options.attrs is not None and not entity["attrs"]:
        raise ResourceNotFound(f"Entity {entity_id} has none of the requested attributes")
    return with_source(entity, tenant), wide_area_render(options), {SOURCE_TENANTS_HEADER: tenant}


async def _entity_or_none(store: EntityStore, entity_id: str, types: list[str],
                          attrs: frozenset[str] | None) -> Entity | None:
    try:
        return await store.get(entity_id, types=types, attrs=attrs)
    except ResourceNotFound:
        return None


async def discover(request: web.Request, read: Callable[..., Awaitable[Any]], *args: Any, single: bool = False) -> Any:
    """A broker/store/discovery.py reader run on every open-publishing tenant within its view, merged."""
    svc = services(request)
    views = await open_views(svc)
    results = await asyncio.gather(*(read(svc.databases.tenant(tenant), *args, view=view.types)
                                     for tenant, view in views.items()))
    return merge_discovery(results, single=single)
