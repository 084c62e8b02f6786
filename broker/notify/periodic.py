"""Periodic notifications (timeInterval, 5.8.1): every interval, all entities the subscription selects.

Each due subscription is claimed atomically (its next run moved forward in the same update), so with
N replicas one of them sends each period's notification.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from broker.logs import log
from broker.ngsild.errors import NgsiLdError
from broker.ngsild.notification import EntityEvent, notification_item, notification_payload
from broker.notify.dispatcher import Dispatcher, stop_task
from broker.notify.notifier import SubscriptionCache, is_live, outbox_record
from broker.store.client import Databases
from broker.store.errors import DATABASE_UNAVAILABLE
from broker.store.notifying import NotifyingTenants
from broker.store.query import find_entities
from broker.store.subscriptions import SubscriptionStore


class PeriodicNotifier:
    def __init__(self, databases: Databases, notifying: NotifyingTenants, cache: SubscriptionCache,
                 dispatcher: Dispatcher, *, poll_interval_s: float, default_timeout_s: float) -> None:
        self.databases = databases
        self.notifying = notifying
        self.cache = cache
        self.dispatcher = dispatcher
        self.poll_interval_s = poll_interval_s
        self.default_timeout_s = default_timeout_s
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._stopping = True
        await stop_task(self._task)

    async def _run(self) -> None:
        while not self._stopping:
            try:
                for tenant in await self.notifying.polled():
                    await self._run_tenant(tenant)
            except DATABASE_UNAVAILABLE as exc:
                log.warning("periodic notifications: database unavailable", error=str(exc)[:200])
            except Exception:
                log.exception("periodic notification round failed")
            await asyncio.sleep(self.poll_interval_s)

    async def _run_tenant(self, tenant: str) -> None:
        if not (await self.cache.get(tenant)).periodic:
            return  # no timeInterval subscription (as of the cache's TTL): no claim to make
        db = self.databases.tenant(tenant or None)
        store = SubscriptionStore(db)
        while (stored := await store.claim_periodic(datetime.now(UTC))) is not None:
            try:
                active = await self.cache.activate(stored, tenant)
            except NgsiLdError as exc:
                log.warning("periodic subscription cannot be used", subscription=stored["id"], error=exc.detail)
                continue
            now = datetime.now(UTC)
            if not is_live(active.compiled, now):
                continue
            result = await find_entities(db, active.compiled.query)
            if not result.entities:
                continue
            items = [notification_item(EntityEvent("updated", entity), active.terms, active.compiled.render,
                                       show_changes=False, now=now) for entity in result.entities]
            payload = notification_payload(active.compiled.id, items, now)
            records = [outbox_record(active, payload, tenant, now, self.default_timeout_s)]
            await self.dispatcher.add_new(db, tenant, records)
