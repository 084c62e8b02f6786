"""Stored cost allocations, in the shared catalog: each one as the admin API showed it when it was made.

A document (collection `cost_allocations` of the shared catalog) is the allocation's JSON (see
tenants/cost_api.py `allocation_json`) with `_id` = its id and `createdAt` as an ISODate:

    {"_id": "6745b0…", "createdAt": ISODate, "createdBy": "alice", "period": {"from": …, "to": …},
     "method": "hybrid", "total": 1000000, "request": {<the POST body as validated>},
     "tenants": [{"tenant": "osaka", "amount": 600001, …}, …]}
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

from broker.ngsild.names import format_datetime

COST_ALLOCATIONS = "cost_allocations"


def new_allocation_id() -> str:
    """Unique across processes, and in creation order."""
    return str(ObjectId())


class AllocationStore:
    def __init__(self, collection: AsyncCollection) -> None:
        self.collection = collection
        self._indexed = False

    async def insert(self, allocation: dict[str, Any], created_at: datetime) -> None:
        await self._ensure_indexes()
        await self.collection.insert_one({**allocation, "_id": allocation["id"], "createdAt": created_at})

    async def get(self, allocation_id: str) -> dict[str, Any] | None:
        doc = await self.collection.find_one({"_id": allocation_id})
        return _shown(doc) if doc is not None else None

    async def page(self, *, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        """One page, newest first, and how many there are in all."""
        await self._ensure_indexes()
        found = []
        if limit:
            cursor = self.collection.find({}).sort([("createdAt", DESCENDING), ("_id", DESCENDING)])
            found = [_shown(doc) async for doc in cursor.skip(offset).limit(limit)]
        return found, await self.collection.count_documents({})

    async def _ensure_indexes(self) -> None:
        if not self._indexed:
            await self.collection.create_index([("createdAt", DESCENDING)], name="createdAt")
            self._indexed = True


def _shown(doc: dict[str, Any]) -> dict[str, Any]:
    shown = {key: value for key, value in doc.items() if key != "_id"}
    shown["createdAt"] = format_datetime(doc["createdAt"])
    return shown
