"""Discovery over HTTP: /types and /attributes, plain and with details (5.7.5-5.7.10)."""

from __future__ import annotations

from tests.conftest import API

D = "https://uri.etsi.org/ngsi-ld/default-context/"


async def seed(client):
    for entity in [
        {"id": "urn:ngsi-ld:Building:1", "type": "Building", "name": "A", "height": 10},
        {"id": "urn:ngsi-ld:Building:2", "type": ["Building", "Shelter"], "name": "B",
         "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Person:1"}},
        {"id": "urn:ngsi-ld:Vehicle:1", "type": "Vehicle", "name": "C"},
    ]:
        assert (await client.post(f"{API}/entities", json=entity)).status == 201


async def get(client, path, status=200, **params):
    response = await client.get(f"{API}{path}", params=params)
    assert response.status == status, await response.text()
    return await response.json()


async def test_types_lists_the_types_of_existing_entities(client):
    await seed(client)
    body = await get(client, "/types")
    assert body["id"].startswith("urn:ngsi-ld:EntityTypeList:")
    assert {k: v for k, v in body.items() if k != "id"} == {
        "type": "EntityTypeList", "typeList": ["Building", "Shelter", "Vehicle"]}


async def test_types_with_details(client):
    await seed(client)
    assert await get(client, "/types", details="true") == [
        {"id": D + "Building", "type": "EntityType", "typeName": "Building",
         "attributeNames": ["height", "name", "owner"]},
        {"id": D + "Shelter", "type": "EntityType", "typeName": "Shelter", "attributeNames": ["name", "owner"]},
        {"id": D + "Vehicle", "type": "EntityType", "typeName": "Vehicle", "attributeNames": ["name"]},
    ]


async def test_one_type_counts_its_entities_and_describes_attributes(client):
    await seed(client)
    assert await get(client, "/types/Building") == {
        "id": D + "Building", "type": "EntityTypeInfo", "typeName": "Building", "entityCount": 2,
        "attributeDetails": [
            {"id": D + "height", "type": "Attribute", "attributeName": "height", "attributeTypes": ["Property"]},
            {"id": D + "name", "type": "Attribute", "attributeName": "name", "attributeTypes": ["Property"]},
            {"id": D + "owner", "type": "Attribute", "attributeName": "owner", "attributeTypes": ["Relationship"]},
        ]}
    await get(client, "/types/Nothing", status=404)


async def test_attributes_plain_details_and_one(client):
    await seed(client)
    body = await get(client, "/attributes")
    assert body["type"] == "AttributeList" and body["attributeList"] == ["height", "name", "owner"]
    details = await get(client, "/attributes", details="true")
    assert details[1] == {"id": D + "name", "type": "Attribute", "attributeName": "name",
                          "typeNames": ["Building", "Shelter", "Vehicle"]}
    assert await get(client, "/attributes/name") == {
        "id": D + "name", "type": "Attribute", "attributeName": "name", "attributeCount": 3,
        "attributeTypes": ["Property"], "typeNames": ["Building", "Shelter", "Vehicle"]}
    await get(client, "/attributes/nothing", status=404)


async def test_a_non_boolean_details_is_400(client):
    await seed(client)
    body = await get(client, "/types", status=400, details="maybe")
    assert body["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
