"""The durable notification outbox of one tenant: written before a write is acknowledged, claimed
with leases so each notification is sent once across replicas, and at least once after a crash.

    {"_id": ObjectId, "subscriptionId": "urn:…", "endpoint": "http://…" (the queue key),
     "request": {<what the sender needs: uri, accept, headers, body, timeout, notifierInfo>},
     "due": ISODate, "attempts": 0, "leaseOwner": "host:pid:uuid" | None, "leaseUntil": ISODate | None,
     "leaseToken": "<claim id>" | None, "createdAt": ISODate}
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from bson import ObjectId
from pymongo import ASCENDING, DeleteOne, InsertOne, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

OUTBOX = "outbox"
_RELEASED = {"leaseOwner": None, "leaseUntil": None, "leaseToken": None}


@dataclass(frozen=True)
class Settled:
    """How a leased notification ended: sent or dropped ("done"), to be retried at `due`, or handed
    back unsent ("release")."""

    record_id: ObjectId
    token: str
    """The claim's lease token: an outcome written after the lease was lost and taken again changes nothing."""
    kind: Literal["done", "retry", "release"]
    due: datetime | None = None
    error: str = ""


class Outbox:
    """Pending notifications of one tenant database."""

    def __init__(self, db: AsyncDatabase) -> None:
        self.collection = db[OUTBOX]

    async def ensure_indexes(self) -> None:
        """The claim's index: due records, oldest first."""
        await self.collection.create_index([("due", ASCENDING)], name="due")

    async def add(self, records: list[dict[str, Any]]) -> None:
        """Persist notifications; one round trip whatever their number."""
        if records:
            await self.collection.bulk_write([InsertOne(record) for record in records], ordered=False)

    async def claim(self, owner: str, *, now: datetime, lease_s: float, exclude_endpoints: list[str],
                    limit: int) -> list[dict[str, Any]]:
        """Lease up to `limit` of the most overdue notifications whose endpoints are not busy in this
        process, in two round trips (one when none is due). Each record's lease is taken by its own
        conditional update, so a record raced for by several replicas goes to exactly one of them."""
        query: dict[str, Any] = {
            "due": {"$lte": now},
            "$or": [{"leaseUntil": None}, {"leaseUntil": {"$lte": now}}],
        }
        if exclude_endpoints:
            query["endpoint"] = {"$nin": exclude_endpoints}
        candidates = await self.collection.find(query, sort=[("due", ASCENDING)], limit=limit).to_list()
        if not candidates:
            return []
        until = now + timedelta(seconds=lease_s)
        token = uuid.uuid4().hex
        lease = {"leaseOwner": owner, "leaseUntil": until, "leaseToken": token}
        # the filter repeats the attempts read, so a record retried meanwhile by another replica is
        # not taken with a stale count
        result = await self.collection.bulk_write(
            [UpdateOne({**query, "_id": record["_id"], "attempts": record["attempts"]}, {"$set": lease})
             for record in candidates], ordered=False)
        if result.modified_count == len(candidates):
            return [{**record, **lease} for record in candidates]
        mine = {"_id": {"$in": [record["_id"] for record in candidates]}, "leaseToken": token}
        return await self.collection.find(mine, sort=[("due", ASCENDING)]).to_list()

    async def settle(self, outcomes: list[Settled]) -> None:
        """Write the outcomes of leased notifications in one round trip; only the lease holder's count."""
        operations: list[DeleteOne | UpdateOne] = []
        for outcome in outcomes:
            mine = {"_id": outcome.record_id, "leaseToken": outcome.token}
            if outcome.kind == "done":
                operations.append(DeleteOne(mine))
            elif outcome.kind == "retry":
                operations.append(UpdateOne(mine, {
                    "$set": {"due": outcome.due, "leaseOwner": None, "leaseUntil": None, "leaseToken": None,
                             "lastError": outcome.error[:500]},
                    "$inc": {"attempts": 1}}))
            else:
                operations.append(UpdateOne(mine, {"$set": _RELEASED}))
        if operations:
            await self.collection.bulk_write(operations, ordered=False)

    async def release_all(self, owner: str) -> None:
        """Hand this process's leases back (graceful shutdown)."""
        await self.collection.update_many({"leaseOwner": owner}, {"$set": _RELEASED})

    async def depth(self) -> int:
        return await self.collection.count_documents({})
