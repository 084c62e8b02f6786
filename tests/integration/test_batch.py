"""Batch entity operations through HTTP against the real database (5.6.7-5.6.10, 5.6.20, 6.14-6.17, 6.31)."""

from __future__ import annotations

import asyncio
import contextlib
import copy
from typing import Any

import orjson
import pytest
from pymongo import AsyncMongoClient

from broker.api import changes
from broker.app import create_app
from broker.store import batch as batch_store
from broker.store.batch import BatchStore
from tests.conftest import API, CORE_CONTEXT, link

OPS = f"{API}/entityOperations"
ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
TITLES = {"BadRequestData": "Bad request data", "AlreadyExists": "Already exists",
          "ResourceNotFound": "Resource not found", "InternalError": "Internal error",
          "InvalidRequest": "Invalid request"}


def sid(n: int) -> str:
    return f"urn:ngsi-ld:Sensor:{n}"


def sensor(n: int, **attrs: Any) -> dict[str, Any]:
    """A small entity; attributes default to one temperature Property holding n."""
    return {"id": sid(n), "type": "Sensor", **(attrs or {"temperature": {"type": "Property", "value": n}})}


def error(entity_id: str | None, name: str, detail: str) -> dict[str, Any]:
    """One BatchEntityError (5.2.17) as the broker writes it."""
    return {"entityId": entity_id, "error": {"type": ERRORS + name, "title": TITLES[name], "detail": detail}}


async def post(client, operation: str, body: Any, *, params: dict[str, str] | None = None,
               headers: dict[str, str] | None = None, content_type: str = "application/json"):
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    return await client.post(f"{OPS}/{operation}", data=data, params=params,
                             headers={"Content-Type": content_type, **(headers or {})})


async def expect(response, status: int, body: Any = None) -> None:
    """The exact status and, when given, the exact JSON body (None: no body at all)."""
    assert response.status == status, await response.text()
    if body is None:
        assert await response.read() == b""
    else:
        assert await response.json() == body


async def problem(response, status: int, name: str) -> dict[str, Any]:
    assert response.status == status, await response.text()
    body = await response.json()
    assert body["type"] == ERRORS + name, body
    assert body["title"] and body["detail"] and body["title"] != body["detail"]
    return body


async def seed(client, *entities: dict[str, Any]) -> None:
    await expect(await post(client, "create", list(entities)), 201, [e["id"] for e in entities])


async def stored(client, n: int, **params: str) -> dict[str, Any]:
    response = await client.get(f"{API}/entities/{sid(n)}", params=params)
    assert response.status == 200, await response.text()
    return await response.json()


async def absent(client, n: int) -> None:
    response = await client.get(f"{API}/entities/{sid(n)}")
    assert response.status == 404, await response.text()


# --- create (5.6.7) ---------------------------------------------------------------------------

async def test_create_answers_201_with_the_created_ids_and_stores_every_entity(client):
    response = await post(client, "create", [sensor(1), sensor(2)])
    await expect(response, 201, [sid(1), sid(2)])
    assert response.headers["Content-Type"].startswith("application/json")
    assert await stored(client, 1) == sensor(1)
    assert await stored(client, 2) == sensor(2)


async def test_create_with_some_bad_entities_answers_207_and_writes_the_good_ones(client):
    await seed(client, sensor(1))
    response = await post(client, "create", [
        sensor(1), sensor(3), {"id": sid(4)}, {"id": "not a uri", "type": "Sensor"},
        sensor(5, broken={"type": "Property"})])
    await expect(response, 207, {"success": [sid(3)], "errors": [
        error(sid(1), "AlreadyExists", f"Entity {sid(1)} already exists"),
        error(sid(4), "BadRequestData", "Entity 'type' is missing"),
        error("not a uri", "BadRequestData", "'id' is not a valid URI: 'not a uri'"),
        error(sid(5), "BadRequestData", "Attribute 'broken': a Property needs 'value'"),
    ]})
    assert await stored(client, 3) == sensor(3)
    assert await stored(client, 1) == sensor(1)
    await absent(client, 4)
    await absent(client, 5)


async def test_create_where_every_entity_fails_answers_207_with_no_success(client):
    await seed(client, sensor(1))
    response = await post(client, "create", [sensor(1), {"type": "Sensor"}, "urn:ngsi-ld:Sensor:9"])
    await expect(response, 207, {"success": [], "errors": [
        error(sid(1), "AlreadyExists", f"Entity {sid(1)} already exists"),
        error(None, "BadRequestData", "Entity 'id' is missing"),
        error("urn:ngsi-ld:Sensor:9", "BadRequestData", "Each entity must be a JSON object, got a string"),
    ]})


async def test_create_with_a_repeated_id_creates_the_first_and_reports_the_repeat_as_already_existing(client):
    first = sensor(1)
    repeat = sensor(1, temperature={"type": "Property", "value": 99})
    response = await post(client, "create", [first, sensor(2), repeat])
    await expect(response, 207, {"success": [sid(1), sid(2)], "errors": [
        error(sid(1), "AlreadyExists", f"Entity {sid(1)} is created earlier in this batch")]})
    assert await stored(client, 1) == first


async def test_create_makes_an_unknown_tenant_exist_but_a_batch_of_only_bad_entities_does_not(client):
    headers = {"NGSILD-Tenant": "nara"}
    response = await post(client, "create", [{"type": "Sensor"}], headers=headers)
    assert response.status == 207
    assert response.headers["NGSILD-Tenant"] == "nara"
    await problem(await client.get(f"{API}/entities/{sid(1)}", headers=headers), 404, "NonexistentTenant")
    await expect(await post(client, "create", [sensor(1)], headers=headers), 201, [sid(1)])
    assert (await client.get(f"{API}/entities/{sid(1)}", headers=headers)).status == 200
    await absent(client, 1)


# --- upsert (5.6.8) ---------------------------------------------------------------------------

async def test_upsert_of_new_entities_answers_201_with_their_ids(client):
    await expect(await post(client, "upsert", [sensor(1), sensor(2)]), 201, [sid(1), sid(2)])
    assert await stored(client, 2) == sensor(2)


async def test_upsert_of_existing_entities_only_answers_204_and_replaces_them(client):
    await seed(client, sensor(1, temperature={"type": "Property", "value": 1}, humidity={"type": "Property",
                                                                                           "value": 40}))
    before = await stored(client, 1, options="sysAttrs")
    replacement = sensor(1, pressure={"type": "Property", "value": 1013})
    await expect(await post(client, "upsert", [replacement]), 204)
    after = await stored(client, 1, options="sysAttrs")
    assert after["createdAt"] == before["createdAt"]
    assert await stored(client, 1) == replacement


async def test_upsert_answers_201_with_only_the_newly_created_ids(client):
    await seed(client, sensor(1))
    response = await post(client, "upsert", [sensor(1, level={"type": "Property", "value": 3}), sensor(2)])
    await expect(response, 201, [sid(2)])
    assert await stored(client, 1) == sensor(1, level={"type": "Property", "value": 3})


async def test_upsert_with_some_bad_entities_answers_207_listing_created_and_updated_ids_as_success(client):
    await seed(client, sensor(1))
    response = await post(client, "upsert", [sensor(1), sensor(2), {"id": sid(3)}])
    await expect(response, 207, {"success": [sid(1), sid(2)], "errors": [
        error(sid(3), "BadRequestData", "Entity 'type' is missing")]})
    assert await stored(client, 2) == sensor(2)
    await absent(client, 3)


async def test_upsert_where_every_entity_fails_answers_207_and_writes_nothing(client):
    response = await post(client, "upsert", [{"id": sid(1)}, {"id": sid(2), "type": "Sensor", "b@d": 1}])
    await expect(response, 207, {"success": [], "errors": [
        error(sid(1), "BadRequestData", "Entity 'type' is missing"),
        error(sid(2), "BadRequestData", "Invalid attribute name 'b@d' ('b@d')")]})
    await absent(client, 1)


async def test_upsert_with_options_update_keeps_attributes_the_entity_does_not_mention(client):
    await seed(client, sensor(1, temperature={"type": "Property", "value": 1, "unitCode": "CEL"},
                              humidity={"type": "Property", "value": 40}))
    response = await post(client, "upsert", [sensor(1, temperature={"type": "Property", "value": 2}),
                                             sensor(2)], params={"options": "update"})
    await expect(response, 201, [sid(2)])
    assert await stored(client, 1) == sensor(1, temperature={"type": "Property", "value": 2},
                                             humidity={"type": "Property", "value": 40})


async def test_upsert_with_options_replace_drops_attributes_the_entity_does_not_mention(client):
    await seed(client, sensor(1, temperature={"type": "Property", "value": 1},
                              humidity={"type": "Property", "value": 40}))
    await expect(await post(client, "upsert", [sensor(1)], params={"options": "replace"}), 204)
    assert await stored(client, 1) == sensor(1)


async def test_upsert_with_a_repeated_new_id_creates_it_once_and_the_last_occurrence_wins(client):
    first = sensor(1, speed={"type": "Property", "value": 1}, old={"type": "Property", "value": True})
    last = sensor(1, speed={"type": "Property", "value": 2})
    await expect(await post(client, "upsert", [first, sensor(2), last]), 201, [sid(1), sid(2)])
    assert await stored(client, 1) == last


async def test_upsert_update_with_a_repeated_existing_id_applies_the_occurrences_in_order(client):
    await seed(client, sensor(1))
    response = await post(client, "upsert", [sensor(1, a={"type": "Property", "value": 1}),
                                             sensor(1, a={"type": "Property", "value": 2},
                                                    b={"type": "Property", "value": 3})],
                          params={"options": "update"})
    await expect(response, 204)
    assert await stored(client, 1, options="keyValues") == {"id": sid(1), "type": "Sensor", "temperature": 1,
                                                            "a": 2, "b": 3}


@pytest.mark.parametrize(("options", "error_name"), [("fancy", "InvalidRequest"),
                                                     ("update,replace", "InvalidRequest"),
                                                     ("noOverwrite", "InvalidRequest")])
async def test_upsert_with_an_invalid_option_is_400(client, options, error_name):
    await problem(await post(client, "upsert", [sensor(1)], params={"options": options}), 400, error_name)
    await absent(client, 1)


# --- update (5.6.9) ---------------------------------------------------------------------------

async def test_update_answers_204_and_appends_or_overwrites_attributes(client):
    await seed(client, sensor(1, temperature={"type": "Property", "value": 1},
                              humidity={"type": "Property", "value": 40}), sensor(2))
    response = await post(client, "update", [{"id": sid(1), "temperature": 5, "level": 7},
                                             {"id": sid(2), "type": "Thermometer", "level": 8}])
    await expect(response, 204)
    assert await stored(client, 1, options="keyValues") == {
        "id": sid(1), "type": "Sensor", "temperature": 5, "humidity": 40, "level": 7}
    assert await stored(client, 2, options="keyValues") == {
        "id": sid(2), "type": ["Sensor", "Thermometer"], "temperature": 2, "level": 8}


async def test_update_of_an_unknown_entity_is_a_404_entry_and_the_others_are_updated(client):
    await seed(client, sensor(1))
    response = await post(client, "update", [{"id": sid(1), "level": 1}, {"id": sid(9), "level": 1}])
    await expect(response, 207, {"success": [sid(1)], "errors": [
        error(sid(9), "ResourceNotFound", f"Entity {sid(9)} not found")]})
    assert (await stored(client, 1, options="keyValues"))["level"] == 1
    await absent(client, 9)


async def test_update_where_every_entity_fails_answers_207(client):
    response = await post(client, "update", [{"id": sid(9), "level": 1}, {"level": 1},
                                             {"id": sid(8), "level": "urn:ngsi-ld:null"}])
    await expect(response, 207, {"success": [], "errors": [
        error(sid(9), "ResourceNotFound", f"Entity {sid(9)} not found"),
        error(None, "BadRequestData", "Entity 'id' is missing"),
        error(sid(8), "BadRequestData", "Attribute 'level': NGSI-LD Null is not allowed here ('value')")]})


async def test_update_with_no_overwrite_keeps_existing_attributes_and_reports_them_as_207(client):
    await seed(client, sensor(1), sensor(2))
    response = await post(client, "update", [{"id": sid(1), "temperature": 50, "level": 1},
                                             {"id": sid(2), "level": 2}], params={"options": "noOverwrite"})
    await expect(response, 207, {"success": [sid(2)], "errors": [
        error(sid(1), "BadRequestData", f"Not written in entity {sid(1)}: temperature: attribute already exists "
                                        "and noOverwrite was requested")]})
    assert await stored(client, 1, options="keyValues") == {"id": sid(1), "type": "Sensor", "temperature": 1,
                                                            "level": 1}
    assert await stored(client, 2, options="keyValues") == {"id": sid(2), "type": "Sensor", "temperature": 2,
                                                            "level": 2}


async def test_update_with_no_overwrite_and_only_new_attributes_answers_204(client):
    await seed(client, sensor(1))
    response = await post(client, "update", [{"id": sid(1), "level": 1}], params={"options": "noOverwrite"})
    await expect(response, 204)


async def test_update_with_a_repeated_id_applies_the_occurrences_in_array_order(client):
    await seed(client, sensor(1))
    response = await post(client, "update", [{"id": sid(1), "level": 1, "mode": "a"},
                                             {"id": sid(1), "level": 2}])
    await expect(response, 204)
    assert await stored(client, 1, options="keyValues") == {"id": sid(1), "type": "Sensor", "temperature": 1,
                                                            "level": 2, "mode": "a"}


async def test_update_on_an_unknown_tenant_is_404_nonexistent_tenant(client):
    response = await post(client, "update", [{"id": sid(1), "level": 1}], headers={"NGSILD-Tenant": "kobe"})
    await problem(response, 404, "NonexistentTenant")
    assert response.headers["NGSILD-Tenant"] == "kobe"


# --- delete (5.6.10) --------------------------------------------------------------------------

async def test_delete_answers_204_and_the_entities_are_gone(client):
    await seed(client, sensor(1), sensor(2), sensor(3))
    await expect(await post(client, "delete", [sid(1), sid(3)]), 204)
    await absent(client, 1)
    await absent(client, 3)
    assert await stored(client, 2) == sensor(2)


async def test_delete_of_an_unknown_id_is_a_404_entry_and_the_others_are_deleted(client):
    await seed(client, sensor(1))
    await expect(await post(client, "delete", [sid(9), sid(1)]), 207, {"success": [sid(1)], "errors": [
        error(sid(9), "ResourceNotFound", f"Entity {sid(9)} not found")]})
    await absent(client, 1)


async def test_delete_where_every_id_fails_answers_207_with_one_entry_per_id(client):
    response = await post(client, "delete", [sid(9), "no uri", 5, {"id": sid(8)}])
    await expect(response, 207, {"success": [], "errors": [
        error(sid(9), "ResourceNotFound", f"Entity {sid(9)} not found"),
        error("no uri", "BadRequestData", "'item 1' is not a valid URI: 'no uri'"),
        error(None, "BadRequestData", "'item 2' must be a URI string, got 5"),
        error(sid(8), "BadRequestData", "'item 3' must be a URI string, got {'id': 'urn:ngsi-ld:Sensor:8'}")]})


async def test_delete_with_a_repeated_id_deletes_once_and_reports_the_repeat_as_not_found(client):
    await seed(client, sensor(1))
    await expect(await post(client, "delete", [sid(1), sid(1)]), 207, {"success": [sid(1)], "errors": [
        error(sid(1), "ResourceNotFound", f"Entity {sid(1)} is deleted earlier in this batch")]})
    await absent(client, 1)


# --- merge (5.6.20) ---------------------------------------------------------------------------

async def test_merge_answers_204_keeps_unmentioned_members_and_deletes_with_null(client):
    await seed(client, sensor(1, temperature={"type": "Property", "value": 1, "unitCode": "CEL"},
                              humidity={"type": "Property", "value": 40},
                              address={"type": "Property", "value": {"city": "Kobe", "zip": "650"}}))
    response = await post(client, "merge", [{"id": sid(1), "type": "Sensor", "temperature": {"value": 2},
                                             "humidity": "urn:ngsi-ld:null",
                                             "address": {"value": {"zip": "651"}}}])
    await expect(response, 204)
    assert await stored(client, 1) == sensor(1, temperature={"type": "Property", "value": 2, "unitCode": "CEL"},
                                             address={"type": "Property", "value": {"city": "Kobe", "zip": "651"}})


async def test_merge_of_an_unknown_entity_is_a_404_entry_and_the_others_are_merged(client):
    await seed(client, sensor(1), sensor(2))
    response = await post(client, "merge", [{"id": sid(1), "level": 1}, {"id": sid(9), "level": 1},
                                            {"id": sid(2), "level": 2}])
    await expect(response, 207, {"success": [sid(1), sid(2)], "errors": [
        error(sid(9), "ResourceNotFound", f"Entity {sid(9)} not found")]})
    assert (await stored(client, 2, options="keyValues"))["level"] == 2


async def test_merge_where_every_entity_fails_answers_207(client):
    await seed(client, sensor(1))
    response = await post(client, "merge", [{"id": sid(9), "level": 1},
                                            {"id": sid(1), "missing": "urn:ngsi-ld:null"}])
    await expect(response, 207, {"success": [], "errors": [
        error(sid(9), "ResourceNotFound", f"Entity {sid(9)} not found"),
        error(sid(1), "BadRequestData",
              f"Not written in entity {sid(1)}: missing: attribute instance to delete does not exist")]})
    assert await stored(client, 1) == sensor(1)


async def test_merge_with_a_repeated_id_applies_the_occurrences_in_array_order(client):
    await seed(client, sensor(1))
    response = await post(client, "merge", [{"id": sid(1), "level": 1, "mode": "a"},
                                            {"id": sid(1), "level": 2, "temperature": "urn:ngsi-ld:null"}])
    await expect(response, 204)
    assert await stored(client, 1, options="keyValues") == {"id": sid(1), "type": "Sensor", "level": 2,
                                                            "mode": "a"}


# --- malformed requests -----------------------------------------------------------------------

OPERATIONS = ("create", "upsert", "update", "delete", "merge")


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize(("body", "name", "detail"), [
    (b"[{not json", "InvalidRequest", None),
    (b'{"id": "urn:ngsi-ld:Sensor:1", "type": "Sensor"}', "BadRequestData",
     "The body of a batch operation must be a JSON array, got an object"),
    (b'"urn:ngsi-ld:Sensor:1"', "BadRequestData", "The body of a batch operation must be a JSON array, got a string"),
    (b"[]", "BadRequestData", "The batch is empty: give at least one entity"),
    (b'["urn:ngsi-ld:Sensor:1", null]', "BadRequestData", "Item 1 of the batch is null"),
])
async def test_a_malformed_batch_is_rejected_as_a_whole_with_400(client, operation, body, name, detail):
    response = await post(client, operation, body)
    problem_body = await problem(response, 400, name)
    if detail is not None:
        assert problem_body["detail"] == detail


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_a_batch_with_the_wrong_content_type_is_415(client, operation):
    response = await post(client, operation, [sensor(1)], content_type="text/plain")
    assert response.status == 415
    assert (await response.json())["detail"]


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_an_unknown_url_parameter_is_400_invalid_request(client, operation):
    await problem(await post(client, operation, [sensor(1)], params={"page": "2"}), 400, "InvalidRequest")


async def test_more_entities_than_the_default_limit_is_413_naming_the_limit(client):
    response = await post(client, "delete", [sid(n) for n in range(1001)])
    assert response.status == 413
    assert await response.json() == {
        "type": "urn:kyodo:error:TooManyEntities", "title": "Too many entities",
        "detail": "The batch has 1001 items; at most 1000 are allowed per request"}


@pytest.fixture
async def small_client(aiohttp_client, mongo_url, settings):
    """A broker whose batches hold at most 3 entities (KYODO_MAX_BATCH_ENTITIES=3)."""
    return await aiohttp_client(create_app(settings.model_copy(update={"max_batch_entities": 3}), mongo_url))


async def test_the_entity_limit_is_configurable_and_inclusive(small_client):
    await expect(await post(small_client, "upsert", [sensor(1), sensor(2), sensor(3)]), 201,
                 [sid(1), sid(2), sid(3)])
    response = await post(small_client, "upsert", [sensor(n) for n in range(4)])
    assert response.status == 413
    assert (await response.json())["detail"] == "The batch has 4 items; at most 3 are allowed per request"
    await absent(small_client, 0)


# --- @context -----------------------------------------------------------------------------------

async def test_ld_json_entities_each_bring_their_own_context_and_one_without_is_an_error_entry(
        client, context_server):
    url = context_server.add("sensors", {"Sensor": "https://example.org/Sensor",
                                         "temperature": "https://example.org/temperature"})
    body = [{**sensor(1), "@context": url}, {**sensor(2), "@context": CORE_CONTEXT}, sensor(3)]
    response = await post(client, "create", body, content_type="application/ld+json")
    await expect(response, 207, {"success": [sid(1), sid(2)], "errors": [
        error(sid(3), "BadRequestData", "With Content-Type application/ld+json every entity needs its own @context")]})
    assert await stored(client, 1) == {"id": sid(1), "type": "https://example.org/Sensor",
                                       "https://example.org/temperature": {"type": "Property", "value": 1}}
    assert (await client.get(f"{API}/entities/{sid(1)}", headers=link(url))).status == 200
    assert await (await client.get(f"{API}/entities/{sid(1)}", headers=link(url))).json() == sensor(1)
    assert await stored(client, 2) == sensor(2)
    await absent(client, 3)


async def test_ld_json_entity_with_an_unreachable_context_is_an_error_entry(client, context_server):
    missing = context_server.url("missing")
    body = [{**sensor(1), "@context": missing}, {**sensor(2), "@context": CORE_CONTEXT},
            {**sensor(3), "@context": missing}]
    response = await post(client, "upsert", body, content_type="application/ld+json")
    assert response.status == 207
    result = await response.json()
    assert result["success"] == [sid(2)]
    assert [(e["entityId"], e["error"]["type"]) for e in result["errors"]] == [
        (sid(1), ERRORS + "LdContextNotAvailable"), (sid(3), ERRORS + "LdContextNotAvailable")]
    assert context_server.hits["missing"] == 1


async def test_ld_json_with_a_link_header_as_well_is_400_for_the_whole_batch(client):
    response = await post(client, "create", [{**sensor(1), "@context": CORE_CONTEXT}],
                          content_type="application/ld+json", headers=link(CORE_CONTEXT))
    body = await problem(response, 400, "BadRequestData")
    assert body["detail"] == "A JSON-LD Link header is not allowed with Content-Type application/ld+json"
    await absent(client, 1)


async def test_json_entity_carrying_an_inline_context_is_an_error_entry(client):
    response = await post(client, "upsert", [sensor(1), {**sensor(2), "@context": CORE_CONTEXT}])
    await expect(response, 207, {"success": [sid(1)], "errors": [error(
        sid(2), "BadRequestData",
        "@context in an entity requires Content-Type application/ld+json "
        "(with application/json, send the context in a Link header)")]})


async def test_json_batch_uses_the_link_header_context_for_every_entity(client, context_server):
    url = context_server.add("sensors", {"Sensor": "https://example.org/Sensor"})
    await expect(await post(client, "upsert", [sensor(1), sensor(2)], headers=link(url)), 201, [sid(1), sid(2)])
    assert (await stored(client, 2))["type"] == "https://example.org/Sensor"
    await expect(await post(client, "merge", [{"id": sid(2), "type": "Sensor", "level": 1}], headers=link(url)), 204)
    assert (await stored(client, 2))["type"] == "https://example.org/Sensor"


# --- scale and concurrency ----------------------------------------------------------------------

def reading(n: int) -> dict[str, Any]:
    return {"id": f"urn:ngsi-ld:AirQualityObserved:osaka-{n:04d}", "type": "AirQualityObserved",
            "no2": {"type": "Property", "value": n % 97, "unitCode": "GQ", "observedAt": "2026-11-30T09:00:00Z"},
            "station": {"type": "Relationship", "object": f"urn:ngsi-ld:Station:{n % 10}"},
            "location": {"type": "GeoProperty", "value": {"type": "Point",
                                                          "coordinates": [135.0 + n / 10000, 34.6]}}}


async def test_a_1000_entity_upsert_stores_every_entity_exactly(client, mongo_url, settings):
    entities = [reading(n) for n in range(1000)]
    ids = [entity["id"] for entity in entities]
    await expect(await post(client, "upsert", entities), 201, ids)
    for n in range(0, 1000, 37):
        response = await client.get(f"{API}/entities/{ids[n]}")
        assert await response.json() == entities[n]
    mongo: AsyncMongoClient = AsyncMongoClient(mongo_url)
    try:
        collection = mongo[settings.db_prefix]["entities"]
        assert await collection.count_documents({}) == 1000
        assert sorted([doc["_id"] async for doc in collection.find({}, {"_id": 1})]) == ids
        changed = copy.deepcopy(entities)
        for entity in changed:
            entity["no2"]["value"] += 1
        await expect(await post(client, "upsert", changed, params={"options": "update"}), 204)
        assert await collection.count_documents({}) == 1000
        assert await collection.count_documents({"v": 2}) == 1000
        response = await client.get(f"{API}/entities/{ids[999]}")
        assert await response.json() == changed[999]
    finally:
        await mongo.close()


async def test_two_concurrent_batch_updates_on_the_same_entities_both_succeed_and_lose_nothing(client):
    await seed(client, *[sensor(n) for n in range(30)])
    for round_ in range(3):
        first = [{"id": sid(n), f"a{round_}": round_} for n in range(30)]
        second = [{"id": sid(n), f"b{round_}": round_} for n in range(30)]
        responses = await asyncio.gather(post(client, "update", first), post(client, "update", second))
        for response in responses:
            await expect(response, 204)
    for n in range(30):
        assert await stored(client, n, options="keyValues") == {
            "id": sid(n), "type": "Sensor", "temperature": n, "a0": 0, "b0": 0, "a1": 1, "b1": 1, "a2": 2, "b2": 2}


class ReadGate:
    """Every batch read, recorded; the first `hold` reads after `hold_next` wait once they have read
    until `release` is set, so that a test decides what another request does in between. The
    timeouts only keep a broken test from hanging."""

    TIMEOUT_S = 10.0

    def __init__(self) -> None:
        self.reads: list[list[str]] = []
        self.hold = 0
        self.release = asyncio.Event()
        self._read = asyncio.Condition()

    def hold_next(self, count: int) -> None:
        self.reads.clear()
        self.hold = count
        self.release.clear()

    async def after_read(self, entity_ids: list[str]) -> None:
        async with self._read:
            self.reads.append(entity_ids)
            self._read.notify_all()
        if self.hold > 0:
            self.hold -= 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.release.wait(), self.TIMEOUT_S)

    async def wait_for_reads(self, count: int) -> None:
        async with self._read:
            await asyncio.wait_for(self._read.wait_for(lambda: len(self.reads) >= count), self.TIMEOUT_S)


@pytest.fixture
def read_gate(monkeypatch) -> ReadGate:
    """Batch reads go through a ReadGate (after the real read from the database)."""
    gate = ReadGate()
    find = BatchStore._find

    async def gated_find(self, entity_ids, projection=None):
        found = await find(self, entity_ids, projection)
        await gate.after_read(list(entity_ids))
        return found

    monkeypatch.setattr(BatchStore, "_find", gated_find)
    return gate


async def test_a_batch_that_loses_the_compare_and_swap_reads_again_and_retries(client, read_gate):
    await seed(client, *[sensor(n) for n in range(10)])
    first = [{"id": sid(n), "a": 1} for n in range(10)]
    second = [{"id": sid(n), "b": 2} for n in range(10)]
    read_gate.hold_next(2)
    updates = [asyncio.create_task(post(client, "update", body)) for body in (first, second)]
    await read_gate.wait_for_reads(2)  # both have read the same versions; neither has written
    read_gate.release.set()
    for response in await asyncio.gather(*updates):
        await expect(response, 204)
    assert len(read_gate.reads) >= 3   # whatever one lost, it read again
    for n in range(10):
        assert await stored(client, n, options="keyValues") == {"id": sid(n), "type": "Sensor", "temperature": n,
                                                                "a": 1, "b": 2}


async def test_an_entity_still_losing_after_the_last_retry_is_an_error_entry_and_is_untouched(
        client, read_gate, monkeypatch):
    monkeypatch.setattr(batch_store, "_MAX_ROUNDS", 1)
    await seed(client, sensor(1))
    read_gate.hold_next(2)
    updates = [asyncio.create_task(post(client, "update", [{"id": sid(1), name: value}]))
               for name, value in (("a", 1), ("b", 2))]
    await read_gate.wait_for_reads(2)  # both have read version 1: one of them must lose
    read_gate.release.set()
    responses = await asyncio.gather(*updates)
    assert sorted(response.status for response in responses) == [204, 207]
    lost = next(response for response in responses if response.status == 207)
    assert await lost.json() == {"success": [], "errors": [
        error(sid(1), "InternalError", f"Entity {sid(1)} is being modified concurrently; try again")]}
    winner = "a" if responses[0].status == 204 else "b"
    assert set(await stored(client, 1, options="keyValues")) == {"id", "type", "temperature", winner}


async def test_an_update_racing_a_delete_reports_404_and_does_not_bring_the_entity_back(client, read_gate):
    await seed(client, sensor(1), sensor(2))
    read_gate.hold_next(1)
    update = asyncio.create_task(post(client, "update", [{"id": sid(1), "a": 1}, {"id": sid(2), "a": 1}]))
    await read_gate.wait_for_reads(1)   # the update has read both entities and is about to write
    await expect(await client.delete(f"{API}/entities/{sid(1)}"), 204)
    read_gate.release.set()
    await expect(await update, 207, {"success": [sid(2)], "errors": [
        error(sid(1), "ResourceNotFound", f"Entity {sid(1)} not found")]})
    await absent(client, 1)
    assert (await stored(client, 2, options="keyValues"))["a"] == 1


async def test_a_delete_racing_an_update_deletes_the_updated_entity_and_reports_it_as_it_was(
        client, read_gate, monkeypatch):
    reported = []

    async def record(ctx, events):
        reported.extend(events)

    await seed(client, sensor(1))
    monkeypatch.setattr(changes, "entities_changed", record)
    read_gate.hold_next(1)
    delete = asyncio.create_task(post(client, "delete", [sid(1)]))
    await read_gate.wait_for_reads(1)   # the delete has read version 1 and is about to delete it
    await expect(await client.post(f"{API}/entities/{sid(1)}/attrs", json={"level": 1}), 204)
    read_gate.release.set()
    await expect(await delete, 204)
    await absent(client, 1)
    assert [event.kind for event in reported] == ["updated", "deleted"]
    assert "https://uri.etsi.org/ngsi-ld/default-context/level" in reported[1].entity["attrs"]


# --- one path for "an entity changed" --------------------------------------------------------------

async def test_single_and_batch_writes_report_their_changes_through_the_same_hook(client, monkeypatch):
    reported: list[tuple[str, str]] = []

    async def record(ctx, events):
        reported.extend((event.kind, event.entity["id"]) for event in events)

    monkeypatch.setattr(changes, "entities_changed", record)
    await expect(await client.post(f"{API}/entities", json=sensor(1)), 201)
    await expect(await post(client, "upsert", [sensor(1), sensor(2)]), 201, [sid(2)])
    await expect(await post(client, "update", [{"id": sid(2), "temperature": 2}],
                            params={"options": "noOverwrite"}), 207, {"success": [], "errors": [error(
        sid(2), "BadRequestData",
        f"Not written in entity {sid(2)}: temperature: attribute already exists and noOverwrite was requested")]})
    await expect(await client.patch(f"{API}/entities/{sid(1)}/attrs", json={"level": 1}), 204)
    await expect(await post(client, "delete", [sid(1), sid(2)]), 204)
    assert reported == [("created", sid(1)), ("updated", sid(1)), ("created", sid(2)), ("updated", sid(1)),
                        ("deleted", sid(1)), ("deleted", sid(2))]
