"""Query Entities over HTTP: selectors, q, geo, pagination, counts, formats (5.7.2, 6.4.3.2, 6.23)."""

from __future__ import annotations

import orjson
import pytest

from tests.conftest import API, CORE_CONTEXT

CITIES = [
    ("osaka", [135.5023, 34.6937], 2_750_000, "/Kansai/Osaka"),
    ("kyoto", [135.7681, 35.0116], 1_460_000, "/Kansai/Kyoto"),
    ("kobe", [135.1955, 34.6901], 1_520_000, "/Kansai/Hyogo"),
    ("nara", [135.8048, 34.6851], 350_000, "/Kansai/Nara"),
    ("nagoya", [136.9066, 35.1815], 2_320_000, "/Chubu/Aichi"),
]


def city(name, coordinates, population, scope):
    return {"id": f"urn:ngsi-ld:City:{name}", "type": "City", "scope": scope,
            "name": {"type": "Property", "value": name.capitalize()},
            "population": {"type": "Property", "value": population},
            "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": coordinates}}}


@pytest.fixture
async def cities(client):
    for row in CITIES:
        response = await client.post(f"{API}/entities", json=city(*row))
        assert response.status == 201
    response = await client.post(f"{API}/entities", json={
        "id": "urn:ngsi-ld:Spot:1", "type": "TouristSpot", "name": "Kinkaku-ji",
        "city": {"type": "Relationship", "object": "urn:ngsi-ld:City:kyoto"}})
    assert response.status == 201
    return client


async def ids(client, **params):
    response = await client.get(f"{API}/entities", params=params)
    assert response.status == 200, await response.text()
    return [entity["id"] for entity in await response.json()]


async def problem(response, status, name):
    assert response.status == status, await response.text()
    body = await response.json()
    assert body["type"] == f"https://uri.etsi.org/ngsi-ld/errors/{name}", body
    return body


async def test_a_query_without_a_selector_is_too_wide(cities):
    await problem(await cities.get(f"{API}/entities"), 400, "BadRequestData")
    await problem(await cities.get(f"{API}/entities", params={"id": "urn:ngsi-ld:City:osaka"}), 400, "BadRequestData")


async def test_type_selects_and_results_come_in_id_order(cities):
    assert await ids(cities, type="City") == [f"urn:ngsi-ld:City:{n}" for n in
                                              sorted(["osaka", "kyoto", "kobe", "nara", "nagoya"])]
    assert await ids(cities, type="TouristSpot") == ["urn:ngsi-ld:Spot:1"]
    assert await ids(cities, type="Nothing") == []


async def test_id_list_and_id_pattern_narrow_a_type_query(cities):
    assert await ids(cities, type="City", id="urn:ngsi-ld:City:kobe,urn:ngsi-ld:City:nara") == [
        "urn:ngsi-ld:City:kobe", "urn:ngsi-ld:City:nara"]
    assert await ids(cities, type="City", idPattern="k.*o") == ["urn:ngsi-ld:City:kobe", "urn:ngsi-ld:City:kyoto"]


@pytest.mark.parametrize(("q", "expected"), [
    ("population>2000000", ["nagoya", "osaka"]),
    ("population<=350000", ["nara"]),
    ("population==1000000..1500000", ["kyoto"]),
    ('name=="Kobe","Nara"', ["kobe", "nara"]),
    ("name~=^K", ["kobe", "kyoto"]),
    ("population>2000000;name!=\"Osaka\"", ["nagoya"]),
    ("population<400000|name==\"Kobe\"", ["kobe", "nara"]),
    ("population", ["kobe", "kyoto", "nagoya", "nara", "osaka"]),
])
async def test_q_filters(cities, q, expected):
    assert await ids(cities, type="City", q=q) == [f"urn:ngsi-ld:City:{n}" for n in expected]


async def test_q_on_a_relationship_object(cities):
    assert await ids(cities, q='city=="urn:ngsi-ld:City:kyoto"') == ["urn:ngsi-ld:Spot:1"]


async def test_a_malformed_q_is_400_naming_the_position(cities):
    body = await problem(await cities.get(f"{API}/entities", params={"type": "City", "q": "(population>1"}),
                         400, "BadRequestData")
    assert "position" in body["detail"]


async def test_scope_q(cities):
    assert await ids(cities, type="City", scopeQ="/Kansai/#") == [
        f"urn:ngsi-ld:City:{n}" for n in ["kobe", "kyoto", "nara", "osaka"]]
    assert await ids(cities, type="City", scopeQ="/+/Aichi") == ["urn:ngsi-ld:City:nagoya"]


async def test_near_returns_nearest_first_within_the_distance(cities):
    found = await ids(cities, type="City", georel="near;maxDistance==60000", geometry="Point",
                      coordinates="[135.5023,34.6937]")
    assert found == ["urn:ngsi-ld:City:osaka", "urn:ngsi-ld:City:nara", "urn:ngsi-ld:City:kobe",
                     "urn:ngsi-ld:City:kyoto"]


async def test_within_a_polygon(cities):
    kansai = "[[[135.0,34.5],[136.0,34.5],[136.0,35.2],[135.0,35.2],[135.0,34.5]]]"
    assert await ids(cities, georel="within", geometry="Polygon", coordinates=kansai) == [
        f"urn:ngsi-ld:City:{n}" for n in ["kobe", "kyoto", "nara", "osaka"]]


async def test_a_bad_georel_is_400(cities):
    await problem(await cities.get(f"{API}/entities", params={
        "type": "City", "georel": "near", "geometry": "Point", "coordinates": "[135,34]"}), 400, "BadRequestData")


async def test_attrs_selects_entities_having_one_and_projects_them(cities):
    response = await cities.get(f"{API}/entities", params={"attrs": "city", "options": "keyValues"})
    assert await response.json() == [{"id": "urn:ngsi-ld:Spot:1", "type": "TouristSpot",
                                      "city": "urn:ngsi-ld:City:kyoto"}]


async def test_pagination_with_count_and_links(cities):
    response = await cities.get(f"{API}/entities", params={"type": "City", "limit": "2", "offset": "2",
                                                           "count": "true"})
    assert response.status == 200
    assert response.headers["NGSILD-Results-Count"] == "5"
    assert [e["id"] for e in await response.json()] == ["urn:ngsi-ld:City:nagoya", "urn:ngsi-ld:City:nara"]
    links = response.headers.getall("Link")
    assert f"<{API}/entities?count=true&limit=2&offset=0&type=City>; rel=\"prev\"; type=\"application/json\"" in links
    assert f"<{API}/entities?count=true&limit=2&offset=4&type=City>; rel=\"next\"; type=\"application/json\"" in links


async def test_the_last_page_has_no_next_link_and_no_count_without_asking(cities):
    response = await cities.get(f"{API}/entities", params={"type": "City", "limit": "2", "offset": "4"})
    assert "NGSILD-Results-Count" not in response.headers
    links = ",".join(response.headers.getall("Link"))
    assert 'rel="next"' not in links and 'rel="prev"' in links


async def test_limit_zero_with_count_gives_only_the_count(cities):
    response = await cities.get(f"{API}/entities", params={"type": "City", "limit": "0", "count": "true"})
    assert response.status == 200
    assert await response.json() == []
    assert response.headers["NGSILD-Results-Count"] == "5"


@pytest.mark.parametrize(("params", "status", "error"), [
    ({"type": "City", "limit": "0"}, 400, "BadRequestData"),
    ({"type": "City", "limit": "-1"}, 400, "BadRequestData"),
    ({"type": "City", "offset": "x"}, 400, "BadRequestData"),
    ({"type": "City", "limit": "1001"}, 403, "TooManyResults"),
    ({"type": "City", "options": "fancy"}, 400, "InvalidRequest"),
    ({"type": "City", "page": "2"}, 400, "InvalidRequest"),
])
async def test_bad_paging_and_options(cities, params, status, error):
    await problem(await cities.get(f"{API}/entities", params=params), status, error)


async def test_an_unsupported_parameter_is_501(cities):
    response = await cities.get(f"{API}/entities", params={"type": "City", "join": "inline"})
    assert response.status == 501


async def test_ld_json_puts_the_context_in_every_element(cities):
    response = await cities.get(f"{API}/entities", params={"type": "TouristSpot"},
                                headers={"Accept": "application/ld+json"})
    [entity] = await response.json()
    assert entity["@context"] == CORE_CONTEXT


async def test_geojson_query_returns_a_feature_collection(cities):
    response = await cities.get(f"{API}/entities", params={"type": "City", "id": "urn:ngsi-ld:City:nara",
                                                           "format": "keyValues"},
                                headers={"Accept": "application/geo+json"})
    assert response.status == 200
    body = await response.json()
    assert body["type"] == "FeatureCollection"
    assert body["@context"] == CORE_CONTEXT
    [feature] = body["features"]
    assert feature["geometry"] == {"type": "Point", "coordinates": [135.8048, 34.6851]}
    assert feature["properties"]["population"] == 350_000


async def test_order_by_a_property_descending(cities):
    assert await ids(cities, type="City", orderBy="population;desc", limit="3") == [
        "urn:ngsi-ld:City:osaka", "urn:ngsi-ld:City:nagoya", "urn:ngsi-ld:City:kobe"]


async def test_post_query_matches_the_get_form(cities):
    body = {"type": "Query", "entities": [{"type": "City"}], "q": "population>2000000",
            "geoQ": {"georel": "near;maxDistance==100000", "geometry": "Point", "coordinates": [135.5, 34.7]}}
    response = await cities.post(f"{API}/entityOperations/query", json=body, params={"count": "true"})
    assert response.status == 200, await response.text()
    assert [e["id"] for e in await response.json()] == ["urn:ngsi-ld:City:osaka"]
    assert response.headers["NGSILD-Results-Count"] == "1"


async def test_post_query_with_a_bad_body_is_400(cities):
    response = await cities.post(f"{API}/entityOperations/query", json={"entities": [{"type": "City"}]})
    await problem(response, 400, "BadRequestData")


async def test_queries_on_an_unknown_tenant_are_404(client):
    response = await client.get(f"{API}/entities", params={"type": "City"}, headers={"NGSILD-Tenant": "mie"})
    await problem(response, 404, "NonexistentTenant")


async def test_post_query_follows_the_context_rules_of_body_requests(cities):
    body = {"type": "Query", "entities": [{"type": "City"}], "@context": CORE_CONTEXT}
    link = {"Link": f'<{CORE_CONTEXT}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'}
    response = await cities.post(f"{API}/entityOperations/query", data=orjson.dumps(body),
                                 headers={"Content-Type": "application/ld+json", **link})
    await problem(response, 400, "BadRequestData")
    response = await cities.post(f"{API}/entityOperations/query", json=body)
    await problem(response, 400, "BadRequestData")
    response = await cities.post(f"{API}/entityOperations/query", data=orjson.dumps(body),
                                 headers={"Content-Type": "application/ld+json"})
    assert response.status == 200
    assert len(await response.json()) == 5


async def test_subscription_list_paging_errors(client):
    response = await client.get(f"{API}/subscriptions", params={"limit": "0"})
    await problem(response, 400, "BadRequestData")
    response = await client.get(f"{API}/subscriptions", params={"limit": "5000"})
    await problem(response, 403, "TooManyResults")
