"""The README's "Sharing across prefectures" flow with access control on: three prefectures publish
through the catalog API, an anonymous user finds the datasets (CKAN) and runs one wide-area geo-query."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import API
from tests.integration.test_catalog import ACTION, ADMIN, DATASETS, bearer, dataset, problem
from tests.integration.test_wide_area import NEAR, NEAR_ORDER, SOURCE, SPOTS, spot_id, tourist_spot
from tests.tokens import AUDIENCE, ISSUER, public_pem

OPEN = {"NGSILD-Tenant": "open"}
PREFECTURES = {"osaka": ("大阪府", 8_763_000), "hyogo": ("兵庫県", 5_402_000), "kyoto": ("京都府", 2_550_000)}


def owner(tenant: str) -> dict[str, str]:
    return bearer("ngsi-ld:read ngsi-ld:write catalog:publish", [tenant], **{"NGSILD-Tenant": tenant})


@pytest.fixture
async def platform(make_client: Any) -> Any:
    """Three provisioned prefectures, each with its tourist spots published as an open dataset
    (ownerPhone withheld) and one unpublished Secret entity."""
    client = await make_client(auth="jwt", jwt_public_key=public_pem("rsa-1").decode(), jwt_issuer=ISSUER,
                               jwt_audience=AUDIENCE)
    for name, (title, population) in PREFECTURES.items():
        response = await client.post("/admin/v1/tenants", headers=ADMIN, json={
            "name": name, "displayName": title, "kind": "prefecture", "population": population,
            "contact": {"name": "デジタル推進課", "email": f"digital@{name}.example"}})
        assert response.status == 201, await response.text()
    for tenant, spot, lon, lat, category, rating in SPOTS:
        response = await client.post(f"{API}/entities", json=tourist_spot(spot, lon, lat, category, rating),
                                     headers=owner(tenant))
        assert response.status == 201, await response.text()
    for tenant in PREFECTURES:
        secret = {"id": f"urn:ngsi-ld:Secret:{tenant}", "type": "Secret", "code": {"type": "Property", "value": 1}}
        assert (await client.post(f"{API}/entities", json=secret, headers=owner(tenant))).status == 201
        body = dataset(f"{tenant}-tourism-spots", publisher=PREFECTURES[tenant][0],
                       title={"ja": f"{PREFECTURES[tenant][0]} 観光スポット"}, spatial={"name": PREFECTURES[tenant][0]})
        response = await client.post(DATASETS, json=body, headers=owner(tenant))
        assert response.status == 201, await response.text()
    return client


async def test_an_anonymous_user_finds_the_datasets_and_pages_one_wide_area_geo_query(platform):
    search = await (await platform.get(f"{ACTION}/package_search", params={"fq": "tags:観光", "rows": "10"})).json()
    assert search["success"] is True
    assert sorted(package["organization"]["name"] for package in search["result"]["results"]) == sorted(PREFECTURES)

    seen: list[tuple[str, str]] = []
    params: dict[str, str] | None = {**NEAR, "limit": "3", "count": "true"}
    url = f"{API}/entities"
    while params is not None:
        response = await platform.get(url, params=params, headers=OPEN)  # no Authorization header at all
        assert response.status == 200, await response.text()
        assert response.headers["NGSILD-Results-Count"] == str(len(NEAR_ORDER))
        page = await response.json()
        assert all("ownerPhone" not in entity for entity in page)
        seen += [(entity[SOURCE]["value"], entity["id"]) for entity in page]
        page_tenants = {entity[SOURCE]["value"] for entity in page}
        assert response.headers["Kyodo-Source-Tenants"].split(",") == sorted(page_tenants)
        next_link = response.links.get("next")
        url, params = (next_link["url"].path_qs, {}) if next_link else (url, None)
    assert seen == [(tenant, spot_id(spot)) for tenant, spot in NEAR_ORDER]


async def test_an_entity_found_by_a_wide_area_query_is_retrieved_by_id_without_a_token(platform):
    response = await platform.get(f"{API}/entities/{spot_id('castle')}", headers=OPEN)
    assert response.status == 200, await response.text()
    entity = await response.json()
    assert entity[SOURCE]["value"] == "osaka" and "ownerPhone" not in entity
    secret = await platform.get(f"{API}/entities/urn:ngsi-ld:Secret:osaka", headers=OPEN)
    assert secret.status == 404


async def test_a_wide_area_query_by_body_needs_no_token_either(platform):
    body = {"type": "Query", "entities": [{"type": "TouristSpot"}], "geoQ": {
        "georel": "near;maxDistance==100000", "geometry": "Point", "coordinates": [135.4959, 34.7025]}}
    response = await platform.post(f"{API}/entityOperations/query", json=body, params={"limit": "100"},
                                   headers=OPEN)
    assert response.status == 200, await response.text()
    page = await response.json()
    assert [(entity[SOURCE]["value"], entity["id"]) for entity in page] == [
        (tenant, spot_id(spot)) for tenant, spot in NEAR_ORDER]


async def test_unpublished_types_stay_behind_a_token_everywhere(platform):
    hidden = await platform.get(f"{API}/entities", params={"type": "Secret"}, headers=OPEN)
    assert hidden.status == 200 and await hidden.json() == []  # no tenant publishes it openly
    direct = await platform.get(f"{API}/entities", params={"type": "Secret"}, headers={"NGSILD-Tenant": "kyoto"})
    await problem(direct, 401, "urn:kyodo:error:Unauthorized")
    filtered = await platform.get(f"{API}/entities", params={"type": "TouristSpot", "q": "ownerPhone==\"x\""},
                                  headers=OPEN)
    await problem(filtered, 403, "urn:kyodo:error:NotPublished")


async def test_the_wide_area_tenant_is_read_only_even_for_a_token_of_every_tenant(platform):
    anyone = await platform.post(f"{API}/entities", json=tourist_spot("x", 135, 35, "park", 1), headers=OPEN)
    await problem(anyone, 401, "urn:kyodo:error:Unauthorized")
    everything = bearer("ngsi-ld:read ngsi-ld:write", "*", **OPEN)
    refused = await platform.post(f"{API}/entities", json=tourist_spot("x", 135, 35, "park", 1), headers=everything)
    await problem(refused, 403, "urn:kyodo:error:ReadOnlyTenant")


async def test_an_unpublished_dataset_leaves_the_wide_area_at_once(platform):
    response = await platform.delete(f"{DATASETS}/kyoto-tourism-spots", headers=owner("kyoto"))
    assert response.status == 204, await response.text()
    page = await (await platform.get(f"{API}/entities", params={**NEAR, "limit": "100"}, headers=OPEN)).json()
    assert {entity[SOURCE]["value"] for entity in page} == {"osaka", "hyogo"}


async def reads(client: Any) -> dict[str, int]:
    response = await client.get("/admin/v1/usage", headers=ADMIN)
    assert response.status == 200, await response.text()
    return {row["tenant"]: row["total"]["readRequests"] for row in (await response.json())["tenants"]}


async def test_published_reads_count_for_the_publisher_and_wide_area_reads_for_the_platform(platform):
    before = await reads(platform)
    kyoto = {"NGSILD-Tenant": "kyoto"}
    assert (await platform.get(f"{API}/entities", params={"type": "TouristSpot"}, headers=kyoto)).status == 200
    assert (await platform.get(f"{API}/entities", params={"type": "Secret"}, headers=kyoto)).status == 401
    assert (await platform.get(f"{API}/entities", params={"type": "TouristSpot"}, headers=OPEN)).status == 200
    after = await reads(platform)
    assert after["kyoto"] - before["kyoto"] == 1  # the refused read of an unpublished type is not counted
    assert after["default"] - before["default"] == 1
    assert after["osaka"] == before["osaka"] and after["hyogo"] == before["hyogo"]


async def test_others_reads_of_published_data_are_rate_limited_apart_from_the_tenants_own_requests(make_client):
    client = await make_client(auth="jwt", jwt_public_key=public_pem("rsa-1").decode(), jwt_issuer=ISSUER,
                               jwt_audience=AUDIENCE, tenant_cache_ttl_s=0, rate_limit_window_s=60.0)
    response = await client.post("/admin/v1/tenants", headers=ADMIN, json={
        "name": "osaka", "displayName": "大阪府", "kind": "prefecture", "population": 8_763_000,
        "contact": {"name": "デジタル推進課", "email": "digital@osaka.example"}})
    assert response.status == 201, await response.text()
    castle = SPOTS[0]
    assert (await client.post(f"{API}/entities", json=tourist_spot(*castle[1:]), headers=owner("osaka"))).status == 201
    assert (await client.post(DATASETS, json=dataset("osaka-tourism-spots"), headers=owner("osaka"))).status == 201
    response = await client.patch("/admin/v1/tenants/osaka", headers=ADMIN,
                                  json={"quotas": {"maxRequestsPerMinute": 2}})
    assert response.status == 200, await response.text()

    query = {"type": "TouristSpot"}
    anonymous = {"NGSILD-Tenant": "osaka"}
    other_member = {**bearer("ngsi-ld:read", ["hyogo"]), "NGSILD-Tenant": "osaka"}
    assert (await client.get(f"{API}/entities", params=query, headers=anonymous)).status == 200
    assert (await client.get(f"{API}/entities", params=query, headers=other_member)).status == 200
    response = await client.get(f"{API}/entities", params=query, headers=anonymous)
    assert response.status == 429
    body = await response.json()
    assert (body["quota"], body["limit"]) == ("maxRequestsPerMinute", 2)
    assert body["detail"].startswith("Reads of the data published by tenant 'osaka', by others than the tenant, "
                                     "have reached 2 on this broker process")
    assert (await client.get(f"{API}/entities", params=query, headers=other_member)).status == 429

    for _ in range(2):  # the tenant's own window is untouched by the readers
        assert (await client.get(f"{API}/entities", params=query, headers=owner("osaka"))).status == 200
    response = await client.get(f"{API}/entities", params=query, headers=owner("osaka"))
    assert response.status == 429
    assert (await response.json())["detail"].startswith("Tenant 'osaka' has made 2 requests")
