"""Single-entity endpoints through HTTP against the real database (5.6, 5.7.1, 6.4-6.7)."""

from __future__ import annotations

import copy

import orjson
import pytest

from tests.conftest import API, CORE_CONTEXT, link

BUILDING = {
    "id": "urn:ngsi-ld:Building:osaka-1",
    "type": "Building",
    "name": {"type": "Property", "value": "Umeda Tower"},
    "height": {"type": "Property", "value": 120, "unitCode": "MTR", "observedAt": "2026-11-01T00:00:00Z"},
    "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Person:1"},
    "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [135.5, 34.7]}},
}


async def create(client, entity=None, **kwargs):
    response = await client.post(f"{API}/entities", json=entity or BUILDING, **kwargs)
    assert response.status == 201, await response.text()
    return response


async def get_json(client, path, status=200, **kwargs):
    response = await client.get(path, **kwargs)
    assert response.status == status, await response.text()
    return await response.json()


async def problem(response, status, name):
    assert response.status == status, await response.text()
    body = await response.json()
    assert body["type"] == f"https://uri.etsi.org/ngsi-ld/errors/{name}", body
    assert body["title"] and body["detail"] and body["title"] != body["detail"]
    return body


# --- create -------------------------------------------------------------------------------------

async def test_create_answers_201_with_location_and_an_empty_body(client):
    response = await create(client)
    assert response.headers["Location"] == f"{API}/entities/urn:ngsi-ld:Building:osaka-1"
    assert await response.read() == b""


async def test_create_then_retrieve_returns_the_entity_as_sent(client):
    await create(client)
    body = await get_json(client, f"{API}/entities/{BUILDING['id']}")
    assert body == BUILDING
    assert "@context" not in body


async def test_retrieve_json_carries_the_core_context_in_a_link_header(client):
    await create(client)
    response = await client.get(f"{API}/entities/{BUILDING['id']}")
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["Link"] == (f'<{CORE_CONTEXT}>; rel="http://www.w3.org/ns/json-ld#context"; '
                                        'type="application/ld+json"')


async def test_create_with_an_existing_id_is_409_already_exists(client):
    await create(client)
    await problem(await client.post(f"{API}/entities", json=BUILDING), 409, "AlreadyExists")


@pytest.mark.parametrize(("body", "status", "error"), [
    (b"{not json", 400, "InvalidRequest"),
    (b"[]", 400, "InvalidRequest"),
    (b'[{"id": "urn:a:b", "type": "T"}]', 400, "InvalidRequest"),
    (b'"text"', 400, "InvalidRequest"),
    (b'{"id": "not a uri", "type": "T"}', 400, "BadRequestData"),
    (b'{"id": "urn:ngsi-ld:T:1"}', 400, "BadRequestData"),
    (b'{"type": "T"}', 400, "BadRequestData"),
    (b'{"id": "urn:ngsi-ld:T:1", "type": "T", "a": {"type": "Magic", "value": 1}}', 400, "BadRequestData"),
    (b'{"id": "urn:ngsi-ld:T:1", "type": "T", "b@d": 1}', 400, "BadRequestData"),
    (b'{"id": "urn:ngsi-ld:T:1", "type": "T", "location": {"type": "GeoProperty", '
     b'"value": {"type": "Point", "coordinates": [500, 1]}}}', 400, "BadRequestData"),
    (b'{"id": "urn:ngsi-ld:T:1", "type": "T", "location": {"type": "GeoProperty", '
     b'"value": {"type": "Polygon", "coordinates": [[[0,0],[1,0],[1,1]]]}}}', 400, "BadRequestData"),
    (b'{"id": "urn:ngsi-ld:T:1", "type": "T", "a": {"type": "Property", "value": null}}', 400, "BadRequestData"),
    (b'{"id": "urn:ngsi-ld:T:1", "type": "T", "a": {"type": "Property", "value": "urn:ngsi-ld:null"}}',
     400, "BadRequestData"),
    (b'{"id": "urn:ngsi-ld:T:1", "type": "T", "r": {"type": "Relationship", "object": "no uri"}}',
     400, "BadRequestData"),
    (b'{"id": "urn:ngsi-ld:T:1", "type": "T", "@context": "https://example.org/c.jsonld"}', 400, "BadRequestData"),
])
async def test_create_rejects_bad_input_with_a_precise_problem(client, body, status, error):
    response = await client.post(f"{API}/entities", data=body, headers={"Content-Type": "application/json"})
    await problem(response, status, error)


async def test_rejected_create_writes_nothing(client):
    bad = {**BUILDING, "broken": {"type": "Property"}}
    await problem(await client.post(f"{API}/entities", json=bad), 400, "BadRequestData")
    await problem(await client.get(f"{API}/entities/{BUILDING['id']}"), 404, "ResourceNotFound")


async def test_deeply_nested_values_are_rejected_not_crashed(client):
    value: object = 1
    for _ in range(200):
        value = {"a": value}
    entity = {"id": "urn:ngsi-ld:T:deep", "type": "T", "deep": {"type": "Property", "value": value}}
    await problem(await client.post(f"{API}/entities", json=entity), 400, "BadRequestData")


async def test_wrong_content_type_is_415(client):
    response = await client.post(f"{API}/entities", data=orjson.dumps(BUILDING),
                                 headers={"Content-Type": "text/plain"})
    assert response.status == 415
    assert (await response.json())["detail"]


async def test_a_body_over_the_limit_is_413(client):
    big = {**BUILDING, "blob": {"type": "Property", "value": "x" * (1024 * 1024 + 10)}}
    response = await client.post(f"{API}/entities", data=orjson.dumps(big),
                                 headers={"Content-Type": "application/json"})
    assert response.status == 413
    assert "limit" in (await response.json())["detail"]


async def test_a_chunked_body_without_content_length_is_411(client):
    async def chunks():
        yield orjson.dumps(BUILDING)

    response = await client.post(f"{API}/entities", data=chunks(), headers={"Content-Type": "application/json"})
    assert response.status == 411


async def test_ld_json_without_context_in_the_body_is_400(client):
    response = await client.post(f"{API}/entities", data=orjson.dumps(BUILDING),
                                 headers={"Content-Type": "application/ld+json"})
    await problem(response, 400, "BadRequestData")


async def test_ld_json_with_a_link_header_as_well_is_400(client):
    response = await client.post(f"{API}/entities", data=orjson.dumps({**BUILDING, "@context": CORE_CONTEXT}),
                                 headers={"Content-Type": "application/ld+json", **link(CORE_CONTEXT)})
    await problem(response, 400, "BadRequestData")


async def test_ld_json_with_context_in_the_body_is_accepted_and_echoed(client):
    response = await client.post(f"{API}/entities", data=orjson.dumps({**BUILDING, "@context": CORE_CONTEXT}),
                                 headers={"Content-Type": "application/ld+json"})
    assert response.status == 201
    body = await get_json(client, f"{API}/entities/{BUILDING['id']}",
                          headers={"Accept": "application/ld+json"})
    assert body == {"@context": CORE_CONTEXT, **BUILDING}


# --- all attribute kinds ----------------------------------------------------------------------

EVERY_KIND = {
    "id": "urn:ngsi-ld:Spot:kyoto-1",
    "type": "TouristSpot",
    "name": {"type": "LanguageProperty", "languageMap": {"ja": "金閣寺", "en": "Kinkaku-ji"}},
    "category": {"type": "VocabProperty", "vocab": "Temple"},
    "tags": {"type": "ListProperty", "valueList": ["temple", "garden"]},
    "nearby": {"type": "ListRelationship",
               "objectList": [{"object": "urn:ngsi-ld:Spot:2"}, {"object": "urn:ngsi-ld:Spot:3"}]},
    "raw": {"type": "JsonProperty", "json": {"any": ["json", 1, {"x.y": True}]}},
    "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [135.729, 35.039]}},
    "visitors": [
        {"type": "Property", "value": 120, "datasetId": "urn:ngsi-ld:Dataset:sensorA"},
        {"type": "Property", "value": 130},
    ],
    "temperature": {"type": "Property", "value": 12.5, "unitCode": "CEL",
                    "observedAt": "2026-11-30T01:00:00Z",
                    "accuracy": {"type": "Property", "value": 0.5}},
    "managedBy": {"type": "Relationship", "object": "urn:ngsi-ld:City:kyoto"},
}


async def test_every_attribute_kind_round_trips_in_normalized_form(client):
    await create(client, EVERY_KIND)
    body = await get_json(client, f"{API}/entities/{EVERY_KIND['id']}")
    assert body == EVERY_KIND


async def test_key_values_renders_each_kind_as_the_spec_says(client):
    await create(client, EVERY_KIND)
    body = await get_json(client, f"{API}/entities/{EVERY_KIND['id']}", params={"options": "keyValues"})
    assert body == {
        "id": "urn:ngsi-ld:Spot:kyoto-1",
        "type": "TouristSpot",
        "name": {"languageMap": {"ja": "金閣寺", "en": "Kinkaku-ji"}},
        "category": {"vocab": "Temple"},
        "tags": ["temple", "garden"],
        "nearby": ["urn:ngsi-ld:Spot:2", "urn:ngsi-ld:Spot:3"],
        "raw": {"json": {"any": ["json", 1, {"x.y": True}]}},
        "location": {"type": "Point", "coordinates": [135.729, 35.039]},
        "visitors": {"dataset": {"urn:ngsi-ld:Dataset:sensorA": 120, "@none": 130}},
        "temperature": 12.5,
        "managedBy": "urn:ngsi-ld:City:kyoto",
    }


async def test_format_beats_options(client):
    await create(client)
    body = await get_json(client, f"{API}/entities/{BUILDING['id']}",
                          params={"format": "keyValues", "options": "normalized"})
    assert body["height"] == 120


async def test_concise_input_is_accepted_and_concise_output_drops_type_members(client):
    concise = {"id": "urn:ngsi-ld:Sensor:c1", "type": "Sensor", "temperature": 20,
               "humidity": {"value": 40, "unitCode": "P1"}, "room": {"object": "urn:ngsi-ld:Room:1"}}
    await create(client, concise)
    normalized = await get_json(client, f"{API}/entities/urn:ngsi-ld:Sensor:c1")
    assert normalized["temperature"] == {"type": "Property", "value": 20}
    assert normalized["humidity"] == {"type": "Property", "value": 40, "unitCode": "P1"}
    assert normalized["room"] == {"type": "Relationship", "object": "urn:ngsi-ld:Room:1"}
    body = await get_json(client, f"{API}/entities/urn:ngsi-ld:Sensor:c1", params={"format": "concise"})
    assert body == concise


async def test_sys_attrs_shows_created_and_modified_at_only_when_asked(client):
    await create(client)
    plain = await get_json(client, f"{API}/entities/{BUILDING['id']}")
    assert "createdAt" not in plain and "createdAt" not in plain["name"]
    body = await get_json(client, f"{API}/entities/{BUILDING['id']}", params={"options": "sysAttrs"})
    assert body["createdAt"].endswith("Z") and body["modifiedAt"].endswith("Z")
    assert body["name"]["createdAt"] == body["createdAt"]


async def test_client_supplied_created_at_is_ignored(client):
    await create(client, {**BUILDING, "createdAt": "2000-01-01T00:00:00Z"})
    body = await get_json(client, f"{API}/entities/{BUILDING['id']}", params={"options": "sysAttrs"})
    assert not body["createdAt"].startswith("2000")


async def test_lang_picks_one_language_of_a_language_property(client):
    await create(client, EVERY_KIND)
    body = await get_json(client, f"{API}/entities/{EVERY_KIND['id']}", params={"lang": "en", "attrs": "name"})
    assert body["name"] == {"type": "Property", "value": "Kinkaku-ji", "lang": "en"}


# --- projection -------------------------------------------------------------------------------

async def test_attrs_keeps_only_the_named_attributes(client):
    await create(client)
    body = await get_json(client, f"{API}/entities/{BUILDING['id']}", params={"attrs": "name,owner"})
    assert body == {"id": BUILDING["id"], "type": "Building", "name": BUILDING["name"], "owner": BUILDING["owner"]}


async def test_attrs_naming_only_absent_attributes_is_404(client):
    await create(client)
    await problem(await client.get(f"{API}/entities/{BUILDING['id']}", params={"attrs": "nothing"}),
                  404, "ResourceNotFound")


async def test_pick_and_omit_project_members(client):
    await create(client)
    picked = await get_json(client, f"{API}/entities/{BUILDING['id']}", params={"pick": "id,height"})
    assert picked == {"id": BUILDING["id"], "height": BUILDING["height"]}
    omitted = await get_json(client, f"{API}/entities/{BUILDING['id']}",
                             params={"omit": "location,owner,height", "format": "keyValues"})
    assert omitted == {"id": BUILDING["id"], "type": "Building", "name": "Umeda Tower"}


async def test_pick_with_omit_is_400(client):
    await create(client)
    await problem(await client.get(f"{API}/entities/{BUILDING['id']}", params={"pick": "id", "omit": "name"}),
                  400, "BadRequestData")


# --- retrieve errors and negotiation --------------------------------------------------------

async def test_retrieve_unknown_entity_is_404(client):
    await create(client)
    await problem(await client.get(f"{API}/entities/urn:ngsi-ld:Building:none"), 404, "ResourceNotFound")


async def test_retrieve_with_a_non_uri_id_is_400(client):
    await problem(await client.get(f"{API}/entities/not-a-uri"), 400, "BadRequestData")


async def test_retrieve_with_an_unknown_parameter_is_400_invalid_request(client):
    await problem(await client.get(f"{API}/entities/{BUILDING['id']}", params={"page": "2"}),
                  400, "InvalidRequest")


async def test_retrieve_with_an_unknown_option_is_400_invalid_request(client):
    await problem(await client.get(f"{API}/entities/{BUILDING['id']}", params={"options": "fancy"}),
                  400, "InvalidRequest")


async def test_retrieve_with_a_mismatching_type_is_404(client):
    await create(client)
    await problem(await client.get(f"{API}/entities/{BUILDING['id']}", params={"type": "Vehicle"}),
                  404, "ResourceNotFound")
    assert (await client.get(f"{API}/entities/{BUILDING['id']}", params={"type": "Building"})).status == 200


async def test_unacceptable_accept_is_406_even_for_an_unknown_entity(client):
    response = await client.get(f"{API}/entities/urn:ngsi-ld:X:none", headers={"Accept": "text/html"})
    assert response.status == 406


@pytest.mark.parametrize(("accept", "expected"), [
    ("*/*", "application/json"),
    ("application/*", "application/json"),
    ("application/ld+json, application/json", "application/json"),
    ("application/ld+json", "application/ld+json"),
    ("application/json;q=0.5, application/ld+json", "application/ld+json"),
    ("application/json;q=0, */*", "application/ld+json"),
])
async def test_accept_negotiation_follows_the_spec_order(client, accept, expected):
    await create(client)
    response = await client.get(f"{API}/entities/{BUILDING['id']}", headers={"Accept": accept})
    assert response.status == 200
    assert response.headers["Content-Type"].startswith(expected)


async def test_geojson_retrieve_returns_a_feature_with_context_in_the_body(client):
    await create(client)
    body = await get_json(client, f"{API}/entities/{BUILDING['id']}",
                          headers={"Accept": "application/geo+json"}, params={"options": "keyValues"})
    assert body == {
        "id": BUILDING["id"], "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [135.5, 34.7]},
        "properties": {"type": "Building", "name": "Umeda Tower", "height": 120,
                       "owner": "urn:ngsi-ld:Person:1",
                       "location": {"type": "Point", "coordinates": [135.5, 34.7]}},
        "@context": CORE_CONTEXT,
    }


async def test_geometry_property_without_geojson_accept_is_400(client):
    await create(client)
    await problem(await client.get(f"{API}/entities/{BUILDING['id']}", params={"geometryProperty": "location"}),
                  400, "BadRequestData")


# --- user @context ----------------------------------------------------------------------------

async def test_a_link_context_expands_on_write_and_compacts_on_read(client, context_server):
    url = context_server.add("kyodo", {"Building": "https://smartdatamodels.org/Building",
                                       "name": "https://schema.org/name"})
    await create(client, headers=link(url))
    mine = await get_json(client, f"{API}/entities/{BUILDING['id']}", headers=link(url))
    assert mine == BUILDING
    core = await get_json(client, f"{API}/entities/{BUILDING['id']}")
    assert core["type"] == "https://smartdatamodels.org/Building"
    assert core["https://schema.org/name"] == BUILDING["name"]
    assert context_server.hits["kyodo"] == 1


async def test_an_unreachable_link_context_is_503_ld_context_not_available(client, context_server):
    response = await client.post(f"{API}/entities", json=BUILDING, headers=link(context_server.url("missing")))
    await problem(response, 503, "LdContextNotAvailable")


# --- delete -----------------------------------------------------------------------------------

async def test_delete_entity_answers_204_then_404(client):
    await create(client)
    response = await client.delete(f"{API}/entities/{BUILDING['id']}")
    assert response.status == 204
    await problem(await client.get(f"{API}/entities/{BUILDING['id']}"), 404, "ResourceNotFound")
    await problem(await client.delete(f"{API}/entities/{BUILDING['id']}"), 404, "ResourceNotFound")


async def test_delete_with_a_mismatching_type_keeps_the_entity(client):
    await create(client)
    await problem(await client.delete(f"{API}/entities/{BUILDING['id']}", params={"type": "Vehicle"}),
                  404, "ResourceNotFound")
    assert (await client.get(f"{API}/entities/{BUILDING['id']}")).status == 200


# --- replace and merge ------------------------------------------------------------------------

async def test_replace_entity_replaces_attributes_and_keeps_created_at(client):
    await create(client)
    before = await get_json(client, f"{API}/entities/{BUILDING['id']}", params={"options": "sysAttrs"})
    replacement = {"type": "Building", "name": {"type": "Property", "value": "New name"}}
    response = await client.put(f"{API}/entities/{BUILDING['id']}", json=replacement)
    assert response.status == 204, await response.text()
    after = await get_json(client, f"{API}/entities/{BUILDING['id']}", params={"options": "sysAttrs"})
    assert after["createdAt"] == before["createdAt"]
    assert {k: v for k, v in after.items() if k not in ("createdAt", "modifiedAt")} == {
        "id": BUILDING["id"], "type": "Building",
        "name": {"type": "Property", "value": "New name", "createdAt": after["name"]["createdAt"],
                 "modifiedAt": after["name"]["modifiedAt"]}}


async def test_replace_unknown_entity_is_404(client):
    await create(client)
    response = await client.put(f"{API}/entities/urn:ngsi-ld:Building:none", json={"type": "Building"})
    await problem(response, 404, "ResourceNotFound")


async def test_merge_patch_keeps_unmentioned_members_and_deletes_with_null(client):
    await create(client)
    patch = {"height": {"value": 130}, "owner": "urn:ngsi-ld:null", "floors": {"type": "Property", "value": 30}}
    response = await client.patch(f"{API}/entities/{BUILDING['id']}", data=orjson.dumps(patch),
                                  headers={"Content-Type": "application/merge-patch+json"})
    assert response.status == 204, await response.text()
    body = await get_json(client, f"{API}/entities/{BUILDING['id']}")
    expected = copy.deepcopy(BUILDING)
    expected["height"]["value"] = 130
    del expected["owner"]
    expected["floors"] = {"type": "Property", "value": 30}
    assert body == expected


async def test_merge_on_an_unknown_entity_is_404(client):
    await create(client)
    response = await client.patch(f"{API}/entities/urn:ngsi-ld:Building:none", json={"height": 1})
    await problem(response, 404, "ResourceNotFound")


# --- attributes -------------------------------------------------------------------------------

async def test_append_adds_attributes_and_overwrites_by_default(client):
    await create(client)
    response = await client.post(f"{API}/entities/{BUILDING['id']}/attrs",
                                 json={"height": 99, "floors": {"type": "Property", "value": 30}})
    assert response.status == 204, await response.text()
    body = await get_json(client, f"{API}/entities/{BUILDING['id']}", params={"options": "keyValues"})
    assert body["height"] == 99 and body["floors"] == 30


async def test_append_with_no_overwrite_reports_skipped_attributes_as_207(client):
    await create(client)
    response = await client.post(f"{API}/entities/{BUILDING['id']}/attrs", params={"options": "noOverwrite"},
                                 json={"height": 99, "floors": 30})
    assert response.status == 207
    body = await response.json()
    assert body["updated"] == ["floors"]
    assert [item["attributeName"] for item in body["notUpdated"]] == ["height"]
    assert body["notUpdated"][0]["reason"]
    stored = await get_json(client, f"{API}/entities/{BUILDING['id']}", params={"options": "keyValues"})
    assert stored["height"] == 120 and stored["floors"] == 30


async def test_append_with_null_is_400_and_changes_nothing(client):
    await create(client)
    response = await client.post(f"{API}/entities/{BUILDING['id']}/attrs", json={"height": "urn:ngsi-ld:null"})
    await problem(response, 400, "BadRequestData")
    body = await get_json(client, f"{API}/entities/{BUILDING['id']}", params={"options": "keyValues"})
    assert body["height"] == 120


async def test_append_to_an_unknown_entity_is_404(client):
    await create(client)
    response = await client.post(f"{API}/entities/urn:ngsi-ld:Building:none/attrs", json={"a": 1})
    await problem(response, 404, "ResourceNotFound")


async def test_update_attributes_replaces_whole_instances(client):
    await create(client)
    response = await client.patch(f"{API}/entities/{BUILDING['id']}/attrs",
                                  json={"height": {"type": "Property", "value": 125}})
    assert response.status == 204, await response.text()
    body = await get_json(client, f"{API}/entities/{BUILDING['id']}")
    assert body["height"] == {"type": "Property", "value": 125}


async def test_partial_attribute_update_changes_only_given_members(client):
    await create(client)
    response = await client.patch(f"{API}/entities/{BUILDING['id']}/attrs/height", json={"value": 121})
    assert response.status == 204, await response.text()
    body = await get_json(client, f"{API}/entities/{BUILDING['id']}")
    assert body["height"] == {**BUILDING["height"], "value": 121}


@pytest.mark.parametrize(("path", "body", "status", "error"), [
    ("height", {}, 400, "BadRequestData"),
    ("height", {"type": "Relationship", "object": "urn:ngsi-ld:X:1"}, 400, "BadRequestData"),
    ("scope", {"value": "/a"}, 400, "BadRequestData"),
    ("unknown", {"value": 1}, 404, "ResourceNotFound"),
    ("height", {"value": 1, "datasetId": "urn:ngsi-ld:Dataset:none"}, 404, "ResourceNotFound"),
])
async def test_partial_attribute_update_errors(client, path, body, status, error):
    await create(client)
    response = await client.patch(f"{API}/entities/{BUILDING['id']}/attrs/{path}", json=body)
    await problem(response, status, error)


async def test_replace_attribute_may_change_its_type(client):
    await create(client)
    response = await client.put(f"{API}/entities/{BUILDING['id']}/attrs/owner",
                                json={"type": "Property", "value": "city"})
    assert response.status == 204, await response.text()
    body = await get_json(client, f"{API}/entities/{BUILDING['id']}")
    assert body["owner"] == {"type": "Property", "value": "city"}


async def test_replace_attribute_unknown_is_404_and_bad_name_is_400(client):
    await create(client)
    await problem(await client.put(f"{API}/entities/{BUILDING['id']}/attrs/unknown", json={"value": 1}),
                  404, "ResourceNotFound")
    await problem(await client.put(f"{API}/entities/{BUILDING['id']}/attrs/@invalid", json={"value": 1}),
                  400, "BadRequestData")


async def test_delete_attribute_by_dataset_id_and_delete_all(client):
    await create(client, EVERY_KIND)
    base = f"{API}/entities/{EVERY_KIND['id']}/attrs/visitors"
    response = await client.delete(base, params={"datasetId": "urn:ngsi-ld:Dataset:sensorA"})
    assert response.status == 204
    body = await get_json(client, f"{API}/entities/{EVERY_KIND['id']}", params={"attrs": "visitors"})
    assert body["visitors"] == {"type": "Property", "value": 130}
    await problem(await client.delete(base, params={"datasetId": "urn:ngsi-ld:Dataset:sensorA"}),
                  404, "ResourceNotFound")
    assert (await client.delete(base, params={"deleteAll": "true"})).status == 204
    await problem(await client.get(f"{API}/entities/{EVERY_KIND['id']}", params={"attrs": "visitors"}),
                  404, "ResourceNotFound")


async def test_delete_attribute_with_an_empty_name_is_405(client):
    await create(client)
    response = await client.delete(f"{API}/entities/{BUILDING['id']}/attrs/")
    assert response.status == 405


async def test_delete_scope_removes_the_scope(client):
    await create(client, {**BUILDING, "scope": "/Osaka/Kita"})
    body = await get_json(client, f"{API}/entities/{BUILDING['id']}")
    assert body["scope"] == "/Osaka/Kita"
    assert (await client.delete(f"{API}/entities/{BUILDING['id']}/attrs/scope")).status == 204
    body = await get_json(client, f"{API}/entities/{BUILDING['id']}")
    assert "scope" not in body


# --- tenants ----------------------------------------------------------------------------------

async def test_an_unknown_tenant_is_404_nonexistent_tenant_until_a_create(client):
    headers = {"NGSILD-Tenant": "hyogo"}
    response = await client.get(f"{API}/entities/{BUILDING['id']}", headers=headers)
    await problem(response, 404, "NonexistentTenant")
    assert response.headers["NGSILD-Tenant"] == "hyogo"
    response = await client.post(f"{API}/entities", json=BUILDING, headers=headers)
    assert response.status == 201
    assert response.headers["NGSILD-Tenant"] == "hyogo"
    assert (await client.get(f"{API}/entities/{BUILDING['id']}", headers=headers)).status == 200


async def test_tenants_are_isolated_and_names_are_normalised(client):
    await create(client, headers={"NGSILD-Tenant": "Osaka"})
    assert (await client.get(f"{API}/entities/{BUILDING['id']}", headers={"NGSILD-Tenant": "osaka"})).status == 200
    assert (await client.get(f"{API}/entities/{BUILDING['id']}",
                             headers={"Fiware-Service": "OSAKA"})).status == 200
    await problem(await client.get(f"{API}/entities/{BUILDING['id']}"), 404, "ResourceNotFound")


@pytest.mark.parametrize("tenant", ["has space", "x" * 49, "slash/no", "catalog"])
async def test_an_invalid_tenant_name_is_400(client, tenant):
    response = await client.post(f"{API}/entities", json=BUILDING, headers={"NGSILD-Tenant": tenant})
    await problem(response, 400, "BadRequestData")


async def test_a_rejected_create_does_not_create_the_tenant(client):
    headers = {"NGSILD-Tenant": "nara"}
    bad = {"id": "urn:ngsi-ld:T:1"}
    await problem(await client.post(f"{API}/entities", json=bad, headers=headers), 400, "BadRequestData")
    await problem(await client.get(f"{API}/entities/urn:ngsi-ld:T:1", headers=headers), 404, "NonexistentTenant")


async def test_delete_scope_of_an_entity_without_scope_is_404(client):
    await create(client)
    await problem(await client.delete(f"{API}/entities/{BUILDING['id']}/attrs/scope"), 404, "ResourceNotFound")
