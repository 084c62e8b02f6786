"""The notification loops poll only tenants with subscriptions, on every replica (broker/store/notifying.py)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from broker.api.state import SERVICES
from broker.store.notifying import NOTIFYING
from tests.conftest import API
from tests.integration.test_metrics import scrape
from tests.integration.test_subscriptions import SENSOR, subscribe, subscription


def _services(client):
    return client.server.app[SERVICES]


async def test_tenants_without_subscriptions_are_not_polled(client, receiver):
    for tenant in ("idle", "busy"):
        response = await client.post(f"{API}/entities", json=SENSOR, headers={"NGSILD-Tenant": tenant})
        assert response.status == 201
    await subscribe(client, subscription(receiver.url()), headers={"NGSILD-Tenant": "busy"})
    assert await _services(client).dispatcher.notifying.polled() == ["busy"]


async def test_a_subscription_made_on_another_replica_is_delivered_by_this_one(make_client, receiver):
    polling = await make_client(notify_poll_interval_s=0.1)
    assert await _services(polling).dispatcher.notifying.polled() == []  # nothing to poll yet
    other = await make_client(notify_poll_interval_s=0.1)
    await _services(other).dispatcher.stop()  # only `polling` may send
    await _services(other).periodic.stop()
    headers = {"NGSILD-Tenant": "late"}
    await subscribe(other, subscription(receiver.url()), headers=headers)
    response = await other.post(f"{API}/entities", json=SENSOR, headers=headers)
    assert response.status == 201
    [(received_headers, body)] = await receiver.wait_for(1, timeout_s=5)
    assert body["data"][0]["id"] == SENSOR["id"]
    assert received_headers["NGSILD-Tenant"] == "late"


async def test_subscriptions_stored_before_the_polling_records_existed_are_found_at_startup(make_client, receiver):
    first = await make_client()
    headers = {"NGSILD-Tenant": "older"}
    await subscribe(first, subscription(receiver.url()), headers=headers)
    await _services(first).databases.catalog[NOTIFYING].delete_many({})  # as an earlier version left it
    later = await make_client()
    assert await _services(later).dispatcher.notifying.polled() == ["older"]


async def test_a_marked_tenants_outbox_has_its_claim_index(client):
    await _services(client).dispatcher.notifying.mark("indexed")
    outbox = _services(client).databases.tenant("indexed")["outbox"]
    indexes = {index["name"]: dict(index["key"]) async for index in await outbox.list_indexes()}
    assert indexes["due"] == {"due": 1}


async def test_a_notification_whose_send_crashes_is_retried_then_dropped_not_resent_forever(make_client):
    client = await make_client(notify_max_attempts=2, notify_backoff_base_s=0.05, notify_poll_interval_s=0.1)
    services = _services(client)
    await services.tenants.ensure("broken")
    await services.dispatcher.notifying.mark("broken")
    outbox = services.databases.tenant("broken")["outbox"]
    now = datetime.now(UTC)
    # no "headers": the HTTP sender fails with a KeyError, not a DeliveryError
    await outbox.insert_one({"subscriptionId": "urn:ngsi-ld:Subscription:s", "endpoint": "http://127.0.0.1:9/",
                             "request": {"uri": "http://127.0.0.1:9/", "body": {}}, "due": now, "attempts": 0,
                             "leaseOwner": None, "leaseUntil": None, "createdAt": now})
    deadline = time.monotonic() + 10  # claimed by the next poll (every 0.1 s)
    while await outbox.count_documents({}) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert await outbox.count_documents({}) == 0, await outbox.find_one({})
    metrics = await scrape(client)  # two failed attempts, then dropped: retried, not dropped at once
    assert 'kyodo_notifications_total{outcome="failed",tenant="broken"} 2.0' in metrics
    assert 'kyodo_notifications_total{outcome="dropped",tenant="broken"} 1.0' in metrics
