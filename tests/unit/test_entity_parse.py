"""Entity, fragment and attribute payload parsing into the expanded model (broker/ngsild/entity.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from broker.ngsild.context import core_term_map
from broker.ngsild.entity import MAX_DEPTH, is_null, parse_attribute, parse_entity, parse_fragment
from broker.ngsild.errors import BadRequestData, InvalidRequest
from broker.ngsild.model import NGSI_LD_NULL

NOW = datetime(2026, 11, 30, 5, 0, 0, tzinfo=UTC)
TERMS = core_term_map()
DC = "https://uri.etsi.org/ngsi-ld/default-context/"
CORE = "https://uri.etsi.org/ngsi-ld/"
STAMP = {"createdAt": NOW, "modifiedAt": NOW}
NULL = NGSI_LD_NULL
POINT = {"type": "Point", "coordinates": [135.5, 34.7]}
ENTITY_ID = "urn:ngsi-ld:Building:1"


def stamped(**members: Any) -> dict[str, Any]:
    """An expected instance: the members given plus the broker's createdAt/modifiedAt."""
    return {**members, **STAMP}


def body(**attrs: Any) -> dict[str, Any]:
    return {"id": ENTITY_ID, "type": "Building", **attrs}


def parse_one(value: Any, name: str = "a") -> list[dict[str, Any]]:
    """The instances parse_entity makes of one attribute `name` holding `value`."""
    return parse_entity(body(**{name: value}), TERMS, now=NOW)["attrs"][TERMS.expand(name)]


def merge(value: Any, name: str = "a") -> list[dict[str, Any]]:
    """The instances of one attribute of a merge fragment (NGSI-LD Null allowed)."""
    return parse_fragment({name: value}, TERMS, now=NOW, allow_null=True)["attrs"][TERMS.expand(name)]


# --- whole entities -------------------------------------------------------------------------------

def test_entity_is_expanded_and_stamped_on_the_entity_and_every_instance() -> None:
    entity = parse_entity({
        "id": ENTITY_ID, "type": "Building", "scope": "/Osaka/Kita",
        "temperature": {"type": "Property", "value": 21.5, "unitCode": "CEL",
                        "observedAt": "2026-11-30T05:00:00Z",
                        "accuracy": {"type": "Property", "value": 0.5}},
        "location": POINT,
    }, TERMS, now=NOW)
    assert entity == {
        "id": ENTITY_ID,
        "type": [DC + "Building"],
        "scope": ["/Osaka/Kita"],
        "createdAt": NOW, "modifiedAt": NOW,
        "attrs": {
            DC + "temperature": [stamped(type="Property", value=21.5, unitCode="CEL",
                                         observedAt="2026-11-30T05:00:00Z",
                                         attrs={DC + "accuracy": stamped(type="Property", value=0.5)})],
            CORE + "location": [stamped(type="GeoProperty", value=POINT)],
        },
    }


def test_entity_without_attributes_has_empty_attrs() -> None:
    assert parse_entity(body(), TERMS, now=NOW) == {
        "id": ENTITY_ID, "type": [DC + "Building"], "createdAt": NOW, "modifiedAt": NOW, "attrs": {}}


@pytest.mark.parametrize("payload", [[], [body()], "x", 5, None, True])
def test_entity_body_that_is_not_an_object_is_invalid_request(payload: Any) -> None:
    with pytest.raises(InvalidRequest):
        parse_entity(payload, TERMS, now=NOW)
    with pytest.raises(InvalidRequest):
        parse_fragment(payload, TERMS, now=NOW, allow_null=True)


ID_ERRORS: list[tuple[str, dict[str, Any]]] = [
    ("missing", {"type": "Building"}),
    ("json_null", {"id": None, "type": "Building"}),
    ("not_a_uri", {"id": "Building1", "type": "Building"}),
    ("with_space", {"id": "urn:ngsi-ld:Building 1", "type": "Building"}),
    ("number", {"id": 5, "type": "Building"}),
    ("empty", {"id": "", "type": "Building"}),
    ("ngsi_ld_null", {"id": NULL, "type": "Building"}),
    ("id_and_at_id_disagree", {"id": ENTITY_ID, "@id": "urn:x:2", "type": "Building"}),
]


@pytest.mark.parametrize(("case", "payload"), ID_ERRORS, ids=[c for c, _ in ID_ERRORS])
def test_entity_with_bad_id_is_bad_request_data(case: str, payload: dict[str, Any]) -> None:
    with pytest.raises(BadRequestData, match="'id'"):
        parse_entity(payload, TERMS, now=NOW)


def test_entity_accepts_json_ld_keyword_aliases_for_id_and_type() -> None:
    entity = parse_entity({"@id": ENTITY_ID, "@type": "Building"}, TERMS, now=NOW)
    assert (entity["id"], entity["type"]) == (ENTITY_ID, [DC + "Building"])


TYPES_OK: list[tuple[Any, list[str]]] = [
    ("Building", [DC + "Building"]),
    (["Building", "Shop"], [DC + "Building", DC + "Shop"]),
    (["Shop", "Building", "Shop"], [DC + "Shop", DC + "Building"]),
    (["Building", DC + "Building"], [DC + "Building"]),
    ("https://example.org/Building", ["https://example.org/Building"]),
    ("urn:example:Building", ["urn:example:Building"]),
]


@pytest.mark.parametrize(("raw", "expected"), TYPES_OK)
def test_entity_types_are_expanded_deduplicated_in_order(raw: Any, expected: list[str]) -> None:
    assert parse_entity({"id": ENTITY_ID, "type": raw}, TERMS, now=NOW)["type"] == expected


TYPE_ERRORS: list[tuple[str, dict[str, Any]]] = [
    ("missing", {"id": ENTITY_ID}),
    ("json_null", {"id": ENTITY_ID, "type": None}),
    ("empty_list", {"id": ENTITY_ID, "type": []}),
    ("number", {"id": ENTITY_ID, "type": 3}),
    ("object", {"id": ENTITY_ID, "type": {"a": 1}}),
    ("list_with_number", {"id": ENTITY_ID, "type": ["Building", 3]}),
    ("space", {"id": ENTITY_ID, "type": "My Building"}),
    ("empty_string", {"id": ENTITY_ID, "type": ""}),
    ("literal_type", {"id": ENTITY_ID, "type": "type"}),
    ("punctuation", {"id": ENTITY_ID, "type": "Build<ing>"}),
    ("ngsi_ld_null", {"id": ENTITY_ID, "type": NULL}),
    ("type_and_at_type_disagree", {"id": ENTITY_ID, "type": "A", "@type": "B"}),
]


@pytest.mark.parametrize(("case", "payload"), TYPE_ERRORS, ids=[c for c, _ in TYPE_ERRORS])
def test_entity_with_bad_type_is_bad_request_data(case: str, payload: dict[str, Any]) -> None:
    with pytest.raises(BadRequestData, match="type"):
        parse_entity(payload, TERMS, now=NOW)


SCOPES_OK: list[tuple[Any, list[str]]] = [
    ("/Osaka/Kita", ["/Osaka/Kita"]),
    ("Osaka", ["Osaka"]),
    (["/Osaka", "/Kyoto/Sakyo"], ["/Osaka", "/Kyoto/Sakyo"]),
    (["/Osaka", "/Osaka"], ["/Osaka"]),
]


@pytest.mark.parametrize(("raw", "expected"), SCOPES_OK)
def test_scope_is_stored_as_a_list(raw: Any, expected: list[str]) -> None:
    assert parse_entity(body(scope=raw), TERMS, now=NOW)["scope"] == expected


@pytest.mark.parametrize("raw", ["", "/", "/Osaka//Kita", "/Osaka/", "Osaka Kita", "/Osaka/#", [], ["/ok", 3],
                                 None, 7, NULL])
def test_invalid_scope_is_bad_request_data(raw: Any) -> None:
    with pytest.raises(BadRequestData, match="scope"):
        parse_entity(body(scope=raw), TERMS, now=NOW)


def test_entity_level_context_and_system_members_are_ignored() -> None:
    entity = parse_entity(body(**{"@context": ["https://example.org/ctx.jsonld"],
                                  "createdAt": "2001-01-01T00:00:00Z", "modifiedAt": "bad",
                                  "deletedAt": "2001-01-01T00:00:00Z"}), TERMS, now=NOW)
    assert entity == parse_entity(body(), TERMS, now=NOW)


def test_entity_expires_at_is_kept_as_the_clients_string() -> None:
    entity = parse_entity(body(expiresAt="2030-01-01T00:00:00.5Z"), TERMS, now=NOW)
    assert entity["expiresAt"] == "2030-01-01T00:00:00.5Z"


@pytest.mark.parametrize("raw", ["2030-01-01T00:00:00+02:00", "2030-01-01", "2030-13-01T00:00:00Z", 5, NULL])
def test_entity_expires_at_that_is_not_a_datetime_is_bad_request_data(raw: Any) -> None:
    with pytest.raises(BadRequestData, match="expiresAt"):
        parse_entity(body(expiresAt=raw), TERMS, now=NOW)


def test_client_created_at_and_modified_at_on_instances_are_replaced_by_now() -> None:
    assert parse_one({"type": "Property", "value": 1, "createdAt": "2001-01-01T00:00:00Z",
                      "modifiedAt": "2001-01-01T00:00:00Z", "instanceId": "urn:i:1",
                      "deletedAt": "2001-01-01T00:00:00Z"}) == [stamped(type="Property", value=1)]


# --- attribute names ------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "expanded"), [
    ("temperature", DC + "temperature"),
    ("https://example.org/speed", "https://example.org/speed"),
    ("urn:example:speed", "urn:example:speed"),
    ("_private2", DC + "_private2"),
])
def test_attribute_names_are_expanded(name: str, expanded: str) -> None:
    assert list(parse_entity(body(**{name: 1}), TERMS, now=NOW)["attrs"]) == [expanded]


@pytest.mark.parametrize("name", ["a b", "2cool", "tempé", "a-b", "a.b", "value", "object", "observedAt",
                                  "datasetId", "unitCode", "instanceId", "languageMap", "lang", "json",
                                  NULL])
def test_invalid_or_reserved_attribute_name_is_bad_request_data(name: str) -> None:
    with pytest.raises(BadRequestData, match="attribute name"):
        parse_entity(body(**{name: 1}), TERMS, now=NOW)


@pytest.mark.parametrize("name", ["a b", "id", "scope", "lang", "entity", "@id", "@type"])
def test_invalid_or_reserved_sub_attribute_name_is_bad_request_data(name: str) -> None:
    with pytest.raises(BadRequestData, match="attribute name"):
        parse_one({"value": 1, "sub": {"value": 2, name: 3}})


# --- normalized attributes ------------------------------------------------------------------------

NORMALIZED: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("property_number", {"type": "Property", "value": 1.5}, {"type": "Property", "value": 1.5}),
    ("property_false", {"type": "Property", "value": False}, {"type": "Property", "value": False}),
    ("property_zero", {"type": "Property", "value": 0}, {"type": "Property", "value": 0}),
    ("property_object_value", {"type": "Property", "value": {"b": [1, None]}},
     {"type": "Property", "value": {"b": [1, None]}}),
    ("property_geometry_shaped_value_stays_property", {"type": "Property", "value": POINT},
     {"type": "Property", "value": POINT}),
    ("property_with_meta", {"type": "Property", "value": 1, "unitCode": "CEL", "valueType": "xsd:int",
                            "observedAt": "2026-11-30T05:00:00.123Z", "expiresAt": "2027-01-01T00:00:00Z",
                            "datasetId": "urn:ngsi-ld:Dataset:a"},
     {"type": "Property", "value": 1, "unitCode": "CEL", "valueType": "xsd:int",
      "observedAt": "2026-11-30T05:00:00.123Z", "expiresAt": "2027-01-01T00:00:00Z",
      "datasetId": "urn:ngsi-ld:Dataset:a"}),
    ("dataset_id_none_is_the_default_instance", {"type": "Property", "value": 1, "datasetId": "@none"},
     {"type": "Property", "value": 1}),
    ("relationship", {"type": "Relationship", "object": "urn:ngsi-ld:Owner:1"},
     {"type": "Relationship", "object": "urn:ngsi-ld:Owner:1"}),
    ("relationship_to_several", {"type": "Relationship", "object": ["urn:a:1", "urn:a:2"]},
     {"type": "Relationship", "object": ["urn:a:1", "urn:a:2"]}),
    ("relationship_object_type_expanded",
     {"type": "Relationship", "object": "urn:a:1", "objectType": "Owner"},
     {"type": "Relationship", "object": "urn:a:1", "objectType": DC + "Owner"}),
    ("relationship_object_type_list",
     {"type": "Relationship", "object": "urn:a:1", "objectType": ["Owner", "https://example.org/X"]},
     {"type": "Relationship", "object": "urn:a:1", "objectType": [DC + "Owner", "https://example.org/X"]}),
    ("geo_property", {"type": "GeoProperty", "value": POINT}, {"type": "GeoProperty", "value": POINT}),
    ("geo_property_from_string", {"type": "GeoProperty", "value": '{"type":"Point","coordinates":[1,2]}'},
     {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [1, 2]}}),
    ("geo_property_unit_code_tolerated", {"type": "GeoProperty", "value": POINT, "unitCode": "MTR"},
     {"type": "GeoProperty", "value": POINT, "unitCode": "MTR"}),
    ("language_property", {"type": "LanguageProperty", "languageMap": {"en": "Castle", "ja": ["城", "お城"],
                                                                       "zh-Hant-TW": "城", "@none": "Jo"}},
     {"type": "LanguageProperty", "languageMap": {"en": "Castle", "ja": ["城", "お城"],
                                                  "zh-Hant-TW": "城", "@none": "Jo"}}),
    ("language_property_lang_string", {"type": "LanguageProperty", "languageMap": {"en": "x"},
                                       "valueType": "langString"},
     {"type": "LanguageProperty", "languageMap": {"en": "x"}, "valueType": "langString"}),
    ("vocab_property", {"type": "VocabProperty", "vocab": "Bull"},
     {"type": "VocabProperty", "vocab": DC + "Bull"}),
    ("vocab_property_list", {"type": "VocabProperty", "vocab": ["Bull", "ngsi-ld:Cow"]},
     {"type": "VocabProperty", "vocab": [DC + "Bull", CORE + "Cow"]}),
    ("vocab_property_iri_kept", {"type": "VocabProperty", "vocab": "https://example.org/Bull"},
     {"type": "VocabProperty", "vocab": "https://example.org/Bull"}),
    ("list_property", {"type": "ListProperty", "valueList": [1, "two", {"three": 3}], "unitCode": "C62"},
     {"type": "ListProperty", "valueList": [1, "two", {"three": 3}], "unitCode": "C62"}),
    ("empty_list_property", {"type": "ListProperty", "valueList": []},
     {"type": "ListProperty", "valueList": []}),
    ("list_relationship_wrapped", {"type": "ListRelationship", "objectList": [{"object": "urn:a:1"},
                                                                             {"object": "urn:a:2"}]},
     {"type": "ListRelationship", "objectList": ["urn:a:1", "urn:a:2"]}),
    ("list_relationship_bare_uris", {"type": "ListRelationship", "objectList": ["urn:a:1", "urn:a:2"]},
     {"type": "ListRelationship", "objectList": ["urn:a:1", "urn:a:2"]}),
    ("list_relationship_object_type", {"type": "ListRelationship", "objectList": [], "objectType": "Owner"},
     {"type": "ListRelationship", "objectList": [], "objectType": DC + "Owner"}),
    ("json_property_object_never_expanded", {"type": "JsonProperty", "json": {"type": "Building", "id": 1}},
     {"type": "JsonProperty", "json": {"type": "Building", "id": 1}}),
    ("json_property_array", {"type": "JsonProperty", "json": [1, {"a": None}]},
     {"type": "JsonProperty", "json": [1, {"a": None}]}),
    ("sub_attributes_of_every_kind", {"type": "Property", "value": 1,
                                      "providedBy": {"type": "Relationship", "object": "urn:a:1"},
                                      "precision": 0.1,
                                      "nested": {"value": 2, "deeper": {"object": "urn:b:1"}}},
     {"type": "Property", "value": 1, "attrs": {
         DC + "providedBy": stamped(type="Relationship", object="urn:a:1"),
         DC + "precision": stamped(type="Property", value=0.1),
         DC + "nested": stamped(type="Property", value=2, attrs={
             DC + "deeper": stamped(type="Relationship", object="urn:b:1")}),
     }}),
]


@pytest.mark.parametrize(("case", "value", "expected"), NORMALIZED, ids=[c for c, _, _ in NORMALIZED])
def test_normalized_attribute_is_parsed(case: str, value: dict[str, Any], expected: dict[str, Any]) -> None:
    assert parse_one(value) == [stamped(**expected)]


# --- concise attributes (4.5.x.3) -----------------------------------------------------------------

CONCISE: list[tuple[str, str, Any, dict[str, Any]]] = [
    ("bare_string", "a", "text", {"type": "Property", "value": "text"}),
    ("bare_number", "a", 7, {"type": "Property", "value": 7}),
    ("bare_boolean", "a", True, {"type": "Property", "value": True}),
    ("bare_array", "a", [1, 2], {"type": "Property", "value": [1, 2]}),
    ("bare_empty_array", "a", [], {"type": "Property", "value": []}),
    ("bare_array_of_objects_without_value_members", "a", [{"x": 1}, {"y": 2}],
     {"type": "Property", "value": [{"x": 1}, {"y": 2}]}),
    ("bare_array_of_geometries", "a", [POINT, POINT], {"type": "Property", "value": [POINT, POINT]}),
    ("value", "a", {"value": {"x": 1}}, {"type": "Property", "value": {"x": 1}}),
    ("value_with_meta", "a", {"value": 3, "unitCode": "CEL", "observedAt": "2026-11-30T05:00:00Z"},
     {"type": "Property", "value": 3, "unitCode": "CEL", "observedAt": "2026-11-30T05:00:00Z"}),
    ("value_geometry", "area", {"value": POINT}, {"type": "GeoProperty", "value": POINT}),
    ("value_geometry_string_for_location", "location", {"value": '{"type":"Point","coordinates":[1,2]}'},
     {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [1, 2]}}),
    ("bare_geometry", "area", POINT, {"type": "GeoProperty", "value": POINT}),
    ("bare_geometry_location", "location", POINT, {"type": "GeoProperty", "value": POINT}),
    ("bare_geometry_string_location", "location", '{"type":"Point","coordinates":[1,2]}',
     {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [1, 2]}}),
    ("bare_geometry_observation_space", "observationSpace", POINT, {"type": "GeoProperty", "value": POINT}),
    ("bare_geometry_operation_space", "operationSpace", POINT, {"type": "GeoProperty", "value": POINT}),
    ("bare_geometry_string_elsewhere_is_a_string", "a", '{"type":"Point","coordinates":[1,2]}',
     {"type": "Property", "value": '{"type":"Point","coordinates":[1,2]}'}),
    ("object", "a", {"object": "urn:a:1"}, {"type": "Relationship", "object": "urn:a:1"}),
    ("object_with_object_type", "a", {"object": "urn:a:1", "objectType": "Owner"},
     {"type": "Relationship", "object": "urn:a:1", "objectType": DC + "Owner"}),
    ("language_map", "a", {"languageMap": {"en": "x"}},
     {"type": "LanguageProperty", "languageMap": {"en": "x"}}),
    ("vocab", "a", {"vocab": "Bull"}, {"type": "VocabProperty", "vocab": DC + "Bull"}),
    ("value_list", "a", {"valueList": [1, 2]}, {"type": "ListProperty", "valueList": [1, 2]}),
    ("object_list", "a", {"objectList": ["urn:a:1", {"object": "urn:a:2"}]},
     {"type": "ListRelationship", "objectList": ["urn:a:1", "urn:a:2"]}),
    ("json", "a", {"json": {"k": "v"}}, {"type": "JsonProperty", "json": {"k": "v"}}),
    ("sub_attribute_with_own_observed_at", "a",
     {"value": 1, "sub": {"value": 2, "observedAt": "2026-01-01T00:00:00Z"}},
     {"type": "Property", "value": 1, "attrs": {
         DC + "sub": stamped(type="Property", value=2, observedAt="2026-01-01T00:00:00Z")}}),
]


@pytest.mark.parametrize(("case", "name", "value", "expected"), CONCISE, ids=[c[0] for c in CONCISE])
def test_concise_attribute_type_is_inferred(case: str, name: str, value: Any,
                                            expected: dict[str, Any]) -> None:
    assert parse_one(value, name) == [stamped(**expected)]


def test_strings_are_returned_unchanged() -> None:
    text = "<b>\"quoted\"</b> 'single' a=b; f(x) — 大阪 \u00e9"
    expected = [stamped(type="Property", value=text, unitCode="<>")]
    assert parse_one({"value": text, "unitCode": "<>"}) == expected


# --- invalid attributes ---------------------------------------------------------------------------

ATTRIBUTE_ERRORS: list[tuple[str, str, Any]] = [
    ("json_null", "a", None),
    ("property_value_null", "a", {"type": "Property", "value": None}),
    ("property_without_value", "a", {"type": "Property"}),
    ("property_with_object", "a", {"type": "Property", "value": 1, "object": "urn:a:1"}),
    ("property_with_language_map", "a", {"type": "Property", "value": 1, "languageMap": {"en": "x"}}),
    ("property_with_vocab", "a", {"type": "Property", "value": 1, "vocab": "x"}),
    ("property_with_json", "a", {"type": "Property", "value": 1, "json": {}}),
    ("property_with_value_list", "a", {"type": "Property", "value": 1, "valueList": []}),
    ("property_with_object_list", "a", {"type": "Property", "value": 1, "objectList": []}),
    ("property_with_object_type", "a", {"type": "Property", "value": 1, "objectType": "Owner"}),
    ("unknown_type", "a", {"type": "Attribute", "value": 1}),
    ("type_not_a_string", "a", {"type": ["Property"], "value": 1}),
    ("type_json_null", "a", {"type": None, "value": 1}),
    ("object_without_value_members_is_ambiguous", "a", {"street": "Main", "city": "Osaka"}),
    ("empty_object", "a", {}),
    ("concise_with_two_value_members", "a", {"value": 1, "object": "urn:a:1"}),
    ("context_in_attribute", "a", {"type": "Property", "value": 1, "@context": {}}),
    ("context_in_sub_attribute", "a", {"value": 1, "sub": {"value": 2, "@context": {}}}),
    ("observed_at_without_z", "a", {"value": 1, "observedAt": "2026-11-30T05:00:00+09:00"}),
    ("observed_at_not_a_string", "a", {"value": 1, "observedAt": 1700000000}),
    ("expires_at_invalid", "a", {"value": 1, "expiresAt": "tomorrow"}),
    ("unit_code_not_a_string", "a", {"value": 1, "unitCode": 5}),
    ("unit_code_empty", "a", {"value": 1, "unitCode": ""}),
    ("value_type_not_a_string", "a", {"value": 1, "valueType": 5}),
    ("dataset_id_not_a_uri", "a", {"value": 1, "datasetId": "dataset a"}),
    ("dataset_id_number", "a", {"value": 1, "datasetId": 5}),
    ("relationship_without_object", "a", {"type": "Relationship"}),
    ("relationship_object_not_uri", "a", {"type": "Relationship", "object": "not a uri"}),
    ("relationship_object_empty_list", "a", {"type": "Relationship", "object": []}),
    ("relationship_object_list_with_bad_uri", "a", {"type": "Relationship", "object": ["urn:a:1", "x"]}),
    ("relationship_object_number", "a", {"type": "Relationship", "object": 5}),
    ("relationship_with_value", "a", {"type": "Relationship", "object": "urn:a:1", "value": 1}),
    ("relationship_with_unit_code", "a", {"type": "Relationship", "object": "urn:a:1", "unitCode": "CEL"}),
    ("relationship_with_value_type", "a", {"type": "Relationship", "object": "urn:a:1", "valueType": "x"}),
    ("relationship_object_type_invalid", "a", {"object": "urn:a:1", "objectType": "not valid"}),
    ("relationship_object_type_empty_list", "a", {"object": "urn:a:1", "objectType": []}),
    ("geo_property_without_value", "a", {"type": "GeoProperty"}),
    ("geo_property_not_geometry", "a", {"type": "GeoProperty", "value": [1, 2]}),
    ("geo_property_bad_string", "a", {"type": "GeoProperty", "value": "Osaka"}),
    ("geo_property_out_of_range", "a",
     {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [0, 95]}}),
    ("concise_geometry_value_out_of_range", "a", {"value": {"type": "Point", "coordinates": [200, 0]}}),
    ("language_map_not_object", "a", {"type": "LanguageProperty", "languageMap": "Castle"}),
    ("language_map_missing", "a", {"type": "LanguageProperty"}),
    ("language_map_bad_tag", "a", {"languageMap": {"english language": "x"}}),
    ("language_map_too_long_subtag", "a", {"languageMap": {"en-abcdefghi": "x"}}),
    ("language_map_number_value", "a", {"languageMap": {"en": 5}}),
    ("language_map_list_with_number", "a", {"languageMap": {"en": ["x", 5]}}),
    ("language_property_with_value", "a",
     {"type": "LanguageProperty", "languageMap": {"en": "x"}, "value": "x"}),
    ("language_property_wrong_value_type", "a", {"languageMap": {"en": "x"}, "valueType": "xsd:string"}),
    ("language_property_with_unit_code", "a", {"languageMap": {"en": "x"}, "unitCode": "CEL"}),
    ("vocab_number", "a", {"vocab": 5}),
    ("vocab_empty_string", "a", {"vocab": ""}),
    ("vocab_empty_list", "a", {"vocab": []}),
    ("vocab_property_with_value", "a", {"type": "VocabProperty", "vocab": "x", "value": 1}),
    ("value_list_not_a_list", "a", {"valueList": {"a": 1}}),
    ("list_property_with_value", "a", {"type": "ListProperty", "valueList": [], "value": 1}),
    ("object_list_not_a_list", "a", {"objectList": "urn:a:1"}),
    ("object_list_bad_uri", "a", {"objectList": ["not a uri"]}),
    ("object_list_wrapper_with_extra_member", "a", {"objectList": [{"object": "urn:a:1", "value": 1}]}),
    ("object_list_with_unit_code", "a", {"objectList": [], "unitCode": "CEL"}),
    ("json_scalar", "a", {"json": 5}),
    ("json_string", "a", {"json": "{}"}),
    ("json_property_with_value", "a", {"type": "JsonProperty", "json": {}, "value": 1}),
    ("json_property_with_unit_code", "a", {"json": {}, "unitCode": "CEL"}),
    ("location_as_property", "location", {"type": "Property", "value": POINT}),
    ("location_bare_string", "location", "Osaka"),
    ("location_relationship", "location", {"object": "urn:a:1"}),
    ("observation_space_as_property", "observationSpace", {"type": "Property", "value": 1}),
    ("operation_space_as_property", "operationSpace", {"value": "here"}),
    ("location_invalid_geometry", "location", {"type": "Point", "coordinates": [1]}),
    ("sub_attribute_json_null", "a", {"value": 1, "sub": None}),
    ("sub_attribute_multi_instance", "a",
     {"value": 1, "sub": [{"value": 1}, {"value": 2, "datasetId": "urn:d:1"}]}),
    ("sub_attribute_invalid", "a", {"value": 1, "sub": {"type": "Relationship", "object": "x"}}),
    ("sub_attribute_given_twice_by_two_names", "a", {"value": 1, "sub": 1, DC + "sub": 2}),
    ("lang_member", "a", {"type": "Property", "value": "x", "lang": "en"}),
    ("entity_member", "a", {"type": "Relationship", "object": "urn:a:1", "entity": {}}),
]


@pytest.mark.parametrize(("case", "name", "value"), ATTRIBUTE_ERRORS, ids=[c[0] for c in ATTRIBUTE_ERRORS])
def test_invalid_attribute_is_bad_request_data_naming_it(case: str, name: str, value: Any) -> None:
    with pytest.raises(BadRequestData, match=f"'{name}"):
        parse_one(value, name)


# --- multi-attributes (4.5.5) ---------------------------------------------------------------------

def test_multi_attribute_array_gives_one_instance_per_item() -> None:
    assert parse_one([
        {"type": "Property", "value": 1},
        {"value": 2, "datasetId": "urn:ngsi-ld:Dataset:b"},
        {"object": "urn:a:1", "datasetId": "urn:ngsi-ld:Dataset:c"},
    ]) == [
        stamped(type="Property", value=1),
        stamped(type="Property", value=2, datasetId="urn:ngsi-ld:Dataset:b"),
        stamped(type="Relationship", object="urn:a:1", datasetId="urn:ngsi-ld:Dataset:c"),
    ]


def test_multi_attribute_with_dataset_id_none_is_the_default_instance() -> None:
    assert parse_one([{"value": 1, "datasetId": "@none"}, {"value": 2, "datasetId": "urn:d:1"}]) == [
        stamped(type="Property", value=1), stamped(type="Property", value=2, datasetId="urn:d:1")]


def test_two_terms_for_one_attribute_are_merged_into_one_attribute() -> None:
    payload = body(speed=1, **{DC + "speed": {"value": 2, "datasetId": "urn:d:1"}})
    entity = parse_entity(payload, TERMS, now=NOW)
    assert entity["attrs"] == {DC + "speed": [stamped(type="Property", value=1),
                                              stamped(type="Property", value=2, datasetId="urn:d:1")]}


MULTI_ERRORS: list[tuple[str, dict[str, Any]]] = [
    ("two_default_instances", {"a": [{"value": 1}, {"value": 2}]}),
    ("default_and_none_dataset", {"a": [{"value": 1}, {"value": 2, "datasetId": "@none"}]}),
    ("same_dataset_twice",
     {"a": [{"value": 1, "datasetId": "urn:d:1"}, {"value": 2, "datasetId": "urn:d:1"}]}),
    ("default_instance_under_two_terms", {"a": 1, DC + "a": 2}),
    ("invalid_item", {"a": [{"value": 1}, {"type": "Property", "datasetId": "urn:d:1"}]}),
]


@pytest.mark.parametrize(("case", "attrs"), MULTI_ERRORS, ids=[c for c, _ in MULTI_ERRORS])
def test_multi_attribute_dataset_rules_are_bad_request_data(case: str, attrs: dict[str, Any]) -> None:
    with pytest.raises(BadRequestData, match="a'"):  # the term as written, e.g. 'a' or '…/a'
        parse_entity(body(**attrs), TERMS, now=NOW)


# --- NGSI-LD Null (5.2.1) -------------------------------------------------------------------------

NULL_PLACES: list[tuple[str, Any]] = [
    ("bare_value", NULL),
    ("value", {"value": NULL}),
    ("typed_value", {"type": "Property", "value": NULL}),
    ("object", {"object": NULL}),
    ("vocab", {"vocab": NULL}),
    ("json", {"json": NULL}),
    ("value_list", {"valueList": NULL}),
    ("object_list", {"objectList": NULL}),
    ("language_map_none", {"languageMap": {"@none": NULL}}),
    ("sub_attribute_value", {"value": 1, "sub": NULL}),
]


@pytest.mark.parametrize(("case", "value"), NULL_PLACES, ids=[c for c, _ in NULL_PLACES])
def test_null_is_refused_in_create_and_append(case: str, value: Any) -> None:
    with pytest.raises(BadRequestData, match="'a"):
        parse_one(value)
    with pytest.raises(BadRequestData, match="'a"):
        parse_fragment({"a": value}, TERMS, now=NOW, allow_null=False)


NULL_KEPT: list[tuple[str, str, Any, dict[str, Any]]] = [
    ("bare_value", "a", NULL, {"type": "Property", "value": NULL}),
    ("bare_value_location", "location", NULL, {"type": "GeoProperty", "value": NULL}),
    ("value", "a", {"value": NULL}, {"type": "Property", "value": NULL}),
    ("value_location", "location", {"value": NULL}, {"type": "GeoProperty", "value": NULL}),
    ("typed_value_with_dataset", "a", {"type": "Property", "value": NULL, "datasetId": "urn:d:1"},
     {"type": "Property", "value": NULL, "datasetId": "urn:d:1"}),
    ("object", "a", {"object": NULL}, {"type": "Relationship", "object": NULL}),
    ("vocab", "a", {"vocab": NULL}, {"type": "VocabProperty", "vocab": NULL}),
    ("json", "a", {"json": NULL}, {"type": "JsonProperty", "json": NULL}),
    ("value_list", "a", {"valueList": NULL}, {"type": "ListProperty", "valueList": NULL}),
    ("object_list", "a", {"objectList": NULL}, {"type": "ListRelationship", "objectList": NULL}),
    ("language_map_none", "a", {"languageMap": {"@none": NULL}},
     {"type": "LanguageProperty", "languageMap": {"@none": NULL}}),
    ("sub_attribute", "a", {"value": 1, "sub": NULL},
     {"type": "Property", "value": 1, "attrs": {DC + "sub": stamped(type="Property", value=NULL)}}),
]


@pytest.mark.parametrize(("case", "name", "value", "expected"), NULL_KEPT, ids=[c[0] for c in NULL_KEPT])
def test_null_is_kept_as_is_in_update_and_merge(case: str, name: str, value: Any,
                                                expected: dict[str, Any]) -> None:
    assert merge(value, name) == [stamped(**expected)]


NULL_MISPLACED: list[tuple[str, Any]] = [
    ("dataset_id", {"value": 1, "datasetId": NULL}),
    ("unit_code", {"value": 1, "unitCode": NULL}),
    ("observed_at", {"value": 1, "observedAt": NULL}),
    ("value_type", {"value": 1, "valueType": NULL}),
    ("object_type", {"object": "urn:a:1", "objectType": NULL}),
    ("nested_in_object_value", {"value": {"x": NULL}}),
    ("nested_in_array_value", {"value": [1, [NULL]]}),
    ("nested_in_bare_array", [1, NULL]),
    ("inside_object_list", {"objectList": ["urn:a:1", NULL]}),
    ("inside_object_list_wrapper", {"objectList": [{"object": NULL}]}),
    ("inside_relationship_list", {"object": ["urn:a:1", NULL]}),
    ("inside_vocab_list", {"vocab": ["Bull", NULL]}),
    ("inside_value_list", {"valueList": [NULL]}),
    ("inside_json", {"json": {"k": NULL}}),
    ("language_map_tag", {"languageMap": {"en": NULL}}),
    ("language_map_list", {"languageMap": {"@none": [NULL]}}),
    ("language_map_string", {"languageMap": NULL, "type": "LanguageProperty"}),
    ("attribute_type", {"type": NULL, "value": 1}),
]


@pytest.mark.parametrize(("case", "value"), NULL_MISPLACED, ids=[c for c, _ in NULL_MISPLACED])
def test_null_outside_its_legal_places_is_refused_even_in_merge(case: str, value: Any) -> None:
    with pytest.raises(BadRequestData, match="'a"):
        merge(value)


@pytest.mark.parametrize("member", ["id", "type", "scope"])
def test_null_entity_members_are_refused_in_merge(member: str) -> None:
    with pytest.raises(BadRequestData):
        parse_fragment({member: NULL}, TERMS, now=NOW, allow_null=True)


@pytest.mark.parametrize(("value", "expected"), [(NULL, True), ("urn:ngsi-ld:Null", False), (None, False),
                                                 ("", False), ([NULL], False)])
def test_is_null_matches_only_the_ngsi_ld_null_string(value: Any, expected: bool) -> None:
    assert is_null(value) is expected


# --- nesting bound --------------------------------------------------------------------------------

def _nested_list(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


def _nested_object(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = {"k": value}
    return value


def _nested_sub_attributes(levels: int) -> Any:
    value: Any = {"value": 1}
    for _ in range(levels):
        value = {"value": 1, "sub": value}
    return value


@pytest.mark.parametrize("value", [
    {"value": _nested_list(MAX_DEPTH)},
    {"value": _nested_object(5000)},
    {"json": _nested_list(5000)},
    {"valueList": _nested_list(MAX_DEPTH)},
    {"type": "GeoProperty", "value": {**POINT, "foreign": _nested_object(MAX_DEPTH)}},
    _nested_list(MAX_DEPTH),
    _nested_sub_attributes(MAX_DEPTH),
    _nested_sub_attributes(5000),
])
def test_values_nested_too_deeply_are_bad_request_data(value: Any) -> None:
    with pytest.raises(BadRequestData, match="deeper than 64"):
        parse_one(value)


def test_values_nested_within_the_bound_are_accepted() -> None:
    deep = _nested_object(MAX_DEPTH - 4)  # body, attribute and value objects take three levels
    assert parse_one({"value": deep}) == [stamped(type="Property", value=deep)]
    assert len(parse_one(_nested_sub_attributes(20))) == 1


# --- fragments (append / update / merge) ----------------------------------------------------------

def test_fragment_has_attrs_and_the_optional_entity_members() -> None:
    fragment = parse_fragment({"id": ENTITY_ID, "type": ["Shop", "Shop"], "scope": "/Osaka",
                               "expiresAt": "2030-01-01T00:00:00Z", "@context": "ignored",
                               "createdAt": "ignored", "speed": 3}, TERMS, now=NOW, allow_null=False)
    assert fragment == {"id": ENTITY_ID, "type": [DC + "Shop"], "scope": ["/Osaka"],
                        "expiresAt": "2030-01-01T00:00:00Z",
                        "attrs": {DC + "speed": [stamped(type="Property", value=3)]}}


def test_fragment_with_attributes_only() -> None:
    assert parse_fragment({"@id": ENTITY_ID, "speed": {"value": NULL}}, TERMS, now=NOW, allow_null=True) == {
        "id": ENTITY_ID, "attrs": {DC + "speed": [stamped(type="Property", value=NULL)]}}


@pytest.mark.parametrize("payload", [{"id": "bad id"}, {"type": []}, {"type": "type"}, {"scope": "//"},
                                     {"expiresAt": "soon"}, {"value": 1},
                                     {"a": {"type": "Nope", "value": 1}}])
def test_invalid_fragment_content_is_bad_request_data(payload: dict[str, Any]) -> None:
    with pytest.raises(BadRequestData):
        parse_fragment(payload, TERMS, now=NOW, allow_null=False)


# --- single attribute bodies (PATCH / PUT /entities/{id}/attrs/{attrId}) --------------------------

def put(value: Any, name: str = "speed", allow_null: bool = False) -> list[dict[str, Any]]:
    return parse_attribute(value, name, TERMS, now=NOW, allow_null=allow_null, partial=False)


def patch(value: Any, name: str = "speed") -> list[dict[str, Any]]:
    return parse_attribute(value, name, TERMS, now=NOW, allow_null=True, partial=True)


ATTRIBUTE_BODIES: list[tuple[str, Any, list[dict[str, Any]]]] = [
    ("normalized", {"type": "Property", "value": 5, "unitCode": "KMH"},
     [stamped(type="Property", value=5, unitCode="KMH")]),
    ("concise_value", {"value": 5}, [stamped(type="Property", value=5)]),
    ("relationship", {"type": "Relationship", "object": "urn:a:1"},
     [stamped(type="Relationship", object="urn:a:1")]),
    ("instances", [{"value": 5}, {"value": 6, "datasetId": "urn:d:1"}],
     [stamped(type="Property", value=5), stamped(type="Property", value=6, datasetId="urn:d:1")]),
]


@pytest.mark.parametrize(("case", "value", "expected"), ATTRIBUTE_BODIES,
                         ids=[c[0] for c in ATTRIBUTE_BODIES])
def test_replace_attribute_body_is_parsed(case: str, value: Any, expected: list[dict[str, Any]]) -> None:
    assert put(value) == expected


PARTIAL_BODIES: list[tuple[str, str, Any, list[dict[str, Any]]]] = [
    ("value_only_has_no_type", "speed", {"value": 56, "datasetId": "urn:d:1"},
     [stamped(value=56, datasetId="urn:d:1")]),
    ("members_only", "speed", {"unitCode": "KMH", "observedAt": "2026-11-30T05:00:00Z"},
     [stamped(unitCode="KMH", observedAt="2026-11-30T05:00:00Z")]),
    ("type_kept_when_given", "speed", {"type": "Property", "value": 56},
     [stamped(type="Property", value=56)]),
    ("type_without_value", "speed", {"type": "Property", "unitCode": "KMH"},
     [stamped(type="Property", unitCode="KMH")]),
    ("object_only", "owner", {"object": "urn:a:2"}, [stamped(object="urn:a:2")]),
    ("null_value", "speed", {"value": NULL}, [stamped(value=NULL)]),
    ("geometry_string_for_location_parsed", "location", {"value": '{"type":"Point","coordinates":[1,2]}'},
     [stamped(value={"type": "Point", "coordinates": [1, 2]})]),
    ("bare_geometry", "location", POINT, [stamped(value=POINT)]),
    ("sub_attribute_added_whole", "speed", {"accuracy": {"value": 1}},
     [stamped(attrs={DC + "accuracy": stamped(type="Property", value=1)})]),
    ("instances", "speed", [{"value": 1}, {"unitCode": "KMH", "datasetId": "urn:d:1"}],
     [stamped(value=1), stamped(unitCode="KMH", datasetId="urn:d:1")]),
]


@pytest.mark.parametrize(("case", "name", "value", "expected"), PARTIAL_BODIES,
                         ids=[c[0] for c in PARTIAL_BODIES])
def test_partial_update_body_keeps_only_the_members_given(case: str, name: str, value: Any,
                                                          expected: list[dict[str, Any]]) -> None:
    assert patch(value, name) == expected


def test_attribute_body_context_is_the_requests_and_ignored() -> None:
    context = "https://example.org/ctx.jsonld"
    assert patch({"value": 1, "@context": context}) == [stamped(value=1)]
    assert put({"value": 1, "@context": context}) == [stamped(type="Property", value=1)]
    with pytest.raises(BadRequestData, match="speed"):
        patch({"@context": context})


@pytest.mark.parametrize("value", ["x", 5, None, True])
def test_attribute_body_that_is_not_an_object_is_invalid_request(value: Any) -> None:
    with pytest.raises(InvalidRequest):
        patch(value)
    with pytest.raises(InvalidRequest):
        put(value)


ATTRIBUTE_BODY_ERRORS: list[tuple[str, bool, str, Any]] = [
    ("empty_object_partial", True, "speed", {}),
    ("empty_object_replace", False, "speed", {}),
    ("empty_array", True, "speed", []),
    ("array_with_scalar", True, "speed", [{"value": 1}, 5]),
    ("array_with_empty_object", False, "speed", [{}]),
    ("two_defaults", False, "speed", [{"value": 1}, {"value": 2}]),
    ("replace_without_value", False, "speed", {"unitCode": "KMH"}),
    ("replace_with_null", False, "speed", {"value": NULL}),
    ("partial_value_and_object", True, "speed", {"value": 1, "object": "urn:a:1"}),
    ("partial_type_with_foreign_member", True, "speed", {"type": "Property", "object": "urn:a:1"}),
    ("partial_relationship_for_location", True, "location", {"object": "urn:a:1"}),
    ("partial_bad_geometry_for_location", True, "location", {"value": "Osaka"}),
    ("partial_bad_unit_code", True, "speed", {"unitCode": 5}),
    ("partial_sub_attribute_without_value", True, "speed", {"accuracy": {"unitCode": "KMH"}}),
    ("context_in_sub_attribute", True, "speed", {"value": 1, "accuracy": {"value": 1, "@context": {}}}),
    ("partial_unknown_type", True, "speed", {"type": "Nope", "value": 1}),
]


@pytest.mark.parametrize(("case", "partial", "name", "value"), ATTRIBUTE_BODY_ERRORS,
                         ids=[c[0] for c in ATTRIBUTE_BODY_ERRORS])
def test_invalid_attribute_body_is_bad_request_data(case: str, partial: bool, name: str, value: Any) -> None:
    with pytest.raises(BadRequestData, match=name):
        parse_attribute(value, name, TERMS, now=NOW, allow_null=partial, partial=partial)
