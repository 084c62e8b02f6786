"""Type and attribute discovery in the store against the real embedded database (5.7.5-5.7.10)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from broker.config import Settings
from broker.ngsild.context import core_term_map
from broker.store.discovery import (
    attribute_details,
    attribute_info,
    list_attributes,
    list_types,
    type_details,
    type_info,
)
from broker.store.documents import entity_shape, parse_shape
from broker.store.entities import ENTITIES, EntityStore, ensure_entity_indexes

T = core_term_map().expand
NOW = datetime(2026, 1, 1, tzinfo=UTC)
BUILDING, SHOP, VEHICLE = T("Building"), T("Shop"), T("Vehicle")
NAME, LABEL, LOCATION, OWNER, SPEED = T("name"), T("label"), T("location"), T("owner"), T("speed")


@pytest.fixture
async def db(mongo_url: str, settings: Settings) -> AsyncIterator[AsyncDatabase]:
    client: AsyncMongoClient = AsyncMongoClient(mongo_url, tz_aware=True)
    database = client[settings.db_prefix]
    await ensure_entity_indexes(database)
    yield database
    await client.close()


def entity(entity_id: str, types: list[str], **attrs: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": entity_id, "type": types, "createdAt": NOW, "modifiedAt": NOW,
            "attrs": {T(name): instances for name, instances in attrs.items()}}


PROPERTY = {"type": "Property", "value": "x"}
ENTITIES_ = [
    entity("urn:ngsi-ld:Building:1", [BUILDING], name=[PROPERTY],
           owner=[{"type": "Relationship", "object": "urn:ngsi-ld:Person:1"}],
           location=[{"type": "GeoProperty", "value": {"type": "Point", "coordinates": [135.5, 34.7]}}]),
    entity("urn:ngsi-ld:Building:2", [BUILDING, SHOP], name=[PROPERTY],
           label=[{"type": "LanguageProperty", "languageMap": {"ja": "店"}}]),
    entity("urn:ngsi-ld:Shop:1", [SHOP], name=[PROPERTY]),
    entity("urn:ngsi-ld:Vehicle:1", [VEHICLE],
           name=[{"type": "LanguageProperty", "languageMap": {"en": "Bus"}}],
           speed=[{"type": "Property", "value": 30}, {"type": "Property", "value": 31, "datasetId": "urn:ds:1"}]),
    entity("urn:ngsi-ld:Vehicle:2", [VEHICLE]),
]


@pytest.fixture
async def stored(db: AsyncDatabase) -> AsyncDatabase:
    store = EntityStore(db)
    for one in ENTITIES_:
        await store.create(one)
    return db


async def test_types_are_listed_expanded_and_sorted(stored):
    assert await list_types(stored) == [BUILDING, SHOP, VEHICLE]


async def test_type_details_give_each_type_the_attributes_of_its_entities(stored):
    assert await type_details(stored) == [
        {"typeName": BUILDING, "attributeNames": sorted([LABEL, LOCATION, NAME, OWNER])},
        {"typeName": SHOP, "attributeNames": sorted([LABEL, NAME])},
        {"typeName": VEHICLE, "attributeNames": sorted([NAME, SPEED])},
    ]


async def test_type_info_counts_multi_typed_entities_under_each_type(stored):
    assert await type_info(stored, SHOP) == {
        "typeName": SHOP, "entityCount": 2,
        "attributeDetails": [
            {"attributeName": LABEL, "attributeTypes": ["LanguageProperty"], "typeNames": [BUILDING, SHOP]},
            {"attributeName": NAME, "attributeTypes": ["Property"], "typeNames": [BUILDING, SHOP, VEHICLE]},
        ],
    }
    vehicle = await type_info(stored, VEHICLE)
    assert vehicle is not None and vehicle["entityCount"] == 2
    assert [(d["attributeName"], d["attributeTypes"]) for d in vehicle["attributeDetails"]] == [
        (NAME, ["LanguageProperty"]), (SPEED, ["Property"])]
    assert await type_info(stored, T("Unknown")) is None


async def test_attributes_are_listed_with_their_types_and_entity_types(stored):
    assert await list_attributes(stored) == sorted([LABEL, LOCATION, NAME, OWNER, SPEED])
    assert await attribute_details(stored) == sorted([
        {"attributeName": LABEL, "attributeTypes": ["LanguageProperty"], "typeNames": [BUILDING, SHOP]},
        {"attributeName": LOCATION, "attributeTypes": ["GeoProperty"], "typeNames": [BUILDING]},
        {"attributeName": NAME, "attributeTypes": ["LanguageProperty", "Property"],
         "typeNames": [BUILDING, SHOP, VEHICLE]},
        {"attributeName": OWNER, "attributeTypes": ["Relationship"], "typeNames": [BUILDING]},
        {"attributeName": SPEED, "attributeTypes": ["Property"], "typeNames": [VEHICLE]},
    ], key=lambda detail: detail["attributeName"])


async def test_attribute_info_counts_entities_not_instances(stored):
    assert await attribute_info(stored, NAME) == {
        "attributeName": NAME, "attributeCount": 4, "attributeTypes": ["LanguageProperty", "Property"],
        "typeNames": [BUILDING, SHOP, VEHICLE]}
    assert (await attribute_info(stored, SPEED))["attributeCount"] == 1  # type: ignore[index]
    assert await attribute_info(stored, T("unknown")) is None


async def test_discovery_follows_deletes(stored):
    await EntityStore(stored).delete("urn:ngsi-ld:Building:1")
    assert await list_types(stored) == [BUILDING, SHOP, VEHICLE]  # Building:2 is still a Building
    assert OWNER not in await list_attributes(stored)
    await EntityStore(stored).delete("urn:ngsi-ld:Building:2")
    assert await list_types(stored) == [SHOP, VEHICLE]
    assert await type_info(stored, BUILDING) is None


async def test_empty_tenant_has_no_types_or_attributes(db):
    assert (await list_types(db), await type_details(db), await list_attributes(db)) == ([], [], [])
    assert await attribute_details(db) == []


async def test_entities_of_one_data_model_share_one_shape(stored):
    shapes = await stored[ENTITIES].distinct("shape")
    assert len(shapes) == len(ENTITIES_)  # every sample entity differs
    same_model = entity("urn:ngsi-ld:Shop:2", [SHOP], name=[{"type": "Property", "value": "other"}])
    await EntityStore(stored).create(same_model)
    assert len(await stored[ENTITIES].distinct("shape")) == len(ENTITIES_)
    assert parse_shape(entity_shape(same_model)) == ([SHOP], [(NAME, "Property")])
    indexes = {index["name"]: index["key"] async for index in await stored[ENTITIES].list_indexes()}
    assert indexes["shape"] == {"shape": 1}
