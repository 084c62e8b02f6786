"""The tenant registry, kept in the shared catalog so every broker replica agrees.

A registry document (collection `tenants` of the shared catalog):

    {"_id": "osaka", "status": "active" | "suspended" | "inactive",
     "displayName": "大阪府", "kind": "prefecture" | "municipality" | "other", "population": 8763000,
     "contact": {"name": "デジタル推進課", "email": "digital@pref.osaka.example"},
     "quotas": {"maxEntities": 100000, "maxSubscriptions": null, "maxRequestsPerMinute": 6000,
                "maxBatchSize": null},                       # null: unlimited
     "createdAt": ISODate, "updatedAt": ISODate, "createdBy": "admin" | "implicit"}

A tenant created implicitly (by a create operation, when KYODO_TENANT_AUTOCREATE is on) has only
`_id`, `status`, `createdAt` and `createdBy`. "inactive" is a tenant deleted without purge: its data
stays, but it behaves as nonexistent until it is made active again.

Lookups are cached per process for a short TTL (never forever): a tenant created by another
replica is seen at once (a miss, or an inactive tenant, always asks the database); a suspension,
a quota change or a deletion within the TTL.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from tenants.quotas import UNLIMITED, Quotas

TENANTS = "tenants"
DEFAULT_TENANT = ""  # the tenant of requests without a tenant header; it always exists
ACTIVE, SUSPENDED, INACTIVE = "active", "suspended", "inactive"
STATUSES = (ACTIVE, SUSPENDED, INACTIVE)
KINDS = ("prefecture", "municipality", "other")
CREATED_BY_ADMIN, CREATED_BY_IMPLICIT = "admin", "implicit"


class TenantExists(Exception):
    """A tenant of that name is already registered (whatever its status)."""


@dataclass(frozen=True)
class Contact:
    name: str | None
    email: str | None
    """None only when a PATCH gave one member to a tenant that had no contact."""


@dataclass(frozen=True)
class TenantRecord:
    """One registry document; optional members are None for implicitly created tenants."""

    name: str
    status: str = ACTIVE
    display_name: str | None = None
    kind: str | None = None
    population: int | None = None
    contact: Contact | None = None
    quotas: Quotas = field(default=UNLIMITED)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    created_by: str = CREATED_BY_IMPLICIT

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> TenantRecord:
        contact = doc.get("contact")
        return cls(name=doc["_id"], status=doc.get("status", ACTIVE), display_name=doc.get("displayName"),
                   kind=doc.get("kind"), population=doc.get("population"),
                   contact=Contact(contact.get("name"), contact.get("email")) if contact else None,
                   quotas=Quotas.from_document(doc.get("quotas")), created_at=doc.get("createdAt"),
                   updated_at=doc.get("updatedAt"), created_by=doc.get("createdBy", CREATED_BY_IMPLICIT))

    def to_document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"_id": self.name, "status": self.status, "createdBy": self.created_by}
        optional = {"displayName": self.display_name, "kind": self.kind, "population": self.population,
                    "createdAt": self.created_at, "updatedAt": self.updated_at}
        doc.update({key: value for key, value in optional.items() if value is not None})
        if self.contact is not None:
            doc["contact"] = {"name": self.contact.name, "email": self.contact.email}
        if self.quotas != UNLIMITED or self.created_by == CREATED_BY_ADMIN:
            doc["quotas"] = self.quotas.to_document()
        return doc


class TenantRegistry:
    def __init__(self, collection: AsyncCollection, ttl_s: float = 5.0) -> None:
        self.collection = collection
        self.ttl_s = ttl_s
        self._records: dict[str, tuple[float, TenantRecord]] = {}  # name → (read at, record)

    async def lookup(self, name: str) -> TenantRecord | None:
        """The tenant's record, from this process's memory when read less than the TTL ago."""
        cached = self._cached(name)
        if cached is not None:
            return cached
        doc = await self.collection.find_one({"_id": name})
        record = TenantRecord.from_document(doc) if doc is not None else None
        self._remember(name, record)
        return record

    async def exists(self, name: str) -> bool:
        """True for the default tenant and for registered tenants that are not inactive."""
        if name == DEFAULT_TENANT:
            return True
        record = await self.lookup(name)
        return record is not None and record.status != INACTIVE

    async def ensure(self, name: str, *, created_by: str = CREATED_BY_IMPLICIT) -> bool:
        """Register the tenant if it is new; True when this call created it."""
        if name == DEFAULT_TENANT or self._cached(name) is not None:
            return False
        now = datetime.now(UTC)
        result = await self.collection.update_one(
            {"_id": name},
            {"$setOnInsert": {"createdAt": now, "status": ACTIVE, "createdBy": created_by}},
            upsert=True,
        )
        if result.upserted_id is None:
            self.forget(name)
            return False
        self._remember(name, TenantRecord(name, created_at=now, created_by=created_by))
        return True

    async def names(self) -> list[str]:
        """The tenants whose notifications are sent: the default tenant first, then every active one."""
        cursor = self.collection.find({"status": {"$nin": [SUSPENDED, INACTIVE]}}, {"_id": 1}).sort("_id", ASCENDING)
        return [DEFAULT_TENANT] + [doc["_id"] async for doc in cursor]

    async def stored_names(self) -> list[str]:
        """The tenants that hold data: the default tenant first, then every registered one not inactive."""
        cursor = self.collection.find({"status": {"$ne": INACTIVE}}, {"_id": 1}).sort("_id", ASCENDING)
        return [DEFAULT_TENANT] + [doc["_id"] async for doc in cursor]

    async def records(self, names: list[str] | None = None) -> dict[str, TenantRecord]:
        """Registered tenants by name, in one read: the ones named (whatever their status; unknown
        names are absent), or every active one."""
        query = {"_id": {"$in": names}} if names is not None else {"status": {"$nin": [SUSPENDED, INACTIVE]}}
        cursor = self.collection.find(query).sort("_id", ASCENDING)
        return {doc["_id"]: TenantRecord.from_document(doc) async for doc in cursor}

    async def withdrawn(self) -> list[str]:
        """Registered tenants that are suspended or deactivated: the catalog stops showing their datasets."""
        cursor = self.collection.find({"status": {"$in": [SUSPENDED, INACTIVE]}}, {"_id": 1})
        return [doc["_id"] async for doc in cursor]

    async def get(self, name: str) -> TenantRecord | None:
        """The record as the database has it now (the admin API never answers from a cache)."""
        doc = await self.collection.find_one({"_id": name})
        return TenantRecord.from_document(doc) if doc is not None else None

    async def page(self, *, limit: int, offset: int, status: str | None = None) -> tuple[list[TenantRecord], int]:
        """One page of tenants in name order, and how many there are in all."""
        query = {} if status is None else ({"status": status} if status != ACTIVE
                                           else {"status": {"$nin": [SUSPENDED, INACTIVE]}})
        records = []
        if limit:
            cursor = self.collection.find(query).sort("_id", ASCENDING).skip(offset).limit(limit)
            records = [TenantRecord.from_document(doc) async for doc in cursor]
        return records, await self.collection.count_documents(query)

    async def create(self, record: TenantRecord) -> None:
        try:
            await self.collection.insert_one(record.to_document())
        except DuplicateKeyError:
            raise TenantExists(record.name) from None
        self._remember(record.name, record)

    async def update(self, name: str, changes: dict[str, Any]) -> tuple[TenantRecord, TenantRecord] | None:
        """Set document members (dotted paths for quotas and contact); (before, after), None if unknown.

        One atomic update: two operators changing different members never undo each other.
        """
        changes = {**changes, "updatedAt": datetime.now(UTC)}
        before = await self.collection.find_one_and_update({"_id": name}, {"$set": changes},
                                                           return_document=ReturnDocument.BEFORE)
        if before is None:
            return None
        after = _with_changes(before, changes)
        self._remember(name, TenantRecord.from_document(after))
        return TenantRecord.from_document(before), TenantRecord.from_document(after)

    async def remove(self, name: str) -> None:
        await self.collection.delete_one({"_id": name})
        self.forget(name)

    def is_known(self, name: str) -> bool:
        """Whether this process has seen the tenant registered lately (no database call: for labels)."""
        return name == DEFAULT_TENANT or name in self._records

    def forget(self, name: str) -> None:
        self._records.pop(name, None)

    def _cached(self, name: str) -> TenantRecord | None:
        cached = self._records.get(name)
        if cached is None or time.monotonic() - cached[0] >= self.ttl_s:
            return None
        return cached[1]

    def _remember(self, name: str, record: TenantRecord | None) -> None:
        # only tenants that answer requests are cached: a new or restored tenant is seen at once
        if record is None or record.status == INACTIVE:
            self._records.pop(name, None)
        else:
            self._records[name] = (time.monotonic(), record)


def _with_changes(doc: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """What MongoDB's $set makes of a document, computed here (dotted paths create sub-documents)."""
    result = {key: dict(value) if isinstance(value, dict) else value for key, value in doc.items()}
    for path, value in changes.items():
        *parents, last = path.split(".")
        target = result
        for part in parents:
            target = target.setdefault(part, {})
        target[last] = value
    return result
