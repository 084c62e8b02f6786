"""The wide-area virtual tenant (広域): every tenant's open datasets in one query, read-only, over HTTP."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import ValidationError

from broker.api.state import SERVICES
from broker.config import Settings
from tests.conftest import API, CORE_CONTEXT, link
from tests.integration.test_admin import OSAKA, problem
from tests.integration.test_quotas import Clock

DEFAULT = "https://uri.etsi.org/ngsi-ld/default-context/"
OPEN = {"NGSILD-Tenant": "open"}
SOURCE = "urn:kyodo:sourceTenant"
OSAKA_STATION = "[135.4959,34.7025]"
NEAR = {"type": "TouristSpot", "georel": "near;maxDistance==100000", "geometry": "Point",
        "coordinates": OSAKA_STATION}

#: (tenant, spot, lon, lat, category, rating); "border" is one id held by two tenants at one place
SPOTS = [
    ("osaka", "castle", 135.5262, 34.6873, "castle", 4.5),
    ("osaka", "tsutenkaku", 135.5063, 34.6525, "tower", 4.0),
    ("osaka", "tokyo-office", 139.76, 35.68, "office", 1.0),
    ("hyogo", "harborland", 135.1830, 34.6797, "shopping", 3.9),
    ("hyogo", "himeji", 134.6939, 34.8394, "castle", 4.8),
    ("hyogo", "border", 135.60, 34.90, "park", 3.0),
    ("kyoto", "kinkakuji", 135.7292, 35.0394, "temple", 4.7),
    ("kyoto", "kiyomizu", 135.7850, 34.9949, "temple", 4.6),
    ("kyoto", "border", 135.60, 34.90, "park", 3.1),
    ("kyoto", "tango", 135.06, 35.70, "coast", 4.2),
]
#: within 100 km of Osaka station, nearest first; equal distance and id → tenant order
NEAR_ORDER = [("osaka", "castle"), ("osaka", "tsutenkaku"), ("hyogo", "border"), ("kyoto", "border"),
              ("hyogo", "harborland"), ("kyoto", "kiyomizu"), ("kyoto", "kinkakuji"), ("hyogo", "himeji")]


def spot_id(spot: str) -> str:
    return f"urn:ngsi-ld:TouristSpot:{spot}"


def tourist_spot(spot: str, lon: float, lat: float, category: str, rating: float) -> dict[str, Any]:
    return {"id": spot_id(spot), "type": "TouristSpot",
            "name": {"type": "Property", "value": spot},
            "category": {"type": "Property", "value": category},
            "rating": {"type": "Property", "value": rating},
            "ownerPhone": {"type": "Property", "value": "06-0000-0000"},
            "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}}


async def publish(client, tenant: str, entity_type: str, *, visibility: str = "open",
                  excluded: tuple[str, ...] = ()) -> None:
    """Publish through the catalog API (tenants/published.py reads what it writes)."""
    response = await client.post("/catalog/v1/datasets", headers={"NGSILD-Tenant": tenant}, json={
        "name": f"{tenant}-{entity_type.lower()}", "entityType": entity_type, "visibility": visibility,
        "excludedAttributes": list(excluded), "title": {"ja": f"{tenant} {entity_type}"}, "license": "CC-BY-4.0"})
    assert response.status == 201, await response.text()


async def unpublish(client, tenant: str, entity_type: str) -> None:
    response = await client.delete(f"/catalog/v1/datasets/{tenant}-{entity_type.lower()}",
                                   headers={"NGSILD-Tenant": tenant})
    assert response.status == 204, await response.text()


async def create(client, tenant: str, entity: dict[str, Any]) -> None:
    response = await client.post(f"{API}/entities", json=entity, headers={"NGSILD-Tenant": tenant})
    assert response.status == 201, await response.text()


@pytest.fixture
async def prefectures(client) -> Any:
    """Osaka, Hyogo and Kyoto: open TouristSpots (ownerPhone withheld), unpublished Facilities, and
    Hyogo's Shelters published to members only."""
    for tenant, spot, lon, lat, category, rating in SPOTS:
        await create(client, tenant, tourist_spot(spot, lon, lat, category, rating))
    for tenant in ("osaka", "hyogo", "kyoto"):
        await create(client, tenant, {"id": f"urn:ngsi-ld:Facility:{tenant}-hq", "type": "Facility",
                                      "budget": {"type": "Property", "value": 1000},
                                      "location": {"type": "GeoProperty",
                                                   "value": {"type": "Point", "coordinates": [135.5, 34.7]}}})
        await publish(client, tenant, "TouristSpot", excluded=("ownerPhone",))
    await create(client, "hyogo", {"id": "urn:ngsi-ld:Shelter:kobe-1", "type": "Shelter",
                                   "capacity": {"type": "Property", "value": 300}})
    await publish(client, "hyogo", "Shelter", visibility="members")
    return client


async def get_entities(client, params: dict[str, str], headers: dict[str, str] | None = None,
                       status: int = 200) -> Any:
    response = await client.get(f"{API}/entities", params=params, headers={**OPEN, **(headers or {})})
    assert response.status == status, await response.text()
    return response


def sources(body: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(source tenant, spot) of each entity, normalized or keyValues."""
    return [(entity[SOURCE]["value"] if isinstance(entity[SOURCE], dict) else entity[SOURCE],
             entity["id"].rsplit(":", 1)[1]) for entity in body]


def pagination(response) -> dict[str, str]:
    found = {}
    for value in response.headers.getall("Link", []):
        match = re.match(r'<([^>]*)>;\s*rel="(prev|next)"', value)
        if match:
            found[match.group(2)] = match.group(1)
    return found


async def test_a_near_query_pages_every_open_spot_of_three_tenants_once_in_distance_order(prefectures):
    client = prefectures
    seen: list[tuple[str, str]] = []
    pages = []
    params: dict[str, str] = {**NEAR, "limit": "2", "count": "true"}
    while True:
        response = await get_entities(client, params)
        body = await response.json()
        assert response.headers["NGSILD-Tenant"] == "open"
        assert response.headers["NGSILD-Results-Count"] == "8"
        assert response.headers["Kyodo-Source-Tenants"] == ",".join(sorted({t for t, _ in sources(body)}))
        assert all("ownerPhone" not in entity for entity in body)
        seen.extend(sources(body))
        pages.append(pagination(response))
        if "next" not in pages[-1]:
            break
        params = dict(part.split("=", 1) for part in pages[-1]["next"].split("?", 1)[1].split("&"))
    assert seen == NEAR_ORDER
    assert len(pages) == 4
    assert "prev" not in pages[0]
    coordinates = f"coordinates={OSAKA_STATION}&count=true&geometry=Point&georel=near;maxDistance==100000"
    assert pages[1] == {
        "prev": f"{API}/entities?{coordinates}&limit=2&offset=0&type=TouristSpot",
        "next": f"{API}/entities?{coordinates}&limit=2&offset=4&type=TouristSpot",
    }


async def test_one_entity_is_rendered_normalized_with_its_source_tenant_and_without_withheld_attributes(
        prefectures):
    body = await (await get_entities(prefectures, {"id": spot_id("himeji"), "type": "TouristSpot"})).json()
    assert body == [{"id": spot_id("himeji"), "type": "TouristSpot",
                     "name": {"type": "Property", "value": "himeji"},
                     "category": {"type": "Property", "value": "castle"},
                     "rating": {"type": "Property", "value": 4.8},
                     "location": {"type": "GeoProperty",
                                  "value": {"type": "Point", "coordinates": [134.6939, 34.8394]}},
                     SOURCE: {"type": "Property", "value": "hyogo"}}]


async def test_an_id_held_by_two_tenants_is_returned_once_per_tenant(prefectures):
    response = await get_entities(prefectures, {"id": spot_id("border"), "options": "keyValues"})
    assert await response.json() == [
        {"id": spot_id("border"), "type": "TouristSpot", "name": "border", "category": "park", "rating": rating,
         "location": {"type": "Point", "coordinates": [135.60, 34.90]}, SOURCE: tenant}
        for tenant, rating in (("hyogo", 3.0), ("kyoto", 3.1))]
    assert response.headers["Kyodo-Source-Tenants"] == "hyogo,kyoto"


@pytest.mark.parametrize(("params", "expected"), [
    ({"type": "TouristSpot", "q": 'category=="castle"'}, [("osaka", "castle"), ("hyogo", "himeji")]),
    ({"q": 'category=="temple"'}, [("kyoto", "kinkakuji"), ("kyoto", "kiyomizu")]),
    ({"type": "TouristSpot,Facility", "q": "rating>=4.7"}, [("hyogo", "himeji"), ("kyoto", "kinkakuji")]),
    ({"type": "Facility"}, []),
    ({"type": "Shelter"}, []),
    ({"type": "Unknown"}, []),
    ({"type": "TouristSpot", "orderBy": "rating;desc", "limit": "3"},
     [("hyogo", "himeji"), ("kyoto", "kinkakuji"), ("kyoto", "kiyomizu")]),
    ({"type": "TouristSpot", "orderBy": "category,id", "q": "rating<4"},
     [("osaka", "tokyo-office"), ("hyogo", "border"), ("kyoto", "border"), ("hyogo", "harborland")]),
])
async def test_type_q_and_order_filters_merge_tenants_and_never_reach_unpublished_types(prefectures, params,
                                                                                        expected):
    body = await (await get_entities(prefectures, {**params, "options": "keyValues"})).json()
    if "orderBy" not in params:
        expected = sorted(expected, key=lambda pair: (pair[1], pair[0]))  # (id, tenant) without orderBy
    assert sources(body) == expected


async def test_a_query_without_type_covers_every_open_type_and_is_not_too_wide(prefectures):
    response = await get_entities(prefectures, {"count": "true", "limit": "0"})
    assert response.headers["NGSILD-Results-Count"] == "10"
    assert await response.json() == []
    response = await prefectures.get(f"{API}/entities", headers={"NGSILD-Tenant": "osaka"})
    await problem(response, 400, "BadRequestData")


@pytest.mark.parametrize("params", [
    {"type": "TouristSpot", "q": 'ownerPhone=="06-0000-0000"'},
    {"type": "TouristSpot", "orderBy": "ownerPhone"},
    {"type": "TouristSpot", "attrs": "ownerPhone"},
    {"q": "ownerPhone"},
])
async def test_a_withheld_attribute_can_be_neither_filtered_sorted_nor_asked_for(prefectures, params):
    response = await get_entities(prefectures, params, status=403)
    body = await problem(response, 403, "urn:kyodo:error:NotPublished")
    assert DEFAULT + "ownerPhone" in body["detail"]


async def test_a_dataset_unpublished_disappears_from_results(prefectures):
    await unpublish(prefectures, "kyoto", "TouristSpot")
    body = await (await get_entities(prefectures, {**NEAR, "limit": "20"})).json()
    assert sources(body) == [pair for pair in NEAR_ORDER if pair[0] != "kyoto"]


async def test_a_suspended_tenant_leaves_the_wide_area_until_it_is_active_again(prefectures):
    async def tenants_seen() -> set[str]:
        response = await prefectures.get(f"{API}/entities", params={**NEAR, "limit": "100"}, headers=OPEN)
        assert response.status == 200, await response.text()
        return {entity[SOURCE]["value"] for entity in await response.json()}

    async def set_status(status: str) -> None:
        response = await prefectures.patch("/admin/v1/tenants/kyoto", json={"status": status},
                                           headers={"Content-Type": "application/merge-patch+json"})
        assert response.status == 200, await response.text()

    assert await tenants_seen() == {"osaka", "hyogo", "kyoto"}
    await set_status("suspended")
    assert await tenants_seen() == {"osaka", "hyogo"}
    await set_status("active")
    assert await tenants_seen() == {"osaka", "hyogo", "kyoto"}


async def test_a_query_by_body_and_geojson_output_read_the_wide_area_too(prefectures):
    query = {"type": "Query", "entities": [{"type": "TouristSpot"}], "q": 'category=="castle"',
             "geoQ": {"georel": "near;maxDistance==100000", "geometry": "Point", "coordinates": [135.4959, 34.7025]}}
    response = await prefectures.post(f"{API}/entityOperations/query", json=query, headers=OPEN)
    assert response.status == 200, await response.text()
    assert sources(await response.json()) == [("osaka", "castle"), ("hyogo", "himeji")]
    response = await get_entities(prefectures, {"type": "TouristSpot", "q": 'category=="castle"',
                                                "options": "keyValues"},
                                  headers={"Accept": "application/geo+json"})
    assert await response.json() == {"@context": CORE_CONTEXT, "type": "FeatureCollection", "features": [
        {"id": spot_id(spot), "type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
         "properties": {"type": "TouristSpot", "name": spot, "category": "castle", "rating": rating,
                        "location": {"type": "Point", "coordinates": [lon, lat]}, SOURCE: tenant}}
        for tenant, spot, lon, lat, rating in (("osaka", "castle", 135.5262, 34.6873, 4.5),
                                               ("hyogo", "himeji", 134.6939, 34.8394, 4.8))]}


async def test_a_client_context_can_name_the_source_tenant_with_a_term(prefectures, context_server):
    url = context_server.add("kyodo", {"sourceTenant": SOURCE})
    response = await get_entities(prefectures, {"id": spot_id("castle"), "type": "TouristSpot",
                                                "attrs": "name", "options": "keyValues"}, headers=link(url))
    assert await response.json() == [{"id": spot_id("castle"), "type": "TouristSpot", "name": "castle",
                                      "sourceTenant": "osaka"}]


async def test_the_wide_area_tenant_exists_with_nothing_published(client):
    body = await (await get_entities(client, {"type": "TouristSpot"})).json()
    assert body == []
    response = await client.get(f"{API}/types", headers=OPEN)
    assert response.status == 200
    assert (await response.json())["typeList"] == []


async def test_paging_deeper_than_the_wide_area_window_is_too_many_results(prefectures):
    for entity_type in ("TouristSpot", "Unpublished"):  # the same answer whether anybody publishes the type
        response = await get_entities(prefectures, {"type": entity_type, "offset": "9990", "limit": "20"},
                                      status=403)
        await problem(response, 403, "TooManyResults")


WRITES = [
    ("POST", "/entities", tourist_spot("new", 135.0, 34.0, "park", 1.0)),
    ("DELETE", "/entities?type=TouristSpot", None),
    ("PUT", f"/entities/{spot_id('castle')}", {"type": "TouristSpot"}),
    ("PATCH", f"/entities/{spot_id('castle')}", {"rating": 1}),
    ("DELETE", f"/entities/{spot_id('castle')}", None),
    ("POST", f"/entities/{spot_id('castle')}/attrs", {"rating": 1}),
    ("PATCH", f"/entities/{spot_id('castle')}/attrs", {"rating": 1}),
    ("PATCH", f"/entities/{spot_id('castle')}/attrs/rating", {"value": 1}),
    ("PUT", f"/entities/{spot_id('castle')}/attrs/rating", {"value": 1}),
    ("DELETE", f"/entities/{spot_id('castle')}/attrs/rating", None),
    *[("POST", f"/entityOperations/{operation}", [tourist_spot("new", 135.0, 34.0, "park", 1.0)])
      for operation in ("create", "upsert", "update", "merge")],
    ("POST", "/entityOperations/delete", [spot_id("castle")]),
    ("POST", "/jsonldContexts", {"@context": {"sourceTenant": SOURCE}}),
    ("DELETE", "/jsonldContexts/anything", None),
]


@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=[f"{m} {p}" for m, p, _ in WRITES])
async def test_every_write_to_the_wide_area_tenant_is_403_read_only(prefectures, method, path, body):
    response = await prefectures.request(method, f"{API}{path}", json=body, headers=OPEN)
    problem_body = await problem(response, 403, "urn:kyodo:error:ReadOnlyTenant")
    assert response.headers["NGSILD-Tenant"] == "open"
    assert "read-only wide-area tenant" in problem_body["detail"]
    castle = await prefectures.get(f"{API}/entities/{spot_id('castle')}", headers={"NGSILD-Tenant": "osaka"})
    assert (await castle.json())["rating"]["value"] == 4.5


async def test_an_entity_one_tenant_publishes_openly_is_retrieved_by_id_with_its_source(prefectures):
    url = f"{API}/entities/{spot_id('castle')}"
    response = await prefectures.get(url, params={"options": "keyValues"}, headers=OPEN)
    assert response.status == 200, await response.text()
    assert response.headers["Kyodo-Source-Tenants"] == "osaka"
    assert await response.json() == {"id": spot_id("castle"), "type": "TouristSpot", "name": "castle",
                                     "category": "castle", "rating": 4.5, SOURCE: "osaka",
                                     "location": {"type": "Point", "coordinates": [135.5262, 34.6873]}}
    response = await prefectures.get(url, params={"attrs": "rating"}, headers=OPEN)
    assert await response.json() == {"id": spot_id("castle"), "type": "TouristSpot",
                                     "rating": {"type": "Property", "value": 4.5},
                                     SOURCE: {"type": "Property", "value": "osaka"}}
    response = await prefectures.get(url, headers={**OPEN, "Accept": "application/geo+json"})
    assert response.status == 200
    assert response.headers["Kyodo-Source-Tenants"] == "osaka"
    feature = await response.json()
    assert (feature["type"], feature["geometry"]["coordinates"]) == ("Feature", [135.5262, 34.6873])
    assert feature["properties"][SOURCE]["value"] == "osaka"


@pytest.mark.parametrize(("params", "members"), [
    ({"pick": "rating"}, {"rating", SOURCE}),  # the source tenant is kept whatever pick keeps
    ({"omit": f"{SOURCE},location,name,category"}, {"id", "type", "rating"}),  # only omit drops it
    ({"options": "keyValues", "omit": "rating"}, {"id", "type", "name", "category", "location", SOURCE}),
    ({"options": "concise", "attrs": "rating"}, {"id", "type", "rating", SOURCE}),
    ({"options": "sysAttrs", "attrs": "rating"}, {"id", "type", "rating", SOURCE, "createdAt", "modifiedAt"}),
])
async def test_retrieving_by_id_on_the_wide_area_tenant_takes_the_retrieve_options(prefectures, params, members):
    response = await prefectures.get(f"{API}/entities/{spot_id('castle')}", params=params, headers=OPEN)
    assert response.status == 200, await response.text()
    body = await response.json()
    assert set(body) == members
    assert "ownerPhone" not in body
    if params.get("options") == "concise":
        assert (body["rating"], body[SOURCE]) == (4.5, "osaka")


async def test_retrieving_by_id_on_the_wide_area_tenant_picks_the_language_asked_for(prefectures):
    name = {"type": "LanguageProperty", "languageMap": {"ja": "大阪城", "en": "Osaka Castle"}}
    response = await prefectures.patch(f"{API}/entities/{spot_id('castle')}/attrs", json={"name": name},
                                       headers={"NGSILD-Tenant": "osaka"})
    assert response.status == 204
    response = await prefectures.get(f"{API}/entities/{spot_id('castle')}", params={"lang": "ja", "attrs": "name"},
                                     headers=OPEN)
    assert await response.json() == {"id": spot_id("castle"), "type": "TouristSpot",
                                     "name": {"type": "Property", "value": "大阪城", "lang": "ja"},
                                     SOURCE: {"type": "Property", "value": "osaka"}}


async def test_retrieving_by_id_on_the_wide_area_tenant_never_reaches_beyond_open_datasets(prefectures):
    url = f"{API}/entities/{spot_id('castle')}"
    body = await problem(await prefectures.get(url, params={"attrs": "ownerPhone"}, headers=OPEN), 403,
                         "urn:kyodo:error:NotPublished")
    assert body["detail"] == f"Attribute '{DEFAULT}ownerPhone' is withheld by the publisher"
    for entity_id, params in [("urn:ngsi-ld:Facility:osaka-hq", {}),  # not published
                              ("urn:ngsi-ld:Shelter:kobe-1", {}),  # published to members only
                              (spot_id("castle"), {"type": "Facility"}),  # published, but not of this type
                              ("urn:ngsi-ld:TouristSpot:nowhere", {})]:
        response = await prefectures.get(f"{API}/entities/{entity_id}", params=params, headers=OPEN)
        await problem(response, 404, "ResourceNotFound")


async def test_an_id_that_two_tenants_publish_is_409_ambiguous_on_the_wide_area_tenant(prefectures):
    response = await prefectures.get(f"{API}/entities/{spot_id('border')}", headers=OPEN)
    body = await problem(response, 409, "urn:kyodo:error:AmbiguousEntity")
    assert body["detail"].startswith(f"Entity {spot_id('border')} is published openly by tenants 'hyogo', 'kyoto'")
    await unpublish(prefectures, "kyoto", "TouristSpot")
    response = await prefectures.get(f"{API}/entities/{spot_id('border')}", headers=OPEN)
    assert response.status == 200
    assert response.headers["Kyodo-Source-Tenants"] == "hyogo"


async def test_the_admin_api_refuses_to_provision_the_wide_area_tenant(client):
    response = await client.post("/admin/v1/tenants", json={**OSAKA, "name": "open"})
    body = await problem(response, 400, "BadRequestData")
    assert "wide-area virtual tenant" in body["detail"]
    assert (await client.get("/admin/v1/tenants/open")).status == 404


def test_the_broker_refuses_a_wide_area_tenant_named_like_a_reserved_database():
    with pytest.raises(ValidationError, match="reserved tenant name"):
        Settings(wide_area_tenant="catalog")


async def test_types_and_attributes_are_the_union_of_open_published_types(prefectures):
    client = prefectures
    sorted_expanded = ["category", "name", "rating", "location"]  # location is a core term: its IRI sorts last
    types = await (await client.get(f"{API}/types", headers=OPEN)).json()
    assert types["typeList"] == ["TouristSpot"]
    details = await (await client.get(f"{API}/types", params={"details": "true"}, headers=OPEN)).json()
    assert details == [{"id": DEFAULT + "TouristSpot", "type": "EntityType", "typeName": "TouristSpot",
                        "attributeNames": sorted_expanded}]
    info = await (await client.get(f"{API}/types/TouristSpot", headers=OPEN)).json()
    assert info["entityCount"] == 10
    assert [row["attributeName"] for row in info["attributeDetails"]] == sorted_expanded
    assert (await client.get(f"{API}/types/Facility", headers=OPEN)).status == 404
    attributes = await (await client.get(f"{API}/attributes", headers=OPEN)).json()
    assert attributes["attributeList"] == sorted_expanded
    rating = await (await client.get(f"{API}/attributes/rating", headers=OPEN)).json()
    assert rating == {"id": DEFAULT + "rating", "type": "Attribute", "attributeName": "rating", "attributeCount": 10,
                      "attributeTypes": ["Property"], "typeNames": ["TouristSpot"]}
    for hidden in ("ownerPhone", "budget", "capacity"):
        assert (await client.get(f"{API}/attributes/{hidden}", headers=OPEN)).status == 404
    await publish(client, "hyogo", "Facility")
    details = await (await client.get(f"{API}/attributes", params={"details": "true"}, headers=OPEN)).json()
    assert [(row["attributeName"], row["typeNames"]) for row in details] == [
        ("budget", ["Facility"]), ("category", ["TouristSpot"]), ("name", ["TouristSpot"]),
        ("rating", ["TouristSpot"]), ("location", ["Facility", "TouristSpot"])]
    facility = await (await client.get(f"{API}/types/Facility", headers=OPEN)).json()
    assert facility["entityCount"] == 1


async def test_a_wide_area_subscription_is_notified_of_open_changes_in_any_tenant(prefectures, receiver):
    client = prefectures
    subscription = {"id": "urn:ngsi-ld:Subscription:wide", "type": "Subscription",
                    "entities": [{"type": "TouristSpot"}, {"type": "Facility"}],
                    "notification": {"endpoint": {"uri": receiver.url()}, "format": "keyValues"}}
    response = await client.post(f"{API}/subscriptions", json=subscription, headers=OPEN)
    assert response.status == 201, await response.text()
    listed = await (await client.get(f"{API}/subscriptions", headers=OPEN)).json()
    assert [item["id"] for item in listed] == ["urn:ngsi-ld:Subscription:wide"]
    assert await client.app[SERVICES].tenants.lookup("open") is None
    in_osaka = {"NGSILD-Tenant": "osaka"}
    response = await client.patch(f"{API}/entities/{spot_id('castle')}/attrs",
                                  json={"ownerPhone": {"type": "Property", "value": "06-1111-1111"}},
                                  headers=in_osaka)
    assert response.status == 204
    response = await client.patch(f"{API}/entities/urn:ngsi-ld:Facility:osaka-hq/attrs",
                                  json={"budget": {"type": "Property", "value": 5}}, headers=in_osaka)
    assert response.status == 204
    response = await client.patch(f"{API}/entities/{spot_id('castle')}/attrs",
                                  json={"rating": {"type": "Property", "value": 4.9}}, headers=in_osaka)
    assert response.status == 204
    [(headers, body)] = await receiver.wait_for(1)
    assert headers["NGSILD-Tenant"] == "open"
    assert headers["Kyodo-Source-Tenants"] == "osaka"
    assert body["subscriptionId"] == "urn:ngsi-ld:Subscription:wide"
    assert body["data"] == [{"id": spot_id("castle"), "type": "TouristSpot", "name": "castle",
                             "category": "castle", "rating": 4.9,
                             "location": {"type": "Point", "coordinates": [135.5262, 34.6873]}, SOURCE: "osaka"}]
    assert len(receiver.received) == 1  # the withheld ownerPhone and the unpublished Facility sent nothing


async def test_the_wide_area_tenant_holds_at_most_its_configured_subscriptions(make_client, receiver):
    client = await make_client(wide_area_max_subscriptions=2)
    subscription = {"type": "Subscription", "entities": [{"type": "TouristSpot"}],
                    "notification": {"endpoint": {"uri": receiver.url()}}}
    for _ in range(2):
        assert (await client.post(f"{API}/subscriptions", json=subscription, headers=OPEN)).status == 201
    response = await client.post(f"{API}/subscriptions", json=subscription, headers=OPEN)
    assert response.status == 403
    assert await response.json() == {
        "type": "urn:kyodo:error:QuotaExceeded", "title": "Quota exceeded", "quota": "maxSubscriptions", "limit": 2,
        "detail": "Tenant 'open' holds 2 subscriptions; its quota maxSubscriptions allows at most 2"}
    assert len(await (await client.get(f"{API}/subscriptions", headers=OPEN)).json()) == 2


async def test_wide_area_requests_beyond_the_configured_rate_are_429(make_client):
    client = await make_client(wide_area_max_requests_per_minute=2, rate_limit_window_s=60.0)
    clock = Clock()
    client.server.app[SERVICES].admission.limiter.clock = clock
    query = {"type": "TouristSpot"}
    for _ in range(2):
        assert (await client.get(f"{API}/entities", params=query, headers=OPEN)).status == 200
    clock.now += 20
    response = await client.get(f"{API}/entities", params=query, headers=OPEN)
    assert (response.status, response.headers["Retry-After"]) == (429, "40")
    assert await response.json() == {
        "type": "urn:kyodo:error:TooManyRequests", "title": "Too many requests", "quota": "maxRequestsPerMinute",
        "limit": 2, "detail": "Tenant 'open' has made 2 requests to this broker process in the current 60 s "
                              "window, the most it may make here (quota maxRequestsPerMinute: 2); retry after 40 s"}
    assert (await client.get(f"{API}/entities", params=query)).status == 200  # other tenants: their own windows
    clock.now += 40
    assert (await client.get(f"{API}/entities", params=query, headers=OPEN)).status == 200  # the next window


def test_the_wide_area_quotas_must_be_positive():
    for name in ("wide_area_max_subscriptions", "wide_area_max_requests_per_minute"):
        with pytest.raises(ValidationError, match=name):
            Settings(**{name: 0})


async def test_a_wide_area_notification_keeps_the_source_tenant_whatever_attributes_it_names(prefectures, receiver):
    subscription = {"type": "Subscription", "entities": [{"type": "TouristSpot"}],
                    "notification": {"endpoint": {"uri": receiver.url()}, "format": "keyValues",
                                     "attributes": ["rating"]}}
    assert (await prefectures.post(f"{API}/subscriptions", json=subscription, headers=OPEN)).status == 201
    response = await prefectures.patch(f"{API}/entities/{spot_id('kinkakuji')}/attrs",
                                       json={"rating": {"type": "Property", "value": 4.1}},
                                       headers={"NGSILD-Tenant": "kyoto"})
    assert response.status == 204
    [(_, body)] = await receiver.wait_for(1)
    assert body["data"] == [{"id": spot_id("kinkakuji"), "type": "TouristSpot", "rating": 4.1, SOURCE: "kyoto"}]


async def test_a_periodic_subscription_on_the_wide_area_tenant_is_refused(client, receiver):
    subscription = {"type": "Subscription", "entities": [{"type": "TouristSpot"}], "timeInterval": 60,
                    "notification": {"endpoint": {"uri": receiver.url()}}}
    response = await client.post(f"{API}/subscriptions", json=subscription, headers=OPEN)
    await problem(response, 422, "OperationNotSupported")
