"""The shared catalog over HTTP with KYODO_AUTH=jwt: publish/unpublish, who reads what, DCAT-AP and CKAN (issue 7)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pyld import jsonld

from tenants.vocabularies import LICENSES
from tests.conftest import API, link
from tests.tokens import AUDIENCE, ISSUER, public_pem, token

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
D = "https://uri.etsi.org/ngsi-ld/default-context/"
SPOT, SHELTER, SECRET, PARKING = D + "TouristSpot", D + "Shelter", D + "Secret", D + "ParkingLot"
DATASETS = "/catalog/v1/datasets"
ACTION = "/catalog/api/3/action"
OSAKA, HYOGO = {"NGSILD-Tenant": "osaka"}, {"NGSILD-Tenant": "hyogo"}


def bearer(scope: str, tenants: Any, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(scope=scope, tenants=tenants)}", **headers}


ADMIN = bearer("admin", [])
OSAKA_OWNER = bearer("ngsi-ld:read ngsi-ld:write catalog:publish", ["osaka"], **OSAKA)
HYOGO_OWNER = bearer("ngsi-ld:read ngsi-ld:write catalog:publish", ["hyogo"], **HYOGO)
HYOGO_MEMBER_ON_OSAKA = bearer("ngsi-ld:read", ["hyogo"], **OSAKA)


def spot(number: int, rating: float) -> dict[str, Any]:
    return {"id": f"urn:ngsi-ld:TouristSpot:osaka-{number}", "type": "TouristSpot",
            "name": {"type": "Property", "value": f"spot {number}"},
            "rating": {"type": "Property", "value": rating},
            "ownerPhone": {"type": "Property", "value": "06-0000-0000"},
            "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [135.5, 34.7]}}}


def dataset(name: str = "osaka-tourism-spots", **members: Any) -> dict[str, Any]:
    body = {"name": name, "entityType": "TouristSpot", "visibility": "open", "excludedAttributes": ["ownerPhone"],
            "title": {"ja": "大阪府 観光スポット", "en": "Osaka tourist spots"},
            "description": {"ja": "府内の観光スポット", "en": "Tourist spots in Osaka Prefecture"},
            "keywords": ["観光", "tourism"], "license": "CC-BY-4.0", "publisher": "大阪府",
            "contact": {"name": "観光課", "email": "kanko@pref.osaka.example"}, "updateFrequency": "daily",
            "spatial": {"name": "大阪府", "bbox": [135.09, 34.27, 135.75, 35.05]}}
    body.update(members)
    return {key: value for key, value in body.items() if value is not None}


@pytest.fixture
async def broker(make_client: Any) -> Any:
    """A jwt broker with tenants osaka (3 types) and hyogo (1 type), nothing published yet."""
    client = await make_client(auth="jwt", jwt_public_key=public_pem("rsa-1").decode(), jwt_issuer=ISSUER,
                               jwt_audience=AUDIENCE)
    for name, title in (("osaka", "大阪府"), ("hyogo", "兵庫県")):
        response = await client.post("/admin/v1/tenants", headers=ADMIN, json={
            "name": name, "displayName": title, "kind": "prefecture", "population": 1000,
            "contact": {"name": "デジタル推進課", "email": f"digital@{name}.example"}})
        assert response.status == 201, await response.text()
    entities = [spot(1, 4.5), spot(2, 3.0),
                {"id": "urn:ngsi-ld:Shelter:osaka-1", "type": "Shelter",
                 "capacity": {"type": "Property", "value": 300}},
                {"id": "urn:ngsi-ld:Secret:osaka-1", "type": "Secret", "code": {"type": "Property", "value": "x"}}]
    for entity in entities:
        assert (await client.post(f"{API}/entities", json=entity, headers=OSAKA_OWNER)).status == 201
    parking = {"id": "urn:ngsi-ld:ParkingLot:kobe-1", "type": "ParkingLot", "free": {"type": "Property", "value": 5}}
    assert (await client.post(f"{API}/entities", json=parking, headers=HYOGO_OWNER)).status == 201
    return client


async def publish(client: Any, body: dict[str, Any], headers: dict[str, str] = OSAKA_OWNER) -> Any:
    return await client.post(DATASETS, json=body, headers=headers)


async def publish_three(client: Any) -> None:
    """osaka TouristSpot (open), osaka Shelter (members), hyogo ParkingLot (open)."""
    assert (await publish(client, dataset())).status == 201
    shelters = dataset("osaka-shelters", entityType="Shelter", visibility="members", excludedAttributes=[],
                       title={"ja": "避難所"}, description=None, keywords=["防災"], license="PDL-1.0",
                       updateFrequency="monthly", spatial=None)
    assert (await publish(client, shelters)).status == 201
    parking = dataset("hyogo-parking", entityType="ParkingLot", excludedAttributes=[], title={"en": "Kobe parking"},
                      description={"en": "Free parking places"}, keywords=["parking", "交通"], license="CC0-1.0",
                      publisher=None, contact=None, updateFrequency=None, spatial={"name": "兵庫県"})
    assert (await publish(client, parking, HYOGO_OWNER)).status == 201


async def problem(response: Any, status: int, type_: str) -> dict[str, Any]:
    assert response.status == status, await response.text()
    body = await response.json()
    assert body["type"] == type_, body
    return body


def schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / name).read_text())


def check_ckan(body: dict[str, Any], definition: str) -> None:
    document = schema("ckan-action.schema.json")
    jsonschema.validate(body, {**document, "$ref": f"#/$defs/{definition}"},
                        format_checker=jsonschema.FormatChecker())


# --- publishing ---------------------------------------------------------------------------------

async def test_publish_answers_201_with_location_and_the_dataset_with_expanded_names(broker):
    response = await publish(broker, dataset())
    assert response.status == 201, await response.text()
    assert response.headers["Location"] == f"{DATASETS}/osaka-tourism-spots"
    body = await response.json()
    assert {key: body[key] for key in ("name", "tenant", "entityType", "visibility", "excludedAttributes",
                                       "license", "updateFrequency")} == {
        "name": "osaka-tourism-spots", "tenant": "osaka", "entityType": SPOT, "visibility": "open",
        "excludedAttributes": [D + "ownerPhone"], "license": "CC-BY-4.0", "updateFrequency": "daily"}
    shown = await broker.get(f"{DATASETS}/osaka-tourism-spots")
    assert await shown.json() == body


async def test_entity_type_and_attributes_expand_with_the_link_context(broker, context_server):
    url = context_server.add("tourism", {"Spot": SPOT, "phone": "https://example.jp/ns/phone"})
    response = await broker.post(DATASETS, json=dataset(entityType="Spot", excludedAttributes=["phone"]),
                                 headers={**OSAKA_OWNER, **link(url)})
    assert response.status == 201, await response.text()
    body = await response.json()
    assert (body["entityType"], body["excludedAttributes"]) == (SPOT, ["https://example.jp/ns/phone"])


@pytest.mark.parametrize(("change", "member"), [
    ({"title": None}, "title: Field required"),
    ({"title": {}}, "title: give the text in at least one of 'ja' and 'en'"),
    ({"license": "MIT"}, "license: unknown license 'MIT'"),
    ({"license": None}, "license: Field required"),
    ({"name": "Osaka Spots"}, "name: must be 2 to 100 characters"),
    ({"name": "x"}, "name: must be 2 to 100 characters"),
    ({"updateFrequency": "sometimes"}, "updateFrequency: unknown update frequency 'sometimes'"),
    ({"visibility": "secret"}, "visibility: Input should be 'open' or 'members'"),
    ({"spatial": {"bbox": [135.7, 34.2, 135.0, 35.0]}}, "west ≤ east"),
    ({"spatial": {"bbox": [135.0, 34.2, 200.0, 35.0]}}, "within ±180"),
    ({"spatial": {"bbox": [1, 2, 3]}}, "got 3 numbers"),
    ({"contact": {"name": "x", "email": "nobody"}}, "contact.email: must be an e-mail address"),
    ({"colour": "red"}, "colour: Extra inputs are not permitted"),
])
async def test_invalid_datasets_are_400_naming_the_member(broker, change, member):
    body = await problem(await publish(broker, dataset(**change)), 400,
                         "https://uri.etsi.org/ngsi-ld/errors/BadRequestData")
    assert member in body["detail"]


async def test_a_taken_name_or_an_already_published_type_is_409(broker):
    assert (await publish(broker, dataset())).status == 201
    same_name = await problem(await publish(broker, dataset(entityType="Shelter")), 409,
                              "https://uri.etsi.org/ngsi-ld/errors/AlreadyExists")
    assert "named 'osaka-tourism-spots' already exists" in same_name["detail"]
    same_type = await problem(await publish(broker, dataset("osaka-spots-2")), 409,
                              "https://uri.etsi.org/ngsi-ld/errors/AlreadyExists")
    assert same_type["detail"].startswith(f"Tenant 'osaka' already publishes entity type '{SPOT}'")
    taken_elsewhere = await publish(broker, dataset(entityType="ParkingLot"), HYOGO_OWNER)
    assert taken_elsewhere.status == 409


async def test_a_type_the_tenant_holds_no_entity_of_is_400(broker):
    body = await problem(await publish(broker, dataset(entityType="ParkingLot")), 400,
                         "https://uri.etsi.org/ngsi-ld/errors/BadRequestData")
    assert body["detail"] == (f"Tenant 'osaka' holds no entity of type '{PARKING}': a tenant publishes only entity "
                              "types it holds (create its entities first)")


async def test_naming_another_tenant_in_the_body_is_403_and_a_token_of_another_tenant_too(broker):
    body = await problem(await publish(broker, dataset(tenant="hyogo")), 403, "urn:kyodo:error:Forbidden")
    assert "names tenant 'hyogo'" in body["detail"]
    other = bearer("catalog:publish", ["hyogo"], **OSAKA)
    await problem(await publish(broker, dataset(), other), 403, "urn:kyodo:error:Forbidden")
    no_scope = bearer("ngsi-ld:read ngsi-ld:write", ["osaka"], **OSAKA)
    await problem(await publish(broker, dataset(), no_scope), 403, "urn:kyodo:error:Forbidden")
    await problem(await broker.post(DATASETS, json=dataset(), headers=OSAKA), 401, "urn:kyodo:error:Unauthorized")


async def test_the_default_tenant_cannot_publish(broker):
    everywhere = bearer("catalog:publish", "*")
    body = await problem(await publish(broker, dataset(), everywhere), 400,
                         "https://uri.etsi.org/ngsi-ld/errors/BadRequestData")
    assert body["detail"].startswith("The default tenant cannot publish")


async def test_patch_merges_members_and_keeps_the_identity(broker):
    assert (await publish(broker, dataset())).status == 201
    response = await broker.patch(f"{DATASETS}/osaka-tourism-spots", headers=OSAKA_OWNER, json={
        "title": {"en": None}, "keywords": ["観光"], "contact": None, "visibility": "members"})
    assert response.status == 200, await response.text()
    body = await response.json()
    assert (body["title"], body["keywords"], body["contact"], body["visibility"]) == (
        {"ja": "大阪府 観光スポット"}, ["観光"], None, "members")
    assert body["modified"] >= body["issued"]
    await problem(await broker.patch(f"{DATASETS}/osaka-tourism-spots", headers=OSAKA_OWNER,
                                     json={"title": {"ja": None}}), 400,
                  "https://uri.etsi.org/ngsi-ld/errors/BadRequestData")
    fixed = await problem(await broker.patch(f"{DATASETS}/osaka-tourism-spots", headers=OSAKA_OWNER,
                                             json={"entityType": "Shelter"}), 400,
                          "https://uri.etsi.org/ngsi-ld/errors/BadRequestData")
    assert fixed["detail"].startswith("'entityType' cannot be changed")
    # the identity repeated as it was published (short type name, tenant in another case) is no change
    same = await broker.patch(f"{DATASETS}/osaka-tourism-spots", headers=OSAKA_OWNER, json={
        "name": "osaka-tourism-spots", "entityType": "TouristSpot", "tenant": "Osaka", "keywords": ["tourism"]})
    assert same.status == 200, await same.text()
    assert (await same.json())["keywords"] == ["tourism"]


async def test_only_the_datasets_tenant_changes_or_unpublishes_it(broker):
    await publish_three(broker)
    hyogo_on_osaka = bearer("catalog:publish", ["hyogo"], **HYOGO)
    for call in (broker.patch(f"{DATASETS}/osaka-tourism-spots", headers=hyogo_on_osaka, json={"keywords": []}),
                 broker.delete(f"{DATASETS}/osaka-tourism-spots", headers=hyogo_on_osaka)):
        body = await problem(await call, 403, "urn:kyodo:error:Forbidden")
        assert body["detail"].startswith("Dataset 'osaka-tourism-spots' belongs to tenant 'osaka'")
    missing = await broker.delete(f"{DATASETS}/nothing-here", headers=OSAKA_OWNER)
    assert missing.status == 404


# --- reading the catalog ------------------------------------------------------------------------

async def test_anonymous_readers_see_open_datasets_and_members_see_members_ones_too(broker):
    await publish_three(broker)
    anonymous = await broker.get(DATASETS)
    assert [d["name"] for d in await anonymous.json()] == ["hyogo-parking", "osaka-tourism-spots"]
    assert anonymous.headers["X-Total-Count"] == "2"
    member = await broker.get(DATASETS, headers=bearer("ngsi-ld:read", ["kyoto"]))
    assert [d["name"] for d in await member.json()] == ["hyogo-parking", "osaka-shelters", "osaka-tourism-spots"]
    assert (await broker.get(f"{DATASETS}/osaka-shelters")).status == 404
    assert (await broker.get(f"{DATASETS}/osaka-shelters", headers=HYOGO_MEMBER_ON_OSAKA)).status == 200
    by_tenant = await broker.get(DATASETS, params={"tenant": "hyogo", "limit": "5"})
    assert [d["name"] for d in await by_tenant.json()] == ["hyogo-parking"]


async def test_an_invalid_token_on_the_public_catalog_is_401_not_anonymous(broker):
    response = await broker.get(DATASETS, headers={"Authorization": "Bearer not-a-jwt"})
    await problem(response, 401, "urn:kyodo:error:Unauthorized")
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="kyodo", error="invalid_token"')


# --- reading published data ---------------------------------------------------------------------

async def test_anonymous_query_of_a_published_type_answers_without_withheld_attributes(broker):
    await publish_three(broker)
    response = await broker.get(f"{API}/entities", params={"type": "TouristSpot", "options": "keyValues"},
                                headers=OSAKA)
    assert response.status == 200, await response.text()
    assert sorted((e["id"], sorted(e)) for e in await response.json()) == [
        (f"urn:ngsi-ld:TouristSpot:osaka-{n}", ["id", "location", "name", "rating", "type"]) for n in (1, 2)]
    filtered = await broker.get(f"{API}/entities", params={"type": "TouristSpot", "q": "rating>4"}, headers=OSAKA)
    assert [e["id"] for e in await filtered.json()] == ["urn:ngsi-ld:TouristSpot:osaka-1"]
    everything = await broker.get(f"{API}/entities", params={"attrs": "name,capacity,code", "options": "keyValues"},
                                  headers=OSAKA)
    assert {e["type"] for e in await everything.json()} == {"TouristSpot"}  # no type: the published ones only
    owner = await broker.get(f"{API}/entities", params={"type": "TouristSpot", "options": "keyValues"},
                             headers=OSAKA_OWNER)
    assert all("ownerPhone" in e for e in await owner.json())


async def test_query_by_body_reads_published_types_like_get(broker):
    await publish_three(broker)
    query = f"{API}/entityOperations/query"
    response = await broker.post(query, json={"type": "Query", "entities": [{"type": "TouristSpot"}]},
                                 params={"options": "keyValues"}, headers=OSAKA)
    assert response.status == 200, await response.text()
    assert sorted((e["id"], sorted(e)) for e in await response.json()) == [
        (f"urn:ngsi-ld:TouristSpot:osaka-{n}", ["id", "location", "name", "rating", "type"]) for n in (1, 2)]
    secret = await broker.post(query, json={"type": "Query", "entities": [{"type": "Secret"}]}, headers=OSAKA)
    await problem(secret, 401, "urn:kyodo:error:Unauthorized")
    withheld = await broker.post(query, json={"type": "Query", "entities": [{"type": "TouristSpot"}],
                                              "q": "ownerPhone==\"x\""}, headers=OSAKA)
    await problem(withheld, 403, "urn:kyodo:error:NotPublished")
    as_member = await broker.post(query, json={"type": "Query", "entities": [{"type": "Secret"}]},
                                  headers=HYOGO_MEMBER_ON_OSAKA)
    await problem(as_member, 403, "urn:kyodo:error:Forbidden")


async def test_filtering_on_a_withheld_attribute_is_403(broker):
    await publish_three(broker)
    for params in ({"type": "TouristSpot", "q": 'ownerPhone=="06-0000-0000"'},
                   {"type": "TouristSpot", "attrs": "ownerPhone"}):
        body = await problem(await broker.get(f"{API}/entities", params=params, headers=OSAKA), 403,
                             "urn:kyodo:error:NotPublished")
        assert body["detail"] == f"Attribute '{D}ownerPhone' is withheld by the publisher"
    single = await broker.get(f"{API}/entities/urn:ngsi-ld:TouristSpot:osaka-1", params={"attrs": "ownerPhone"},
                              headers=OSAKA)
    await problem(single, 403, "urn:kyodo:error:NotPublished")


async def test_unpublished_types_are_401_anonymous_and_403_for_another_tenants_member(broker):
    await publish_three(broker)
    anonymous = await broker.get(f"{API}/entities", params={"type": "Secret"}, headers=OSAKA)
    body = await problem(anonymous, 401, "urn:kyodo:error:Unauthorized")
    assert anonymous.headers["WWW-Authenticate"] == 'Bearer realm="kyodo"'
    assert body["detail"].startswith(f"Entity type '{SECRET}' is not published for this reader")
    members_only = await broker.get(f"{API}/entities", params={"type": "Shelter"}, headers=OSAKA)
    await problem(members_only, 401, "urn:kyodo:error:Unauthorized")
    member = await broker.get(f"{API}/entities", params={"type": "Secret"}, headers=HYOGO_MEMBER_ON_OSAKA)
    body = await problem(member, 403, "urn:kyodo:error:Forbidden")
    assert body["detail"].endswith("The token does not grant access to tenant 'osaka'")
    member_reads = await broker.get(f"{API}/entities", params={"type": "Shelter"}, headers=HYOGO_MEMBER_ON_OSAKA)
    assert [e["id"] for e in await member_reads.json()] == ["urn:ngsi-ld:Shelter:osaka-1"]


async def test_retrieve_answers_published_entities_and_never_reveals_unpublished_ones(broker):
    await publish_three(broker)
    spot_1 = await broker.get(f"{API}/entities/urn:ngsi-ld:TouristSpot:osaka-1", headers=OSAKA,
                              params={"options": "keyValues"})
    assert spot_1.status == 200, await spot_1.text()
    assert sorted(await spot_1.json()) == ["id", "location", "name", "rating", "type"]
    secret = await broker.get(f"{API}/entities/urn:ngsi-ld:Secret:osaka-1", headers=OSAKA)
    missing = await broker.get(f"{API}/entities/urn:ngsi-ld:Secret:osaka-404", headers=OSAKA)
    assert (secret.status, missing.status) == (401, 401)
    assert (await secret.json())["detail"].replace("Secret:osaka-1", "X") == \
        (await missing.json())["detail"].replace("Secret:osaka-404", "X")
    other = await broker.get(f"{API}/entities/urn:ngsi-ld:Secret:osaka-1", headers=HYOGO_MEMBER_ON_OSAKA)
    await problem(other, 403, "urn:kyodo:error:Forbidden")


async def test_writes_and_other_reads_still_need_the_tenants_token(broker):
    await publish_three(broker)
    write = await broker.post(f"{API}/entities", json=spot(9, 1.0), headers=OSAKA)
    await problem(write, 401, "urn:kyodo:error:Unauthorized")
    write_as_member = await broker.post(f"{API}/entities", json=spot(9, 1.0), headers=HYOGO_MEMBER_ON_OSAKA)
    await problem(write_as_member, 403, "urn:kyodo:error:Forbidden")
    types = await broker.get(f"{API}/types", headers=OSAKA)
    await problem(types, 401, "urn:kyodo:error:Unauthorized")


async def test_unpublishing_makes_anonymous_reads_401_again_at_once(broker):
    await publish_three(broker)
    assert (await broker.get(f"{API}/entities", params={"type": "TouristSpot"}, headers=OSAKA)).status == 200
    assert (await broker.delete(f"{DATASETS}/osaka-tourism-spots", headers=OSAKA_OWNER)).status == 204
    after = await broker.get(f"{API}/entities", params={"type": "TouristSpot"}, headers=OSAKA)
    await problem(after, 401, "urn:kyodo:error:Unauthorized")
    assert (await broker.get(f"{DATASETS}/osaka-tourism-spots")).status == 404


async def test_a_suspended_tenants_datasets_leave_the_catalog_until_it_is_active_again(broker):
    await publish_three(broker)

    async def shown() -> tuple[list[str], list[str], int]:
        listed = [d["name"] for d in await (await broker.get(DATASETS)).json()]
        search = await (await broker.get(f"{ACTION}/package_search")).json()
        dcat = await (await broker.get("/catalog/v1/dcat")).json()
        return listed, sorted(p["name"] for p in search["result"]["results"]), len(dcat["dcat:dataset"])

    assert await shown() == (["hyogo-parking", "osaka-tourism-spots"], ["hyogo-parking", "osaka-tourism-spots"], 2)
    suspend = await broker.patch("/admin/v1/tenants/osaka", json={"status": "suspended"},
                                 headers={**ADMIN, "Content-Type": "application/merge-patch+json"})
    assert suspend.status == 200, await suspend.text()
    assert await shown() == (["hyogo-parking"], ["hyogo-parking"], 1)
    assert (await broker.get(f"{DATASETS}/osaka-tourism-spots")).status == 404
    assert await (await broker.get(DATASETS, params={"tenant": "osaka"})).json() == []
    resume = await broker.patch("/admin/v1/tenants/osaka", json={"status": "active"},
                                headers={**ADMIN, "Content-Type": "application/merge-patch+json"})
    assert resume.status == 200
    assert await shown() == (["hyogo-parking", "osaka-tourism-spots"], ["hyogo-parking", "osaka-tourism-spots"], 2)


async def test_purging_a_tenant_unpublishes_its_datasets_and_the_audit_log_names_them(broker):
    await publish_three(broker)
    assert (await broker.delete("/admin/v1/tenants/osaka", params={"purge": "true"}, headers=ADMIN)).status == 204
    listed = await (await broker.get(DATASETS)).json()
    assert [dataset["name"] for dataset in listed] == ["hyogo-parking"]
    assert (await broker.get(f"{DATASETS}/osaka-tourism-spots")).status == 404
    audit = await (await broker.get("/admin/v1/audit", params={"action": "purge"}, headers=ADMIN)).json()
    assert audit[0]["before"]["datasets"] == ["osaka-shelters", "osaka-tourism-spots"]


async def test_the_wide_area_tenant_admits_reads_without_a_token_but_not_writes(broker):
    response = await broker.post(f"{API}/entities", json=spot(9, 1.0), headers={"NGSILD-Tenant": "open"})
    await problem(response, 401, "urn:kyodo:error:Unauthorized")
    bad_token = await broker.get(f"{API}/types", headers={"NGSILD-Tenant": "open", "Authorization": "Bearer x"})
    await problem(bad_token, 401, "urn:kyodo:error:Unauthorized")
    anonymous = await broker.get(f"{API}/types", headers={"NGSILD-Tenant": "open"})
    assert anonymous.status == 200, await anonymous.text()
    body = await anonymous.json()
    assert body["type"] == "EntityTypeList" and body["typeList"] == []  # nothing is published openly yet


# --- DCAT-AP ------------------------------------------------------------------------------------

async def test_dcat_catalog_is_valid_json_ld_of_the_visible_datasets(broker):
    await publish_three(broker)
    response = await broker.get("/catalog/v1/dcat")
    assert response.status == 200
    assert response.content_type == "application/ld+json"
    catalog = await response.json()
    jsonschema.validate(catalog, schema("dcat-catalog.schema.json"))
    assert [d["dct:identifier"] for d in catalog["dcat:dataset"]] == ["hyogo-parking", "osaka-tourism-spots"]
    spots = catalog["dcat:dataset"][1]
    base = str(broker.make_url("")).rstrip("/")
    assert spots["dcat:distribution"][0]["dcat:accessURL"] == {
        "@id": f"{base}/ngsi-ld/v1/entities?type=https%3A%2F%2Furi.etsi.org%2Fngsi-ld%2Fdefault-context%2FTouristSpot"}
    assert "NGSILD-Tenant: osaka" in spots["dcat:distribution"][0]["dct:description"][0]["@value"]
    assert spots["dct:accrualPeriodicity"] == {"@id": "http://publications.europa.eu/resource/authority/frequency/DAILY"}
    assert spots["dcat:contactPoint"]["vcard:hasEmail"] == {"@id": "mailto:kanko@pref.osaka.example"}
    assert catalog["dcat:dataset"][0]["dct:publisher"]["foaf:name"] == "兵庫県"  # the tenant's display name
    expanded = jsonld.expand(catalog)  # the inline @context only: nothing is fetched
    dcat, dct = "http://www.w3.org/ns/dcat#", "http://purl.org/dc/terms/"
    assert expanded[0]["@type"] == [dcat + "Catalog"]
    datasets = expanded[0][dcat + "dataset"]
    assert {d["@type"][0] for d in datasets} == {dcat + "Dataset"}
    assert {"@language": "ja", "@value": "大阪府 観光スポット"} in datasets[1][dct + "title"]
    assert datasets[1][dct + "issued"][0]["@type"] == "http://www.w3.org/2001/XMLSchema#dateTime"
    member = await (await broker.get("/catalog/v1/dcat", headers=HYOGO_MEMBER_ON_OSAKA)).json()
    jsonschema.validate(member, schema("dcat-catalog.schema.json"))
    assert len(member["dcat:dataset"]) == 3


async def test_dcat_links_use_the_configured_public_url(make_client, broker):
    await publish_three(broker)
    other = await make_client(public_url="https://kyodo.example.jp/", auth="none")
    catalog = await (await other.get("/catalog/v1/dcat")).json()
    jsonschema.validate(catalog, schema("dcat-catalog.schema.json"))
    assert catalog["@id"] == "https://kyodo.example.jp/catalog/v1/dcat"
    assert len(catalog["dcat:dataset"]) == 3  # with KYODO_AUTH=none everyone is a member


def ckanext_dcat_next_page(catalog: dict[str, Any]) -> str | None:
    """What ckanext-dcat's RDFParser.next_page finds in the expanded graph: hydra:next, else
    hydra:nextPage, of a node typed hydra:PagedCollection."""
    hydra = "http://www.w3.org/ns/hydra/core#"
    nodes = jsonld.flatten(catalog)
    for node in nodes:
        if hydra + "PagedCollection" in node.get("@type", []):
            for member in ("next", "nextPage"):
                if node.get(hydra + member):
                    return node[hydra + member][0]["@id"]
    return None


async def test_a_dcat_catalog_larger_than_a_page_is_paged_with_hydra_links(make_client, broker):
    await publish_three(broker)
    paged = await make_client(public_url="https://kyodo.example.jp", auth="none", dcat_page_size=2)
    url = "https://kyodo.example.jp/catalog/v1/dcat"
    first = await (await paged.get("/catalog/v1/dcat")).json()
    jsonschema.validate(first, schema("dcat-catalog.schema.json"))
    assert [d["dct:identifier"] for d in first["dcat:dataset"]] == ["hyogo-parking", "osaka-shelters"]
    page_1, page_2 = {"@id": f"{url}?page=1"}, {"@id": f"{url}?page=2"}
    assert first["hydra:view"] == {
        "@id": f"{url}?page=1", "@type": ["hydra:PartialCollectionView", "hydra:PagedCollection"],
        "hydra:totalItems": 3, "hydra:itemsPerPage": 2, "hydra:first": page_1, "hydra:firstPage": page_1,
        "hydra:last": page_2, "hydra:lastPage": page_2, "hydra:next": page_2, "hydra:nextPage": page_2}
    second = await (await paged.get("/catalog/v1/dcat", params={"page": "2"})).json()
    jsonschema.validate(second, schema("dcat-catalog.schema.json"))
    assert [d["dct:identifier"] for d in second["dcat:dataset"]] == ["osaka-tourism-spots"]
    assert (second["hydra:view"]["hydra:previous"], "hydra:next" in second["hydra:view"]) == (
        {"@id": f"{url}?page=1"}, False)
    beyond = await (await paged.get("/catalog/v1/dcat", params={"page": "7"})).json()
    assert beyond["dcat:dataset"] == [] and beyond["hydra:view"]["hydra:previous"] == {"@id": f"{url}?page=2"}
    assert ckanext_dcat_next_page(first) == f"{url}?page=2"
    assert ckanext_dcat_next_page(second) is None
    one_page = await (await broker.get("/catalog/v1/dcat")).json()  # 100 per page: no view unless asked
    assert "hydra:view" not in one_page
    asked = await (await broker.get("/catalog/v1/dcat", params={"page": "1"})).json()
    assert asked["hydra:view"]["hydra:totalItems"] == 2 and "hydra:next" not in asked["hydra:view"]


@pytest.mark.parametrize(("page", "detail"), [
    *[(page, f"page must be an integer from 1 to 100000, got {page!r}") for page in ("0", "100001", "0001000000")],
    *[(page, f"page must be a non-negative integer, got {page!r}")
      for page in ("-1", "two", "1.5", "", "²", "１", " 1")],
])
async def test_a_bad_dcat_page_is_400(broker, page, detail):
    response = await broker.get("/catalog/v1/dcat", params={"page": page})
    body = await problem(response, 400, "https://uri.etsi.org/ngsi-ld/errors/BadRequestData")
    assert body["detail"] == detail


# --- CKAN ---------------------------------------------------------------------------------------

async def test_ckan_package_list_show_and_license_list(broker):
    await publish_three(broker)
    listed = await (await broker.get(f"{ACTION}/package_list")).json()
    check_ckan(listed, "package_list")
    assert listed["result"] == ["hyogo-parking", "osaka-tourism-spots"]
    paged = await (await broker.get(f"{ACTION}/package_list", params={"offset": "1", "limit": "5"})).json()
    assert paged["result"] == ["osaka-tourism-spots"]
    limited = await (await broker.get(f"{ACTION}/package_list", params={"limit": "1"})).json()
    assert limited["result"] == ["hyogo-parking"]
    skipped = await (await broker.get(f"{ACTION}/package_list", params={"offset": "1"})).json()
    assert skipped["result"] == ["osaka-tourism-spots"]
    names = await (await broker.get(f"{ACTION}/organization_list")).json()
    assert names["result"] == ["hyogo", "osaka"]
    shown = await (await broker.get(f"{ACTION}/package_show", params={"id": "osaka-tourism-spots"})).json()
    check_ckan(shown, "package_show")
    package = shown["result"]
    assert (package["organization"]["name"], package["organization"]["title"], package["license_url"]) == (
        "osaka", "大阪府", "https://creativecommons.org/licenses/by/4.0/")
    assert [tag["name"] for tag in package["tags"]] == ["観光", "tourism"]
    assert {e["key"] for e in package["extras"]} >= {"spatial", "frequency"}
    by_id = await (await broker.get(f"{ACTION}/package_show", params={"id": package["id"]})).json()
    assert by_id["result"]["name"] == "osaka-tourism-spots"
    hidden = await broker.get(f"{ACTION}/package_show", params={"id": "osaka-shelters"})
    assert hidden.status == 404
    check_ckan(await hidden.json(), "error")
    licenses = await (await broker.get(f"{ACTION}/license_list")).json()
    check_ckan(licenses, "license_list")
    assert "PDL-1.0" in [item["id"] for item in licenses["result"]]
    orgs = await (await broker.get(f"{ACTION}/organization_list", params={"all_fields": "true"})).json()
    check_ckan(orgs, "organization_list")
    assert [(o["name"], o["package_count"]) for o in orgs["result"]] == [("hyogo", 1), ("osaka", 1)]


@pytest.mark.parametrize(("params", "names"), [
    ({}, ["hyogo-parking", "osaka-shelters", "osaka-tourism-spots"]),
    ({"q": "観光"}, ["osaka-tourism-spots"]),
    ({"q": "PARKING places"}, ["hyogo-parking"]),
    ({"q": "tags:防災"}, ["osaka-shelters"]),
    ({"fq": "tags:交通"}, ["hyogo-parking"]),
    ({"fq": "organization:osaka"}, ["osaka-shelters", "osaka-tourism-spots"]),
    ({"fq": 'organization:osaka +tags:"観光"'}, ["osaka-tourism-spots"]),
    ({"fq": "-organization:osaka"}, ["hyogo-parking"]),
    ({"fq": "res_format:JSON-LD"}, ["hyogo-parking", "osaka-shelters", "osaka-tourism-spots"]),
    ({"fq": "res_format:CSV"}, []),
    ({"fq": "license_id:CC0-1.0"}, ["hyogo-parking"]),
    ({"rows": "2", "start": "1"}, ["osaka-shelters", "osaka-tourism-spots"]),
    ({"rows": "0"}, []),
])
async def test_ckan_package_search_q_fq_rows_start(broker, params, names):
    await publish_three(broker)
    response = await broker.get(f"{ACTION}/package_search", headers=HYOGO_MEMBER_ON_OSAKA,
                                params={"sort": "name asc", **params})
    body = await response.json()
    assert response.status == 200, body
    check_ckan(body, "package_search")
    assert [p["name"] for p in body["result"]["results"]] == names
    assert body["result"]["count"] == (3 if set(params) <= {"rows", "start"} else len(names))


async def test_ckan_package_search_by_post_and_anonymous_visibility(broker):
    await publish_three(broker)
    response = await broker.post(f"{ACTION}/package_search", json={"q": "osaka", "rows": 5})
    body = await response.json()
    check_ckan(body, "package_search")
    assert [p["name"] for p in body["result"]["results"]] == ["osaka-tourism-spots"]
    form = await broker.post(f"{ACTION}/package_search", data={"fq": "organization:hyogo"})
    assert [p["name"] for p in (await form.json())["result"]["results"]] == ["hyogo-parking"]
    not_json = await broker.post(f"{ACTION}/package_search", data=b"[1, 2",
                                 headers={"Content-Type": "application/json"})
    assert not_json.status == 400
    check_ckan(await not_json.json(), "error")


@pytest.mark.parametrize(("params", "error"), [
    ({"rows": "-1"}, {"rows": ["Must be a natural number"]}),
    ({"rows": "ten"}, {"rows": ["Invalid integer"]}),
    ({"rows": "1.5"}, {"rows": ["Invalid integer"]}),
    ({"start": "-5", "rows": "x"}, {"rows": ["Invalid integer"], "start": ["Must be a natural number"]}),
    ({"fq": "colour:red"}, {"fq": ["Unsupported field 'colour': one of tags, organization, res_format, license_id, "
                                   "name"]}),
    ({"sort": "popularity desc"}, {"sort": ["Unsupported sort 'popularity desc': '<field> asc|desc' with a field "
                                            "among name, metadata_modified, metadata_created"]}),
])
async def test_ckan_absurd_parameters_are_409_validation_errors_like_ckan(broker, params, error):
    response = await broker.get(f"{ACTION}/package_search", params=params)
    assert response.status == 409
    body = await response.json()
    check_ckan(body, "error")
    assert body["error"] == {"__type": "Validation Error", **error}


FACETS = '["organization", "tags", "license_id", "res_format"]'


async def test_ckan_package_search_counts_the_facets_asked_for_most_frequent_first(broker):
    await publish_three(broker)
    response = await broker.get(f"{ACTION}/package_search", headers=HYOGO_MEMBER_ON_OSAKA,
                                params={"facet.field": FACETS, "rows": "0"})
    body = await response.json()
    check_ckan(body, "package_search")
    result = body["result"]
    assert result["facets"] == {
        "organization": {"osaka": 2, "hyogo": 1},
        "tags": {"parking": 1, "tourism": 1, "交通": 1, "観光": 1, "防災": 1},
        "license_id": {"CC-BY-4.0": 1, "CC0-1.0": 1, "PDL-1.0": 1},
        "res_format": {"JSON-LD": 3}}
    assert list(result["facets"]["organization"]) == ["osaka", "hyogo"]
    assert result["search_facets"]["organization"] == {"title": "organization", "items": [
        {"name": "osaka", "display_name": "大阪府", "count": 2},
        {"name": "hyogo", "display_name": "兵庫県", "count": 1}]}
    assert [item["display_name"] for item in result["search_facets"]["license_id"]["items"]] == [
        LICENSES[license_id].title for license_id in ("CC-BY-4.0", "CC0-1.0", "PDL-1.0")]
    assert [item["name"] for item in result["search_facets"]["tags"]["items"]] == [
        "parking", "tourism", "交通", "観光", "防災"]


@pytest.mark.parametrize(("params", "facets"), [
    ({}, {}),  # no facet.field: no facets, as CKAN
    ({"fq": "organization:osaka"}, {"organization": {"osaka": 1}, "tags": {"tourism": 1, "観光": 1},
                                    "license_id": {"CC-BY-4.0": 1}, "res_format": {"JSON-LD": 1}}),
    ({"facet.limit": "1"}, {"organization": {"hyogo": 1}, "tags": {"parking": 1}, "license_id": {"CC-BY-4.0": 1},
                            "res_format": {"JSON-LD": 2}}),
    ({"facet.mincount": "2"}, {"organization": {}, "tags": {}, "license_id": {}, "res_format": {"JSON-LD": 2}}),
    ({"facet.limit": "-1", "q": "nothing matches this"}, {"organization": {}, "tags": {}, "license_id": {},
                                                          "res_format": {}}),
])
async def test_ckan_facets_follow_the_search_the_reader_and_facet_limit_and_mincount(broker, params, facets):
    await publish_three(broker)  # anonymous: the members-only osaka-shelters is not counted
    query = {"facet.field": FACETS, **params} if params else {}
    body = await (await broker.get(f"{ACTION}/package_search", params=query)).json()
    check_ckan(body, "package_search")
    assert body["result"]["facets"] == facets


async def test_ckan_facets_kyodo_does_not_count_come_back_empty_as_in_ckan(broker):
    await publish_three(broker)
    params = {"facet.field": '["organization", "groups", "tags"]', "fq": "organization:hyogo", "rows": "0"}
    body = await (await broker.get(f"{ACTION}/package_search", params=params)).json()
    check_ckan(body, "package_search")
    assert body["result"]["facets"] == {"organization": {"hyogo": 1}, "groups": {}, "tags": {"parking": 1, "交通": 1}}
    assert body["result"]["search_facets"]["groups"] == {"title": "groups", "items": []}


async def test_ckan_facets_by_post_take_a_json_list(broker):
    await publish_three(broker)
    response = await broker.post(f"{ACTION}/package_search", json={"facet.field": ["tags"], "facet.limit": 2})
    body = await response.json()
    check_ckan(body, "package_search")
    assert body["result"]["facets"] == {"tags": {"parking": 1, "tourism": 1}}


@pytest.mark.parametrize(("params", "error"), [
    ({"facet.field": "tags"}, {"facet.field": ["Could not parse as valid JSON"]}),
    ({"facet.field": '{"tags": 1}'}, {"facet.field": ['Must be a list of strings, such as ["tags", "organization"]']}),
    ({"facet.field": '["tags", 3]'}, {"facet.field": ['Must be a list of strings, such as ["tags", "organization"]']}),
    ({"facet.limit": "many", "facet.mincount": "-1"}, {"facet.limit": ["Invalid integer"],
                                                       "facet.mincount": ["Must be a natural number"]}),
])
async def test_ckan_bad_facet_parameters_are_409_validation_errors(broker, params, error):
    response = await broker.get(f"{ACTION}/package_search", params=params)
    assert response.status == 409
    body = await response.json()
    check_ckan(body, "error")
    assert body["error"] == {"__type": "Validation Error", **error}


async def test_ckan_rows_above_1000_are_lowered_to_1000_as_ckan_does(broker):
    await publish_three(broker)
    body = await (await broker.get(f"{ACTION}/package_search", params={"rows": "5000"})).json()
    check_ckan(body, "package_search")
    assert body["result"]["count"] == 2


async def test_an_unknown_ckan_action_is_400_in_the_ckan_envelope(broker):
    response = await broker.get(f"{ACTION}/package_create")
    assert response.status == 400
    body = await response.json()
    check_ckan(body, "error")
    assert body["error"]["message"] == "Bad request - Action name not known: package_create"
