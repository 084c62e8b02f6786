"""The delivery loop: lease notifications from every tenant's outbox and send them, one queue per
endpoint so that a slow or dead receiver never delays another's; failures retry with backoff."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from broker.logs import log
from broker.notify.senders import DeliveryError, Senders
from broker.store.client import Databases
from broker.store.errors import DATABASE_UNAVAILABLE
from broker.store.notifying import NotifyingTenants
from broker.store.outbox import Outbox, Settled
from broker.store.subscriptions import SubscriptionStore


@dataclass(frozen=True)
class DeliverySettings:
    poll_interval_s: float = 1.0
    lease_s: float = 60.0
    max_attempts: int = 8
    backoff_base_s: float = 1.0
    backoff_max_s: float = 300.0
    endpoint_concurrency: int = 4
    endpoint_queue: int = 100
    claim_batch: int = 32
    """Notifications leased per claim (two round trips whatever their number, measured: the claim
    and status writes per notification were most of the broker's CPU per delivery)."""


async def stop_task(task: asyncio.Task[None] | None, grace_s: float = 5.0) -> None:
    """Cancel a background loop and wait a bounded time: a driver call may absorb one cancellation
    while the database is down, so the loop also checks its stopping flag."""
    if task is None or task.done():
        return
    task.cancel()
    await asyncio.wait({task}, timeout=grace_s)
    if not task.done():
        log.warning("background task did not stop in time", task=task.get_name())


def backoff(attempt: int, settings: DeliverySettings) -> float:
    """Seconds before retry number `attempt` (1-based): exponential, capped."""
    return min(settings.backoff_base_s * 2 ** (attempt - 1), settings.backoff_max_s)


class _Endpoint:
    """The queue and workers of one receiver."""

    def __init__(self, key: str, dispatcher: Dispatcher) -> None:
        self.key = key
        self.queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue(dispatcher.settings.endpoint_queue)
        self.workers = [asyncio.create_task(self._work(dispatcher))
                        for _ in range(dispatcher.settings.endpoint_concurrency)]
        self.in_flight = 0
        self.stopping = False

    def room(self) -> int:
        return self.queue.maxsize - self.queue.qsize()

    async def _work(self, dispatcher: Dispatcher) -> None:
        while not self.stopping:
            tenant, record = await self.queue.get()
            self.in_flight += 1
            try:
                await dispatcher.deliver(tenant, record)
            except DATABASE_UNAVAILABLE as exc:
                log.warning("notification status not recorded: database unavailable", error=str(exc)[:200])
            except Exception:
                log.exception("notification delivery crashed", endpoint=self.key)
            finally:
                self.in_flight -= 1
                self.queue.task_done()

    async def stop(self) -> None:
        self.stopping = True
        await asyncio.gather(*(stop_task(worker) for worker in self.workers))


class Dispatcher:
    """One per process. Claims are atomic leases, so N replicas send each notification once."""

    def __init__(self, databases: Databases, notifying: NotifyingTenants, senders: Senders,
                 settings: DeliverySettings,
                 on_delivery: Callable[[str, str], None] = lambda tenant, outcome: None) -> None:
        self.databases = databases
        self.on_delivery = on_delivery
        """Told (tenant, "sent" | "failed" | "dropped") after each attempt: the metrics hook."""
        self.notifying = notifying
        """The tenants polled: those with subscriptions (broker/store/notifying.py)."""
        self.senders = senders
        self.settings = settings
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._endpoints: dict[str, _Endpoint] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._settled: dict[str, list[tuple[Settled, tuple[str, bool, datetime] | None]]] = {}
        """Outcomes not yet written, per tenant: (outbox outcome, subscription status outcome)."""
        self._settling: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def add_new(self, db: AsyncDatabase, tenant: str, records: list[dict[str, Any]]) -> None:
        """Persist new notifications in the tenant's outbox (one round trip) and queue those this process
        leased in the same insert; the others are left to the claims."""
        self._lease_new(records)
        await Outbox(db).add(records)
        self._take_new(tenant, records)

    def _lease_new(self, records: list[dict[str, Any]]) -> None:
        """Lease notifications about to be written to this process, so that `_take_new` queues them
        with no claim round trip. Should the process die first, the lease runs out and any replica
        sends them, as with a claimed record."""
        if self._task is None or self._stopping:
            return
        lease = {"leaseOwner": self.owner, "leaseUntil": datetime.now(UTC) + timedelta(seconds=self.settings.lease_s),
                 "leaseToken": uuid.uuid4().hex}
        for record in records:
            endpoint = self._endpoints.get(record["endpoint"])
            if endpoint is None or endpoint.room() > 0:
                record.update(lease)

    def _take_new(self, tenant: str, records: list[dict[str, Any]]) -> None:
        """Queue the records leased by `_lease_new`, now in the outbox; wake the claims for the others."""
        for record in records:
            if record.get("leaseOwner") != self.owner:
                self._wake.set()
            elif not self._stopping:
                self._enqueue(tenant, record)

    def _enqueue(self, tenant: str, record: dict[str, Any]) -> None:
        endpoint = self._endpoints.get(record["endpoint"])
        if endpoint is None:
            endpoint = self._endpoints[record["endpoint"]] = _Endpoint(record["endpoint"], self)
        try:
            endpoint.queue.put_nowait((tenant, record))
        except asyncio.QueueFull:  # a burst of writes filled it since _lease_new: the claims take it later
            self._settle(tenant, Settled(record["_id"], record["leaseToken"], "release"), None)

    async def stop(self) -> None:
        self._stopping = True
        await stop_task(self._task)
        for endpoint in self._endpoints.values():
            await endpoint.stop()
        if self._settling is not None:
            await asyncio.wait({self._settling}, timeout=5)
        try:  # hand leases back so another replica resends at once; they expire anyway if this fails
            async with asyncio.timeout(5):
                for tenant in await self.notifying.polled():
                    await Outbox(self.databases.tenant(tenant or None)).release_all(self.owner)
        except (TimeoutError, *DATABASE_UNAVAILABLE):
            log.warning("notification leases not released; they expire after the lease time")

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                await self._claim_round()
            except DATABASE_UNAVAILABLE as exc:
                log.warning("notification dispatcher: database unavailable", error=str(exc)[:200])
            except Exception:
                log.exception("notification dispatcher round failed")
            # a round takes all that is due; a write during the round has set the event again
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.poll_interval_s)

    async def _claim_round(self) -> None:
        for tenant in await self.notifying.polled():
            outbox = Outbox(self.databases.tenant(tenant or None))
            while True:
                # an endpoint without room for a whole batch is left out, so every claimed record is queued
                limit = min(self.settings.claim_batch, self.settings.endpoint_queue)
                busy = [key for key, endpoint in self._endpoints.items() if endpoint.room() < limit]
                records = await outbox.claim(self.owner, now=datetime.now(UTC), lease_s=self.settings.lease_s,
                                             exclude_endpoints=busy, limit=limit)
                for record in records:
                    self._enqueue(tenant, record)
                if len(records) < limit:  # all that was due (or raced for) is taken: no empty claim to learn it
                    break

    async def deliver(self, tenant: str, record: dict[str, Any]) -> None:
        """Send one leased notification; its outcome is written with others' (`_write_settled`)."""
        request = record["request"]
        # a send must end before its lease does, or another replica could send it a second time; a
        # record that waited in its endpoint's queue has less of its lease left
        left = (record["leaseUntil"] - datetime.now(UTC)).total_seconds() - self.settings.lease_s * 0.2
        if left <= 0:
            self._settle(tenant, Settled(record["_id"], record["leaseToken"], "release"), None)
            return
        request["timeout"] = min(float(request.get("timeout", 10.0)), left)
        try:
            await self.senders.send(request)
        except Exception as exc:  # a DeliveryError or a bug: a failed attempt either way, dropped at the limit
            if not isinstance(exc, DeliveryError):
                log.exception("notification send crashed; counted as a failed attempt",
                              subscription=record["subscriptionId"], endpoint=record["endpoint"])
            now = datetime.now(UTC)
            attempt = record.get("attempts", 0) + 1
            status = (record["subscriptionId"], False, now)
            self.on_delivery(tenant, "failed")
            if attempt >= self.settings.max_attempts:
                self.on_delivery(tenant, "dropped")
                log.warning("notification dropped after retries", subscription=record["subscriptionId"],
                            endpoint=record["endpoint"], attempts=attempt, error=str(exc))
                self._settle(tenant, Settled(record["_id"], record["leaseToken"], "done"), status)
            else:
                delay = backoff(attempt, self.settings)
                log.info("notification failed; will retry", subscription=record["subscriptionId"],
                         endpoint=record["endpoint"], attempt=attempt, retry_in_s=delay, error=str(exc))
                self._settle(tenant, Settled(record["_id"], record["leaseToken"], "retry",
                                             due=now + timedelta(seconds=delay), error=str(exc)), status)
            return
        self._settle(tenant, Settled(record["_id"], record["leaseToken"], "done"),
                     (record["subscriptionId"], True, datetime.now(UTC)))
        self.on_delivery(tenant, "sent")

    def _settle(self, tenant: str, outcome: Settled, status: tuple[str, bool, datetime] | None) -> None:
        self._settled.setdefault(tenant, []).append((outcome, status))
        if self._settling is None or self._settling.done():
            self._settling = asyncio.create_task(self._write_settled())

    async def _write_settled(self) -> None:
        """Write the outcomes gathered while the previous write ran: two round trips per tenant (the
        outbox, then the subscriptions' status) whatever the number of notifications. An outcome
        not written leaves its lease to expire, and the notification is sent again."""
        while self._settled:
            settled, self._settled = self._settled, {}
            for tenant, outcomes in settled.items():
                db = self.databases.tenant(tenant or None)
                try:
                    await Outbox(db).settle([outcome for outcome, _ in outcomes])
                    await SubscriptionStore(db).record_deliveries([status for _, status in outcomes if status])
                except DATABASE_UNAVAILABLE as exc:
                    log.warning("notification status not recorded: database unavailable", error=str(exc)[:200])
                except Exception:
                    log.exception("notification status not recorded", tenant=tenant)
