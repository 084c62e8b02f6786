"""Queries over HTTP on 10,000 entities: right results and counts, and the plans use indexes."""

from __future__ import annotations

from broker.api.state import SERVICES
from broker.ngsild.context import core_term_map
from broker.ngsild.query import parse_query_params
from broker.store.query import explain_filter, index_names
from tests.conftest import API

COUNT = 10_000


def sensor(n: int) -> dict:
    return {"id": f"urn:ngsi-ld:Sensor:{n:05d}", "type": "Sensor" if n % 10 else "Gateway",
            "level": {"type": "Property", "value": n % 100},
            "location": {"type": "GeoProperty",
                         "value": {"type": "Point", "coordinates": [135.0 + (n % 100) / 100, 34.5 + (n // 100) / 100]}}}


async def test_ten_thousand_entities_through_http(client):
    for start in range(0, COUNT, 1000):
        response = await client.post(f"{API}/entityOperations/create",
                                     json=[sensor(n) for n in range(start, start + 1000)])
        assert response.status == 201, await response.text()

    async def count(**params: str) -> tuple[int, list[str]]:
        response = await client.get(f"{API}/entities", params={**params, "count": "true", "limit": "3"})
        assert response.status == 200, await response.text()
        return int(response.headers["NGSILD-Results-Count"]), [e["id"] for e in await response.json()]

    assert await count(type="Gateway") == (1000, ["urn:ngsi-ld:Sensor:00000", "urn:ngsi-ld:Sensor:00010",
                                                  "urn:ngsi-ld:Sensor:00020"])
    assert (await count(type="Sensor", q="level==42"))[0] == 100
    assert (await count(type="Sensor", q="level>=95;level<97"))[0] == 200
    near_total, near_ids = await count(type="Sensor", georel="near;maxDistance==1500", geometry="Point",
                                       coordinates="[135.42,34.77]")
    assert near_ids[0] == "urn:ngsi-ld:Sensor:02742" and 0 < near_total < 20

    db = client.app[SERVICES].databases.tenant(None)
    terms = core_term_map()
    plans = {
        "type": await explain_filter(db, parse_query_params({"type": "Gateway"}, terms)),
        "id": await explain_filter(db, parse_query_params({"id": "urn:ngsi-ld:Sensor:00042", "local": "true"}, terms)),
        "attribute": await explain_filter(db, parse_query_params({"attrs": "level"}, terms)),
        "geo": await explain_filter(db, parse_query_params(
            {"georel": "within", "geometry": "Polygon",
             "coordinates": "[[[135,34.5],[135.2,34.5],[135.2,34.7],[135,34.7],[135,34.5]]]"}, terms)),
    }
    assert index_names(plans["type"]) == ["type"]
    assert index_names(plans["id"]) == ["_id_"]
    assert index_names(plans["attribute"]) == ["attrNames"]
    assert len(index_names(plans["geo"])) == 1 and "2dsphere" in index_names(plans["geo"])[0]
