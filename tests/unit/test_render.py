"""Rendering expanded entities: normalized, concise, keyValues, lang, projection, sysAttrs, GeoJSON."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from broker.ngsild.context import TermMap, compile_term_map, core_context_document, core_term_map
from broker.ngsild.model import Entity
from broker.ngsild.params import RenderOptions
from broker.ngsild.render import render_entity, render_geojson_feature, render_lang

CORE = core_term_map()
USER = compile_term_map(
    [{
        "schema": "https://schema.org/",
        "Building": "https://example.org/Building",
        "temperature": "https://example.org/temperature",
        "owner": "schema:owner",
        "Person": "schema:Person",
        "office": "https://example.org/vocab/office",
    }],
    core_context_document()["@context"],
)
D = "https://uri.etsi.org/ngsi-ld/default-context/"
NGSI = "https://uri.etsi.org/ngsi-ld/"
ID = "urn:ngsi-ld:Building:1"
T0 = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
T1 = datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC)
T0_OUT = "2026-01-02T03:04:05.678Z"
T1_OUT = "2026-02-03T04:05:06.000Z"
SEEN = "2026-11-30T05:00:00Z"
POINT = {"type": "Point", "coordinates": [135.5, 34.7]}
OTHER_POINT = {"type": "Point", "coordinates": [139.7, 35.7]}
SOLAR = "urn:ngsi-ld:Dataset:solar"
STAMPS = {"createdAt": T0, "modifiedAt": T1}
STAMPS_OUT = {"createdAt": T0_OUT, "modifiedAt": T1_OUT}

NORMALIZED = RenderOptions()
CONCISE = RenderOptions(format="concise")
KEY_VALUES = RenderOptions(format="keyValues")


def one_attribute(instances: list[dict[str, Any]], name: str = D + "a") -> Entity:
    return {"id": ID, "type": [D + "T"], "attrs": {name: instances}}


# ---- every attribute kind in every representation ----------------------------------------------

KINDS: list[tuple[str, list[dict[str, Any]], Any, Any, Any]] = [
    # (case, instances, normalized, concise, keyValues)
    ("property",
     [{"type": "Property", "value": 21}],
     {"type": "Property", "value": 21}, 21, 21),
    ("property with falsy value",
     [{"type": "Property", "value": False}],
     {"type": "Property", "value": False}, False, False),
    ("property with unitCode and observedAt",
     [{"type": "Property", "value": 21, "unitCode": "CEL", "observedAt": SEEN}],
     {"type": "Property", "value": 21, "unitCode": "CEL", "observedAt": SEEN},
     {"value": 21, "unitCode": "CEL", "observedAt": SEEN}, 21),
    ("property with a sub-attribute",
     [{"type": "Property", "value": 21, "attrs": {D + "accuracy": {"type": "Property", "value": 0.5}}}],
     {"type": "Property", "value": 21, "accuracy": {"type": "Property", "value": 0.5}},
     {"value": 21, "accuracy": 0.5}, 21),
    ("property with nested sub-attributes",
     [{"type": "Property", "value": 21, "observedAt": SEEN, "attrs": {
         D + "providedBy": {"type": "Relationship", "object": "urn:ngsi-ld:Device:1", "attrs": {
             D + "since": {"type": "Property", "value": "2020", "unitCode": "ANN"}}}}}],
     {"type": "Property", "value": 21, "observedAt": SEEN, "providedBy": {
         "type": "Relationship", "object": "urn:ngsi-ld:Device:1",
         "since": {"type": "Property", "value": "2020", "unitCode": "ANN"}}},
     {"value": 21, "observedAt": SEEN, "providedBy": {
         "object": "urn:ngsi-ld:Device:1", "since": {"value": "2020", "unitCode": "ANN"}}},
     21),
    ("property with valueType and expiresAt",
     [{"type": "Property", "value": "2026-01-01T00:00:00Z", "valueType": NGSI + "DateTime",
       "expiresAt": "2030-01-01T00:00:00Z"}],
     {"type": "Property", "value": "2026-01-01T00:00:00Z", "valueType": "DateTime",
      "expiresAt": "2030-01-01T00:00:00Z"},
     {"value": "2026-01-01T00:00:00Z", "valueType": "DateTime", "expiresAt": "2030-01-01T00:00:00Z"},
     "2026-01-01T00:00:00Z"),
    ("property whose object value has no reserved member stays bare in concise",
     [{"type": "Property", "value": {"street": "Kita 1", "city": "Osaka"}}],
     {"type": "Property", "value": {"street": "Kita 1", "city": "Osaka"}},
     {"street": "Kita 1", "city": "Osaka"}, {"street": "Kita 1", "city": "Osaka"}),
    ("property whose object value has a value member is wrapped in concise",
     [{"type": "Property", "value": {"value": 1}}],
     {"type": "Property", "value": {"value": 1}}, {"value": {"value": 1}}, {"value": 1}),
    ("property whose object value looks like a geometry is wrapped in concise",
     [{"type": "Property", "value": POINT}],
     {"type": "Property", "value": POINT}, {"value": POINT}, POINT),
    ("property with an array value",
     [{"type": "Property", "value": [1, 2]}],
     {"type": "Property", "value": [1, 2]}, [1, 2], [1, 2]),
    ("geoproperty is its bare geometry in concise",
     [{"type": "GeoProperty", "value": POINT}],
     {"type": "GeoProperty", "value": POINT}, POINT, POINT),
    ("geoproperty with observedAt",
     [{"type": "GeoProperty", "value": POINT, "observedAt": SEEN}],
     {"type": "GeoProperty", "value": POINT, "observedAt": SEEN},
     {"value": POINT, "observedAt": SEEN}, POINT),
    ("relationship object is never compacted",
     [{"type": "Relationship", "object": D + "Person1"}],
     {"type": "Relationship", "object": D + "Person1"}, {"object": D + "Person1"}, D + "Person1"),
    ("relationship with several objects and objectType",
     [{"type": "Relationship", "object": ["urn:p:1", "urn:p:2"], "objectType": D + "Person"}],
     {"type": "Relationship", "object": ["urn:p:1", "urn:p:2"], "objectType": "Person"},
     {"object": ["urn:p:1", "urn:p:2"], "objectType": "Person"}, ["urn:p:1", "urn:p:2"]),
    ("relationship with objectType list",
     [{"type": "Relationship", "object": "urn:p:1", "objectType": [D + "Person", NGSI + "Property"]}],
     {"type": "Relationship", "object": "urn:p:1", "objectType": ["Person", "Property"]},
     {"object": "urn:p:1", "objectType": ["Person", "Property"]}, "urn:p:1"),
    ("languageproperty",
     [{"type": "LanguageProperty", "languageMap": {"ja": "北区", "@none": "Kita"}}],
     {"type": "LanguageProperty", "languageMap": {"ja": "北区", "@none": "Kita"}},
     {"languageMap": {"ja": "北区", "@none": "Kita"}}, {"languageMap": {"ja": "北区", "@none": "Kita"}}),
    ("vocabproperty is compacted",
     [{"type": "VocabProperty", "vocab": D + "office"}],
     {"type": "VocabProperty", "vocab": "office"}, {"vocab": "office"}, {"vocab": "office"}),
    ("vocabproperty with several IRIs",
     [{"type": "VocabProperty", "vocab": [D + "office", NGSI + "Property", "https://schema.org/Store"]}],
     {"type": "VocabProperty", "vocab": ["office", "Property", "https://schema.org/Store"]},
     {"vocab": ["office", "Property", "https://schema.org/Store"]},
     {"vocab": ["office", "Property", "https://schema.org/Store"]}),
    ("listproperty",
     [{"type": "ListProperty", "valueList": [1, 2, 3], "unitCode": "CEL"}],
     {"type": "ListProperty", "valueList": [1, 2, 3], "unitCode": "CEL"},
     {"valueList": [1, 2, 3], "unitCode": "CEL"}, [1, 2, 3]),
    ("listrelationship",
     [{"type": "ListRelationship", "objectList": ["urn:b:2", "urn:b:3"]}],
     {"type": "ListRelationship", "objectList": [{"object": "urn:b:2"}, {"object": "urn:b:3"}]},
     {"objectList": [{"object": "urn:b:2"}, {"object": "urn:b:3"}]}, ["urn:b:2", "urn:b:3"]),
    ("jsonproperty is verbatim",
     [{"type": "JsonProperty", "json": {"type": "x", "value": 1, "@context": "kept", D + "k": [1]}}],
     {"type": "JsonProperty", "json": {"type": "x", "value": 1, "@context": "kept", D + "k": [1]}},
     {"json": {"type": "x", "value": 1, "@context": "kept", D + "k": [1]}},
     {"json": {"type": "x", "value": 1, "@context": "kept", D + "k": [1]}}),
    ("jsonproperty with an array",
     [{"type": "JsonProperty", "json": [1, {"a": None}]}],
     {"type": "JsonProperty", "json": [1, {"a": None}]}, {"json": [1, {"a": None}]},
     {"json": [1, {"a": None}]}),
    ("multi-instance property",
     [{"type": "Property", "value": 1}, {"type": "Property", "value": 2, "datasetId": "urn:ds:b"}],
     [{"type": "Property", "value": 1}, {"type": "Property", "value": 2, "datasetId": "urn:ds:b"}],
     [{"value": 1}, {"value": 2, "datasetId": "urn:ds:b"}],
     {"dataset": {"@none": 1, "urn:ds:b": 2}}),
    ("multi-instance relationship without default instance",
     [{"type": "Relationship", "object": "urn:p:1", "datasetId": "urn:ds:a"},
      {"type": "Relationship", "object": "urn:p:2", "datasetId": "urn:ds:b"}],
     [{"type": "Relationship", "object": "urn:p:1", "datasetId": "urn:ds:a"},
      {"type": "Relationship", "object": "urn:p:2", "datasetId": "urn:ds:b"}],
     [{"object": "urn:p:1", "datasetId": "urn:ds:a"}, {"object": "urn:p:2", "datasetId": "urn:ds:b"}],
     {"dataset": {"urn:ds:a": "urn:p:1", "urn:ds:b": "urn:p:2"}}),
    ("multi-instance languageproperty",
     [{"type": "LanguageProperty", "languageMap": {"en": "a"}},
      {"type": "LanguageProperty", "languageMap": {"en": "b"}, "datasetId": "urn:ds:b"}],
     [{"type": "LanguageProperty", "languageMap": {"en": "a"}},
      {"type": "LanguageProperty", "languageMap": {"en": "b"}, "datasetId": "urn:ds:b"}],
     [{"languageMap": {"en": "a"}}, {"languageMap": {"en": "b"}, "datasetId": "urn:ds:b"}],
     {"dataset": {"@none": {"languageMap": {"en": "a"}}, "urn:ds:b": {"languageMap": {"en": "b"}}}}),
    ("lone instance with a datasetId",
     [{"type": "Property", "value": 2, "datasetId": "urn:ds:b"}],
     {"type": "Property", "value": 2, "datasetId": "urn:ds:b"}, {"value": 2, "datasetId": "urn:ds:b"}, 2),
    ("stored @none datasetId is never output",
     [{"type": "Property", "value": 2, "datasetId": "@none"}],
     {"type": "Property", "value": 2}, 2, 2),
]


@pytest.mark.parametrize(("instances", "normalized", "concise", "key_values"),
                         [row[1:] for row in KINDS], ids=[row[0] for row in KINDS])
def test_each_attribute_kind_in_each_representation(
        instances: list[dict[str, Any]], normalized: Any, concise: Any, key_values: Any) -> None:
    entity = one_attribute(instances)
    assert render_entity(entity, CORE, NORMALIZED) == {"id": ID, "type": "T", "a": normalized}
    assert render_entity(entity, CORE, CONCISE) == {"id": ID, "type": "T", "a": concise}
    assert render_entity(entity, CORE, KEY_VALUES) == {"id": ID, "type": "T", "a": key_values}


# ---- a whole entity ------------------------------------------------------------------------------

def building() -> Entity:
    return {
        "id": ID,
        "type": [D + "Building"],
        "scope": ["/Osaka/Kita"],
        "createdAt": T0,
        "modifiedAt": T1,
        "attrs": {
            D + "temperature": [{
                "type": "Property", "value": 21.5, "observedAt": SEEN, "unitCode": "CEL",
                "createdAt": T0, "modifiedAt": T1,
                "attrs": {D + "accuracy": {"type": "Property", "value": 0.1, **STAMPS}},
            }],
            NGSI + "location": [{"type": "GeoProperty", "value": POINT, **STAMPS}],
            D + "owner": [{"type": "Relationship", "object": "urn:ngsi-ld:Person:1",
                           "objectType": D + "Person",
                           **STAMPS}],
            D + "power": [
                {"type": "Property", "value": 10, "unitCode": "KWT", **STAMPS},
                {"type": "Property", "value": 11, "unitCode": "KWT", "datasetId": SOLAR,
                 **STAMPS},
            ],
        },
    }


def test_normalized_entity_with_core_context() -> None:
    assert render_entity(building(), CORE, NORMALIZED) == {
        "id": ID,
        "type": "Building",
        "scope": "/Osaka/Kita",
        "temperature": {"type": "Property", "value": 21.5, "observedAt": SEEN, "unitCode": "CEL",
                        "accuracy": {"type": "Property", "value": 0.1}},
        "location": {"type": "GeoProperty", "value": POINT},
        "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Person:1", "objectType": "Person"},
        "power": [{"type": "Property", "value": 10, "unitCode": "KWT"},
                  {"type": "Property", "value": 11, "unitCode": "KWT", "datasetId": SOLAR}],
    }


def test_sys_attrs_show_created_and_modified_everywhere_in_normalized() -> None:
    entity = building()
    entity["expiresAt"] = "2030-01-01T00:00:00Z"
    assert render_entity(entity, CORE, RenderOptions(sys_attrs=True)) == {
        "id": ID,
        "type": "Building",
        "scope": "/Osaka/Kita",
        "temperature": {"type": "Property", "value": 21.5, "observedAt": SEEN, "unitCode": "CEL",
                        "accuracy": {"type": "Property", "value": 0.1, **STAMPS_OUT},
                        **STAMPS_OUT},
        "location": {"type": "GeoProperty", "value": POINT, **STAMPS_OUT},
        "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Person:1", "objectType": "Person",
                  **STAMPS_OUT},
        "power": [{"type": "Property", "value": 10, "unitCode": "KWT", **STAMPS_OUT},
                  {"type": "Property", "value": 11, "unitCode": "KWT", "datasetId": SOLAR,
                   **STAMPS_OUT}],
        "createdAt": T0_OUT,
        "modifiedAt": T1_OUT,
        "expiresAt": "2030-01-01T00:00:00Z",
    }


def test_sys_attrs_make_every_concise_attribute_an_object() -> None:
    assert render_entity(building(), CORE, RenderOptions(format="concise", sys_attrs=True)) == {
        "id": ID,
        "type": "Building",
        "scope": "/Osaka/Kita",
        "temperature": {"value": 21.5, "observedAt": SEEN, "unitCode": "CEL",
                        "accuracy": {"value": 0.1, **STAMPS_OUT},
                        **STAMPS_OUT},
        "location": {"value": POINT, **STAMPS_OUT},
        "owner": {"object": "urn:ngsi-ld:Person:1", "objectType": "Person", "createdAt": T0_OUT,
                  "modifiedAt": T1_OUT},
        "power": [{"value": 10, "unitCode": "KWT", **STAMPS_OUT},
                  {"value": 11, "unitCode": "KWT", "datasetId": SOLAR,
                   **STAMPS_OUT}],
        "createdAt": T0_OUT,
        "modifiedAt": T1_OUT,
    }


def test_concise_entity_without_sys_attrs() -> None:
    entity = building()
    entity["expiresAt"] = "2030-01-01T00:00:00Z"
    assert render_entity(entity, CORE, CONCISE) == {
        "id": ID,
        "type": "Building",
        "scope": "/Osaka/Kita",
        "temperature": {"value": 21.5, "observedAt": SEEN, "unitCode": "CEL", "accuracy": 0.1},
        "location": POINT,
        "owner": {"object": "urn:ngsi-ld:Person:1", "objectType": "Person"},
        "power": [{"value": 10, "unitCode": "KWT"},
                  {"value": 11, "unitCode": "KWT", "datasetId": SOLAR}],
    }


@pytest.mark.parametrize(("sys_attrs", "expected"), [
    (False, {"id": ID, "type": "Building", "scope": "/Osaka/Kita", "temperature": 21.5, "location": POINT,
             "owner": "urn:ngsi-ld:Person:1", "power": {"dataset": {"@none": 10, SOLAR: 11}}}),
    (True, {"id": ID, "type": "Building", "scope": "/Osaka/Kita", "temperature": 21.5, "location": POINT,
            "owner": "urn:ngsi-ld:Person:1", "power": {"dataset": {"@none": 10, SOLAR: 11}},
            "createdAt": T0_OUT, "modifiedAt": T1_OUT, "expiresAt": "2030-01-01T00:00:00Z"}),
])
def test_key_values_has_no_sub_attributes_and_sys_attrs_only_at_entity_level(
        sys_attrs: bool, expected: dict[str, Any]) -> None:
    entity = building()
    entity["expiresAt"] = "2030-01-01T00:00:00Z"
    assert render_entity(entity, CORE, RenderOptions(format="keyValues", sys_attrs=sys_attrs)) == expected


@pytest.mark.parametrize("options", [
    NORMALIZED, CONCISE, KEY_VALUES, RenderOptions(sys_attrs=True),
    RenderOptions(format="concise", sys_attrs=True), RenderOptions(format="keyValues", sys_attrs=True),
])
def test_output_member_order_is_id_type_scope_attributes_then_system_members(options: RenderOptions) -> None:
    entity = building()
    entity["expiresAt"] = "2030-01-01T00:00:00Z"
    system = ["createdAt", "modifiedAt", "expiresAt"] if options.sys_attrs else []
    assert list(render_entity(entity, CORE, options) or {}) == [
        "id", "type", "scope", "temperature", "location", "owner", "power", *system]


def test_normalized_instance_member_order() -> None:
    instance = {"modifiedAt": T1, "attrs": {D + "s": {"type": "Property", "value": 1}}, "createdAt": T0,
                "objectType": D + "P", "expiresAt": "2030-01-01T00:00:00Z", "datasetId": "urn:ds:1",
                "observedAt": SEEN, "object": "urn:p:1", "type": "Relationship"}
    out = render_entity(one_attribute([instance]), CORE, RenderOptions(sys_attrs=True))
    assert list(out["a"]) == ["type", "object", "observedAt", "datasetId", "expiresAt", "objectType", "s",  # type: ignore[index]
                              "createdAt", "modifiedAt"]


def test_user_context_compacts_names_types_vocab_and_object_type_but_not_objects() -> None:
    entity = {
        "id": ID,
        "type": ["https://example.org/Building", "https://schema.org/Place", D + "Shop"],
        "attrs": {
            "https://example.org/temperature": [{"type": "Property", "value": 3}],
            D + "temperature": [{"type": "Property", "value": 4}],  # the term maps elsewhere: ngsi-ld: prefix
            "https://schema.org/owner": [{"type": "Relationship", "object": "https://example.org/Building",
                                          "objectType": ["https://schema.org/Person", D + "Robot"]}],
            D + "category": [{"type": "VocabProperty", "vocab": ["https://example.org/vocab/office",
                                                                  "https://schema.org/Store"]}],
            "https://other.example/x": [{"type": "Property", "value": 5, "attrs": {
                "https://example.org/temperature": {"type": "Property", "value": 6}}}],
        },
    }
    assert render_entity(entity, USER, NORMALIZED) == {
        "id": ID,
        "type": ["Building", "schema:Place", "Shop"],
        "temperature": {"type": "Property", "value": 3},
        "ngsi-ld:default-context/temperature": {"type": "Property", "value": 4},
        "owner": {"type": "Relationship", "object": "https://example.org/Building",
                  "objectType": ["Person", "Robot"]},
        "category": {"type": "VocabProperty", "vocab": ["office", "schema:Store"]},
        "https://other.example/x": {"type": "Property", "value": 5,
                                    "temperature": {"type": "Property", "value": 6}},
    }


@pytest.mark.parametrize(("types", "scope", "expected"), [
    ([D + "Building"], None, {"id": ID, "type": "Building"}),
    ([D + "Building", D + "Office"], None, {"id": ID, "type": ["Building", "Office"]}),
    ([D + "Building"], ["/Osaka"], {"id": ID, "type": "Building", "scope": "/Osaka"}),
    ([D + "Building"], ["/Osaka", "/Kyoto/Fushimi"],
     {"id": ID, "type": "Building", "scope": ["/Osaka", "/Kyoto/Fushimi"]}),
])
def test_type_and_scope_are_a_string_when_one_and_a_list_when_several(
        types: list[str], scope: list[str] | None, expected: dict[str, Any]) -> None:
    entity: Entity = {"id": ID, "type": types}
    if scope is not None:
        entity["scope"] = scope
    assert render_entity(entity, CORE, NORMALIZED) == expected


def test_entity_without_attributes_renders_id_and_type() -> None:
    entity = {"id": ID, "type": [D + "T"], "attrs": {}}
    assert render_entity(entity, CORE, KEY_VALUES) == {"id": ID, "type": "T"}


def test_deleted_at_of_a_notification_entity_is_rendered() -> None:
    entity = {"id": ID, "type": [D + "T"], "deletedAt": T1}
    assert render_entity(entity, CORE, NORMALIZED) == {"id": ID, "type": "T", "deletedAt": T1_OUT}


# ---- lang (4.15) ---------------------------------------------------------------------------------

LABELS = {"@none": "Kita", "ja": "北区", "en": "North Ward", "fr-CH": "Quartier nord", "de": "Nordbezirk"}


@pytest.mark.parametrize(("language_map", "lang", "expected"), [
    (LABELS, "ja", ("北区", "ja")),
    (LABELS, "JA", ("北区", "ja")),
    (LABELS, "fr-ch", ("Quartier nord", "fr-CH")),
    (LABELS, "fr", ("Quartier nord", "fr-CH")),             # a range finds a more specific tag
    (LABELS, "de-AT", ("Nordbezirk", "de")),                # a tag falls back to its prefix
    (LABELS, "de-Latn-AT", ("Nordbezirk", "de")),
    (LABELS, "es", ("Kita", "@none")),                      # no match: the default value, tag stated
    (LABELS, "*", ("Kita", "@none")),
    (LABELS, "es,en;q=0.5", ("North Ward", "en")),
    (LABELS, "en;q=0.5,ja", ("北区", "ja")),                # q beats the client's order
    (LABELS, "en;q=0.5, ja;q=0.5", ("North Ward", "en")),   # equal q: the client's order
    (LABELS, "ja;q=0,en", ("North Ward", "en")),            # q=0 means not acceptable
    (LABELS, "ja;q=0", ("Kita", "@none")),
    (LABELS, "*;q=0.1,de", ("Nordbezirk", "de")),
    (LABELS, "es,*", ("Kita", "@none")),
    (LABELS, "*,de", ("Kita", "@none")),                    # "*" first: any language, the default one
    ({"en": "a", "ja": "b"}, "*,ja", ("a", "en")),
    (LABELS, "fr-CH,fr;q=0.8", ("Quartier nord", "fr-CH")),
    ({"fr": "x", "fr-CH": "y"}, "fr-CH,fr;q=0.8", ("y", "fr-CH")),
    ({"fr": "x", "fr-CH": "y"}, "fr", ("x", "fr")),          # the same tag before a more specific one
    ({"fr": "x", "de": "z"}, "fr-CH,de;q=0.9", ("x", "fr")),  # fallback of the preferred range first
    ({"en": "a", "ja": "b"}, "*", ("a", "en")),
    ({"en": "a", "ja": "b"}, "es", ("a", "en")),            # no @none: the first tag
    ({"en": ["a", "b"], "ja": "c"}, "en", (["a", "b"], "en")),
    ({}, "en", (None, "@none")),
])
def test_render_lang_chooses_one_value_and_states_its_tag(
        language_map: dict[str, Any], lang: str, expected: tuple[Any, str]) -> None:
    assert render_lang(language_map, lang) == expected


LANG_ENTITY: Entity = {
    "id": ID, "type": [D + "T"],
    "attrs": {
        D + "name": [{"type": "LanguageProperty", "languageMap": {"en": "North", "ja": "北"}}],
        D + "motto": [{"type": "LanguageProperty", "languageMap": {"en": "Go", "@none": "Ike"},
                       "observedAt": SEEN}],
        D + "size": [{"type": "Property", "value": 3, "attrs": {
            D + "note": {"type": "LanguageProperty", "languageMap": {"en": "big", "ja": "大"}}}}],
        D + "alias": [{"type": "LanguageProperty", "languageMap": {"en": "N"}},
                      {"type": "LanguageProperty", "languageMap": {"en": "K"}, "datasetId": "urn:ds:k"}],
    },
}


@pytest.mark.parametrize(("options", "expected"), [
    (RenderOptions(lang="ja"), {
        "name": {"type": "Property", "value": "北", "lang": "ja"},
        "motto": {"type": "Property", "value": "Ike", "lang": "@none", "observedAt": SEEN},
        "size": {"type": "Property", "value": 3, "note": {"type": "Property", "value": "大", "lang": "ja"}},
        "alias": [{"type": "Property", "value": "N", "lang": "en"},
                  {"type": "Property", "value": "K", "lang": "en", "datasetId": "urn:ds:k"}],
    }),
    (RenderOptions(format="concise", lang="ja"), {
        "name": "北",
        "motto": {"value": "Ike", "lang": "@none", "observedAt": SEEN},
        "size": {"value": 3, "note": "大"},
        "alias": [{"value": "N", "lang": "en"}, {"value": "K", "lang": "en", "datasetId": "urn:ds:k"}],
    }),
    (RenderOptions(format="keyValues", lang="ja"), {
        "name": "北", "motto": "Ike", "size": 3, "alias": {"dataset": {"@none": "N", "urn:ds:k": "K"}},
    }),
    (RenderOptions(format="keyValues", lang="*"), {
        "name": "North", "motto": "Ike", "size": 3, "alias": {"dataset": {"@none": "N", "urn:ds:k": "K"}},
    }),
])
def test_lang_turns_language_properties_into_properties_in_every_representation(
        options: RenderOptions, expected: dict[str, Any]) -> None:
    assert render_entity(LANG_ENTITY, CORE, options) == {"id": ID, "type": "T", **expected}


# ---- projection: attrs, pick, omit, datasetId ---------------------------------------------------

def projected() -> Entity:
    return {
        "id": ID, "type": [D + "T"], "scope": ["/Osaka"], "createdAt": T0, "modifiedAt": T1,
        "attrs": {
            D + "a": [{"type": "Property", "value": 1}],
            D + "b": [{"type": "Relationship", "object": "urn:x:1"}],
            D + "c": [{"type": "Property", "value": 3},
                      {"type": "Property", "value": 4, "datasetId": "urn:ds:1"},
                      {"type": "Property", "value": 5, "datasetId": "urn:ds:2"}],
        },
    }


A = {"type": "Property", "value": 1}
B = {"type": "Relationship", "object": "urn:x:1"}
C = [{"type": "Property", "value": 3}, {"type": "Property", "value": 4, "datasetId": "urn:ds:1"},
     {"type": "Property", "value": 5, "datasetId": "urn:ds:2"}]
HEAD = {"id": ID, "type": "T", "scope": "/Osaka"}


@pytest.mark.parametrize(("options", "expected"), [
    (RenderOptions(attrs=frozenset({D + "a"})), {**HEAD, "a": A}),
    (RenderOptions(attrs=frozenset({D + "a", D + "missing"})), {**HEAD, "a": A}),
    (RenderOptions(attrs=frozenset({D + "missing"})), None),  # Retrieve answers 404
    (RenderOptions(attrs=frozenset({D + "c"}), format="keyValues"),
     {**HEAD, "c": {"dataset": {"@none": 3, "urn:ds:1": 4, "urn:ds:2": 5}}}),
    (RenderOptions(pick=frozenset({"id"})), {"id": ID}),
    (RenderOptions(pick=frozenset({"type"})), {"type": "T"}),
    (RenderOptions(pick=frozenset({"scope"})), {"scope": "/Osaka"}),
    (RenderOptions(pick=frozenset({"id", D + "b"})), {"id": ID, "b": B}),
    (RenderOptions(pick=frozenset({D + "a"}), format="keyValues"), {"a": 1}),
    (RenderOptions(pick=frozenset({D + "missing"})), None),
    (RenderOptions(pick=frozenset({"id"}), sys_attrs=True), {"id": ID, **STAMPS_OUT}),
    (RenderOptions(pick=frozenset({D + "missing"}), sys_attrs=True), None),
    (RenderOptions(omit=frozenset({"id", "type"})), {"scope": "/Osaka", "a": A, "b": B, "c": C}),
    (RenderOptions(omit=frozenset({D + "a", D + "c", "scope"})), {"id": ID, "type": "T", "b": B}),
    (RenderOptions(omit=frozenset({"id", "type", "scope", D + "a", D + "b", D + "c"})), None),
    (RenderOptions(dataset_id=frozenset({"urn:ds:1"})),
     {**HEAD, "c": {"type": "Property", "value": 4, "datasetId": "urn:ds:1"}}),
    (RenderOptions(dataset_id=frozenset({"urn:ds:1", "urn:ds:2"}), format="keyValues"),
     {**HEAD, "c": {"dataset": {"urn:ds:1": 4, "urn:ds:2": 5}}}),
    (RenderOptions(dataset_id=frozenset({"urn:ds:1"}), format="keyValues"), {**HEAD, "c": 4}),
    (RenderOptions(dataset_id=frozenset({"@none"})),
     {**HEAD, "a": A, "b": B, "c": {"type": "Property", "value": 3}}),
    (RenderOptions(dataset_id=frozenset({"urn:ds:nothing"})), HEAD),
    (RenderOptions(dataset_id=frozenset({"urn:ds:1"}), attrs=frozenset({D + "a"})), None),
    (RenderOptions(dataset_id=frozenset({"urn:ds:2"}), pick=frozenset({D + "c"}), format="concise"),
     {"c": {"value": 5, "datasetId": "urn:ds:2"}}),
])
def test_projection(options: RenderOptions, expected: dict[str, Any] | None) -> None:
    assert render_entity(projected(), CORE, options) == expected


# ---- GeoJSON (4.5.16, 4.5.17) --------------------------------------------------------------------

def located(location: list[dict[str, Any]] | None) -> Entity:
    attrs: dict[str, Any] = {D + "name": [{"type": "Property", "value": "Kita"}]}
    if location is not None:
        attrs[NGSI + "location"] = location
    return {"id": ID, "type": [D + "Building"], "attrs": attrs}


LOCATION = [{"type": "GeoProperty", "value": POINT}]


@pytest.mark.parametrize(("entity", "options", "geometry_property", "expected"), [
    (located(LOCATION), NORMALIZED, NGSI + "location", {
        "id": ID, "type": "Feature", "geometry": POINT,
        "properties": {"type": "Building", "name": {"type": "Property", "value": "Kita"},
                       "location": {"type": "GeoProperty", "value": POINT}}}),
    (located(LOCATION), NORMALIZED, "location", {
        "id": ID, "type": "Feature", "geometry": POINT,
        "properties": {"type": "Building", "name": {"type": "Property", "value": "Kita"},
                       "location": {"type": "GeoProperty", "value": POINT}}}),
    (located(LOCATION), KEY_VALUES, NGSI + "location", {
        "id": ID, "type": "Feature", "geometry": POINT,
        "properties": {"type": "Building", "name": "Kita", "location": POINT}}),
    (located(None), NORMALIZED, NGSI + "location", {
        "id": ID, "type": "Feature", "geometry": None,
        "properties": {"type": "Building", "name": {"type": "Property", "value": "Kita"}}}),
    (located([{"type": "GeoProperty", "value": OTHER_POINT, "datasetId": "urn:ds:gps"},
              {"type": "GeoProperty", "value": POINT}]), KEY_VALUES, NGSI + "location", {
        "id": ID, "type": "Feature", "geometry": POINT,
        "properties": {"type": "Building", "name": "Kita",
                       "location": {"dataset": {"urn:ds:gps": OTHER_POINT, "@none": POINT}}}}),
    (located([{"type": "GeoProperty", "value": OTHER_POINT, "datasetId": "urn:ds:gps"}]), KEY_VALUES,
     NGSI + "location", {
        "id": ID, "type": "Feature", "geometry": None,
        "properties": {"type": "Building", "name": "Kita", "location": OTHER_POINT}}),
    (located(LOCATION), KEY_VALUES, D + "name", {
        "id": ID, "type": "Feature", "geometry": None,
        "properties": {"type": "Building", "name": "Kita", "location": POINT}}),
    (located(LOCATION), RenderOptions(format="keyValues", attrs=frozenset({D + "name"})), NGSI + "location", {
        "id": ID, "type": "Feature", "geometry": POINT, "properties": {"type": "Building", "name": "Kita"}}),
])
def test_geojson_feature(entity: Entity, options: RenderOptions, geometry_property: str,
                         expected: dict[str, Any]) -> None:
    assert render_geojson_feature(entity, CORE, options, geometry_property) == expected


# ---- purity --------------------------------------------------------------------------------------

@pytest.mark.parametrize("options", [
    NORMALIZED, CONCISE, KEY_VALUES,
    RenderOptions(sys_attrs=True, lang="en"),
    RenderOptions(format="concise", sys_attrs=True, lang="ja"),
    RenderOptions(format="keyValues", sys_attrs=True, lang="*", dataset_id=frozenset({"@none"})),
    RenderOptions(pick=frozenset({"id", D + "temperature"})),
    RenderOptions(omit=frozenset({"type", D + "power"})),
])
@pytest.mark.parametrize(("entity", "terms"), [
    (building(), CORE), (LANG_ENTITY, CORE), (projected(), USER),
    (one_attribute([row[1][0] for row in KINDS], name=D + "x"), CORE),
])
def test_rendering_never_modifies_the_entity(entity: Entity, terms: TermMap, options: RenderOptions) -> None:
    before = copy.deepcopy(entity)
    render_entity(entity, terms, options)
    render_geojson_feature(entity, terms, options, NGSI + "location")
    assert entity == before
