"""In-memory query matching (broker.ngsild.match, broker.ngsild.match_geo): q, scopeQ, types, geoQ."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.ngsild.context import core_term_map
from broker.ngsild.match import matches_geo, matches_q, matches_query, matches_scope, matches_types
from broker.ngsild.match_geo import haversine_m
from broker.ngsild.model import Entity, Instance
from broker.ngsild.query_ast import (
    INSTANCE_MEMBER_TARGETS,
    And,
    AttributePath,
    Comparison,
    DateTimeValue,
    EntityQuery,
    EntitySelector,
    Exists,
    GeoQuery,
    Node,
    Or,
    Range,
    ScopeMatch,
    TypeName,
    UriValue,
)

E = core_term_map().expand
NS = "https://uri.etsi.org/ngsi-ld/default-context/"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
T1 = datetime(2026, 2, 1, 12, 30, tzinfo=UTC)
OBSERVED = "2026-11-30T05:00:00Z"
DS_A = "urn:ngsi-ld:Dataset:a"
PERSON_1, PERSON_2 = "urn:ngsi-ld:Person:1", "urn:ngsi-ld:Person:2"
BUILDING_2, BUILDING_3 = "urn:ngsi-ld:Building:2", "urn:ngsi-ld:Building:3"


def dt(text: str) -> DateTimeValue:
    return DateTimeValue(text, datetime.fromisoformat(text))


def path(name: str, *sub: str, compound: tuple[str, ...] = (), language: str | None = None,
         system: bool = False) -> AttributePath:
    """A path with terms expanded as the parser does (instance members and system names stay)."""
    return AttributePath(name if system else E(name),
                         tuple(s if s in INSTANCE_MEMBER_TARGETS else E(s) for s in sub),
                         compound, language, system)


def q(name: str, op: Any, value: Any, *sub: str, **kwargs: Any) -> Comparison:
    return Comparison(path(name, *sub, **kwargs), op, value)


def has(name: str, *sub: str, negated: bool = False, **kwargs: Any) -> Exists:
    return Exists(path(name, *sub, **kwargs), negated)


def prop(value: Any, **members: Any) -> list[Instance]:
    return [{"type": "Property", "value": value, **members}]


def instance(kind: str, member: str, value: Any, **members: Any) -> list[Instance]:
    return [{"type": kind, member: value, **members}]


def entity(attrs: dict[str, list[Instance]], **members: Any) -> Entity:
    return {"id": "urn:ngsi-ld:Building:1", "type": [NS + "Building", NS + "Shop"],
            "createdAt": T0, "modifiedAt": T1, **members,
            "attrs": {E(name): instances for name, instances in attrs.items()}}


OSAKA, KYOTO, KOBE, NAGOYA = (135.5023, 34.6937), (135.7681, 35.0116), (135.1955, 34.6901), (136.9066, 35.1815)
KANSAI_RING = [[134.9, 34.5], [136.0, 34.5], [136.0, 35.2], [134.9, 35.2], [134.9, 34.5]]
OSAKA_HOLE = [[135.4, 34.6], [135.6, 34.6], [135.6, 34.8], [135.4, 34.8], [135.4, 34.6]]


def point(lon_lat: tuple[float, float]) -> dict[str, Any]:
    return {"type": "Point", "coordinates": list(lon_lat)}


def polygon(*rings: list[list[float]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": list(rings)}


KANSAI = polygon(KANSAI_RING)
KANSAI_WITH_HOLE = polygon(KANSAI_RING, OSAKA_HOLE)


BUILDING = entity({
    "temperature": prop(21.5, observedAt=OBSERVED, unitCode="CEL", createdAt=T0, modifiedAt=T1,
                        attrs={E("accuracy"): {"type": "Property", "value": 0.5, "observedAt": OBSERVED}}),
    "floors": prop(7),
    "name": prop("Umeda Sky"),
    "open": prop(True),
    "homepage": prop("https://example.org/sky"),
    "readings": prop([18, 19.5, 23]),
    "address": prop({"city": "Osaka", "ward": "Kita", "zip": 5316023, "postal": {"code": "531-6023"}}),
    "opened": prop("1993-03-01T00:00:00Z"),
    "closingTime": prop("22:30:00"),
    "lastInspection": prop({"@type": "DateTime", "@value": "2026-06-01T00:00:00Z"}),
    "speed": prop(50) + prop(120, datasetId=DS_A),
    "owner": instance("Relationship", "object", PERSON_1),
    "neighbours": instance("Relationship", "object", [BUILDING_2, BUILDING_3]),
    "label": instance("LanguageProperty", "languageMap",
                      {"en": "Sky Building", "ja": ["梅田スカイビル", "スカイビル"]}),
    "category": instance("VocabProperty", "vocab", NS + "Commercial"),
    "tags": instance("ListProperty", "valueList", ["office", "observatory", 3]),
    "config": instance("JsonProperty", "json", {"mode": "eco", "levels": [1, 2]}),
    "location": instance("GeoProperty", "value", point(OSAKA)),
}, scope=["/Kansai/Osaka/Kita", "/Tenants/CompanyA"])

Q_CASES: list[tuple[str, Node, bool]] = [
    # numbers (int and float compare with each other, never with strings or booleans)
    ("float ==", q("temperature", "==", 21.5), True),
    ("float == other", q("temperature", "==", 21), False),
    ("float != other", q("temperature", "!=", 21), True),
    ("float != same", q("temperature", "!=", 21.5), False),
    ("float >", q("temperature", ">", 20), True),
    ("float > itself", q("temperature", ">", 21.5), False),
    ("float >= itself", q("temperature", ">=", 21.5), True),
    ("float <", q("temperature", "<", 22), True),
    ("float < itself", q("temperature", "<", 21.5), False),
    ("float <=", q("temperature", "<=", 21.4), False),
    ("int ==", q("floors", "==", 7), True),
    ("int == float", q("floors", "==", 7.0), True),
    ("int > float", q("floors", ">", 6.5), True),
    ("int <= int", q("floors", "<=", 7), True),
    ("int == string", q("floors", "==", "7"), False),
    ("int != string: mismatch is no match", q("floors", "!=", "7"), False),
    ("int == bool", q("floors", "==", True), False),
    ("int > string", q("floors", ">", "1"), False),
    # strings
    ("string ==", q("name", "==", "Umeda Sky"), True),
    ("string != same", q("name", "!=", "Umeda Sky"), False),
    ("string != other", q("name", "!=", "Other"), True),
    ("string > prefix", q("name", ">", "Umeda"), True),
    ("string <", q("name", "<", "A"), False),
    ("string == number", q("name", "==", 7), False),
    ("string ~=", q("name", "~=", "Sky$"), True),
    ("string ~= is a search, not anchored", q("name", "~=", "eda"), True),
    ("string ~= no match", q("name", "~=", "^Sky"), False),
    ("string !~= no match", q("name", "!~=", "^Sky"), True),
    ("string !~= match", q("name", "!~=", "Sky"), False),
    ("string == UriValue", q("homepage", "==", UriValue("https://example.org/sky")), True),
    ("string != UriValue", q("homepage", "!=", UriValue("https://example.org/")), True),
    # booleans: == and != only
    ("bool ==", q("open", "==", True), True),
    ("bool == other", q("open", "==", False), False),
    ("bool != other", q("open", "!=", False), True),
    ("bool != same", q("open", "!=", True), False),
    ("bool == 1: bool is not a number", q("open", "==", 1), False),
    ("bool ordering never matches", q("open", ">", False), False),
    ("bool ordering never matches <=", q("open", "<=", True), False),
    ("bool == string", q("open", "==", "true"), False),
    # patterns on non-strings never match, either way
    ("bool ~=", q("open", "~=", "True"), False),
    ("bool !~=", q("open", "!~=", "x"), False),
    ("int ~=", q("floors", "~=", "7"), False),
    ("int !~=", q("floors", "!~=", "8"), False),
    ("dict ~=", q("address", "~=", "Osaka"), False),
    # Relationship objects
    ("object == UriValue", q("owner", "==", UriValue(PERSON_1)), True),
    ("object == quoted URI", q("owner", "==", PERSON_1), True),
    ("object == other", q("owner", "==", UriValue(PERSON_2)), False),
    ("object != other", q("owner", "!=", UriValue(PERSON_2)), True),
    ("object != same", q("owner", "!=", UriValue(PERSON_1)), False),
    ("object > never", q("owner", ">", UriValue("urn:a")), False),
    ("object <= never", q("owner", "<=", UriValue("urn:zzz")), False),
    ("object range never", q("owner", "==", Range("urn:a", "urn:z")), False),
    ("object != range never", q("owner", "!=", Range("urn:x", "urn:z")), False),
    ("object ~=", q("owner", "~=", "Person"), True),
    ("object == number", q("owner", "==", 1), False),
    ("object list == any", q("neighbours", "==", UriValue(BUILDING_3)), True),
    ("object list == none", q("neighbours", "==", UriValue("urn:ngsi-ld:Building:9")), False),
    ("object list != contained", q("neighbours", "!=", UriValue(BUILDING_3)), False),
    ("object list != absent", q("neighbours", "!=", UriValue("urn:ngsi-ld:Building:9")), True),
    ("object list == any-of", q("neighbours", "==", (UriValue("urn:x:9"), UriValue(BUILDING_2))), True),
    ("object list != none-of", q("neighbours", "!=", (UriValue("urn:x:9"), UriValue(BUILDING_2))), False),
    # ranges (inclusive)
    ("range ==", q("temperature", "==", Range(20, 22)), True),
    ("range == at the low end", q("temperature", "==", Range(21.5, 30)), True),
    ("range == at the high end", q("temperature", "==", Range(10, 21.5)), True),
    ("range == outside", q("temperature", "==", Range(22, 30)), False),
    ("range != outside", q("temperature", "!=", Range(22, 30)), True),
    ("range != inside", q("temperature", "!=", Range(20, 22)), False),
    ("range == one point", q("floors", "==", Range(7, 7)), True),
    ("range == strings", q("name", "==", Range("A", "V")), True),
    ("range == strings outside", q("name", "==", Range("V", "Z")), False),
    ("range of strings on a number", q("temperature", "==", Range("a", "z")), False),
    ("range != of strings on a number", q("temperature", "!=", Range("a", "z")), False),
    ("range == on a bool", q("open", "==", Range(False, True)), False),
    # value lists: any-of / none-of
    ("list == any-of", q("floors", "==", (3, 7, 9)), True),
    ("list == none", q("floors", "==", (3, 9)), False),
    ("list != none-of", q("floors", "!=", (3, 9)), True),
    ("list != one of", q("floors", "!=", (7, 9)), False),
    ("list == strings", q("name", "==", ("x", "Umeda Sky")), True),
    ("list == mixed types", q("floors", "==", ("7", 7.0)), True),
    ("list != only other types", q("floors", "!=", ("7", True)), False),
    # array targets: == / ordering / ~= if any element does; != / !~= if none does
    ("array == element", q("readings", "==", 19.5), True),
    ("array == no element", q("readings", "==", 20), False),
    ("array != no element", q("readings", "!=", 20), True),
    ("array != element", q("readings", "!=", 19.5), False),
    ("array > some", q("readings", ">", 22), True),
    ("array > none", q("readings", ">", 23), False),
    ("array range == none inside", q("readings", "==", Range(20, 22)), False),
    ("array range == one inside", q("readings", "==", Range(19, 20)), True),
    ("array range != none inside", q("readings", "!=", Range(20, 22)), True),
    ("array ~= number elements", q("readings", "~=", "1"), False),
    ("valueList == string", q("tags", "==", "observatory"), True),
    ("valueList == number", q("tags", "==", 3), True),
    ("valueList == bool", q("tags", "==", True), False),
    ("valueList ~=", q("tags", "~=", "^obs"), True),
    ("valueList !~= some match", q("tags", "!~=", "^obs"), False),
    ("valueList !~= none match", q("tags", "!~=", "^zzz"), True),
    # DateTimes: instance members, entity system members, string values
    ("observedAt >", q("temperature", ">", dt("2026-11-30T00:00:00Z"), "observedAt"), True),
    ("observedAt == other text, same instant", q("temperature", "==", dt("2026-11-30T05:00:00.000Z"), "observedAt"),
     True),
    ("observedAt <", q("temperature", "<", dt("2026-11-30T00:00:00Z"), "observedAt"), False),
    ("observedAt == quoted", q("temperature", "==", "2026-11-30T05:00:00.000Z", "observedAt"), True),
    ("observedAt > quoted non-date", q("temperature", ">", "yesterday", "observedAt"), False),
    ("observedAt ~= never (a DateTime)", q("temperature", "~=", "2026", "observedAt"), False),
    ("observedAt == number", q("temperature", "==", 2026, "observedAt"), False),
    ("instance createdAt >=", q("temperature", ">=", dt("2026-01-05T09:00:00Z"), "createdAt"), True),
    ("instance modifiedAt <", q("temperature", "<", dt("2026-01-05T09:00:00Z"), "modifiedAt"), False),
    ("entity createdAt ==", q("createdAt", "==", dt("2026-01-05T09:00:00Z"), system=True), True),
    ("entity createdAt >", q("createdAt", ">", dt("2026-01-05T09:00:00Z"), system=True), False),
    ("entity modifiedAt range", q("modifiedAt", "==", Range(dt("2026-02-01T00:00:00Z"), dt("2026-03-01T00:00:00Z")),
                                  system=True), True),
    ("entity modifiedAt == number", q("modifiedAt", "==", 5, system=True), False),
    ("entity createdAt exists", has("createdAt", system=True), True),
    ("entity deletedAt does not exist", has("deletedAt", system=True), False),
    ("entity observedAt: any attribute's", q("observedAt", ">", dt("2026-11-30T04:00:00Z"), system=True), True),
    ("entity observedAt: none later", q("observedAt", ">", dt("2026-11-30T06:00:00Z"), system=True), False),
    ("string value > DateTime", q("opened", ">", dt("1990-01-01T00:00:00Z")), True),
    ("string value < DateTime", q("opened", "<", dt("1990-01-01T00:00:00Z")), False),
    ("string value == Date", q("opened", "==", DateTimeValue("1993-03-01", datetime(1993, 3, 1, tzinfo=UTC))), True),
    ("string value == string", q("opened", "==", "1993-03-01T00:00:00Z"), True),
    ("non-date string vs DateTime", q("name", ">", dt("1990-01-01T00:00:00Z")), False),
    ("time string > Time (the parser keeps Times as text)", q("closingTime", ">", "20:00:00Z"), True),
    ("time string < Time", q("closingTime", "<", "20:00:00Z"), False),
    ("string value > Date (text order)", q("opened", ">", "1990-01-01"), True),
    ("observedAt > Date (parsed)", q("temperature", ">", "2026-11-30", "observedAt"), True),
    ("observedAt < Date (parsed)", q("temperature", "<", "2026-11-30", "observedAt"), False),
    ("time string vs DateTime", q("closingTime", ">", dt("2026-01-01T00:00:00Z")), False),
    ("@value DateTime <", q("lastInspection", "<", dt("2026-07-01T00:00:00Z")), True),
    ("@value DateTime >", q("lastInspection", ">", dt("2026-07-01T00:00:00Z")), False),
    ("number vs DateTime", q("floors", "==", dt("2026-07-01T00:00:00Z")), False),
    # instance members and sub-attributes
    ("unitCode ==", q("temperature", "==", "CEL", "unitCode"), True),
    ("unitCode !=", q("temperature", "!=", "CEL", "unitCode"), False),
    ("unitCode == other", q("temperature", "==", "FAH", "unitCode"), False),
    ("unitCode absent !=", q("floors", "!=", "CEL", "unitCode"), False),
    ("unitCode exists", has("temperature", "unitCode"), True),
    ("unitCode absent", has("floors", "unitCode"), False),
    ("unitCode absent, negated", has("floors", "unitCode", negated=True), True),
    ("datasetId == (second instance)", q("speed", "==", DS_A, "datasetId"), True),
    ("sub-attribute ==", q("temperature", "==", 0.5, "accuracy"), True),
    ("sub-attribute >", q("temperature", ">", 1, "accuracy"), False),
    ("sub-attribute observedAt", q("temperature", "==", dt(OBSERVED), "accuracy", "observedAt"), True),
    ("sub-attribute absent", q("temperature", "==", 1, "missing"), False),
    ("sub-attribute exists", has("temperature", "accuracy"), True),
    ("sub-attribute absent exists", has("temperature", "missing"), False),
    ("sub-attribute absent, negated", has("temperature", "missing", negated=True), True),
    # compound paths into dict values
    ("compound ==", q("address", "==", "Osaka", compound=("city",)), True),
    ("compound == other", q("address", "==", "Kyoto", compound=("city",)), False),
    ("compound != other", q("address", "!=", "Kyoto", compound=("city",)), True),
    ("compound nested", q("address", "==", "531-6023", compound=("postal", "code")), True),
    ("compound number >", q("address", ">", 5000000, compound=("zip",)), True),
    ("compound undefined ==", q("address", "==", "x", compound=("nothing",)), False),
    ("compound undefined !=", q("address", "!=", "x", compound=("nothing",)), False),
    ("compound exists", has("address", compound=("ward",)), True),
    ("compound undefined exists", has("address", compound=("nothing",)), False),
    ("compound undefined, negated", has("address", compound=("nothing",), negated=True), True),
    ("compound into a string", has("address", compound=("city", "x")), False),
    ("compound on a scalar value", q("name", "==", "x", compound=("city",)), False),
    ("whole dict == scalar", q("address", "==", "Osaka"), False),
    ("[key] parsed as a language is a compound key", q("address", "==", "Osaka", language="city"), True),
    ("[*] on a non-language value", q("address", "==", "Osaka", language="*"), False),
    ("GeoProperty compound", q("location", "==", "Point", compound=("type",)), True),
    ("GeoProperty whole value", q("location", "==", "Point"), False),
    # JsonProperty: opaque unless a compound path reaches in
    ("json == scalar", q("config", "==", "eco"), False),
    ("json != scalar", q("config", "!=", "eco"), False),
    ("json exists", has("config"), True),
    ("json compound ==", q("config", "==", "eco", compound=("mode",)), True),
    ("json compound array ==", q("config", "==", 2, compound=("levels",)), True),
    ("json compound ~=", q("config", "~=", "^ec", compound=("mode",)), True),
    # LanguageProperty
    ("language [en] ==", q("label", "==", "Sky Building", language="en"), True),
    ("language tag is case-insensitive", q("label", "==", "Sky Building", language="EN"), True),
    ("language [ja] list entry", q("label", "==", "スカイビル", language="ja"), True),
    ("language [en] other text", q("label", "==", "スカイビル", language="en"), False),
    ("language [fr] absent", q("label", "==", "x", language="fr"), False),
    ("language [fr] absent !=", q("label", "!=", "x", language="fr"), False),
    ("language [fr] exists", has("label", language="fr"), False),
    ("language [fr] negated", has("label", language="fr", negated=True), True),
    ("language [en] exists", has("label", language="en"), True),
    ("language [*] ==", q("label", "==", "Sky Building", language="*"), True),
    ("language [*] == none", q("label", "==", "nope", language="*"), False),
    ("language [*] != none matches", q("label", "!=", "nope", language="*"), True),
    ("language [*] != one matches", q("label", "!=", "Sky Building", language="*"), False),
    ("language [en] ~=", q("label", "~=", "^Sky", language="en"), True),
    ("language no tag = any", q("label", "==", "梅田スカイビル"), True),
    ("language one-key compound = tag", q("label", "==", "Sky Building", compound=("en",)), True),
    ("language as parsed: compound and tag", q("label", "==", "Sky Building", compound=("en",), language="en"), True),
    ("[*] as parsed: compound and tag", q("label", "==", "スカイビル", compound=("*",), language="*"), True),
    ("tag-like key on a dict, as parsed", has("address", compound=("zip",), language="zip"), True),
    ("two keys on a LanguageProperty", has("label", compound=("en", "x")), False),
    ("language vs number", q("label", ">", 5, language="en"), False),
    # VocabProperty
    ("vocab == IRI", q("category", "==", NS + "Commercial"), True),
    ("vocab == UriValue", q("category", "==", UriValue(NS + "Commercial")), True),
    ("vocab == unexpanded", q("category", "==", "Commercial"), False),
    ("vocab != other", q("category", "!=", "x"), True),
    # multi-instance: any instance
    ("multi == default", q("speed", "==", 50), True),
    ("multi == dataset instance", q("speed", "==", 120), True),
    ("multi >", q("speed", ">", 100), True),
    ("multi <", q("speed", "<", 40), False),
    ("multi != (one instance differs)", q("speed", "!=", 50), True),
    ("multi == none", q("speed", "==", 80), False),
    # absent attribute
    ("absent ==", q("missing", "==", 1), False),
    ("absent !=", q("missing", "!=", 1), False),
    ("absent ~=", q("missing", "~=", "x"), False),
    ("absent !~=", q("missing", "!~=", "x"), False),
    ("absent exists", has("missing"), False),
    ("absent negated", has("missing", negated=True), True),
    ("present exists", has("temperature"), True),
    ("present negated", has("temperature", negated=True), False),
    # boolean structure
    ("And true true", And((has("temperature"), q("floors", "==", 7))), True),
    ("And true false", And((has("temperature"), q("floors", "==", 8))), False),
    ("Or false true", Or((has("missing"), q("floors", "==", 7))), True),
    ("Or false false", Or((has("missing"), q("floors", "==", 8))), False),
    ("nested", And((Or((has("missing"), q("name", "~=", "Sky"))), has("missing", negated=True))), True),
]


@pytest.mark.parametrize(("node", "expected"), [pytest.param(n, e, id=i) for i, n, e in Q_CASES])
def test_matches_q(node: Node, expected: bool) -> None:
    assert matches_q(node, BUILDING) is expected


def test_invalid_stored_pattern_never_matches() -> None:
    assert (matches_q(q("name", "~=", "x**"), BUILDING), matches_q(q("name", "!~=", "x**"), BUILDING)) == (False, False)


SCOPE_CASES: list[tuple[str, Node, bool]] = [
    ("exact", ScopeMatch("/Kansai/Osaka/Kita"), True),
    ("an ancestor alone is not a match", ScopeMatch("/Kansai/Osaka"), False),
    ("+ one level", ScopeMatch("/Kansai/+/Kita"), True),
    ("+ is exactly one level", ScopeMatch("/Kansai/+"), False),
    ("+ at every level", ScopeMatch("/+/+/+"), True),
    ("# the rest", ScopeMatch("/Kansai/#"), True),
    ("# also zero levels", ScopeMatch("/Kansai/Osaka/Kita/#"), True),
    ("# under another branch", ScopeMatch("/Kansai/Kyoto/#"), False),
    ("/# any", ScopeMatch("/#"), True),
    ("second scope", ScopeMatch("/Tenants/+"), True),
    ("no prefix matching", ScopeMatch("/Tenants/Company"), False),
    ("no prefix matching of a level", ScopeMatch("/Kansai/Osa/#"), False),
    ("the leading / is not significant", ScopeMatch("Kansai/+/Kita"), True),
    ("and", And((ScopeMatch("/Kansai/#"), ScopeMatch("/Tenants/CompanyA"))), True),
    ("and, one fails", And((ScopeMatch("/Kansai/#"), ScopeMatch("/Tokyo/#"))), False),
    ("or", Or((ScopeMatch("/Tokyo/#"), ScopeMatch("/Tenants/#"))), True),
    ("or, none", Or((ScopeMatch("/Tokyo/#"), ScopeMatch("/Kyoto"))), False),
    ("grouped", Or((And((ScopeMatch("/Tokyo/#"), ScopeMatch("/#"))), ScopeMatch("/+/Osaka/+"))), True),
]


@pytest.mark.parametrize(("node", "expected"), [pytest.param(n, e, id=i) for i, n, e in SCOPE_CASES])
def test_matches_scope(node: Node, expected: bool) -> None:
    assert matches_scope(node, BUILDING) is expected


def test_an_entity_without_scope_matches_no_scope_pattern() -> None:
    assert matches_scope(ScopeMatch("/#"), entity({})) is False


BUILDING_T, SHOP_T, VEHICLE_T, PARK_T = (TypeName(NS + t) for t in ("Building", "Shop", "Vehicle", "Park"))
TYPE_CASES: list[tuple[str, Node | None, bool]] = [
    ("any", None, True),
    ("one type", BUILDING_T, True),
    ("another type", VEHICLE_T, False),
    ("both (;)", And((BUILDING_T, SHOP_T)), True),
    ("both, one missing", And((BUILDING_T, VEHICLE_T)), False),
    ("either (,)", Or((VEHICLE_T, SHOP_T)), True),
    ("either, none", Or((VEHICLE_T, PARK_T)), False),
    ("(A;B),C", Or((And((BUILDING_T, VEHICLE_T)), SHOP_T)), True),
    ("(A,B);(C,D)", And((Or((VEHICLE_T, BUILDING_T)), Or((PARK_T, SHOP_T)))), True),
    ("(A,B);(C,D) failing", And((Or((VEHICLE_T, BUILDING_T)), Or((PARK_T, VEHICLE_T)))), False),
]


@pytest.mark.parametrize(("node", "expected"), [pytest.param(n, e, id=i) for i, n, e in TYPE_CASES])
def test_matches_types(node: Node | None, expected: bool) -> None:
    assert matches_types(node, BUILDING["type"]) is expected


def located(geometry: dict[str, Any], name: str = "location", kind: str = "GeoProperty") -> Entity:
    return entity({name: instance(kind, "value", geometry)})


def geo(georel: Any, geometry: dict[str, Any], *, max_distance: float | None = None,
        min_distance: float | None = None, geoproperty: str = "location") -> GeoQuery:
    return GeoQuery(georel, geometry, E(geoproperty), max_distance, min_distance)


INSIDE_KANSAI = polygon([[135.3, 34.6], [135.6, 34.6], [135.6, 34.9], [135.3, 34.9], [135.3, 34.6]])
ACROSS_KANSAI_EAST = polygon([[135.8, 34.8], [136.5, 34.8], [136.5, 35.0], [135.8, 35.0], [135.8, 34.8]])
AROUND_KYOTO = polygon([[135.6, 34.9], [135.9, 34.9], [135.9, 35.1], [135.6, 35.1], [135.6, 34.9]])
GEO_CASES: list[tuple[str, Entity, GeoQuery, bool]] = [
    # near: Osaka–Kobe is about 28.1 km, Osaka–Kyoto about 42.9 km
    ("near max, within", located(point(OSAKA)), geo("near", point(KOBE), max_distance=30_000), True),
    ("near max, beyond", located(point(OSAKA)), geo("near", point(KOBE), max_distance=20_000), False),
    ("near min, beyond", located(point(OSAKA)), geo("near", point(KOBE), min_distance=20_000), True),
    ("near min, closer", located(point(OSAKA)), geo("near", point(KOBE), min_distance=30_000), False),
    ("near Kyoto 30 km", located(point(KYOTO)), geo("near", point(OSAKA), max_distance=30_000), False),
    ("near Kyoto 50 km", located(point(KYOTO)), geo("near", point(OSAKA), max_distance=50_000), True),
    ("near, inside a polygon is 0 m", located(KANSAI), geo("near", point(OSAKA), max_distance=1), True),
    ("near, in a hole is not inside", located(KANSAI_WITH_HOLE), geo("near", point(OSAKA), max_distance=5_000), False),
    ("near, hole edge about 8.9 km", located(KANSAI_WITH_HOLE), geo("near", point(OSAKA), max_distance=10_000), True),
    ("near min, in a hole", located(KANSAI_WITH_HOLE), geo("near", point(OSAKA), min_distance=5_000), True),
    ("near polygon edge about 82 km", located(KANSAI), geo("near", point(NAGOYA), max_distance=80_000), False),
    ("near polygon edge, 90 km", located(KANSAI), geo("near", point(NAGOYA), max_distance=90_000), True),
    # within: the entity geometry within the reference
    ("point within polygon", located(point(OSAKA)), geo("within", KANSAI), True),
    ("point in the hole", located(point(OSAKA)), geo("within", KANSAI_WITH_HOLE), False),
    ("point outside the hole", located(point(KOBE)), geo("within", KANSAI_WITH_HOLE), True),
    ("point within another polygon", located(point(OSAKA)), geo("within", AROUND_KYOTO), False),
    ("point on the boundary", located(point((134.9, 34.8))), geo("within", KANSAI), False),
    ("polygon within itself", located(KANSAI), geo("within", KANSAI), True),
    ("polygon within a smaller one", located(KANSAI), geo("within", INSIDE_KANSAI), False),
    # contains: the entity geometry contains the reference
    ("polygon contains point", located(KANSAI), geo("contains", point(OSAKA)), True),
    ("holed polygon, point in hole", located(KANSAI_WITH_HOLE), geo("contains", point(OSAKA)), False),
    ("holed polygon, point outside hole", located(KANSAI_WITH_HOLE), geo("contains", point(KOBE)), True),
    ("point contains polygon", located(point(OSAKA)), geo("contains", KANSAI), False),
    ("point contains itself", located(point(OSAKA)), geo("contains", point(OSAKA)), True),
    ("polygon contains smaller polygon", located(KANSAI), geo("contains", INSIDE_KANSAI), True),
    ("holed polygon contains polygon over hole", located(KANSAI_WITH_HOLE), geo("contains", INSIDE_KANSAI), False),
    # intersects / disjoint
    ("point intersects polygon", located(point(OSAKA)), geo("intersects", KANSAI), True),
    ("point in hole intersects", located(point(OSAKA)), geo("intersects", KANSAI_WITH_HOLE), False),
    ("polygon intersects line", located(KANSAI),
     geo("intersects", {"type": "LineString", "coordinates": [list(OSAKA), list(NAGOYA)]}), True),
    ("point intersects far polygon", located(point(KYOTO)), geo("intersects", INSIDE_KANSAI), False),
    ("point in hole disjoint", located(point(OSAKA)), geo("disjoint", KANSAI_WITH_HOLE), True),
    ("point outside hole disjoint", located(point(KOBE)), geo("disjoint", KANSAI_WITH_HOLE), False),
    ("point disjoint polygon", located(point(OSAKA)), geo("disjoint", KANSAI), False),
    ("polygon over hole is not disjoint", located(KANSAI_WITH_HOLE), geo("disjoint", INSIDE_KANSAI), False),
    # equals / overlaps
    ("point equals point", located(point(OSAKA)), geo("equals", point(OSAKA)), True),
    ("point equals other point", located(point(OSAKA)), geo("equals", point(KOBE)), False),
    ("polygon equals rotated ring", located(KANSAI), geo("equals", polygon(KANSAI_RING[1:] + KANSAI_RING[1:2])), True),
    ("polygon equals holed one", located(KANSAI), geo("equals", KANSAI_WITH_HOLE), False),
    ("polygon overlaps straddling one", located(KANSAI), geo("overlaps", ACROSS_KANSAI_EAST), True),
    ("polygon overlaps contained one", located(KANSAI), geo("overlaps", INSIDE_KANSAI), False),
    ("point overlaps polygon (dimensions differ)", located(point(OSAKA)), geo("overlaps", KANSAI), False),
    ("multipoints overlap", located({"type": "MultiPoint", "coordinates": [list(OSAKA), list(KOBE)]}),
     geo("overlaps", {"type": "MultiPoint", "coordinates": [list(OSAKA), list(KYOTO)]}), True),
    # which geometry
    ("other GeoProperty", located(KANSAI, "observationSpace"),
     geo("contains", point(OSAKA), geoproperty="observationSpace"), True),
    ("geoproperty absent", located(KANSAI, "observationSpace"), geo("disjoint", point(NAGOYA)), False),
    ("not a GeoProperty", located(point(OSAKA), "spot", "Property"), geo("within", KANSAI, geoproperty="spot"),
     False),
    ("only a dataset instance", entity({"location": instance("GeoProperty", "value", point(OSAKA), datasetId=DS_A)}),
     geo("within", KANSAI), False),
]


@pytest.mark.parametrize(("subject", "query", "expected"), [pytest.param(s, g, e, id=i) for i, s, g, e in GEO_CASES])
def test_matches_geo(subject: Entity, query: GeoQuery, expected: bool) -> None:
    assert matches_geo(query, subject) is expected


def test_an_entity_without_location_matches_no_georel() -> None:
    bare = entity({"name": prop("x")})
    relations = ("within", "contains", "intersects", "disjoint", "equals", "overlaps")
    assert [matches_geo(geo(r, KANSAI), bare) for r in relations] + [
        matches_geo(geo("near", point(OSAKA), min_distance=1), bare)] == [False] * 7


ID_1 = "urn:ngsi-ld:Building:1"
QUERY_CASES: list[tuple[str, EntityQuery, bool]] = [
    ("empty query", EntityQuery(), True),
    ("type", EntityQuery(types=BUILDING_T), True),
    ("other type", EntityQuery(types=VEHICLE_T), False),
    ("id", EntityQuery(ids=("urn:x", ID_1)), True),
    ("other id", EntityQuery(ids=("urn:x",)), False),
    ("idPattern searches", EntityQuery(id_pattern="Building:1$"), True),
    ("idPattern no match", EntityQuery(id_pattern="^urn:ngsi-ld:Shop"), False),
    ("ids win over idPattern", EntityQuery(ids=(ID_1,), id_pattern="^nothing"), True),
    ("attrs: one present", EntityQuery(attrs=frozenset({E("missing"), E("temperature")})), True),
    ("attrs: none present", EntityQuery(attrs=frozenset({E("missing")})), False),
    ("q", EntityQuery(q=q("floors", "==", 7)), True),
    ("q failing", EntityQuery(q=q("floors", "==", 8)), False),
    ("scopeQ", EntityQuery(scope_q=ScopeMatch("/Kansai/#")), True),
    ("scopeQ failing", EntityQuery(scope_q=ScopeMatch("/Tokyo/#")), False),
    ("geo", EntityQuery(geo=geo("within", KANSAI)), True),
    ("geo failing", EntityQuery(geo=geo("within", AROUND_KYOTO)), False),
    ("everything", EntityQuery(ids=(ID_1,), types=And((BUILDING_T, SHOP_T)), attrs=frozenset({E("name")}),
                               q=q("name", "~=", "Sky"), scope_q=ScopeMatch("/+/Osaka/#"),
                               geo=geo("near", point(KOBE), max_distance=30_000)), True),
    ("selectors: one matches", EntityQuery(selectors=(EntitySelector(ids=("urn:x",), types=BUILDING_T),
                                                      EntitySelector(id_pattern=":1$", types=SHOP_T))), True),
    ("selectors: none matches", EntityQuery(selectors=(EntitySelector(ids=("urn:x",), types=BUILDING_T),
                                                       EntitySelector(id_pattern=":1$", types=VEHICLE_T))), False),
    ("everything but geo", EntityQuery(ids=(ID_1,), types=BUILDING_T, q=q("name", "~=", "Sky"),
                                       geo=geo("near", point(KOBE), max_distance=20_000)), False),
]


@pytest.mark.parametrize(("query", "expected"), [pytest.param(q_, e, id=i) for i, q_, e in QUERY_CASES])
def test_matches_query(query: EntityQuery, expected: bool) -> None:
    assert matches_query(query, BUILDING) is expected


# --- properties -------------------------------------------------------------------------------

NUMBERS = st.integers(-10**6, 10**6) | st.floats(-1e6, 1e6, allow_nan=False)
SCALARS_OF_A_KIND = st.one_of(
    st.tuples(NUMBERS, NUMBERS),
    st.tuples(st.text(max_size=5), st.text(max_size=5)),
    st.tuples(st.booleans(), st.booleans()),
)
OPS = st.sampled_from(["==", "!=", ">", ">=", "<", "<=", "~=", "!~="])
ANY_VALUE = NUMBERS | st.text(max_size=5) | st.booleans() | st.lists(NUMBERS, max_size=3)


def single(value: Any) -> Entity:
    return entity({"x": prop(value)})


@given(SCALARS_OF_A_KIND)
def test_equal_and_unequal_are_complements_for_one_scalar_of_the_same_type(pair: tuple[Any, Any]) -> None:
    stored, wanted = pair
    subject = single(stored)
    assert matches_q(q("x", "==", wanted), subject) != matches_q(q("x", "!=", wanted), subject)


@given(ANY_VALUE, OPS, NUMBERS | st.text(max_size=3))
def test_and_or_of_one_term_is_the_term(stored: Any, op: str, wanted: Any) -> None:
    subject = single(stored)
    term = q("x", op, wanted if op not in ("~=", "!~=") else "a")
    result = matches_q(term, subject)
    assert (matches_q(And((term,)), subject), matches_q(Or((term,)), subject),
            matches_q(And((term, term)), subject)) == (result, result, result)


@given(st.booleans(), ANY_VALUE, OPS, NUMBERS | st.text(max_size=3))
def test_a_comparison_implies_existence(present: bool, stored: Any, op: str, wanted: Any) -> None:
    subject = single(stored) if present else entity({})
    term = q("x", op, wanted if op not in ("~=", "!~=") else "a")
    assert matches_q(Or((term, has("x", negated=True))), subject) is (matches_q(term, subject) or not present)
    assert matches_q(Or((has("x"), has("x", negated=True))), subject) is True
    assert matches_q(And((term, has("x", negated=True))), subject) is False


@given(NUMBERS, NUMBERS, NUMBERS)
def test_a_range_is_inclusive_on_both_ends(value: float, a: float, b: float) -> None:
    low, high = min(a, b), max(a, b)
    subject = single(value)
    inside = low <= value <= high
    assert (matches_q(q("x", "==", Range(low, high)), subject),
            matches_q(q("x", "!=", Range(low, high)), subject)) == (inside, not inside)


LEVEL = st.text(alphabet="abcXYZ09_", min_size=1, max_size=4)


@given(st.lists(LEVEL, min_size=1, max_size=4))
def test_a_scope_matches_itself_its_subtree_pattern_and_any(levels: list[str]) -> None:
    scope = "/" + "/".join(levels)
    subject = entity({}, scope=[scope])
    plus = "/" + "/".join("+" for _ in levels)
    patterns = (scope, scope + "/#", "/#", plus, scope.lstrip("/"))
    assert [matches_scope(ScopeMatch(p), subject) for p in patterns] == [True] * 5
    assert matches_scope(ScopeMatch(scope + "/+"), subject) is False


COORDS = st.tuples(st.floats(134.0, 137.0), st.floats(34.0, 36.0))


@given(COORDS, COORDS, st.floats(1, 300_000))
def test_near_between_points_is_the_haversine_distance(a: tuple[float, float], b: tuple[float, float],
                                                       limit: float) -> None:
    subject = located(point(a))
    distance = haversine_m(*b, *a)
    assert matches_geo(geo("near", point(b), max_distance=limit), subject) is (distance <= limit)
    assert matches_geo(geo("near", point(b), min_distance=limit), subject) is (distance >= limit)
