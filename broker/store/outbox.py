"""The durable notification outbox of one tenant: written before a write is acknowledged, claimed
with leases so each notification is sent once across replicas, and at least once after a crash.

    {"_id": ObjectId, "subscriptionId": "urn:…", "endpoint": "http://…" (the queue key),
     "request": {<what the sender needs: uri, accept, headers, body, timeout, notifierInfo>},
     "due": ISODate, "attempts": 0, "leaseOwner": "host:pid:uuid" | None, "leaseUntil": ISODate | None,
     "createdAt": ISODate}
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, InsertOne, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

OUTBOX = "outbox"


class Outbox:
    """Pending notifications of one tenant database."""

    def __init__(self, db: AsyncDatabase) -> None:
        self.collection = db[OUTBOX]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("due", ASCENDING)], name="due")

    async def add(self, records: list[dict[str, Any]]) -> None:
        """Persist notifications; one round trip whatever their number."""
        if records:
            await self.collection.bulk_write([InsertOne(record) for record in records], ordered=False)

    async def claim(self, owner: str, *, now: datetime, lease_s: float,
                    exclude_endpoints: list[str]) -> dict[str, Any] | None:
        """Lease the most overdue notification whose endpoint is not busy in this process."""
        query: dict[str, Any] = {
            "due": {"$lte": now},
            "$or": [{"leaseUntil": None}, {"leaseUntil": {"$lte": now}}],
        }
        if exclude_endpoints:
            query["endpoint"] = {"$nin": exclude_endpoints}
        return await self.collection.find_one_and_update(
            query,
            {"$set": {"leaseOwner": owner, "leaseUntil": now + timedelta(seconds=lease_s)}},
            sort=[("due", ASCENDING)],
            return_document=ReturnDocument.AFTER,
        )

    async def done(self, record_id: ObjectId, owner: str) -> None:
        await self.collection.delete_one({"_id": record_id, "leaseOwner": owner})

    async def retry_later(self, record_id: ObjectId, owner: str, *, due: datetime, error: str) -> None:
        await self.collection.update_one(
            {"_id": record_id, "leaseOwner": owner},
            {"$set": {"due": due, "leaseOwner": None, "leaseUntil": None, "lastError": error[:500]},
             "$inc": {"attempts": 1}})

    async def release_all(self, owner: str) -> None:
        """Hand this process's leases back (graceful shutdown)."""
        await self.collection.update_many({"leaseOwner": owner}, {"$set": {"leaseOwner": None, "leaseUntil": None}})

    async def depth(self) -> int:
        return await self.collection.count_documents({})
