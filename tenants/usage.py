"""The usage meter of one broker process: counts in memory, flushes them to the shared catalog in batches.

A usage document (collection `usage` of the shared catalog), one per tenant per day:

    {"_id": "osaka/2026-11-30", "tenant": "osaka", "day": "2026-11-30",   # "" is the default tenant
     "counters": {"readRequests": 120, "bytesIn": 5230, …},              # $inc by every process
     "gauges": {"entitiesStored": 42, "subscriptions": 3, "storageBytes": 81920}, "sampledAt": ISODate}

     "flushes": {"<process>": 17}}                                        # the last batch applied

A flush makes sure its documents exist (one bulk write of `_id`-only upserts, which the database
itself retries when two processes create the same document), then adds its counts with `$inc` (a
second bulk write), so any number of processes count into the same documents. Each batch of a
process has a sequence number, and a document takes a batch only if its `flushes.<process>` is
below it: a batch whose outcome is unknown (the connection broke after it was sent) is written
again as it is, and the documents that already have it skip it, so no count is added twice even
without retryable writes. A batch that certainly failed (no server, or the server refused a
document) puts its counts back for the next one; nothing here ever fails a request. `flushes`
gains a member per process that ever wrote the document (a few per tenant and day).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, PyMongoError, ServerSelectionTimeoutError

from broker.logs import log
from tenants.meters import (
    ENTITY_METERS,
    GAUGES,
    METERS,
    REQUEST_METERS,
    DayClock,
    DayUsage,
    PendingCounts,
    PendingSamples,
)

USAGE = "usage"
Sampler = Callable[[str], Awaitable[dict[str, int]]]
"""A tenant's gauges now: entitiesStored, subscriptions, storageBytes."""
TenantLister = Callable[[], Awaitable[list[str]]]


Counts = dict[tuple[str, str], dict[str, int]]
Samples = dict[tuple[str, str], tuple[float, dict[str, int]]]


def usage_id(tenant: str, day: str) -> str:
    return f"{tenant}/{day}"


@dataclass(frozen=True)
class Batch:
    """What one flush writes: counts and gauge samples, numbered in this process's order."""

    sequence: int
    counts: Counts
    samples: Samples


class UsageMeter:
    """One per process. `count_*` are called on the hot path: dictionary increments, nothing else."""

    def __init__(self, collection: AsyncCollection, clock: DayClock, *, flush_interval_s: float,
                 sample_interval_s: float, sample: Sampler, tenants: TenantLister) -> None:
        self.collection = collection
        self.clock = clock
        self.flush_interval_s = flush_interval_s
        self.sample_interval_s = sample_interval_s
        self.sample = sample
        self.tenants = tenants
        self.counts = PendingCounts()
        self.samples = PendingSamples()
        self._next_sample = 0.0  # monotonic; 0: sample at the first flush
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._indexed = False
        self.process = uuid.uuid4().hex
        """This process's key in each document's `flushes`."""
        self._sequence = 0
        self.unsettled: Batch | None = None
        """A batch sent whose outcome is unknown: written again, as it is, before any other."""

    # --- counting (hot path) -----------------------------------------------------------------

    def count_request(self, tenant: str, kind: str, bytes_in: int, bytes_out: int) -> None:
        key = (tenant, self.clock.today())
        self.counts.add(key, REQUEST_METERS[kind])
        if bytes_in:
            self.counts.add(key, "bytesIn", bytes_in)
        if bytes_out:
            self.counts.add(key, "bytesOut", bytes_out)

    def count_entity_changes(self, tenant: str, kinds: Iterable[str]) -> None:
        key = (tenant, self.clock.today())
        for kind in kinds:
            self.counts.add(key, ENTITY_METERS[kind])

    def count_notification(self, tenant: str) -> None:
        self.counts.add((tenant, self.clock.today()), "notificationsSent")

    # --- flushing -----------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop the background flushes and write what is pending (graceful shutdown: no count lost).
        A flush under way is let finish, never cancelled: its counts would be neither written nor kept."""
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None
        if not await self.flush(final=True):
            unknown = self.unsettled.counts.values() if self.unsettled is not None else ()
            log.error("usage counts could not be written at shutdown; they are lost",
                      pending=sum(sum(meters.values()) for meters in self.counts.counts.values()),
                      perhaps_written=sum(sum(meters.values()) for meters in unknown))

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._stopping.wait(), self.flush_interval_s)
                return
            except TimeoutError:
                pass
            try:
                await self.flush()
            except Exception:
                log.exception("usage flush failed unexpectedly; the next one retries")

    async def flush(self, *, final: bool = False) -> bool:
        """Sample the gauges when due, then write every pending count in one batch; True when nothing is
        left to write. One flush at a time: a reader waiting here sees the earlier one's counts.

        A batch of unknown outcome is written again first, and until it is settled no other batch is
        sent (its counts stay pending): a later batch would make the documents skip it. `final`
        (shutdown) sends the pending counts anyway, since the unsettled batch will not be resent."""
        async with self._lock:
            if time.monotonic() >= self._next_sample:
                await self._sample_all()
            settled = True
            if self.unsettled is not None:
                batch, self.unsettled = self.unsettled, None
                settled = await self._write(batch)  # may be unsettled again, or its failed counts put back
                if self.unsettled is not None and not final:
                    return False
            counts, samples = self.counts.take(), self.samples.take()
            if not counts and not samples:
                return settled
            self._sequence += 1
            return await self._write(Batch(self._sequence, counts, samples)) and settled

    async def _write(self, batch: Batch) -> bool:
        """Write one batch; True when every document has it. Counts that certainly were not written go
        back to the pending ones; a batch of unknown outcome becomes `unsettled` (without its gauge
        samples, which a resend could write over a newer one)."""
        ids, creations, increments = _updates(batch, self.process)
        try:
            await self._ensure_indexes()
            await self.collection.bulk_write(creations, ordered=False)
        except PyMongoError as exc:  # this step writes no count: every count goes back
            self._put_back(batch, None)
            log.warning("usage flush failed; the counts are kept and retried", error=str(exc)[:200])
            return False
        try:
            await self.collection.bulk_write(increments, ordered=False)
        except BulkWriteError as exc:  # unordered: the other documents took the batch
            failed = {ids[error["index"]] for error in exc.details.get("writeErrors", [])}
            self._put_back(batch, failed)
            log.warning("usage flush partly failed; the failed counts are retried", failed=len(failed))
            return False
        except ServerSelectionTimeoutError as exc:  # no server was reached: nothing was sent
            self._put_back(batch, None)
            log.warning("usage flush failed; the counts are kept and retried", error=str(exc)[:200])
            return False
        except PyMongoError as exc:  # sent, perhaps applied: only the same batch may be written again
            self.unsettled = Batch(batch.sequence, batch.counts, {})
            log.warning("usage flush outcome unknown; the same batch is written again", error=str(exc)[:200])
            return False
        return True

    def _put_back(self, batch: Batch, only: set[str] | None) -> None:
        def wanted(key: tuple[str, str]) -> bool:
            return only is None or usage_id(*key) in only
        self.counts.merge({key: meters for key, meters in batch.counts.items() if wanted(key)})
        self.samples.merge({key: sample for key, sample in batch.samples.items() if wanted(key)})

    async def _sample_all(self) -> None:
        self._next_sample = time.monotonic() + self.sample_interval_s
        try:
            tenants = await self.tenants()
            day = self.clock.today()
            recent = await self._recently_sampled(day)
            for tenant in tenants:
                if tenant not in recent:
                    self.samples.put((tenant, day), time.time(), await self.sample(tenant))
        except PyMongoError as exc:
            log.warning("usage gauges not sampled; trying again at the next flush", error=str(exc)[:200])
            self._next_sample = 0.0

    async def _recently_sampled(self, day: str) -> set[str]:
        """Tenants whose gauges of `day` a process (any) sampled less than an interval ago. dbStats and
        the counts are heavy on a large tenant (hundreds of ms of database time): with N processes each
        tenant is sampled about once per interval, not N times, and a restart does not sample again."""
        if self.sample_interval_s <= 0:
            return set()
        since = datetime.now(UTC) - timedelta(seconds=self.sample_interval_s)
        cursor = self.collection.find({"day": day, "sampledAt": {"$gte": since}}, {"tenant": 1})
        return {doc["tenant"] async for doc in cursor}

    async def _ensure_indexes(self) -> None:
        if not self._indexed:
            await self.collection.create_index([("tenant", ASCENDING), ("day", ASCENDING)], name="tenant_day")
            await self.collection.create_index([("day", ASCENDING)], name="day")
            self._indexed = True

    # --- reading ------------------------------------------------------------------------------

    async def read(self, first: date, last: date, tenants: list[str] | None = None) -> list[DayUsage]:
        """Every process's counts for the days [first, last] (of the tenants named, or all), in tenant
        then day order. This process's pending counts are flushed first, so a read right after a
        request sees it."""
        await self.flush()
        query: dict[str, Any] = {"day": {"$gte": first.isoformat(), "$lte": last.isoformat()}}
        if tenants is not None:
            query["tenant"] = {"$in": tenants}
        cursor = self.collection.find(query).sort([("tenant", ASCENDING), ("day", ASCENDING)])
        return [_day_usage(doc) async for doc in cursor]


def _updates(batch: Batch, process: str) -> tuple[list[str], list[UpdateOne], list[UpdateOne]]:
    """The document ids of one batch, the upserts that make sure they exist, and the updates that add
    the batch to each document that has not had it (its flushes.<process> below the batch's number)."""
    ids: list[str] = []
    creations: list[UpdateOne] = []
    increments: list[UpdateOne] = []
    applied = f"flushes.{process}"
    for key in sorted(batch.counts.keys() | batch.samples.keys()):
        tenant, day = key
        ids.append(usage_id(tenant, day))
        creations.append(UpdateOne({"_id": ids[-1]}, {"$setOnInsert": {"tenant": tenant, "day": day}}, upsert=True))
        update: dict[str, Any] = {"$set": {applied: batch.sequence}}
        if key in batch.counts:
            update["$inc"] = {f"counters.{meter}": amount for meter, amount in batch.counts[key].items()}
        if key in batch.samples:
            at, gauges = batch.samples[key]
            update["$set"].update({**{f"gauges.{gauge}": gauges[gauge] for gauge in GAUGES},
                                   "sampledAt": datetime.fromtimestamp(at, UTC)})
        increments.append(UpdateOne({"_id": ids[-1], applied: {"$not": {"$gte": batch.sequence}}}, update))
    return ids, creations, increments


def _day_usage(doc: dict[str, Any]) -> DayUsage:
    stored = {**doc.get("counters", {}), **doc.get("gauges", {})}
    return DayUsage(doc["tenant"], doc["day"], {meter: int(stored.get(meter, 0)) for meter in METERS})
