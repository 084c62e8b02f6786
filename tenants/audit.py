"""The audit log of admin actions, in the shared catalog: who did what to which tenant, when,
and the tenant as it was before and after.

An entry (collection `audit` of the shared catalog):

    {"_id": ObjectId, "at": ISODate, "actor": "alice@pref.osaka.example" | "anonymous",
     "action": "create" | "update" | "delete" | "purge" | "allocate", "tenant": "osaka",
     "before": {<tenant as the admin API shows it>} | null, "after": {…} | null,
     "requestId": "<X-Request-Id of the admin request>"}
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from aiohttp import web
from pymongo import DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

from broker.auth.principal import principal_of

AUDIT = "audit"
CREATE, UPDATE, DELETE, PURGE = "create", "update", "delete", "purge"
ALLOCATE = "allocate"
"""A cost allocation was made (tenant "": it concerns several; `after` sums it up)."""
ACTIONS = (CREATE, UPDATE, DELETE, PURGE, ALLOCATE)
ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor: str
    action: str
    tenant: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None = None


class AuditLog:
    def __init__(self, collection: AsyncCollection) -> None:
        self.collection = collection
        self._indexed = False

    async def record(self, entry: AuditEntry) -> None:
        await self._ensure_indexes()
        await self.collection.insert_one({
            "at": entry.at, "actor": entry.actor, "action": entry.action, "tenant": entry.tenant,
            "before": entry.before, "after": entry.after, "requestId": entry.request_id})

    async def page(self, *, limit: int, offset: int, tenant: str | None = None,
                   action: str | None = None) -> tuple[list[AuditEntry], int]:
        """One page of entries, newest first, and how many match in all."""
        await self._ensure_indexes()
        query: dict[str, Any] = {}
        if tenant is not None:
            query["tenant"] = tenant
        if action is not None:
            query["action"] = action
        entries = []
        if limit:
            newest_first = [("at", DESCENDING), ("_id", DESCENDING)]
            cursor = self.collection.find(query).sort(newest_first).skip(offset).limit(limit)
            entries = [AuditEntry(doc["at"], doc["actor"], doc["action"], doc["tenant"], doc.get("before"),
                                  doc.get("after"), doc.get("requestId")) async for doc in cursor]
        return entries, await self.collection.count_documents(query)

    async def _ensure_indexes(self) -> None:
        if not self._indexed:
            await self.collection.create_index([("at", DESCENDING)], name="at")
            await self.collection.create_index([("tenant", 1), ("at", DESCENDING)], name="tenant_at")
            self._indexed = True


def actor_of(request: web.Request) -> str:
    """Who makes the request: the subject of the principal access control admitted ("anonymous"
    with KYODO_AUTH=none, or when there is none)."""
    principal = principal_of(request)
    return principal.subject if principal is not None and principal.subject else ANONYMOUS


def request_id() -> str | None:
    """The request id the error middleware bound for the logs (X-Request-Id)."""
    return structlog.contextvars.get_contextvars().get("request_id")
