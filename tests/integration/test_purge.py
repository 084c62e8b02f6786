"""Purge: DELETE /entities with a selection, keep or drop (V1.9.1 5.6.21)."""

from __future__ import annotations

import pytest

from tests.conftest import API


async def seed(client, count=5):
    body = [{"id": f"urn:ngsi-ld:Sensor:{i}", "type": "Sensor", "a": i, "b": i, "c": i} for i in range(count)]
    body.append({"id": "urn:ngsi-ld:Gauge:1", "type": "Gauge", "a": 1})
    response = await client.post(f"{API}/entityOperations/create", json=body)
    assert response.status == 201, await response.text()


async def ids(client, type_="Sensor,Gauge"):
    response = await client.get(f"{API}/entities", params={"type": type_, "options": "keyValues", "limit": "100"})
    return {entity["id"]: entity for entity in await response.json()}


async def test_purge_by_type_deletes_only_that_type(client):
    await seed(client)
    assert (await client.delete(f"{API}/entities", params={"type": "Sensor"})).status == 204
    assert set(await ids(client)) == {"urn:ngsi-ld:Gauge:1"}


async def test_purge_by_q_and_by_id_list(client):
    await seed(client)
    assert (await client.delete(f"{API}/entities", params={"type": "Sensor", "q": "a>=3"})).status == 204
    response = await client.delete(f"{API}/entities", params={"id": "urn:ngsi-ld:Sensor:0,urn:ngsi-ld:Gauge:1"})
    assert response.status == 204
    assert set(await ids(client)) == {"urn:ngsi-ld:Sensor:1", "urn:ngsi-ld:Sensor:2"}


async def test_purge_walks_more_than_one_page(client):
    body = [{"id": f"urn:ngsi-ld:Sensor:{i:04d}", "type": "Sensor", "a": i} for i in range(1000)]
    for start in (0, 500):
        assert (await client.post(f"{API}/entityOperations/create", json=body[start:start + 500])).status == 201
    assert (await client.delete(f"{API}/entities", params={"type": "Sensor"})).status == 204
    response = await client.get(f"{API}/entities", params={"type": "Sensor", "limit": "0", "count": "true"})
    assert response.headers["NGSILD-Results-Count"] == "0"


async def test_keep_deletes_every_other_attribute_and_drop_only_the_named(client):
    await seed(client, count=2)
    assert (await client.delete(f"{API}/entities", params={"type": "Sensor", "keep": "a"})).status == 204
    entities = await ids(client, "Sensor")
    assert entities["urn:ngsi-ld:Sensor:1"] == {"id": "urn:ngsi-ld:Sensor:1", "type": "Sensor", "a": 1}
    assert (await client.delete(f"{API}/entities", params={"type": "Gauge", "drop": "a"})).status == 204
    assert (await ids(client, "Gauge"))["urn:ngsi-ld:Gauge:1"] == {"id": "urn:ngsi-ld:Gauge:1", "type": "Gauge"}


@pytest.mark.parametrize("params", [{}, {"keep": "a"}, {"type": "Sensor", "keep": "a", "drop": "b"},
                                    {"type": "Sensor", "q": "a>>"}])
async def test_bad_purges_are_400_and_delete_nothing(client, params):
    await seed(client)
    response = await client.delete(f"{API}/entities", params=params)
    assert response.status == 400
    assert (await response.json())["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
    assert len(await ids(client)) == 6


async def test_purge_notifies_deletions(client, receiver):
    await seed(client, count=2)
    subscription = {"type": "Subscription", "entities": [{"type": "Sensor"}], "notificationTrigger": ["entityDeleted"],
                    "notification": {"endpoint": {"uri": receiver.url()}}}
    assert (await client.post(f"{API}/subscriptions", json=subscription)).status == 201
    assert (await client.delete(f"{API}/entities", params={"type": "Sensor"})).status == 204
    [(_, body)] = await receiver.wait_for(1)
    assert sorted(item["id"] for item in body["data"]) == ["urn:ngsi-ld:Sensor:0", "urn:ngsi-ld:Sensor:1"]
