"""Tenant quotas through HTTP: entities, subscriptions, batch size, request rate; and how quotas and
suspension hold across two broker processes on the same database."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from broker.api.state import SERVICES
from tests.conftest import API

ADMIN = "/admin/v1"
IN_OSAKA = {"NGSILD-Tenant": "osaka"}
QUOTA = "urn:kyodo:error:QuotaExceeded"
TTL_S = 0.2


def tenant(**quotas: int | None) -> dict[str, Any]:
    return {"name": "osaka", "displayName": "大阪府", "kind": "prefecture", "population": 8763000,
            "contact": {"name": "デジタル推進課", "email": "digital@pref.osaka.example"}, "quotas": quotas}


def shelter(n: int) -> dict[str, Any]:
    return {"id": f"urn:ngsi-ld:Shelter:{n}", "type": "Shelter", "capacity": {"type": "Property", "value": n}}


def subscription(uri: str) -> dict[str, Any]:
    return {"type": "Subscription", "entities": [{"type": "Shelter"}], "notification": {"endpoint": {"uri": uri}}}


async def provision(client, **quotas: int | None) -> None:
    response = await client.post(f"{ADMIN}/tenants", json=tenant(**quotas))
    assert response.status == 201, await response.text()


async def set_quotas(client, **quotas: int | None) -> None:
    response = await client.patch(f"{ADMIN}/tenants/osaka", json={"quotas": quotas})
    assert response.status == 200, await response.text()


async def set_status(client, status: str) -> None:
    response = await client.patch(f"{ADMIN}/tenants/osaka", json={"status": status})
    assert response.status == 200, await response.text()


async def create(client, n: int, status: int = 201):
    response = await client.post(f"{API}/entities", json=shelter(n), headers=IN_OSAKA)
    assert response.status == status, await response.text()
    return response


async def stored_entities(client) -> int:
    response = await client.get(f"{ADMIN}/tenants/osaka")
    return (await response.json())["usage"]["entities"]


async def exact(response, status: int, body: Any) -> None:
    assert response.status == status, await response.text()
    assert await response.json() == body


# --- maxEntities ---------------------------------------------------------------------------------

async def test_a_create_beyond_max_entities_is_403_quota_exceeded_until_an_entity_is_deleted(client):
    await provision(client, maxEntities=2)
    await create(client, 1)
    await create(client, 2)
    await exact(await create(client, 3, status=403), 403, {
        "type": QUOTA, "title": "Quota exceeded", "quota": "maxEntities", "limit": 2,
        "detail": "Tenant 'osaka' holds 2 entities; its quota maxEntities allows at most 2"})
    assert (await client.delete(f"{API}/entities/{shelter(1)['id']}", headers=IN_OSAKA)).status == 204
    await create(client, 3)
    assert await stored_entities(client) == 2


async def test_changes_to_existing_entities_are_never_refused_by_max_entities(client):
    await provision(client, maxEntities=1)
    await create(client, 1)
    response = await client.post(f"{API}/entities/{shelter(1)['id']}/attrs", headers=IN_OSAKA,
                                 json={"occupancy": {"type": "Property", "value": 12}})
    assert response.status == 204
    response = await client.post(f"{API}/entityOperations/update", json=[shelter(1)], headers=IN_OSAKA)
    assert response.status == 204


async def test_batch_upsert_creates_new_entities_up_to_the_quota_and_reports_the_rest_per_entity(client):
    await provision(client, maxEntities=3)
    await create(client, 1)
    batch = [{**shelter(1), "capacity": {"type": "Property", "value": 999}}, shelter(2), shelter(3), shelter(4),
             shelter(5)]
    response = await client.post(f"{API}/entityOperations/upsert", json=batch, headers=IN_OSAKA)

    def refused(n: int) -> dict[str, Any]:
        return {"entityId": f"urn:ngsi-ld:Shelter:{n}", "error": {
            "type": QUOTA, "title": "Quota exceeded", "quota": "maxEntities", "limit": 3,
            "detail": f"Entity urn:ngsi-ld:Shelter:{n} is not created: tenant 'osaka' holds 1 entity and this "
                      "batch creates 2 more; its quota maxEntities allows at most 3"}}
    await exact(response, 207, {"success": ["urn:ngsi-ld:Shelter:1", "urn:ngsi-ld:Shelter:2",
                                            "urn:ngsi-ld:Shelter:3"],
                                "errors": [refused(4), refused(5)]})
    assert await stored_entities(client) == 3
    entity = await (await client.get(f"{API}/entities/{shelter(1)['id']}", headers=IN_OSAKA)).json()
    assert entity["capacity"]["value"] == 999
    await problem_free_upsert_of_existing(client)


async def problem_free_upsert_of_existing(client) -> None:
    """At the limit, a batch that only touches existing entities still succeeds in full."""
    response = await client.post(f"{API}/entityOperations/upsert", json=[shelter(2), shelter(3)], headers=IN_OSAKA)
    assert response.status == 204, await response.text()


async def test_batch_create_counts_only_entities_that_would_be_new(client):
    await provision(client, maxEntities=2)
    await create(client, 1)
    response = await client.post(f"{API}/entityOperations/create", json=[shelter(1), shelter(2), shelter(3)],
                                 headers=IN_OSAKA)
    assert response.status == 207
    body = await response.json()
    assert body["success"] == ["urn:ngsi-ld:Shelter:2"]
    assert [(error["entityId"], error["error"]["type"]) for error in body["errors"]] == [
        ("urn:ngsi-ld:Shelter:1", "https://uri.etsi.org/ngsi-ld/errors/AlreadyExists"),
        ("urn:ngsi-ld:Shelter:3", QUOTA)]
    assert await stored_entities(client) == 2


async def test_a_batch_repeating_a_new_id_needs_room_for_one_entity(client):
    await provision(client, maxEntities=1)
    response = await client.post(f"{API}/entityOperations/upsert", json=[shelter(1), shelter(1)], headers=IN_OSAKA)
    await exact(response, 201, ["urn:ngsi-ld:Shelter:1"])


# --- maxSubscriptions ----------------------------------------------------------------------------

async def test_a_subscription_beyond_max_subscriptions_is_403_quota_exceeded(client, receiver):
    await provision(client, maxSubscriptions=1)
    first = await client.post(f"{API}/subscriptions", json=subscription(receiver.url()), headers=IN_OSAKA)
    assert first.status == 201
    response = await client.post(f"{API}/subscriptions", json=subscription(receiver.url()), headers=IN_OSAKA)
    await exact(response, 403, {
        "type": QUOTA, "title": "Quota exceeded", "quota": "maxSubscriptions", "limit": 1,
        "detail": "Tenant 'osaka' holds 1 subscription; its quota maxSubscriptions allows at most 1"})
    assert (await client.delete(first.headers["Location"], headers=IN_OSAKA)).status == 204
    response = await client.post(f"{API}/subscriptions", json=subscription(receiver.url()), headers=IN_OSAKA)
    assert response.status == 201


# --- maxBatchSize --------------------------------------------------------------------------------

@pytest.mark.parametrize(("operation", "body"), [
    ("create", [shelter(1), shelter(2), shelter(3)]),
    ("upsert", [shelter(1), shelter(2), shelter(3)]),
    ("update", [shelter(1), shelter(2), shelter(3)]),
    ("merge", [shelter(1), shelter(2), shelter(3)]),
    ("delete", [shelter(1)["id"], shelter(2)["id"], shelter(3)["id"]]),
])
async def test_a_batch_over_max_batch_size_is_413_and_writes_nothing(client, operation, body):
    await provision(client, maxBatchSize=2)
    response = await client.post(f"{API}/entityOperations/{operation}", json=body, headers=IN_OSAKA)
    await exact(response, 413, {
        "type": "urn:kyodo:error:TooManyEntities", "title": "Too many entities",
        "quota": "maxBatchSize", "limit": 2,
        "detail": "The batch has 3 items; tenant 'osaka' may send at most 2 per request (quota maxBatchSize)"})
    assert await stored_entities(client) == 0


async def test_a_batch_at_max_batch_size_is_accepted(client):
    await provision(client, maxBatchSize=2)
    response = await client.post(f"{API}/entityOperations/create", json=[shelter(1), shelter(2)], headers=IN_OSAKA)
    assert response.status == 201


# --- maxRequestsPerMinute ------------------------------------------------------------------------

class Clock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_requests_beyond_the_rate_are_429_with_retry_after_then_served_in_the_next_window(make_client):
    client = await make_client(rate_limit_window_s=60.0)
    clock = Clock()
    client.server.app[SERVICES].admission.limiter.clock = clock
    await provision(client, maxRequestsPerMinute=2)
    await create(client, 1)  # the window starts
    clock.now += 10
    assert (await client.get(f"{API}/entities/{shelter(1)['id']}", headers=IN_OSAKA)).status == 200
    clock.now += 20
    response = await client.get(f"{API}/entities/{shelter(1)['id']}", headers=IN_OSAKA)
    assert response.status == 429
    assert response.headers["Retry-After"] == "30"
    assert response.headers["NGSILD-Tenant"] == "osaka"
    assert await response.json() == {
        "type": "urn:kyodo:error:TooManyRequests", "title": "Too many requests",
        "quota": "maxRequestsPerMinute", "limit": 2,
        "detail": "Tenant 'osaka' has made 2 requests to this broker process in the current 60 s window, the "
                  "most it may make here (quota maxRequestsPerMinute: 2); retry after 30 s"}
    clock.now += 29
    assert (await client.get(f"{API}/entities/{shelter(1)['id']}", headers=IN_OSAKA)).status == 429
    clock.now += 1
    assert (await client.get(f"{API}/entities/{shelter(1)['id']}", headers=IN_OSAKA)).status == 200


async def test_the_rate_is_divided_among_the_configured_replicas(make_client):
    client = await make_client(rate_limit_window_s=60.0, rate_limit_replicas=3)
    await provision(client, maxRequestsPerMinute=7)  # 7 / 3 → 2 per replica and minute
    await create(client, 1)
    assert (await client.get(f"{API}/entities/{shelter(1)['id']}", headers=IN_OSAKA)).status == 200
    response = await client.get(f"{API}/entities/{shelter(1)['id']}", headers=IN_OSAKA)
    assert response.status == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert "(quota maxRequestsPerMinute: 7, divided among 3 replicas)" in (await response.json())["detail"]


async def test_the_rate_limit_is_per_tenant_and_admin_requests_do_not_count(make_client):
    client = await make_client(rate_limit_window_s=60.0)
    await provision(client, maxRequestsPerMinute=1)
    await create(client, 1)
    for _ in range(3):
        assert (await client.get(f"{ADMIN}/tenants/osaka")).status == 200
        assert (await client.get(f"{API}/entities/{shelter(1)['id']}")).status == 404  # the default tenant
    assert (await client.get(f"{API}/entities/{shelter(1)['id']}", headers=IN_OSAKA)).status == 429


# --- across two broker processes ---------------------------------------------------------------

async def test_entity_quota_holds_across_two_brokers(make_client):
    first = await make_client(tenant_cache_ttl_s=TTL_S)
    second = await make_client(tenant_cache_ttl_s=TTL_S)
    await provision(first, maxEntities=2)
    await create(first, 1)
    await create(second, 2)
    await create(first, 3, status=403)
    await create(second, 3, status=403)


async def test_quota_changes_reach_the_other_broker_within_the_registry_ttl(make_client):
    first = await make_client(tenant_cache_ttl_s=TTL_S)
    second = await make_client(tenant_cache_ttl_s=TTL_S)
    await provision(first, maxEntities=1)
    await create(second, 1)
    await create(second, 2, status=403)
    await set_quotas(first, maxEntities=None)
    await asyncio.sleep(TTL_S + 0.1)
    await create(second, 2)


async def test_suspension_and_reactivation_reach_the_other_broker_within_the_registry_ttl(make_client):
    first = await make_client(tenant_cache_ttl_s=TTL_S)
    second = await make_client(tenant_cache_ttl_s=TTL_S)
    await provision(first)
    await create(second, 1)
    entity = f"{API}/entities/{shelter(1)['id']}"
    before = await (await second.get(entity, headers=IN_OSAKA)).json()

    await set_status(first, "suspended")
    assert (await first.get(entity, headers=IN_OSAKA)).status == 403  # at once where it was changed
    await asyncio.sleep(TTL_S + 0.1)
    response = await second.get(entity, headers=IN_OSAKA)
    assert response.status == 403
    assert (await response.json())["type"] == "urn:kyodo:error:TenantSuspended"
    assert (await second.post(f"{API}/entities", json=shelter(2), headers=IN_OSAKA)).status == 403

    await set_status(second, "active")
    await asyncio.sleep(TTL_S + 0.1)
    assert await (await first.get(entity, headers=IN_OSAKA)).json() == before
    assert await (await second.get(entity, headers=IN_OSAKA)).json() == before


async def test_a_deactivation_reaches_the_other_broker_within_the_registry_ttl(make_client):
    first = await make_client(tenant_cache_ttl_s=TTL_S)
    second = await make_client(tenant_cache_ttl_s=TTL_S)
    await provision(first)
    await create(second, 1)
    assert (await first.delete(f"{ADMIN}/tenants/osaka")).status == 204
    await asyncio.sleep(TTL_S + 0.1)
    response = await second.get(f"{API}/entities/{shelter(1)['id']}", headers=IN_OSAKA)
    assert response.status == 404
    assert (await response.json())["type"] == "https://uri.etsi.org/ngsi-ld/errors/NonexistentTenant"
