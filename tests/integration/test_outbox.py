"""The outbox and delivery status stores against the real embedded database: batch leases, outcomes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from broker.config import Settings
from broker.ngsild.subscription import delivery_status
from broker.store.outbox import Outbox, Settled
from broker.store.subscriptions import SubscriptionStore


@pytest.fixture
async def databases(mongo_url: str, settings: Settings) -> AsyncIterator[list[AsyncDatabase]]:
    """One tenant database seen through two clients: two replicas (dropped by the settings fixture)."""
    clients: list[AsyncMongoClient] = [AsyncMongoClient(mongo_url, tz_aware=True) for _ in range(2)]
    yield [client[settings.db_prefix] for client in clients]
    for client in clients:
        await client.close()


def record(number: int, due: datetime, endpoint: str = "http://receiver/notify") -> dict[str, Any]:
    return {"subscriptionId": "urn:ngsi-ld:Subscription:s", "endpoint": endpoint,
            "request": {"uri": endpoint, "body": {"n": number}}, "due": due, "attempts": 0,
            "leaseOwner": None, "leaseUntil": None, "createdAt": due}


async def test_replicas_claiming_batches_at_once_never_share_a_record(databases):
    now = datetime.now(UTC)
    await Outbox(databases[0]).add([record(number, now - timedelta(seconds=1)) for number in range(60)])
    claimed: dict[str, list[dict[str, Any]]] = {"a": [], "b": []}

    async def replica(owner: str, db: AsyncDatabase) -> None:
        while records := await Outbox(db).claim(owner, now=now, lease_s=60, exclude_endpoints=[], limit=7):
            claimed[owner] += records

    await asyncio.gather(replica("a", databases[0]), replica("b", databases[1]))
    numbers = [item["request"]["body"]["n"] for owner in claimed for item in claimed[owner]]
    assert sorted(numbers) == list(range(60))
    for owner, records in claimed.items():
        stored = await databases[0]["outbox"].find({"_id": {"$in": [item["_id"] for item in records]}}).to_list()
        assert {(item["leaseOwner"], item["leaseToken"]) for item in stored} == \
            {(owner, item["leaseToken"]) for item in records}


async def test_a_claim_takes_only_due_unleased_records_of_endpoints_not_excluded(databases):
    now = datetime.now(UTC)
    outbox = Outbox(databases[0])
    await outbox.add([record(0, now - timedelta(seconds=2)), record(1, now + timedelta(seconds=300)),
                      record(2, now - timedelta(seconds=1), endpoint="http://busy/notify")])
    [first] = await outbox.claim("a", now=now, lease_s=60, exclude_endpoints=["http://busy/notify"], limit=10)
    assert first["request"]["body"] == {"n": 0}
    assert await outbox.claim("b", now=now, lease_s=60, exclude_endpoints=["http://busy/notify"], limit=10) == []
    # a lease that ran out is taken again
    [again] = await outbox.claim("b", now=now + timedelta(seconds=61), lease_s=60,
                                 exclude_endpoints=["http://busy/notify"], limit=10)
    assert again["_id"] == first["_id"] and again["leaseToken"] != first["leaseToken"]


async def test_outcomes_apply_only_under_the_lease_they_were_sent_with(databases):
    now = datetime.now(UTC)
    outbox = Outbox(databases[0])
    await outbox.add([record(number, now) for number in range(3)])
    sent, retried, released = await outbox.claim("a", now=now, lease_s=60, exclude_endpoints=[], limit=10)
    stale = Settled(sent["_id"], "an earlier lease's token", "done")
    await outbox.settle([stale, Settled(retried["_id"], retried["leaseToken"], "retry",
                                        due=now + timedelta(seconds=5), error="HTTP 500"),
                         Settled(released["_id"], released["leaseToken"], "release")])
    stored = {item["_id"]: item async for item in databases[0]["outbox"].find({})}
    assert stored[sent["_id"]]["leaseOwner"] == "a"
    assert (stored[retried["_id"]]["attempts"], stored[retried["_id"]]["leaseOwner"],
            stored[retried["_id"]]["lastError"]) == (1, None, "HTTP 500")
    assert stored[released["_id"]]["leaseOwner"] is None and stored[released["_id"]]["attempts"] == 0
    await outbox.settle([Settled(sent["_id"], sent["leaseToken"], "done")])
    assert await outbox.depth() == 2


async def test_delivery_outcomes_are_counted_per_subscription_in_one_write(databases):
    store = SubscriptionStore(databases[0])
    for name in ("s1", "s2"):
        await store.create({"id": name, "type": "Subscription", "notification": {"status": "ok"}})  # as stored once
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    await store.record_deliveries([("s1", True, t0 + timedelta(seconds=2)), ("s1", False, t0 + timedelta(seconds=1)),
                                   ("s1", True, t0), ("s2", False, t0 + timedelta(seconds=3))])
    s1, s2 = (await store.get("s1"))["notification"], (await store.get("s2"))["notification"]
    assert s1 == {"status": "ok", "timesSent": 2, "timesFailed": 1, "lastNotification": t0 + timedelta(seconds=2),
                  "lastSuccess": t0 + timedelta(seconds=2), "lastFailure": t0 + timedelta(seconds=1)}
    assert s2 == {"status": "ok", "timesFailed": 1, "lastNotification": t0 + timedelta(seconds=3),
                  "lastFailure": t0 + timedelta(seconds=3)}
    assert (delivery_status(s1), delivery_status(s2)) == ("ok", "failed")  # the stored "ok" is not read
    # an older outcome written later (another replica's) never moves the times back, nor the status
    await store.record_deliveries([("s2", True, t0)])
    s2 = (await store.get("s2"))["notification"]
    assert (s2["lastNotification"], delivery_status(s2), s2["timesSent"]) == (t0 + timedelta(seconds=3), "failed", 1)
    await store.record_deliveries([("s2", True, t0 + timedelta(seconds=4))])
    assert delivery_status((await store.get("s2"))["notification"]) == "ok"


async def test_a_subscription_update_keeps_the_outcomes_written_since_it_was_read(databases):
    store = SubscriptionStore(databases[0])
    endpoint = {"uri": "http://receiver/notify", "accept": "application/json"}
    await store.create({"id": "s", "type": "Subscription", "q": "temperature>20", "description": "old",
                        "notification": {"endpoint": endpoint, "format": "keyValues", "attributes": ["a"]}})
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    await store.record_deliveries([("s", True, t0)])
    previous = await store.get("s")
    await SubscriptionStore(databases[1]).record_deliveries([("s", False, t0 + timedelta(seconds=1))])  # meanwhile
    changed = {key: value for key, value in previous.items() if key != "description"}  # description removed
    changed["q"] = "temperature>30"
    changed["notification"] = {"endpoint": endpoint, "format": "normalized", "timesSent": 99}  # attributes removed
    await store.replace(previous, changed)
    stored = await store.get("s")
    assert "description" not in stored and stored["q"] == "temperature>30"
    assert stored["notification"] == {"endpoint": endpoint, "format": "normalized", "timesSent": 1, "timesFailed": 1,
                                      "lastNotification": t0 + timedelta(seconds=1), "lastSuccess": t0,
                                      "lastFailure": t0 + timedelta(seconds=1)}


async def test_a_subscription_update_never_rewinds_a_throttling_or_periodic_claim_made_since_it_was_read(databases):
    store, other_replica = SubscriptionStore(databases[0]), SubscriptionStore(databases[1])
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    await store.create({"id": "t", "type": "Subscription", "throttling": 60, "description": "old",
                        "throttledAt": t0 - timedelta(seconds=120)})  # an earlier window
    await store.create({"id": "p", "type": "Subscription", "timeInterval": 60, "nextPeriodicAt": t0,
                        "description": "old"})
    throttled, periodic = await store.get("t"), await store.get("p")
    assert await other_replica.claim_throttle("t", throttling_s=60, now=t0)  # meanwhile
    assert (await other_replica.claim_periodic(t0))["id"] == "p"
    for previous in (throttled, periodic):
        await store.replace(previous, {**previous, "description": "new"})
    stored_throttled, stored_periodic = await store.get("t"), await store.get("p")
    assert (stored_throttled["description"], stored_throttled["throttledAt"]) == ("new", t0)
    assert (stored_periodic["description"], stored_periodic["nextPeriodicAt"]) == ("new", t0 + timedelta(seconds=60))
    assert not await store.claim_throttle("t", throttling_s=60, now=t0 + timedelta(seconds=1))  # the window holds
