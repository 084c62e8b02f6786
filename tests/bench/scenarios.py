"""The scenarios: each drives the broker over HTTP, then the raw driver with the equivalent database
operation against the same server, with the same concurrency and the same data."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson
from aiohttp import web
from pymongo import ReplaceOne
from pymongo.asynchronous.collection import AsyncCollection

from broker.store.embedded import free_port
from tests.bench.load import Measurement, Meters, Operation, OperationFailed, drive
from tests.bench.workload import (
    API,
    QueryCase,
    meter,
    near_cases,
    query_cases,
    sensor,
    sensor_id,
    spread,
    temperature_update,
)

JSON = {"Content-Type": "application/json"}
ENTITIES = "entities"
BATCH_SIZE = 100
WARM_BASE = 50_000_000
"""Sequence numbers of warm-up operations: ids that measured operations never use."""
WARM_CONCURRENCY = 4
IDLE_CPU_SHARE = 0.1
"""Below this share of a core (broker and database each), the processes count as idle."""
WRITE_TENANT = "bench-write"
WRITE = {**JSON, "NGSILD-Tenant": WRITE_TENANT}
NOTIFY_TENANT = "bench-notify"
NOTIFY_ENTITIES = 100
NOTIFY_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Plan:
    """How much of everything: the loaded entities, the requests per scenario, and time limits."""

    entities: int
    """Sensors loaded for retrieve, query, geo_near and update_attr."""
    meters: int
    """Meters loaded for batch_upsert, which replaces them round after round (a device fleet reporting);
    at least two batches per request in flight."""
    requests: dict[str, int]
    """Per scenario; for batch_upsert, requests of BATCH_SIZE entities."""
    max_seconds: float
    """Per measured phase: a phase starts no operation after this (those in flight finish)."""
    warmup: int
    warmup_seconds: float
    """Before each measured phase, `warmup` unmeasured operations or this long, whichever comes first."""


@dataclass(frozen=True)
class Pair:
    """A tenant's entities collection as the broker stores it, and the raw driver's copy of it."""

    broker: AsyncCollection
    raw: AsyncCollection

    async def copy(self) -> None:
        """The raw copy: the broker's documents as they are, with the same indexes."""
        await self.raw.drop()
        documents = []
        async for doc in self.broker.find({}):
            documents.append(doc)
            if len(documents) == 1000:
                await self.raw.insert_many(documents, ordered=False)
                documents = []
        if documents:
            await self.raw.insert_many(documents, ordered=False)
        await self.sync_indexes()

    async def sync_indexes(self) -> None:
        """Every index the broker has made (the 2dsphere one appears with the first near query)."""
        have = await self.raw.index_information()
        for name, spec in (await self.broker.index_information()).items():
            if name not in have:
                await self.raw.create_index(list(spec["key"]), name=name)

    async def stored(self, entity_id: str) -> dict[str, Any]:
        """A document the broker wrote: the template of the raw driver's writes."""
        doc = await self.broker.find_one({"_id": entity_id})
        if doc is None:
            raise RuntimeError(f"the broker did not store {entity_id}: no template for the raw driver")
        return doc


@dataclass
class Result:
    """One scenario: the broker's measurement and the raw driver's (None where there is no equivalent)."""

    name: str
    broker: Measurement
    raw: Measurement | None


class Bench:
    """Runs the scenarios against one broker process and one database server."""

    def __init__(self, http: aiohttp.ClientSession, base: str, sensors: Pair, writes: Pair,
                 cpu_meters: Callable[[], Meters], plan: Plan, concurrency: int,
                 profile: Callable[[str], Any] | None = None, *, with_raw: bool = True,
                 label: str = "") -> None:
        self.http = http
        self.with_raw = with_raw
        """False: the broker only (the workers scaling runs)."""
        self.label = label
        """Part of the ids this Bench creates, so that several runs on one database never collide."""
        self.base = base
        self.sensors = sensors
        """The default tenant: exactly the loaded Sensors (retrieve, query, geo_near, update_attr)."""
        self.writes = writes
        """WRITE_TENANT: the entities create and batch_upsert write, kept out of the queried collection."""
        self.cpu_meters = cpu_meters
        self.plan = plan
        self.concurrency = concurrency
        self.profile = profile
        """Called with a scenario name around its measured broker phase (a context manager factory)."""
        # upserts in flight at the same time never share an entity (no compare-and-swap retries): a
        # device reports its own entity one reading after the other
        self.meter_pool = max(plan.meters, 2 * concurrency * BATCH_SIZE)
        self.queries = query_cases()
        self.nears = near_cases()

    # --- plumbing -------------------------------------------------------------------------------

    async def call(self, method: str, path: str, expect: tuple[int, ...], body: bytes | None = None,
                   headers: dict[str, str] | None = None) -> bytes:
        async with self.http.request(method, self.base + path, data=body,
                                     headers=headers if headers is not None else JSON if body else None) as response:
            data = await response.read()
            if response.status not in expect:
                raise OperationFailed(f"{method} {path[:80]} → {response.status} {data[:200]!r}")
            return data

    async def measure(self, name: str, broker_op: Operation, raw_op: Operation | None, *, weight: int = 1,
                      prepare_raw: Callable[[], Awaitable[None]] | None = None) -> Result:
        requests = self.plan.requests[name]
        await self._warm_up(broker_op, weight)
        if self.profile is not None:
            with self.profile(name):
                broker = await self._phase(broker_op, requests, weight)
        else:
            broker = await self._phase(broker_op, requests, weight)
        raw = None
        if raw_op is not None and self.with_raw:
            for pair in (self.sensors, self.writes):
                await pair.sync_indexes()
            if prepare_raw is not None:
                await prepare_raw()
            await self._warm_up(raw_op, weight)
            raw = await self._phase(raw_op, requests, weight)
        return Result(name, broker, raw)

    async def _warm_up(self, operation: Operation, weight: int) -> None:
        # a few in flight only: a query that takes the database a second would otherwise keep a full
        # concurrency's worth of warm-up running long after warmup_seconds
        await drive(operation, requests=self.plan.warmup, concurrency=min(WARM_CONCURRENCY, self.concurrency),
                    max_seconds=self.plan.warmup_seconds, weight=weight, first=WARM_BASE)

    async def quiesce(self, timeout_s: float = 120.0) -> None:
        """Wait until the broker and the database are idle: a request the broker gave up on (its socket
        timeout) may still run in the database, and must not be counted against the next phase."""
        started = time.perf_counter()
        while time.perf_counter() - started < timeout_s:
            meters = self.cpu_meters()
            meters.start()
            await asyncio.sleep(0.5)
            idle = Measurement()
            meters.stop(idle)
            busy = max(idle.broker_cpu_s or 0.0, idle.db_cpu_s or 0.0) / 0.5
            if busy < IDLE_CPU_SHARE:
                break
        waited = time.perf_counter() - started
        if waited > 2:
            print(f"  waited {waited:.0f} s for the broker and the database to be idle", file=sys.stderr)

    async def _phase(self, operation: Operation, requests: int, weight: int) -> Measurement:
        await self.quiesce()
        return await drive(operation, requests=requests, concurrency=self.concurrency,
                           max_seconds=self.plan.max_seconds, weight=weight, meters=self.cpu_meters())

    # --- data -----------------------------------------------------------------------------------

    async def load(self) -> tuple[float, float]:
        """Sensors and Meters, by batch upserts through the broker (which create them), then copied as
        they are stored into the raw driver's database with the same indexes. Returns the broker's
        seconds for the Sensors and its entities per second."""
        sensors = await self._upsert_new([sensor(index) for index in range(self.plan.entities)], JSON)
        meters = await self._upsert_new([meter("batch", index) for index in range(self.meter_pool)], WRITE)
        for pair in (self.sensors, self.writes):
            await pair.copy()
        return sensors.seconds, (sensors.ops + meters.ops) / (sensors.seconds + meters.seconds)

    async def _upsert_new(self, entities: list[dict[str, Any]], headers: dict[str, str]) -> Measurement:
        async def upsert(number: int) -> None:
            await self.call("POST", f"{API}/entityOperations/upsert", (201,),
                            orjson.dumps(entities[number * BATCH_SIZE:(number + 1) * BATCH_SIZE]), headers)

        loaded = await drive(upsert, requests=(len(entities) + BATCH_SIZE - 1) // BATCH_SIZE,
                             concurrency=min(4, self.concurrency), max_seconds=600, weight=BATCH_SIZE)
        if loaded.errors:
            raise RuntimeError(f"loading failed: {loaded.notes}")
        return loaded

    # --- scenarios ------------------------------------------------------------------------------

    async def create(self) -> Result:
        raw_entities = self.writes.raw
        template: dict[str, Any] = {}

        async def broker_op(number: int) -> None:
            await self.call("POST", f"{API}/entities", (201,), orjson.dumps(meter(f"create{self.label}", number)),
                            WRITE)

        async def prepare() -> None:
            template.update(await self.writes.stored(meter("create", 0)["id"]))

        async def raw_op(number: int) -> None:
            await raw_entities.insert_one({**template, "_id": meter("raw-create", number)["id"]})

        return await self.measure("create", broker_op, raw_op, prepare_raw=prepare)

    async def retrieve(self) -> Result:
        raw_entities = self.sensors.raw
        size = self.plan.entities

        async def broker_op(number: int) -> None:
            await self.call("GET", f"{API}/entities/{quote(sensor_id(spread(number, size)), safe=':')}", (200,))

        async def raw_op(number: int) -> None:
            if await raw_entities.find_one({"_id": sensor_id(spread(number, size))}) is None:
                raise OperationFailed("not found")

        return await self.measure("retrieve", broker_op, raw_op)

    async def _query(self, name: str, cases: list[QueryCase]) -> Result:
        raw_entities = self.sensors.raw

        async def broker_op(number: int) -> None:
            await self.call("GET", cases[number % len(cases)].url, (200,))

        async def raw_op(number: int) -> None:
            case = cases[number % len(cases)]
            if case.pipeline is not None:
                await (await raw_entities.aggregate(case.pipeline, batchSize=case.limit)).to_list()
            else:
                await raw_entities.find(case.mongo_filter, sort=case.sort, limit=case.limit,
                                        batch_size=case.limit).to_list()

        return await self.measure(name, broker_op, raw_op)

    async def query(self) -> Result:
        return await self._query("query", self.queries)

    async def geo_near(self) -> Result:
        return await self._query("geo_near", self.nears)

    async def update_attr(self) -> Result:
        raw_entities = self.sensors.raw
        size = self.plan.entities

        async def broker_op(number: int) -> None:
            path = f"{API}/entities/{quote(sensor_id(spread(number, size)), safe=':')}/attrs/temperature"
            await self.call("PATCH", path, (204,), orjson.dumps({"value": number % 400 / 10}))

        async def raw_op(number: int) -> None:
            result = await raw_entities.update_one({"_id": sensor_id(spread(number, size))},
                                                   temperature_update(number % 400 / 10, datetime.now(UTC)))
            if result.matched_count != 1:
                raise OperationFailed("not matched")

        return await self.measure("update_attr", broker_op, raw_op)

    async def batch_upsert(self) -> Result:
        """Upserts of 100 stored Meters with new readings: each entity is replaced (the raw driver:
        a bulk write of 100 upserting replacements of the same documents)."""
        raw_entities = self.writes.raw
        template: dict[str, Any] = {}
        pool = self.meter_pool

        def batch(number: int) -> list[dict[str, Any]]:
            return [meter("batch", (number * BATCH_SIZE + offset) % pool, reading=number + 1)
                    for offset in range(BATCH_SIZE)]

        async def broker_op(number: int) -> None:
            await self.call("POST", f"{API}/entityOperations/upsert", (201, 204), orjson.dumps(batch(number)), WRITE)

        async def prepare() -> None:
            template.update(await self.writes.stored(meter("batch", 0)["id"]))

        async def raw_op(number: int) -> None:
            ids = [entity["id"] for entity in batch(number)]
            await raw_entities.bulk_write([ReplaceOne({"_id": entity_id}, {**template, "_id": entity_id}, upsert=True)
                                           for entity_id in ids], ordered=False)

        return await self.measure("batch_upsert", broker_op, raw_op, weight=BATCH_SIZE, prepare_raw=prepare)

    async def notify(self) -> Result:
        """Notification round trips to an HTTP receiver in this process: each worker updates an entity
        and waits for the notification of that update before the next one, so the latency is update →
        notification arrival at `concurrency` round trips in flight, never a growing backlog's age.
        No raw equivalent."""
        receiver = Receiver()
        await receiver.start()
        try:
            tenant = {**JSON, "NGSILD-Tenant": NOTIFY_TENANT}
            await self.call("POST", f"{API}/entityOperations/upsert", (201, 204),
                            orjson.dumps([sensor(index) for index in range(NOTIFY_ENTITIES)]), tenant)
            subscription = {
                "type": "Subscription", "entities": [{"type": "Sensor"}], "watchedAttributes": ["temperature"],
                "notification": {"format": "keyValues", "attributes": ["temperature"],
                                 "endpoint": {"uri": receiver.url, "accept": "application/json"}},
            }
            await self.call("POST", f"{API}/subscriptions", (201,), orjson.dumps(subscription), tenant)

            async def round_trip(number: int) -> None:
                arrived = receiver.expect(number)
                try:
                    path = f"{API}/entities/{quote(sensor_id(number % NOTIFY_ENTITIES), safe=':')}/attrs/temperature"
                    await self.call("PATCH", path, (204,), orjson.dumps({"value": number}), tenant)
                    await asyncio.wait_for(arrived, NOTIFY_TIMEOUT_S)
                finally:
                    receiver.forget(number)

            return await self.measure("notify", round_trip, None)
        finally:
            await receiver.stop()


class Receiver:
    """The notification endpoint: resolves the future of each update whose notification arrives
    (the updated value is the update's sequence number)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/notify"
        self._waiting: dict[int, asyncio.Future[None]] = {}
        self._runner: web.AppRunner | None = None

    def expect(self, number: int) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[number] = future
        return future

    def forget(self, number: int) -> None:
        self._waiting.pop(number, None)

    async def handle(self, request: web.Request) -> web.Response:
        payload = orjson.loads(await request.read())
        for item in payload.get("data", ()):
            future = self._waiting.get(item.get("temperature"))
            if future is not None and not future.done():
                future.set_result(None)
        return web.Response(status=204)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/notify", self.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
