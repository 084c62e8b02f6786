"""SIGTERM: the broker stops in bounded time, hands its notification leases back, closes cleanly."""

from __future__ import annotations

import asyncio
import time

import aiohttp
from aiohttp import web
from pymongo import AsyncMongoClient

from broker.store.embedded import EmbeddedDatabase, free_port
from tests.e2e.test_serve_process import start_broker, stop, wait_ready

API = "/ngsi-ld/v1"


async def test_sigterm_releases_notification_leases_and_exits_cleanly(tmp_path, aiohttp_server):
    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.Response()

    app = web.Application()
    app.router.add_post("/notify", hang)
    receiver = await aiohttp_server(app)
    database = EmbeddedDatabase(tmp_path / "db")
    url = database.start()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {"KYODO_MONGO_URL": url, "KYODO_DB_PREFIX": "graceful", "KYODO_NOTIFY_POLL_INTERVAL_S": "0.2"}
    process = start_broker(tmp_path / "data", port, env)
    try:
        await wait_ready(base, process)
        subscription = {"type": "Subscription", "entities": [{"type": "Sensor"}],
                        "notification": {"endpoint": {"uri": str(receiver.make_url("/notify"))}}}
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{base}{API}/subscriptions", json=subscription) as response:
                assert response.status == 201
            async with session.post(f"{base}{API}/entities",
                                    json={"id": "urn:ngsi-ld:Sensor:g", "type": "Sensor", "t": 1}) as response:
                assert response.status == 201
        client: AsyncMongoClient = AsyncMongoClient(url)
        outbox = client["graceful"]["outbox"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and await outbox.count_documents({"leaseOwner": {"$ne": None}}) == 0:
            await asyncio.sleep(0.1)
        records = await outbox.find({}).to_list()
        assert [r["leaseOwner"] is not None for r in records] == [True], "the delivery should be under way"

        started = time.monotonic()
        output = stop(process)
        assert process.returncode == 0, output
        assert time.monotonic() - started < 20
        [record] = await outbox.find({}).to_list()
        assert record["leaseOwner"] is None, "the lease must be handed back for another replica to send"
        await client.close()
    finally:
        if process.poll() is None:
            stop(process)
        database.stop()
