"""Which tenants the notification loops poll: the active tenants that have ever had a subscription.

The dispatcher and the periodic notifier used to ask every tenant's database every poll interval,
though most tenants never subscribe. A tenant gets a record in the catalog before its first
subscription is stored (on whichever replica), and every replica reads the records again once
its last read is older than the poll interval: a subscription made elsewhere is polled here within
about two intervals (one made here, at once).

    {"_id": "<tenant>" ("" = the default tenant), "since": ISODate}

A record is never removed: a tenant whose subscriptions are all gone may still have notifications
in its outbox, and removing the record could race with a new subscription on another replica.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from broker.cache import TtlCache
from broker.store.client import Databases
from broker.store.outbox import OUTBOX, Outbox
from broker.store.subscriptions import SUBSCRIPTIONS
from tenants.registry import TenantRegistry

NOTIFYING = "notifyingTenants"


class NotifyingTenants:
    """The catalog's record of tenants with subscriptions, and the tenants a round should poll."""

    def __init__(self, databases: Databases, registry: TenantRegistry, max_age_s: float,
                 unregistered: tuple[str, ...] = ()) -> None:
        self.databases = databases
        self.registry = registry
        self.unregistered = unregistered
        """Tenants that are always active without a registry entry: the wide-area virtual tenant."""
        self.collection = databases.catalog[NOTIFYING]
        self._marked: set[str] = set()
        self._discovered = False
        self._polled: TtlCache[None, list[str]] = TtlCache(max_age_s)
        """The polled tenants, read again after max_age_s: the dispatcher's rounds follow every write
        that notifies (measured: reading them each round was ~2 queries per notification)."""

    async def mark(self, tenant: str) -> None:
        """Record that `tenant` has subscriptions (before the first one is stored; idempotent)."""
        if tenant in self._marked:
            return
        await Outbox(self.databases.tenant(tenant or None)).ensure_indexes()  # claims read it every round
        with contextlib.suppress(DuplicateKeyError):  # another replica's upsert of the same tenant came first
            await self.collection.update_one({"_id": tenant}, {"$setOnInsert": {"since": datetime.now(UTC)}},
                                             upsert=True)
        self._marked.add(tenant)
        self._polled.forget(None)  # a read under way began before this mark: it is not kept

    async def polled(self) -> list[str]:
        """The active tenants (registry order: the default tenant first) that have subscriptions."""
        return await self._polled.get(None, self._read_polled)

    async def _read_polled(self) -> list[str]:
        active = [*await self.registry.names(), *self.unregistered]
        if not self._discovered:
            await self._discover(active)
        marked = {doc["_id"] async for doc in self.collection.find({}, {"_id": 1})}
        return [tenant for tenant in active if tenant in marked]

    async def _discover(self, active: list[str]) -> None:
        """Once per process: record tenants whose subscriptions or outbox predate these records
        (data written by an earlier version of the broker)."""
        marked = {doc["_id"] async for doc in self.collection.find({}, {"_id": 1})}
        for tenant in active:
            if tenant in marked:
                continue
            db: AsyncDatabase = self.databases.tenant(tenant or None)
            if (await db[SUBSCRIPTIONS].find_one({}, {"_id": 1}) is not None
                    or await db[OUTBOX].find_one({}, {"_id": 1}) is not None):
                await self.mark(tenant)
        self._discovered = True
