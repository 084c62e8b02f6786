"""Per-request context: tenant, @context term map and stores, resolved once per request (6.3.5, 4.14)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pymongo.asynchronous.database import AsyncDatabase

from broker.api.state import Services, services
from broker.auth.principal import catalog_reader
from broker.ngsild.context import TermMap, parse_link_header_contexts
from broker.ngsild.errors import BadRequestData
from broker.ngsild.media import JSON_LD
from broker.store.entities import EntityStore, ensure_entity_indexes
from broker.store.geo import forget_geo_indexes
from broker.store.query import QUERY_TIME_LIMIT_MS
from broker.store.subscriptions import SubscriptionStore
from tenants import quotas
from tenants.errors import QuotaExceeded
from tenants.names import InvalidTenantName, normalize_tenant
from tenants.quotas import UNLIMITED, Quotas

TENANT_HEADERS = ("NGSILD-Tenant", "Fiware-Service")
TENANT_KEY = web.RequestKey("tenant", str)
QUOTAS_KEY = web.RequestKey("tenant_quotas", Quotas)
"""Set once the tenant is admitted (tenants/admission.py): its quotas."""


def tenant_of(request: web.Request) -> str:
    """The normalised tenant of a request ("" = the default tenant); 400 for an invalid name."""
    if TENANT_KEY in request:
        return request[TENANT_KEY]
    raw = next((request.headers[h] for h in TENANT_HEADERS if h in request.headers), None)
    try:
        tenant = normalize_tenant(raw) if raw is not None and raw.strip() else ""
    except InvalidTenantName as exc:
        request[TENANT_KEY] = ""
        raise BadRequestData(str(exc)) from None
    request[TENANT_KEY] = tenant
    return tenant


@dataclass
class RequestContext:
    """Everything a handler needs about who asks, in which tenant, with which @context."""

    tenant: str
    terms: TermMap
    context: Any
    """The @context to answer with: the request's own, or the core context URL."""
    services: Services
    db: AsyncDatabase
    entities: EntityStore
    quotas: Quotas = field(default=UNLIMITED)

    @property
    def wide_area(self) -> bool:
        """The wide-area virtual tenant (広域): reads cover every tenant's open datasets (api/wide_area.py)."""
        return self.tenant == self.services.settings.wide_area_tenant

    async def register_tenant(self) -> None:
        """Create operations make an unknown tenant exist (4.14); called right before the write.
        The wide-area tenant always exists and is never registered (its own database holds subscriptions)."""
        if not self.wide_area and await self.services.tenants.ensure(self.tenant):
            # perhaps a tenant purged earlier under the same name: its new database has no indexes yet
            self.services.indexed_tenants.discard(self.tenant)
            forget_geo_indexes(self.db.name)
        await self.ensure_indexes()

    async def require_entity_room(self) -> None:
        """maxEntities: 403 QuotaExceeded when the tenant cannot hold one more entity."""
        if self.quotas.max_entities is not None:
            quotas.require_entity_room(self.tenant, self.quotas, await self.entities.count())

    async def entities_beyond_quota(self, entity_ids: list[str]) -> dict[str, QuotaExceeded]:
        """Of the ids a batch writes (array order), the new ones maxEntities leaves no room for."""
        if self.quotas.max_entities is None or not entity_ids:
            return {}
        existing = await self.entities.existing_ids(entity_ids)
        new_ids = [entity_id for entity_id in entity_ids if entity_id not in existing]
        return quotas.entities_beyond_room(self.tenant, self.quotas, await self.entities.count(), new_ids)

    async def require_subscription_room(self) -> None:
        """maxSubscriptions: 403 QuotaExceeded when the tenant cannot hold one more subscription."""
        if self.quotas.max_subscriptions is not None:
            quotas.require_subscription_room(self.tenant, self.quotas, await SubscriptionStore(self.db).count())

    async def ensure_indexes(self) -> None:
        if self.tenant not in self.services.indexed_tenants:
            await ensure_entity_indexes(self.db)
            self.services.indexed_tenants.add(self.tenant)


def body_context(body: Any, media: str, request: web.Request) -> Any:
    """The @context of a body-bearing request per 6.3.5's Content-Type matrix."""
    link = parse_link_header_contexts(request.headers.getall("Link", []))
    in_body = isinstance(body, dict) and "@context" in body
    if media == JSON_LD:
        if link is not None:
            raise BadRequestData("A JSON-LD Link header is not allowed with Content-Type application/ld+json")
        if isinstance(body, list):
            return None  # a batch: each entity carries its own @context, checked entity by entity
        if not in_body:
            raise BadRequestData("Content-Type application/ld+json requires an @context in the body")
        return body["@context"]
    if in_body:
        raise BadRequestData("@context in the body requires Content-Type application/ld+json "
                             "(with application/json, send the context in a Link header)")
    return link


async def admitted_tenant(request: web.Request, *, create: bool = False) -> str:
    """The request's tenant once admitted: it exists (404 NonexistentTenant; with `create`, an unknown
    one is fine when tenants are created implicitly), is not suspended (403 TenantSuspended) and is
    within its request rate (429 TooManyRequests). Decided once per request."""
    tenant = tenant_of(request)
    if QUOTAS_KEY not in request:
        request[QUOTAS_KEY] = await services(request).admission.admit(
            tenant, create=create, public=catalog_reader(request) is not None)
    return tenant


async def existing_tenant(request: web.Request) -> str:
    """The request's tenant, which must exist and be admitted (see admitted_tenant)."""
    return await admitted_tenant(request)


async def request_context(request: web.Request, *, context: Any = None, from_link: bool = True,
                          create: bool = False) -> RequestContext:
    """Resolve tenant and @context. With `create` the tenant may be new: see register_tenant."""
    svc = services(request)
    QUERY_TIME_LIMIT_MS.set(svc.settings.query_timeout_ms)
    tenant = await admitted_tenant(request, create=create)
    if from_link and context is None:
        context = parse_link_header_contexts(request.headers.getall("Link", []))
    terms = await svc.contexts.term_map(context, tenant)
    db = svc.databases.tenant(tenant or None)
    ctx = RequestContext(tenant=tenant, terms=terms, context=context or svc.contexts.core_url,
                         services=svc, db=db, entities=EntityStore(db), quotas=request[QUOTAS_KEY])
    if not create:
        await ctx.ensure_indexes()
    return ctx
