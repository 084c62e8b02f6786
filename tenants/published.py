"""Which entity types each tenant publishes, and to whom: the read side of the shared catalog's datasets.

A dataset document (collection `datasets` of the shared catalog; written by the catalog API):

    {"_id": "osaka-tourism-spots",            # the dataset name: unique in the catalog, CKAN `name`
     "tenant": "osaka",                       # the publishing tenant ("" never: the default tenant cannot publish)
     "entityType": "https://…/TouristSpot",   # expanded entity type; one dataset per (tenant, entityType)
     "visibility": "open" | "members",        # anyone | any authenticated member tenant
     "excludedAttributes": ["https://…/ownerPhone"],   # expanded attribute names never shown
     "title": {"ja": "…", "en": "…"}, "description": {"ja": "…", "en": "…"}, "keywords": ["観光"],
     "license": "CC-BY-4.0", "publisher": "大阪府", "contact": {"name": "…", "email": "…"},
     "updateFrequency": "daily", "spatial": {…}, "issued": ISODate, "modified": ISODate}

Only `tenant`, `entityType`, `visibility` and `excludedAttributes` matter here. A suspended or
deactivated tenant publishes nothing (its data is not served): its datasets are left out of every
answer here and `withdrawn()` names it for the catalog's listings. Lookups are cached per process for
a short TTL (a change made on another replica is seen within it); the replica that publishes,
unpublishes or changes a tenant's status calls `forget()` so it sees its own change at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from broker.cache import TtlCache
from tenants.registry import TenantRegistry

DATASETS = "datasets"
OPEN, MEMBERS = "open", "members"


@dataclass(frozen=True)
class PublishedType:
    """One published entity type of one tenant."""

    tenant: str
    entity_type: str
    dataset: str
    visibility: str
    excluded_attributes: frozenset[str]

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> PublishedType:
        return cls(tenant=doc["tenant"], entity_type=doc["entityType"], dataset=doc["_id"],
                   visibility=doc.get("visibility", OPEN),
                   excluded_attributes=frozenset(doc.get("excludedAttributes") or ()))

    def readable_by(self, *, member: bool) -> bool:
        """Open datasets are readable by anyone; members-only ones by an authenticated member tenant."""
        return self.visibility == OPEN or (member and self.visibility == MEMBERS)


_PROJECTION = {"tenant": 1, "entityType": 1, "visibility": 1, "excludedAttributes": 1}


class PublishedTypes:
    """The published types, read from the catalog and kept for `ttl_s` seconds."""

    def __init__(self, collection: AsyncCollection, registry: TenantRegistry, ttl_s: float = 5.0) -> None:
        self.collection = collection
        self.registry = registry
        self._snapshot: TtlCache[None, tuple[tuple[PublishedType, ...], frozenset[str]]] = TtlCache(ttl_s)

    async def _read(self) -> tuple[tuple[PublishedType, ...], frozenset[str]]:
        return await self._snapshot.get(None, self._read_catalog)

    async def _read_catalog(self) -> tuple[tuple[PublishedType, ...], frozenset[str]]:
        withdrawn = frozenset(await self.registry.withdrawn())
        cursor = self.collection.find({}, _PROJECTION).sort([("tenant", 1), ("entityType", 1)])
        published = tuple([p async for doc in cursor
                           if (p := PublishedType.from_document(doc)).tenant not in withdrawn])
        return published, withdrawn

    async def all(self) -> tuple[PublishedType, ...]:
        """Every published type of every tenant that is not withdrawn, in (tenant, entity type) order."""
        return (await self._read())[0]

    async def withdrawn(self) -> frozenset[str]:
        """The suspended and deactivated tenants: their datasets are not shown."""
        return (await self._read())[1]

    async def readable_types(self, tenant: str, *, member: bool) -> dict[str, frozenset[str]]:
        """The tenant's types readable by this reader (anyone; with `member`, a member tenant too):
        entity type → the attributes its publisher withholds."""
        return {p.entity_type: p.excluded_attributes for p in await self.all()
                if p.tenant == tenant and p.readable_by(member=member)}

    async def open_types(self) -> tuple[PublishedType, ...]:
        """Every tenant's open types: what the wide-area virtual tenant covers."""
        return tuple(p for p in await self.all() if p.visibility == OPEN)

    def forget(self) -> None:
        """Drop the cached snapshot, and any read of it under way (after this process published,
        unpublished or changed a tenant's status)."""
        self._snapshot.forget(None)
