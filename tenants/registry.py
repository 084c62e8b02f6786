"""The tenant registry, kept in the shared catalog so every broker replica agrees.

Lookups are cached per process for a short TTL (never forever): a tenant created by another
replica is seen at once (a miss always asks the database), a deleted one within the TTL.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

TENANTS = "tenants"
DEFAULT_TENANT = ""  # the tenant of requests without a tenant header; it always exists


class TenantRegistry:
    def __init__(self, collection: AsyncCollection, ttl_s: float = 5.0) -> None:
        self.collection = collection
        self.ttl_s = ttl_s
        self._known: dict[str, float] = {}

    async def exists(self, name: str) -> bool:
        if name == DEFAULT_TENANT or self._fresh(name):
            return True
        doc = await self.collection.find_one({"_id": name}, {"_id": 1, "status": 1})
        if doc is None:
            return False
        self._known[name] = time.monotonic()
        return True

    async def ensure(self, name: str, *, created_by: str = "implicit") -> bool:
        """Register the tenant if it is new; True when this call created it."""
        if name == DEFAULT_TENANT or self._fresh(name):
            return False
        result = await self.collection.update_one(
            {"_id": name},
            {"$setOnInsert": {"createdAt": datetime.now(UTC), "status": "active", "createdBy": created_by}},
            upsert=True,
        )
        self._known[name] = time.monotonic()
        return result.upserted_id is not None

    async def names(self) -> list[str]:
        """Every registered tenant, the default tenant first."""
        return [DEFAULT_TENANT] + [doc["_id"] async for doc in self.collection.find({}, {"_id": 1}).sort("_id", 1)]

    async def get(self, name: str) -> dict[str, Any] | None:
        return await self.collection.find_one({"_id": name})

    def forget(self, name: str) -> None:
        self._known.pop(name, None)

    def _fresh(self, name: str) -> bool:
        seen = self._known.get(name)
        return seen is not None and time.monotonic() - seen < self.ttl_s
