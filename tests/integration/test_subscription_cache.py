"""The per-process subscription cache against the real database: a local create, update or delete is
used by the next write, even when a load of the cache was under way at that moment."""

from __future__ import annotations

import asyncio
import contextlib

from broker.api.state import SERVICES
from broker.store.subscriptions import SubscriptionStore
from tests.conftest import API

SENSOR = {"id": "urn:ngsi-ld:Sensor:1", "type": "Sensor", "temperature": {"type": "Property", "value": 20}}
GATE_TIMEOUT_S = 10.0  # only keeps a broken test from hanging: the gates decide the order


async def test_a_subscription_created_while_the_cache_was_loading_is_used_by_the_next_write(
        make_client, receiver, monkeypatch):
    # a TTL far beyond the test, and no periodic round after the start-up one: only this test loads
    client = await make_client(subscription_cache_ttl_s=3600, notify_poll_interval_s=3600)
    cache = client.server.app[SERVICES].subscriptions
    read, resume = asyncio.Event(), asyncio.Event()
    all_subscriptions = SubscriptionStore.all

    async def held_after_the_first_read(self):
        stored = await all_subscriptions(self)
        if not read.is_set():
            read.set()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(GATE_TIMEOUT_S):
                    await resume.wait()
        return stored

    monkeypatch.setattr(SubscriptionStore, "all", held_after_the_first_read)
    load = asyncio.create_task(cache.get(""))
    await asyncio.wait_for(read.wait(), GATE_TIMEOUT_S)  # the load has read: no subscription yet
    response = await client.post(f"{API}/subscriptions", json={
        "id": "urn:ngsi-ld:Subscription:1", "type": "Subscription", "entities": [{"type": "Sensor"}],
        "notification": {"endpoint": {"uri": receiver.url()}}})
    assert response.status == 201, await response.text()
    resume.set()
    assert (await load).by_type == {}  # what it read before the create, returned but not kept

    assert (await client.post(f"{API}/entities", json=SENSOR)).status == 201
    [(_, body)] = await receiver.wait_for(1)
    assert body["data"] == [SENSOR]
