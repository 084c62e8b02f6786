"""Usage meters over HTTP: requests by kind, bytes, entity changes, notifications, gauges, flushes, read-out."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from broker.api.state import SERVICES
from broker.config import Settings
from broker.store.embedded import free_port
from tenants.meters import METERS, DayClock
from tenants.usage import USAGE, UsageMeter
from tests.conftest import API
from tests.integration.test_admin import OSAKA, problem, provision
from tests.tokens import SECRET, claims, hs256

ADMIN = "/admin/v1"
IN_OSAKA = {"NGSILD-Tenant": "osaka"}
FORBIDDEN = "urn:kyodo:error:Forbidden"
JSON = {"Content-Type": "application/json"}


def pin_the_day(client) -> str:
    """Stop the app's metering clock at this instant and return its day. A test that counts, then
    reads its counts back by day or for the default period (this month up to today) would otherwise
    fail when run over a midnight in the metering timezone, or over a month's last one."""
    meter: UsageMeter = client.server.app[SERVICES].usage
    instant = time.time()
    meter.clock = DayClock(client.server.app[SERVICES].settings.usage_timezone, now=lambda: instant)
    return meter.clock.today()


def sensor(number: int, **attrs: Any) -> dict[str, Any]:
    return {"id": f"urn:ngsi-ld:Sensor:{number}", "type": "Sensor",
            "temperature": {"type": "Property", "value": 20}, **attrs}


def meters(**counted: int) -> dict[str, int]:
    return {**dict.fromkeys(METERS, 0), **counted}


async def admin_usage(client, **params: str) -> dict[str, Any]:
    response = await client.get(f"{ADMIN}/usage", params=params)
    assert response.status == 200, await response.text()
    return await response.json()


async def total_of(client, tenant: str) -> dict[str, int]:
    [row] = (await admin_usage(client, tenant=tenant))["tenants"]
    return row["total"]


async def send(client, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
               status: int = 200) -> tuple[int, int]:
    """Make a request; (bytes sent, bytes received) of the bodies."""
    data = orjson.dumps(body) if body is not None else None
    response = await client.request(method, path, data=data, headers={**(headers or {}), **(JSON if data else {})})
    received = await response.read()
    assert response.status == status, received
    return len(data or b""), len(received)


async def test_requests_are_counted_by_kind_with_their_bytes_for_their_tenant(client):
    pin_the_day(client)
    await provision(client)  # an admin request on /admin/v1/tenants: the platform's (default tenant)
    sent = [
        await send(client, "POST", f"{API}/entities", sensor(1), IN_OSAKA, 201),
        await send(client, "GET", f"{API}/entities/urn:ngsi-ld:Sensor:1", None, IN_OSAKA),
        await send(client, "GET", f"{API}/entities?type=Sensor", None, {**IN_OSAKA, "Accept": "application/json"}),
        await send(client, "GET", f"{API}/entities/urn:ngsi-ld:Sensor:404", None, IN_OSAKA, 404),  # answered: counted
        await send(client, "POST", f"{API}/subscriptions", {"type": "Subscription", "entities": [{"type": "Sensor"}],
                   "notification": {"endpoint": {"uri": "http://127.0.0.1:9/n"}}}, IN_OSAKA, 201),
        await send(client, "GET", f"{API}/subscriptions", None, IN_OSAKA),
        await send(client, "GET", f"{ADMIN}/tenants/osaka"),  # names osaka: counted for osaka
        await send(client, "GET", "/health", None, IN_OSAKA),  # public: not metered
        await send(client, "GET", "/version", None, IN_OSAKA),
    ]
    total = await total_of(client, "osaka")
    assert total == meters(readRequests=3, writeRequests=1, subscribeRequests=2, adminRequests=1,
                           entitiesCreated=1, bytesIn=sum(i for i, _ in sent[:7]), bytesOut=sum(o for _, o in sent[:7]),
                           entitiesStored=1, subscriptions=1, storageBytes=total["storageBytes"])
    assert total["storageBytes"] > 0
    platform = await total_of(client, "default")
    assert (platform["adminRequests"], platform["readRequests"]) == (2, 0)  # provisioning, the first read-out


async def test_requests_for_a_tenant_that_does_not_exist_are_not_metered(make_client):
    client = await make_client(tenant_autocreate=False)
    pin_the_day(client)
    await send(client, "GET", f"{API}/entities/urn:ngsi-ld:Sensor:1", None, {"NGSILD-Tenant": "nara"}, 404)
    await send(client, "POST", f"{API}/entities", sensor(1), {"NGSILD-Tenant": "garbage-9f3a"}, 404)
    await send(client, "GET", f"{API}/entities", None, {"NGSILD-Tenant": "not valid!"}, 400)
    await send(client, "GET", f"{ADMIN}/tenants/nara", None, None, 404)  # the platform's, not nara's
    body = await admin_usage(client)
    assert [row["tenant"] for row in body["tenants"]] == ["default"]
    assert body["tenants"][0]["total"]["adminRequests"] == 1
    assert {tenant for tenant, _ in client.server.app[SERVICES].usage.counts.counts} == {""}  # the read-out


async def test_entity_changes_are_counted_from_single_and_batch_writes(client):
    pin_the_day(client)
    ops = f"{API}/entityOperations"
    await send(client, "POST", f"{API}/entities", sensor(1), None, 201)                          # created 1
    await send(client, "PATCH", f"{API}/entities/urn:ngsi-ld:Sensor:1/attrs",
               {"temperature": {"type": "Property", "value": 21}}, None, 204)                      # updated 1
    await send(client, "POST", f"{API}/entities/urn:ngsi-ld:Sensor:1/attrs",
               {"humidity": {"type": "Property", "value": 40}}, None, 204)                         # updated 2
    await send(client, "POST", f"{ops}/create", [sensor(2), sensor(3), sensor(4)], None, 201)     # created 4
    await send(client, "POST", f"{ops}/upsert", [sensor(3), sensor(4), sensor(5)], None, 201)     # updated 4, created 5
    await send(client, "POST", f"{ops}/update", [sensor(2, pressure={"type": "Property", "value": 1})], None, 204)
    await send(client, "POST", f"{ops}/delete", ["urn:ngsi-ld:Sensor:2", "urn:ngsi-ld:Sensor:3"], None, 204)
    await send(client, "DELETE", f"{API}/entities/urn:ngsi-ld:Sensor:1", None, None, 204)        # deleted 3
    await send(client, "POST", f"{ops}/create", [sensor(4)], None, 207)                            # nothing written
    total = await total_of(client, "default")
    assert (total["entitiesCreated"], total["entitiesUpdated"], total["entitiesDeleted"]) == (5, 5, 3)
    assert total["writeRequests"] == 9


async def test_successful_notifications_are_counted_for_the_tenant(client, receiver):
    pin_the_day(client)
    subscription = {"type": "Subscription", "entities": [{"type": "Sensor"}],
                    "notification": {"endpoint": {"uri": receiver.url()}}}
    await provision(client)
    await send(client, "POST", f"{API}/subscriptions", subscription, IN_OSAKA, 201)
    await send(client, "POST", f"{API}/entities", sensor(1), IN_OSAKA, 201)
    await send(client, "POST", f"{API}/entities", sensor(2), IN_OSAKA, 201)
    await receiver.wait_for(2)
    deadline = time.monotonic() + 10
    while (await total_of(client, "osaka"))["notificationsSent"] < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert (await total_of(client, "osaka"))["notificationsSent"] == 2


async def test_gauges_keep_the_latest_sample_of_the_day(make_client):
    client = await make_client(usage_sample_interval_s=0)  # every flush samples
    today = pin_the_day(client)
    await provision(client)
    await send(client, "POST", f"{API}/entities", sensor(1), IN_OSAKA, 201)
    assert (await total_of(client, "osaka"))["entitiesStored"] == 1
    await send(client, "POST", f"{API}/entities", sensor(2), IN_OSAKA, 201)
    await send(client, "POST", f"{API}/entities", sensor(3), IN_OSAKA, 201)
    body = await admin_usage(client, tenant="osaka")
    [day] = body["tenants"][0]["days"]
    assert (day["day"], day["entitiesStored"], day["subscriptions"]) == (today, 3, 0)


async def test_the_read_out_lists_days_and_totals_per_tenant(client, mongo_url, settings):
    await provision(client)
    raw: AsyncMongoClient = AsyncMongoClient(mongo_url)
    try:  # earlier days, as other processes would have flushed them (a year back: never the day the test runs)
        await raw[f"{settings.db_prefix}-catalog"][USAGE].insert_many([
            {"_id": "osaka/2025-10-31", "tenant": "osaka", "day": "2025-10-31", "counters": {"readRequests": 100}},
            {"_id": "osaka/2025-11-01", "tenant": "osaka", "day": "2025-11-01", "counters": {"readRequests": 7},
             "gauges": {"entitiesStored": 5}},
            {"_id": "osaka/2025-11-02", "tenant": "osaka", "day": "2025-11-02", "counters": {"bytesIn": 9},
             "gauges": {"entitiesStored": 6}},
            {"_id": "hyogo/2025-11-02", "tenant": "hyogo", "day": "2025-11-02", "counters": {"writeRequests": 1}}])
    finally:
        await raw.close()
    body = await admin_usage(client, **{"from": "2025-11-01", "to": "2025-11-02"})
    assert body == {"from": "2025-11-01", "to": "2025-11-02", "timezone": "Asia/Tokyo", "meters": list(METERS),
                    "tenants": [
                        {"tenant": "hyogo", "days": [{"day": "2025-11-02", **meters(writeRequests=1)}],
                         "total": meters(writeRequests=1)},
                        {"tenant": "osaka", "days": [{"day": "2025-11-01", **meters(readRequests=7, entitiesStored=5)},
                                                     {"day": "2025-11-02", **meters(bytesIn=9, entitiesStored=6)}],
                         "total": meters(readRequests=7, bytesIn=9, entitiesStored=11)}]}
    one = await admin_usage(client, **{"from": "2025-10-31", "to": "2025-10-31", "tenant": "OSAKA"})
    assert one["tenants"] == [{"tenant": "osaka", "days": [{"day": "2025-10-31", **meters(readRequests=100)}],
                               "total": meters(readRequests=100)}]
    nothing = await admin_usage(client, **{"from": "2020-01-01", "to": "2020-01-31", "tenant": "kyoto"})
    assert nothing["tenants"] == [{"tenant": "kyoto", "days": [], "total": meters()}]


@pytest.mark.parametrize(("params", "type_", "detail"), [
    ({"from": "2026-11-31"}, "BadRequestData", "URL parameter 'from' must be a date YYYY-MM-DD, got '2026-11-31'"),
    ({"to": "30/11/2026"}, "BadRequestData", "URL parameter 'to' must be a date YYYY-MM-DD, got '30/11/2026'"),
    ({"from": "2026-11-02", "to": "2026-11-01"}, "BadRequestData",
     "URL parameter 'from' (2026-11-02) is after URL parameter 'to' (2026-11-01): the period is empty"),
    ({"from": "2024-01-01", "to": "2025-01-01"}, "BadRequestData",
     "The period from 2024-01-01 to 2025-01-01 has 367 days; at most 366 are allowed"),
    ({"tenant": "a/b"}, "BadRequestData",
     "URL parameter 'tenant': Tenant name 'a/b' is invalid: use 1 to 48 characters among a-z, 0-9, '_' and '-'"),
    ({"tenants": "osaka"}, "InvalidRequest", "Unknown URL parameter 'tenants'; allowed: from, tenant, to"),
])
async def test_admin_usage_with_bad_parameters_is_400(client, params, type_, detail):
    await problem(await client.get(f"{ADMIN}/usage", params=params), 400, type_, detail)


async def test_a_period_of_366_days_is_accepted(client):
    body = await admin_usage(client, **{"from": "2024-01-01", "to": "2024-12-31"})
    assert (body["from"], body["to"], body["tenants"]) == ("2024-01-01", "2024-12-31", [])


async def test_a_tenant_reads_its_own_usage_and_the_admin_reads_everyones_with_jwt(make_client):
    client = await make_client(auth="jwt", jwt_hs256_secret=SECRET)
    pin_the_day(client)

    def bearer(scope: str, tenants: tuple[str, ...] = ("osaka",)) -> dict[str, str]:
        return {"Authorization": "Bearer " + hs256(claims(scope=scope, tenants=tenants, iss=None, aud=None))}
    admin = bearer("admin", ())
    for name in ("osaka", "hyogo"):
        await send(client, "POST", f"{ADMIN}/tenants", {**OSAKA, "name": name}, admin, 201)
    reader = {**bearer("ngsi-ld:read ngsi-ld:write"), **IN_OSAKA}
    await send(client, "POST", f"{API}/entities", sensor(1), reader, 201)
    await send(client, "GET", f"{API}/entities/urn:ngsi-ld:Sensor:1", None, reader)
    await send(client, "GET", f"{API}/entities/urn:ngsi-ld:Sensor:1", None, IN_OSAKA, 401)  # refused: not metered
    await send(client, "GET", f"{API}/entities/urn:ngsi-ld:Sensor:1", None,
               {**bearer("ngsi-ld:subscribe"), **IN_OSAKA}, 403)
    await send(client, "GET", f"{API}/entities/urn:ngsi-ld:Sensor:1", None,
               {**bearer("ngsi-ld:read", ("hyogo",)), "NGSILD-Tenant": "hyogo"}, 404)

    response = await client.get("/tenant/v1/usage", headers=reader)
    assert response.status == 200, await response.text()
    own = await response.json()
    assert [row["tenant"] for row in own["tenants"]] == ["osaka"]
    assert own["tenants"][0]["total"]["readRequests"] == 1
    assert own["tenants"][0]["total"]["writeRequests"] == 1
    await problem(await client.get("/tenant/v1/usage", headers={**reader, "NGSILD-Tenant": "hyogo"}), 403,
                  FORBIDDEN, "The token does not grant access to tenant 'hyogo'")
    await problem(await client.get("/tenant/v1/usage", headers={**admin, **IN_OSAKA}), 403, FORBIDDEN,
                  "The token lacks the scope 'ngsi-ld:read' that GET /tenant/v1/usage requires")
    await problem(await client.get(f"{ADMIN}/usage", headers=reader), 403, FORBIDDEN,
                  "The token lacks the scope 'admin' that GET /admin/v1/usage requires")

    everyone = (await (await client.get(f"{ADMIN}/usage", headers=admin)).json())["tenants"]
    # osaka: the entity read and its own usage read; hyogo: the 404 read (answered, so counted)
    assert {row["tenant"]: row["total"]["readRequests"] for row in everyone} == {"default": 0, "hyogo": 1,
                                                                                 "osaka": 2}
    assert {row["tenant"]: row["total"]["adminRequests"] for row in everyone} == {"default": 2, "hyogo": 0,
                                                                                  "osaka": 0}


async def test_a_failed_flush_keeps_the_counts_and_requests_are_still_served(client, mongo_url, settings):
    pin_the_day(client)
    meter: UsageMeter = client.server.app[SERVICES].usage
    good = meter.collection
    unreachable: AsyncMongoClient = AsyncMongoClient(f"mongodb://127.0.0.1:{free_port()}/",
                                                     serverSelectionTimeoutMS=300)
    meter.collection = unreachable["nowhere"][USAGE]
    try:
        await send(client, "POST", f"{API}/entities", sensor(1), None, 201)
        await send(client, "GET", f"{API}/entities/urn:ngsi-ld:Sensor:1", None, None)
        assert await meter.flush() is False
        assert await meter.flush() is False
        await send(client, "GET", f"{API}/entities/urn:ngsi-ld:Sensor:1", None, None)
    finally:
        meter.collection = good
        await unreachable.close()
    total = await total_of(client, "default")
    assert (total["writeRequests"], total["readRequests"], total["entitiesCreated"]) == (1, 2, 1)
    assert total["entitiesStored"] == 1  # the gauges sampled before the failures are written too


async def test_closing_the_application_flushes_what_is_pending(make_client, mongo_url, settings):
    client = await make_client()
    today = pin_the_day(client)
    await send(client, "POST", f"{API}/entities", sensor(1), None, 201)
    await send(client, "GET", f"{API}/entities/urn:ngsi-ld:Sensor:1", None, None)
    assert client.server.app[SERVICES].usage.counts  # not flushed yet: the interval is 10 s
    await client.close()
    raw: AsyncMongoClient = AsyncMongoClient(mongo_url)
    try:
        doc = await raw[f"{settings.db_prefix}-catalog"][USAGE].find_one({"_id": f"/{today}"})
    finally:
        await raw.close()
    assert doc is not None
    assert (doc["counters"]["writeRequests"], doc["counters"]["readRequests"]) == (1, 1)


async def test_a_partly_failed_flush_retries_only_the_failed_documents(client, mongo_url, settings):
    today = pin_the_day(client)
    await provision(client)
    raw: AsyncMongoClient = AsyncMongoClient(mongo_url)
    usage = raw[f"{settings.db_prefix}-catalog"][USAGE]
    meter: UsageMeter = client.server.app[SERVICES].usage
    try:
        await meter.flush()  # the provisioning and the first gauges
        await usage.replace_one({"_id": f"osaka/{today}"}, {"tenant": "osaka", "day": today, "counters": "broken"},
                                upsert=True)
        await send(client, "GET", f"{API}/entities/urn:ngsi-ld:Sensor:1", None, IN_OSAKA, 404)
        await send(client, "GET", f"{API}/entities/urn:ngsi-ld:Sensor:1", None, None, 404)
        assert await meter.flush() is False  # osaka's $inc fails, the default tenant's is written
        assert set(meter.counts.counts) == {("osaka", today)}
        await usage.delete_one({"_id": f"osaka/{today}"})
        assert await meter.flush() is True
    finally:
        await raw.close()
    assert (await total_of(client, "osaka"))["readRequests"] == 1
    assert (await total_of(client, "default"))["readRequests"] == 1


async def test_gauges_are_sampled_once_per_interval_whatever_the_number_of_processes(client):
    collection = client.server.app[SERVICES].databases.catalog[USAGE]
    sampled: list[str] = []

    async def sample(tenant: str) -> dict[str, int]:
        sampled.append(tenant)
        return {"entitiesStored": 7, "subscriptions": 0, "storageBytes": 100}

    async def tenants() -> list[str]:
        return ["osaka", "hyogo"]

    instant = time.time()  # one day for the three processes: a new day would be sampled again

    def process() -> UsageMeter:
        return UsageMeter(collection, DayClock("Asia/Tokyo", now=lambda: instant), flush_interval_s=600,
                          sample_interval_s=300, sample=sample, tenants=tenants)

    first, second = process(), process()
    assert await first.flush() is True
    assert sorted(sampled) == ["hyogo", "osaka"]
    assert await second.flush() is True  # another process, within the interval: nothing sampled again
    assert sorted(sampled) == ["hyogo", "osaka"]
    restarted = process()
    await restarted.flush()
    assert len(sampled) == 2


class AcknowledgementDropper:
    """A TCP proxy in front of the database which, once armed, passes the next update that adds a
    usage batch on and then closes the client's connection instead of passing the reply: a write the
    database applied whose acknowledgement the broker never receives. With `drop_request`, the update
    itself is dropped: the broker cannot tell the two apart."""

    UPDATE = b"flushes."  # in the filter of the updates that add a batch (not in the creating upserts)

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.armed = False
        self.drop_request = False
        self.dropped = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"mongodb://127.0.0.1:{port}/?directConnection=true&retryWrites=false"

    async def _connection(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await asyncio.open_connection(*self.upstream)
        dropping = asyncio.Event()

        async def to_server() -> None:
            while chunk := await client_reader.read(65536):
                if self.armed and self.UPDATE in chunk:
                    self.armed = False
                    if self.drop_request:
                        self.dropped += 1
                        return
                    dropping.set()
                server_writer.write(chunk)
                await server_writer.drain()

        async def to_client() -> None:
            while chunk := await server_reader.read(65536):
                if dropping.is_set():  # the database has answered, so it applied the update
                    self.dropped += 1
                    return
                client_writer.write(chunk)
                await client_writer.drain()

        tasks = [asyncio.create_task(to_server()), asyncio.create_task(to_client())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        except (ConnectionError, OSError):
            pass
        finally:
            for task in tasks:
                task.cancel()
            for writer in (client_writer, server_writer):
                writer.close()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@dataclass
class FlakyLink:
    """A usage meter writing through an AcknowledgementDropper; the usage collection read directly;
    osaka's document of the day, which already holds one read request."""

    proxy: AcknowledgementDropper
    meter: UsageMeter
    usage: AsyncCollection
    document: dict[str, str]

    async def counted(self, meter: str = "readRequests") -> int:
        return (await self.usage.find_one(self.document))["counters"][meter]


@pytest.fixture
async def flaky_link(mongo_url: str, settings: Settings) -> AsyncIterator[FlakyLink]:
    address = mongo_url.removeprefix("mongodb://").split("/")[0].rsplit(":", 1)
    proxy = AcknowledgementDropper((address[0], int(address[1])))
    through_proxy: AsyncMongoClient = AsyncMongoClient(await proxy.start(), serverSelectionTimeoutMS=5000)
    raw: AsyncMongoClient = AsyncMongoClient(mongo_url)

    async def no_tenants() -> list[str]:
        return []

    async def no_gauges(tenant: str) -> dict[str, int]:
        return {}

    meter = UsageMeter(through_proxy[f"{settings.db_prefix}-catalog"][USAGE], DayClock("Asia/Tokyo"),
                       flush_interval_s=600, sample_interval_s=0, sample=no_gauges, tenants=no_tenants)
    link = FlakyLink(proxy, meter, raw[f"{settings.db_prefix}-catalog"][USAGE],
                     {"_id": f"osaka/{meter.clock.today()}"})
    meter.count_request("osaka", "read", 10, 20)
    assert await meter.flush() is True
    assert await link.counted() == 1
    yield link
    await through_proxy.close()
    await raw.close()
    await proxy.close()


async def test_a_flush_whose_acknowledgement_is_lost_is_written_again_without_counting_twice(flaky_link):
    link, meter = flaky_link, flaky_link.meter
    for _ in range(2):
        meter.count_request("osaka", "read", 10, 20)
    link.proxy.armed = True
    assert await meter.flush() is False  # the connection broke after the update was sent
    assert link.proxy.dropped == 1 and meter.unsettled is not None
    assert await link.counted() == 3  # ... and the database had applied it
    meter.count_request("osaka", "read", 10, 20)
    assert await meter.flush() is True  # the same batch again (skipped), then the new count
    assert meter.unsettled is None
    assert (await link.counted(), await link.counted("bytesOut")) == (4, 80)


async def test_a_resent_flush_that_then_fails_for_certain_puts_its_counts_back_once(flaky_link):
    link, meter = flaky_link, flaky_link.meter
    meter.count_request("osaka", "read", 0, 0)
    link.proxy.armed, link.proxy.drop_request = True, True
    assert await meter.flush() is False  # never reached the database, but the broker cannot know
    assert link.proxy.dropped == 1 and meter.unsettled is not None
    counters = (await link.usage.find_one(link.document))["counters"]
    await link.usage.update_one(link.document, {"$set": {"counters": "broken"}})
    for _ in range(2):  # resent: refused for certain, so its counts go back to the pending ones, once
        assert await meter.flush() is False
        assert meter.unsettled is None and meter.counts.counts == {("osaka", meter.clock.today()): {"readRequests": 1}}
    await link.usage.update_one(link.document, {"$set": {"counters": counters}})
    assert await meter.flush() is True
    assert await link.counted() == 2


async def test_at_shutdown_the_pending_counts_are_written_even_when_an_unsettled_batch_stays_unknown(flaky_link):
    link, meter = flaky_link, flaky_link.meter
    for _ in range(2):
        meter.count_request("osaka", "read", 0, 0)
    link.proxy.armed = True
    assert await meter.flush() is False  # applied, acknowledgement lost: unsettled
    meter.count_request("osaka", "read", 0, 0)
    link.proxy.armed, link.proxy.drop_request = True, True  # its resend at shutdown is lost too
    await meter.stop()
    assert link.proxy.dropped == 2 and meter.unsettled is not None
    assert await link.counted() == 4  # the first 1, the 2 applied, the last 1
