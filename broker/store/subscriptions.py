"""Subscription persistence for one tenant (5.8): CRUD, delivery status, throttling and periodic claims.

Documents are the stored form built by broker/ngsild/subscription.py with `_id` for `id`; the
delivery status lives under `notification.*` (timesSent, timesFailed, lastNotification,
lastSuccess, lastFailure) and is updated with atomic $inc/$max, never read-modify-write, so the
outcomes that several replicas write in any order add up (`notification.status` is derived from
them when rendered: broker/ngsild/subscription.py delivery_status). A PATCH writes only the paths
it changes, so it never rewinds what deliveries and the throttling and periodic claims write meanwhile.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from broker.ngsild.errors import AlreadyExists, ResourceNotFound
from broker.ngsild.subscription_members import DELIVERY_MEMBERS

SUBSCRIPTIONS = "subscriptions"


def _to_document(subscription: dict[str, Any]) -> dict[str, Any]:
    doc = {key: value for key, value in subscription.items() if key != "id"}
    doc["_id"] = subscription["id"]
    return doc


def _from_document(doc: dict[str, Any]) -> dict[str, Any]:
    subscription = {"id": doc.pop("_id")}
    subscription.update(doc)
    return subscription


class SubscriptionStore:
    """The subscriptions collection of one tenant database."""

    def __init__(self, db: AsyncDatabase) -> None:
        self.collection = db[SUBSCRIPTIONS]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("index.types", ASCENDING)], name="index_types")
        await self.collection.create_index([("nextPeriodicAt", ASCENDING)], name="nextPeriodicAt", sparse=True)

    async def count(self) -> int:
        """How many subscriptions the tenant holds, counted by the database (quotas, admin usage)."""
        return await self.collection.count_documents({})

    async def create(self, subscription: dict[str, Any]) -> None:
        try:
            await self.collection.insert_one(_to_document(subscription))
        except DuplicateKeyError:
            raise AlreadyExists(f"Subscription {subscription['id']} already exists") from None

    async def get(self, subscription_id: str) -> dict[str, Any]:
        doc = await self.collection.find_one({"_id": subscription_id})
        if doc is None:
            raise ResourceNotFound(f"Subscription {subscription_id} not found")
        return _from_document(doc)

    async def page(self, *, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        """One page in id order, and the total count."""
        cursor = self.collection.find({}).sort("_id", ASCENDING).skip(offset).limit(limit)
        items = [_from_document(doc) async for doc in cursor] if limit else []
        return items, await self.collection.count_documents({})

    async def replace(self, previous: dict[str, Any], subscription: dict[str, Any]) -> None:
        """Write `subscription` over `previous` (as read before the change): only the members that differ
        are set, and those it no longer has unset, each on its own path. What others write meanwhile is
        kept: delivery outcomes (never written here), a throttling window or a periodic run claimed by
        any replica (written here only when the change itself moves them)."""
        new, old = _to_document(subscription), _to_document(previous)
        new_notification = _client_members(new.pop("notification", None))
        old_notification = _client_members(old.pop("notification", None))
        changed: dict[str, Any] = {}
        gone: dict[str, str] = {}
        for prefix, after, before in (("", new, old), ("notification.", new_notification, old_notification)):
            changed.update({f"{prefix}{key}": value for key, value in after.items()
                            if key != "_id" and (key not in before or before[key] != value)})
            gone.update({f"{prefix}{key}": "" for key in before if key not in after})
        update: dict[str, Any] = {}
        if changed:
            update["$set"] = changed
        if gone:
            update["$unset"] = gone
        if not update:  # a PATCH always moves modifiedAt; set it anyway so a vanished one is still 404
            update = {"$set": {"modifiedAt": subscription.get("modifiedAt")}}
        result = await self.collection.update_one({"_id": subscription["id"]}, update)
        if not result.matched_count:
            raise ResourceNotFound(f"Subscription {subscription['id']} not found")

    async def delete(self, subscription_id: str) -> None:
        result = await self.collection.delete_one({"_id": subscription_id})
        if not result.deleted_count:
            raise ResourceNotFound(f"Subscription {subscription_id} not found")

    async def all(self) -> list[dict[str, Any]]:
        """Every subscription of the tenant (the matcher's cache is built from this)."""
        return [_from_document(doc) async for doc in self.collection.find({})]

    async def record_deliveries(self, deliveries: list[tuple[str, bool, datetime]]) -> None:
        """Count (subscription id, success, at) outcomes: one update per subscription, one round trip."""
        updates: dict[str, dict[str, Any]] = {}
        for subscription_id, success, at in sorted(deliveries, key=lambda delivery: delivery[2]):
            update = updates.setdefault(subscription_id, {"$inc": {}, "$max": {}})
            counter, last = ("timesSent", "lastSuccess") if success else ("timesFailed", "lastFailure")
            update["$inc"][f"notification.{counter}"] = update["$inc"].get(f"notification.{counter}", 0) + 1
            update["$max"]["notification.lastNotification"] = at
            update["$max"][f"notification.{last}"] = at
        if updates:
            await self.collection.bulk_write([UpdateOne({"_id": subscription_id}, update)
                                              for subscription_id, update in updates.items()], ordered=False)

    async def claim_throttle(self, subscription_id: str, *, throttling_s: float, now: datetime) -> bool:
        """True if a notification may be sent now: at most one per throttling window, across replicas."""
        result = await self.collection.update_one(
            {"_id": subscription_id,
             "$or": [{"throttledAt": {"$exists": False}},
                     {"throttledAt": {"$lte": now - timedelta(seconds=throttling_s)}}]},
            {"$set": {"throttledAt": now}})
        return bool(result.modified_count)

    async def claim_periodic(self, now: datetime) -> dict[str, Any] | None:
        """Take one periodic (timeInterval) subscription that is due, moving its next run forward."""
        doc = await self.collection.find_one_and_update(
            {"timeInterval": {"$exists": True}, "nextPeriodicAt": {"$lte": now}},
            [{"$set": {"nextPeriodicAt": {"$add": [now, {"$multiply": ["$timeInterval", 1000]}]}}}],
            return_document=ReturnDocument.BEFORE)
        return _from_document(doc) if doc is not None else None


def _client_members(notification: dict[str, Any] | None) -> dict[str, Any]:
    """A notification's members other than the delivery status."""
    return {key: value for key, value in (notification or {}).items() if key not in DELIVERY_MEMBERS}
