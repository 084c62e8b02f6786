"""An acknowledged write keeps its notification even if the broker is killed right after (SIGKILL)."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import aiohttp
from aiohttp import web

from broker.store.embedded import free_port
from tests.e2e.test_serve_process import embedded_pids, start_broker, stop, wait_ready

API = "/ngsi-ld/v1"


async def test_a_notification_survives_a_sigkill_after_the_acknowledgement(tmp_path, aiohttp_server):
    received: list[dict] = []
    mode = {"hang": True}

    async def notify(request: web.Request) -> web.Response:
        if mode["hang"]:
            await asyncio.sleep(60)
        received.append(await request.json())
        return web.Response()

    app = web.Application()
    app.router.add_post("/notify", notify)
    receiver = await aiohttp_server(app)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {"KYODO_NOTIFY_LEASE_S": "2", "KYODO_NOTIFY_POLL_INTERVAL_S": "0.2"}
    process = start_broker(tmp_path, port, env)
    try:
        await wait_ready(base, process)
        subscription = {"id": "urn:ngsi-ld:Subscription:crash", "type": "Subscription",
                        "entities": [{"type": "Sensor"}],
                        "notification": {"endpoint": {"uri": str(receiver.make_url("/notify"))}}}
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{base}{API}/subscriptions", json=subscription) as response:
                assert response.status == 201
            async with session.post(f"{base}{API}/entities",
                                    json={"id": "urn:ngsi-ld:Sensor:crash", "type": "Sensor", "t": 1}) as response:
                assert response.status == 201
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            stop(process)
    deadline = time.monotonic() + 20
    while embedded_pids(tmp_path) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert embedded_pids(tmp_path) == [], "the embedded database must not outlive a killed broker"
    assert received == []

    mode["hang"] = False
    process = start_broker(tmp_path, port, env)
    try:
        await wait_ready(base, process)
        deadline = time.monotonic() + 20
        while not received and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
    finally:
        stop(process)
    assert [item["id"] for body in received for item in body["data"]] == ["urn:ngsi-ld:Sensor:crash"]
