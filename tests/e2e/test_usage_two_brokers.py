"""Two `kyodo serve` processes on one database under concurrent load: after SIGTERM every request is counted once."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import aiohttp
import orjson
from pymongo import AsyncMongoClient

from broker.store.embedded import free_port
from tenants.usage import USAGE
from tests.e2e.test_serve_process import start_broker, stop, wait_ready

API = "/ngsi-ld/v1"
TENANTS = ("osaka", "hyogo")
REQUESTS = 600


async def test_meters_are_exact_across_two_brokers_after_sigterm(tmp_path, mongo_url):
    prefix = "u" + uuid.uuid4().hex[:10]
    ports = [free_port(), free_port()]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    # one flushes often (concurrent $inc from two processes), the other only at shutdown
    intervals = ["0.3", "600"]
    # info logging on purpose: hundreds of access-log lines must never block a broker (start_broker)
    processes = [start_broker(tmp_path / f"b{index}", port, {
        "KYODO_MONGO_URL": mongo_url, "KYODO_DB_PREFIX": prefix, "KYODO_USAGE_FLUSH_INTERVAL_S": interval})
        for index, (port, interval) in enumerate(zip(ports, intervals, strict=True))]
    expected: dict[str, Counter[str]] = {tenant: Counter() for tenant in TENANTS}
    try:
        for base, process in zip(bases, processes, strict=True):
            await wait_ready(base, process)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
            for tenant in TENANTS:
                spec = {"name": tenant, "displayName": tenant, "kind": "prefecture", "population": 1,
                        "contact": {"name": "課", "email": f"it@{tenant}.example"}}
                async with session.post(f"{bases[0]}/admin/v1/tenants", json=spec) as response:
                    assert response.status == 201

            async def one(number: int) -> None:
                base, tenant = bases[number % 2], TENANTS[(number // 2) % 2]
                headers = {"NGSILD-Tenant": tenant, "Content-Type": "application/json"}
                if number % 3 == 2:  # a read of an entity written earlier (200) or not yet (404): both answered
                    method, url, data = "GET", f"{base}{API}/entities/urn:ngsi-ld:Sensor:{number - 2}", None
                    kind = "readRequests"
                else:
                    entity = {"id": f"urn:ngsi-ld:Sensor:{number}", "type": "Sensor", "n": number}
                    method, url, data = "POST", f"{base}{API}/entities", orjson.dumps(entity)
                    kind = "writeRequests"
                async with session.request(method, url, data=data, headers=headers) as response:
                    body = await response.read()
                    assert response.status in (200, 201, 404), body
                counted = expected[tenant]
                counted[kind] += 1
                counted["entitiesCreated"] += response.status == 201
                counted["bytesIn"] += len(data or b"")
                counted["bytesOut"] += len(body)

            gate = asyncio.Semaphore(16)

            async def limited(number: int) -> None:
                async with gate:
                    await one(number)
            await asyncio.gather(*(limited(number) for number in range(REQUESTS)))
    finally:
        outputs = [stop(process) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs

    client: AsyncMongoClient = AsyncMongoClient(mongo_url)
    try:
        counted: dict[str, Counter[str]] = {tenant: Counter() for tenant in TENANTS}
        async for doc in client[f"{prefix}-catalog"][USAGE].find({"tenant": {"$in": list(TENANTS)}}):
            counted[doc["tenant"]].update(doc.get("counters", {}))
        platform = [doc async for doc in client[f"{prefix}-catalog"][USAGE].find({"tenant": ""})]
        for name in await client.list_database_names():
            if name == prefix or name.startswith(prefix + "-"):
                await client.drop_database(name)
    finally:
        await client.close()
    assert sum(expected["osaka"].values()) and sum(expected["hyogo"].values())
    assert counted == {tenant: _nonzero(expected[tenant]) for tenant in TENANTS}
    assert sum(doc.get("counters", {}).get("adminRequests", 0) for doc in platform) == len(TENANTS)


def _nonzero(counter: Counter[str]) -> dict[str, Any]:
    return Counter({meter: value for meter, value in counter.items() if value})
