"""Queries bounded in database time (KYODO_QUERY_TIMEOUT_MS → 504) and the 2dsphere index created
once however many first `near` queries arrive together."""

from __future__ import annotations

import asyncio

from broker.api.state import SERVICES
from tests.conftest import API

NEAR = {"type": "Sensor", "georel": "near;maxDistance==20000", "geometry": "Point", "coordinates": "[135.5,34.7]"}


def sensor(index: int) -> dict:
    return {"id": f"urn:ngsi-ld:Sensor:{index:04d}", "type": "Sensor",
            "temperature": {"type": "Property", "value": index % 40},
            "location": {"type": "GeoProperty",
                         "value": {"type": "Point", "coordinates": [135.5 + index / 10_000, 34.7]}}}


async def load(client, count: int, headers: dict[str, str]) -> None:
    for start in range(0, count, 100):
        response = await client.post(f"{API}/entityOperations/create", headers=headers,
                                     json=[sensor(index) for index in range(start, min(count, start + 100))])
        assert response.status == 201, await response.text()


async def test_a_query_longer_than_the_timeout_answers_504_naming_the_setting(make_client):
    client = await make_client(query_timeout_ms=1)
    headers = {"NGSILD-Tenant": "slow"}
    await load(client, 600, headers)
    response = await client.get(f"{API}/entities", headers=headers,
                                params={"type": "Sensor", "q": "temperature>100", "count": "true"})
    assert response.status == 504, await response.text()
    assert await response.json() == {
        "type": "urn:kyodo:error:QueryTimeout", "title": "Query timeout",
        "detail": "The query ran longer than 1 ms (KYODO_QUERY_TIMEOUT_MS) and was stopped; "
                  "narrow it (type, q, geoQ, scopeQ) or lower its limit"}


async def test_the_same_query_within_the_default_timeout_answers_200(client):
    headers = {"NGSILD-Tenant": "fast"}
    await load(client, 600, headers)
    response = await client.get(f"{API}/entities", headers=headers,
                                params={"type": "Sensor", "q": "temperature>100", "count": "true"})
    assert response.status == 200
    assert response.headers["NGSILD-Results-Count"] == "0"


async def test_ten_concurrent_first_near_queries_on_a_fresh_tenant_all_answer_200(client):
    headers = {"NGSILD-Tenant": "fresh-geo"}
    await load(client, 20, headers)

    async def near() -> tuple[int, list[str]]:
        response = await client.get(f"{API}/entities", headers=headers, params=NEAR)
        body = await response.json()
        return response.status, [entity["id"] for entity in body] if response.status == 200 else body

    answers = await asyncio.gather(*(near() for _ in range(10)))
    expected = [f"urn:ngsi-ld:Sensor:{index:04d}" for index in range(20)]
    assert answers == [(200, expected)] * 10


async def test_the_database_socket_outlasts_a_long_query_timeout(make_client):
    """A query may run up to KYODO_QUERY_TIMEOUT_MS and answer 504; the socket must not cut it first (503)."""
    client = await make_client(query_timeout_ms=120_000)
    pool = client.server.app[SERVICES].databases.client.options.pool_options
    assert pool.socket_timeout == 150.0
