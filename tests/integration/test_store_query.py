"""Query Entities in the store against the real embedded database: q, scopeQ, types, geo, pages, plans."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from broker.config import Settings
from broker.ngsild.context import core_term_map
from broker.ngsild.params import RenderOptions
from broker.ngsild.query_ast import (
    And,
    AttributePath,
    Comparison,
    DateTimeValue,
    EntityQuery,
    EntitySelector,
    Exists,
    GeoQuery,
    Or,
    OrderKey,
    Range,
    ScopeMatch,
    TypeName,
    UriValue,
)
from broker.store.documents import geo_path, to_document
from broker.store.entities import ENTITIES, EntityStore, ensure_entity_indexes
from broker.store.query import explain_filter, find_entities, index_names, scope_regex, to_mongo_filter

T = core_term_map().expand
ON_SECANTUS = not os.environ.get("KYODO_TEST_MONGO_URL")


@pytest.fixture
async def db(mongo_url: str, settings: Settings) -> AsyncIterator[AsyncDatabase]:
    """A fresh tenant database with the entity indexes (dropped by the settings fixture)."""
    client: AsyncMongoClient = AsyncMongoClient(mongo_url, tz_aware=True)
    database = client[settings.db_prefix]
    await ensure_entity_indexes(database)
    yield database
    await client.close()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def dt(text: str) -> DateTimeValue:
    return DateTimeValue(text, at(text))


def prop(value: Any, **members: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value, **members}


def entity(short_id: str, types: str | list[str], created: str = "2026-01-01T00:00:00Z", *,
           scope: list[str] | None = None, **attrs: Any) -> dict[str, Any]:
    """An entity in expanded form; attribute values are one instance or a list of instances."""
    kind = short_id.split(":")[0]
    built: dict[str, Any] = {
        "id": f"urn:ngsi-ld:{kind}:{short_id.split(':')[1]}",
        "type": [T(t) for t in ([types] if isinstance(types, str) else types)],
        "createdAt": at(created), "modifiedAt": at(created),
        "attrs": {T(name): value if isinstance(value, list) else [value] for name, value in attrs.items()},
    }
    if scope:
        built["scope"] = scope
    return built


async def insert(db: AsyncDatabase, *entities: dict[str, Any]) -> None:
    store = EntityStore(db)
    for one in entities:
        await store.create(one)


def ids(result: Any) -> list[str]:
    return [e["id"].rsplit(":", 1)[1] for e in result.entities]


def path(name: str, *sub: str, compound: tuple[str, ...] = (), language: str | None = None) -> AttributePath:
    return AttributePath(T(name), tuple(T(s) if s not in ("observedAt", "unitCode", "datasetId") else s
                                        for s in sub), compound, language)


def system(name: str) -> AttributePath:
    return AttributePath(name, system=True)


# --- q: every operator and value kind -------------------------------------------------------------

PERSON_1, PERSON_2 = "urn:ngsi-ld:Person:1", "urn:ngsi-ld:Person:2"
COMMERCIAL = "https://example.org/vocab/Commercial"

SENSORS = [
    entity("Sensor:s1", "Sensor", "2026-01-01T00:00:00Z",
           temperature=prop(21.5, observedAt="2026-03-01T10:00:00Z", unitCode="CEL",
                            attrs={T("accuracy"): prop(0.5)}),
           name=prop("Umeda"), active=prop(True),
           owner={"type": "Relationship", "object": PERSON_1},
           address=prop({"city": "Osaka", "ward": "Kita"}),
           label={"type": "LanguageProperty", "languageMap": {"en": "Tower", "ja": "タワー"}},
           category={"type": "VocabProperty", "vocab": COMMERCIAL},
           readings=prop([1, 10])),
    entity("Sensor:s2", "Sensor", "2026-02-01T00:00:00Z",
           temperature=prop(30, observedAt="2026-03-01T10:00:00.500Z", attrs={T("accuracy"): prop(2)}),
           name=prop("Namba"), active=prop(False),
           owner={"type": "Relationship", "object": PERSON_2},
           address=prop({"city": "Osaka", "ward": "Chuo"}),
           label={"type": "LanguageProperty", "languageMap": {"en": "Market"}}),
    entity("Sensor:s3", "Sensor", "2026-03-01T00:00:00Z",
           temperature=prop("hot"), name=prop("Kobe"), active=prop("true"),
           owner=prop(PERSON_1), address=prop({"city": "Kobe"})),
    entity("Sensor:s4", "Sensor", "2026-04-01T00:00:00Z",
           temperature=[prop(10, datasetId="urn:ds:a"), prop(40, datasetId="urn:ds:b")]),
    entity("Sensor:s5", "Sensor", "2026-05-01T00:00:00Z", name=prop(5)),
]


def cmp(target: AttributePath, op: str, value: Any) -> Comparison:
    return Comparison(target, op, value)  # type: ignore[arg-type]


Q_CASES = [
    # numbers, datatype mismatch ("hot"), multi-instance any-match (s4: 10 and 40)
    ("number equal", cmp(path("temperature"), "==", 21.5), ["s1"]),
    ("int equals float", cmp(path("temperature"), "==", 30.0), ["s2"]),
    ("greater", cmp(path("temperature"), ">", 20), ["s1", "s2", "s4"]),
    ("greater or equal", cmp(path("temperature"), ">=", 30), ["s2", "s4"]),
    ("less", cmp(path("temperature"), "<", 15), ["s4"]),
    ("less or equal", cmp(path("temperature"), "<=", 21.5), ["s1", "s4"]),
    ("not equal needs the attribute and the datatype", cmp(path("temperature"), "!=", 21.5), ["s2", "s4"]),
    ("range inclusive within one instance", cmp(path("temperature"), "==", Range(20, 35)), ["s1", "s2"]),
    ("range inclusive at both ends", cmp(path("temperature"), "==", Range(30, 40)), ["s2", "s4"]),
    ("outside a range", cmp(path("temperature"), "!=", Range(20, 35)), ["s4"]),
    ("any of a list", cmp(path("temperature"), "==", (10, 30)), ["s2", "s4"]),
    ("none of a list", cmp(path("temperature"), "!=", (10, 30)), ["s1", "s4"]),
    ("string against a mixed attribute", cmp(path("temperature"), "==", "hot"), ["s3"]),
    ("number never equals its string", cmp(path("name"), "==", "5"), []),
    ("number", cmp(path("name"), "==", 5), ["s5"]),
    ("string equal", cmp(path("name"), "==", "Umeda"), ["s1"]),
    ("string order", cmp(path("name"), ">", "L"), ["s2", "s1"]),
    ("pattern is a search", cmp(path("name"), "~=", "ba$"), ["s2"]),
    ("pattern on non-strings never matches", cmp(path("temperature"), "~=", "^h"), ["s3"]),
    ("negated pattern matches non-matching strings only", cmp(path("name"), "!~=", "^U"), ["s2", "s3"]),
    ("boolean true", cmp(path("active"), "==", True), ["s1"]),
    ("boolean false", cmp(path("active"), "==", False), ["s2"]),
    ("boolean is not its string", cmp(path("active"), "==", "true"), ["s3"]),
    # URIs: Relationship objects and string values; ordering never matches a Relationship
    ("uri on object and string value", cmp(path("owner"), "==", UriValue(PERSON_1)), ["s1", "s3"]),
    ("quoted uri on object", cmp(path("owner"), "==", PERSON_2), ["s2"]),
    ("not this object", cmp(path("owner"), "!=", UriValue(PERSON_1)), ["s2"]),
    ("ordering skips relationships", cmp(path("owner"), ">", "urn:ngsi-ld:Person:0"), ["s3"]),
    ("vocab", cmp(path("category"), "==", UriValue(COMMERCIAL)), ["s1"]),
    # DateTimes: ISO text on observedAt (whole seconds next to milliseconds), BSON dates on createdAt
    ("observedAt at or after", cmp(path("temperature", "observedAt"), ">=", dt("2026-03-01T10:00:00Z")), ["s1", "s2"]),
    ("observedAt after a whole second", cmp(path("temperature", "observedAt"), ">", dt("2026-03-01T10:00:00Z")),
     ["s2"]),
    ("observedAt before millis", cmp(path("temperature", "observedAt"), "<", dt("2026-03-01T10:00:00.250Z")),
     ["s1"]),
    ("observedAt equal", cmp(path("temperature", "observedAt"), "==", dt("2026-03-01T10:00:00.000Z")), ["s1"]),
    ("observedAt range", cmp(path("temperature", "observedAt"), "==",
                             Range(dt("2026-03-01T10:00:00.100Z"), dt("2026-03-01T10:00:01Z"))), ["s2"]),
    ("createdAt after", cmp(system("createdAt"), ">", dt("2026-02-15T00:00:00Z")), ["s3", "s4", "s5"]),
    ("createdAt range", cmp(system("createdAt"), "==", Range(dt("2026-02-01T00:00:00Z"), dt("2026-03-01T00:00:00Z"))),
     ["s2", "s3"]),
    ("createdAt quoted", cmp(system("createdAt"), "<", "2026-02-01T00:00:00Z"), ["s1"]),
    ("modifiedAt not equal", cmp(system("modifiedAt"), "!=", dt("2026-01-01T00:00:00Z")), ["s2", "s3", "s4", "s5"]),
    # instance members and sub-attributes
    ("unitCode", cmp(path("temperature", "unitCode"), "==", "CEL"), ["s1"]),
    ("datasetId", cmp(path("temperature", "datasetId"), "==", UriValue("urn:ds:b")), ["s4"]),
    ("sub-attribute", cmp(path("temperature", "accuracy"), "<", 1), ["s1"]),
    ("sub-attribute equal", cmp(path("temperature", "accuracy"), "==", 2), ["s2"]),
    # compound values and languages
    ("compound", cmp(path("address", compound=("city",)), "==", "Osaka"), ["s1", "s2"]),
    ("compound not equal needs the key", cmp(path("address", compound=("ward",)), "!=", "Kita"), ["s2"]),
    ("language", cmp(path("label", compound=("en",), language="en"), "==", "Tower"), ["s1"]),
    ("language ja", cmp(path("label", compound=("ja",), language="ja"), "==", "タワー"), ["s1"]),
    ("any language", cmp(path("label", compound=("*",), language="*"), "==", "Market"), ["s2"]),
    ("no language matches", cmp(path("label", compound=("*",), language="*"), "!=", "Tower"), ["s2"]),
    ("language property without a tag", cmp(path("label"), "==", "Tower"), ["s1"]),
    ("array value any element", cmp(path("readings"), "==", 10), ["s1"]),
    ("array value range on one element", cmp(path("readings"), "==", Range(4, 6)), []),
    ("array value range", cmp(path("readings"), "==", Range(9, 11)), ["s1"]),
    # existence
    ("exists", Exists(path("temperature")), ["s1", "s2", "s3", "s4"]),
    ("does not exist", Exists(path("temperature"), negated=True), ["s5"]),
    ("compound key exists", Exists(path("address", compound=("ward",))), ["s1", "s2"]),
    ("compound key does not exist", Exists(path("address", compound=("ward",)), negated=True), ["s3", "s4", "s5"]),
    ("sub-attribute exists", Exists(path("temperature", "accuracy")), ["s1", "s2"]),
    ("member exists", Exists(path("temperature", "observedAt")), ["s1", "s2"]),
    ("language exists", Exists(path("label", compound=("ja",), language="ja")), ["s1"]),
    # logic
    ("and", And((cmp(path("temperature"), ">", 20), cmp(path("name"), "==", "Namba"))), ["s2"]),
    ("or", Or((cmp(path("temperature"), "==", 21.5), cmp(path("name"), "==", "Kobe"))), ["s1", "s3"]),
    ("and of existences", And((Exists(path("name")), Exists(path("temperature")))), ["s1", "s2", "s3"]),
    ("or inside and", And((Or((Exists(path("label")), cmp(path("name"), "==", 5))), Exists(path("name")))),
     ["s1", "s2", "s5"]),
]


@pytest.mark.parametrize(("q", "expected"), [case[1:] for case in Q_CASES], ids=[case[0] for case in Q_CASES])
async def test_q_matches_exactly(db, q, expected):
    await insert(db, *SENSORS)
    result = await find_entities(db, EntityQuery(q=q))
    assert sorted(ids(result)) == sorted(expected)


# --- ids, types, attrs, scopeQ --------------------------------------------------------------------

TYPED = [
    entity("Thing:b1", "Building", scope=["/Osaka/Kita/Umeda"]),
    entity("Thing:b2", ["Building", "Shop"], scope=["/Osaka/Chuo"], name=prop("x")),
    entity("Thing:s1", "Shop", scope=["/Kobe", "/Osaka"], floor=prop(1)),
    entity("Thing:v1", "Vehicle", speed=prop(3)),
]


@pytest.mark.parametrize(("types", "expected"), [
    (TypeName(T("Building")), ["b1", "b2"]),
    (And((TypeName(T("Building")), TypeName(T("Shop")))), ["b2"]),
    (Or((TypeName(T("Shop")), TypeName(T("Vehicle")))), ["b2", "s1", "v1"]),
    (Or((And((TypeName(T("Building")), TypeName(T("Shop")))), TypeName(T("Vehicle")))), ["b2", "v1"]),
], ids=["one", "and", "or", "grouped"])
async def test_type_expressions(db, types, expected):
    await insert(db, *TYPED)
    assert ids(await find_entities(db, EntityQuery(types=types))) == expected


@pytest.mark.parametrize(("pattern", "expected"), [
    ("/Osaka/+", ["b2"]),
    ("/Osaka/#", ["b1", "b2", "s1"]),
    ("/Osaka/+/Umeda", ["b1"]),
    ("/#", ["b1", "b2", "s1"]),
    ("/Kobe", ["s1"]),
    ("/Osaka/Kita", []),
], ids=["one level", "subtree", "inner plus", "any", "exact", "no prefix match"])
async def test_scope_patterns(db, pattern, expected):
    await insert(db, *TYPED)
    assert ids(await find_entities(db, EntityQuery(scope_q=ScopeMatch(pattern)))) == expected


async def test_scope_and_or(db):
    await insert(db, *TYPED)
    both = And((ScopeMatch("/Kobe"), ScopeMatch("/Osaka")))
    either = Or((ScopeMatch("/Kobe"), ScopeMatch("/Osaka/Chuo")))
    assert ids(await find_entities(db, EntityQuery(scope_q=both))) == ["s1"]
    assert ids(await find_entities(db, EntityQuery(scope_q=either))) == ["b2", "s1"]
    assert to_mongo_filter(EntityQuery(scope_q=either)) == {"scope": {"$regex": "(?:^/Kobe$)|(?:^/Osaka/Chuo$)"}}


def test_scope_regexes_are_anchored():
    assert scope_regex("/A/+/C") == "^/A/[^/]+/C$"
    assert scope_regex("/A/#") == "^/A(?:/.*)?$"
    assert scope_regex("/#") == "^(?:/.*)?$"


async def test_ids_id_pattern_attrs_and_selectors(db):
    await insert(db, *TYPED)
    b1, s1 = "urn:ngsi-ld:Thing:b1", "urn:ngsi-ld:Thing:s1"
    assert ids(await find_entities(db, EntityQuery(ids=(s1, b1, "urn:x:none")))) == ["b1", "s1"]
    assert ids(await find_entities(db, EntityQuery(id_pattern="b[0-9]"))) == ["b1", "b2"]
    attrs = frozenset({T("name"), T("floor")})
    assert ids(await find_entities(db, EntityQuery(attrs=attrs))) == ["b2", "s1"]
    selectors = (EntitySelector(ids=(b1,)), EntitySelector(types=TypeName(T("Vehicle"))))
    assert ids(await find_entities(db, EntityQuery(selectors=selectors))) == ["b1", "v1"]
    assert ids(await find_entities(db, EntityQuery(ids=(b1, s1), types=TypeName(T("Shop"))))) == ["s1"]


# --- pages, counts, order, projection ------------------------------------------------------------

async def test_pages_are_in_id_order_and_counted_by_the_database(db):
    await insert(db, *SENSORS)
    sensors = TypeName(T("Sensor"))
    page = await find_entities(db, EntityQuery(types=sensors, limit=2, offset=1, count=True))
    assert (ids(page), page.count) == (["s2", "s3"], 5)
    past_the_end = await find_entities(db, EntityQuery(types=sensors, offset=9, count=True))
    assert (past_the_end.entities, past_the_end.count) == ([], 5)
    only_count = await find_entities(db, EntityQuery(types=sensors, limit=0, count=True))
    assert (only_count.entities, only_count.count) == ([], 5)
    assert (await find_entities(db, EntityQuery(types=sensors))).count is None


async def test_order_by_attribute_uses_the_smallest_value_ascending_and_the_largest_descending(db):
    await insert(db, *SENSORS)
    ascending = EntityQuery(types=TypeName(T("Sensor")), order_by=(OrderKey(path("temperature")),))
    descending = EntityQuery(types=TypeName(T("Sensor")), order_by=(OrderKey(path("temperature"), True),))
    # s4 holds 10 and 40; s3 a string (after numbers); s5 has no temperature (first, then last)
    assert ids(await find_entities(db, ascending)) == ["s5", "s4", "s1", "s2", "s3"]
    assert ids(await find_entities(db, descending)) == ["s3", "s4", "s2", "s1", "s5"]


async def test_order_by_id_type_and_created_at(db):
    await insert(db, *TYPED, *SENSORS[:2])
    by_id = EntityQuery(attrs=frozenset({T("name")}), order_by=(OrderKey("id", True),))
    assert ids(await find_entities(db, by_id)) == ["b2", "s2", "s1"]
    by_type = EntityQuery(types=Or((TypeName(T("Vehicle")), TypeName(T("Shop")))), order_by=(OrderKey("type"),))
    assert ids(await find_entities(db, by_type)) == ["b2", "s1", "v1"]  # Building < Shop < Vehicle
    newest = EntityQuery(types=TypeName(T("Sensor")), order_by=(OrderKey(system("createdAt"), True),))
    assert ids(await find_entities(db, newest)) == ["s2", "s1"]


async def test_order_by_two_arrays_sorts_on_each_entitys_smallest_or_largest_value(db):
    await insert(db, entity("Item:e1", "Alpha", category=prop("b"), rank=prop(1)),
                 entity("Item:e2", "Beta", category=prop("a"), rank=prop(5)),
                 entity("Item:e3", "Alpha", category=prop("b"), rank=[prop(3), prop(9, datasetId="urn:ds:x")]),
                 entity("Item:e4", ["Beta", "Alpha"], category=prop("a"), rank=prop(2)))
    items = Or((TypeName(T("Alpha")), TypeName(T("Beta"))))
    by_category = EntityQuery(types=items, order_by=(OrderKey(path("category")), OrderKey(path("rank"), True)))
    assert ids(await find_entities(db, by_category)) == ["e2", "e4", "e3", "e1"]
    by_type = EntityQuery(types=items, order_by=(OrderKey("type"), OrderKey(path("rank"))), offset=1, limit=2,
                          count=True, render=RenderOptions(attrs=frozenset({T("rank")})))
    page = await find_entities(db, by_type)
    assert (ids(page), page.count) == (["e4", "e3"], 4)
    assert [sorted(e["attrs"]) for e in page.entities] == [[T("rank")], [T("rank")]]
    assert not any(key.startswith("_order") for e in page.entities for key in e)


async def test_projection_keeps_only_the_asked_attributes(db):
    await insert(db, *SENSORS[:1])
    render = RenderOptions(attrs=frozenset({T("temperature"), T("missing")}))
    [found] = (await find_entities(db, EntityQuery(ids=("urn:ngsi-ld:Sensor:s1",), render=render))).entities
    assert list(found["attrs"]) == [T("temperature")]
    assert found["attrs"][T("temperature")][0]["attrs"][T("accuracy")]["value"] == 0.5
    assert found["type"] == [T("Sensor")] and found["createdAt"] == at("2026-01-01T00:00:00Z")
    picked = RenderOptions(pick=frozenset({"id", T("name")}))
    [found] = (await find_entities(db, EntityQuery(ids=("urn:ngsi-ld:Sensor:s1",), render=picked))).entities
    assert list(found["attrs"]) == [T("name")]


async def test_language_property_round_trips_without_the_search_field(db):
    await insert(db, *SENSORS[:1])
    [found] = (await find_entities(db, EntityQuery(ids=("urn:ngsi-ld:Sensor:s1",)))).entities
    assert found["attrs"][T("label")] == [{"type": "LanguageProperty", "languageMap": {"en": "Tower", "ja": "タワー"}}]
    assert found == SENSORS[0]


# --- geo --------------------------------------------------------------------------------------------

def point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lon, lat]}


def box(west: float, south: float, east: float, north: float) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[west, south], [east, south], [east, north], [west, north],
                                                [west, south]]]}


def located(short_id: str, kind: str, geometry: dict[str, Any]) -> dict[str, Any]:
    return entity(short_id, kind, location={"type": "GeoProperty", "value": geometry})


CITIES = {"osaka": (135.5023, 34.6937), "sakai": (135.4830, 34.5733), "kobe": (135.1955, 34.6901),
          "nara": (135.8048, 34.6851), "kyoto": (135.7681, 35.0116), "wakayama": (135.1675, 34.2260)}
PREFECTURES = {"p-osaka": box(135.30, 34.40, 135.70, 34.95), "p-hyogo": box(134.50, 34.50, 135.30, 35.50),
               "p-kyoto": box(135.40, 34.90, 135.85, 35.60), "p-nara": box(135.78, 34.30, 136.20, 34.80)}
KANSAI = [*(located(f"City:{name}", "City", point(*lonlat)) for name, lonlat in CITIES.items()),
          *(located(f"Prefecture:{name}", "Prefecture", shape) for name, shape in PREFECTURES.items()),
          entity("City:nowhere", "City", name=prop("no location"))]
LOCATION = T("location")
NEAR_UMEDA = point(135.45, 34.68)  # osaka 5.0 km, sakai 12.3, kobe 23.3, nara 32.5, kyoto 47.0, wakayama 56.8
CORE = box(135.10, 34.35, 135.75, 34.96)


def geo(georel: str, geometry: dict[str, Any], **distances: float) -> GeoQuery:
    return GeoQuery(georel, geometry, LOCATION, **distances)  # type: ignore[arg-type]


@pytest.mark.parametrize(("query", "expected"), [
    (geo("within", CORE), ["kobe", "osaka", "p-osaka", "sakai"]),
    (geo("intersects", CORE), ["kobe", "osaka", "p-hyogo", "p-kyoto", "p-osaka", "sakai"]),
    (geo("disjoint", CORE), ["kyoto", "nara", "wakayama", "p-nara"]),
    (geo("intersects", point(*CITIES["kyoto"])), ["kyoto", "p-kyoto"]),
    (geo("equals", {"type": "Polygon", "coordinates": [[[135.30, 34.50], [135.30, 35.50], [134.50, 35.50],
                                                          [134.50, 34.50], [135.30, 34.50]]]}), ["p-hyogo"]),
    (geo("equals", point(*CITIES["osaka"])), ["osaka"]),
    (geo("contains", box(135.45, 34.60, 135.55, 34.70)), ["p-osaka"]),
    (geo("contains", point(*CITIES["nara"])), ["nara", "p-nara"]),
    (geo("overlaps", box(135.60, 34.60, 135.90, 34.75)), ["p-nara", "p-osaka"]),
    (geo("within", point(*CITIES["kobe"])), ["kobe"]),
], ids=["within", "intersects", "disjoint", "intersects point", "equals polygon", "equals point",
        "contains polygon", "contains point", "overlaps", "within a point"])
async def test_georels_on_points_and_polygons(db, query, expected):
    await insert(db, *KANSAI)
    result = await find_entities(db, EntityQuery(geo=query, count=True))
    assert sorted(ids(result)) == sorted(expected)
    assert result.count == len(expected)


async def test_near_orders_by_distance_and_counts_the_same_set(db):
    await insert(db, *KANSAI)
    cities = TypeName(T("City"))  # SecantusDB's near ignores non-Point geometries: compare points only
    within_30km = EntityQuery(types=cities, geo=geo("near", NEAR_UMEDA, max_distance=30_000), count=True)
    result = await find_entities(db, within_30km)
    assert (ids(result), result.count) == (["osaka", "sakai", "kobe"], 3)
    beyond_30km = EntityQuery(types=cities, geo=geo("near", NEAR_UMEDA, min_distance=30_000), count=True)
    result = await find_entities(db, beyond_30km)
    assert (ids(result), result.count) == (["nara", "kyoto", "wakayama"], 3)
    second = EntityQuery(types=cities, geo=geo("near", NEAR_UMEDA, max_distance=30_000), offset=1, limit=1,
                         count=True, order_by=(OrderKey("id", True),))
    result = await find_entities(db, second)
    assert (ids(result), result.count) == (["sakai"], 3)


async def test_python_decided_georels_paginate_and_count_while_streaming(db):
    await insert(db, *KANSAI)
    overlapping = box(135.60, 34.60, 135.90, 34.75)
    first = await find_entities(db, EntityQuery(geo=geo("overlaps", overlapping), limit=1, count=True))
    second = await find_entities(db, EntityQuery(geo=geo("overlaps", overlapping), limit=1, offset=1))
    past = await find_entities(db, EntityQuery(geo=geo("overlaps", overlapping), offset=2, count=True))
    assert (ids(first), first.count, ids(second), ids(past), past.count) == (["p-nara"], 2, ["p-osaka"], [], 2)


async def test_geo_query_creates_the_2dsphere_index_once(db):
    await insert(db, *KANSAI)
    await find_entities(db, EntityQuery(geo=geo("within", CORE)))
    indexes = {index["name"]: index["key"] async for index in await db[ENTITIES].list_indexes()}
    assert indexes[f"{geo_path(LOCATION)}_2dsphere"] == {geo_path(LOCATION): "2dsphere"}


# --- plans ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("query", "index"), [
    (EntityQuery(ids=("urn:ngsi-ld:Sensor:s1", "urn:ngsi-ld:Sensor:s2")), "_id_"),
    (EntityQuery(types=TypeName(T("Sensor"))), "type"),
    (EntityQuery(types=Or((TypeName(T("Sensor")), TypeName(T("Building"))))), "type"),
    (EntityQuery(attrs=frozenset({T("temperature")})), "attrNames"),
    (EntityQuery(q=Exists(path("temperature"))), "attrNames"),
    (EntityQuery(q=cmp(system("modifiedAt"), "==", Range(dt("2026-01-01T00:00:00Z"), dt("2026-03-01T00:00:00Z")))),
     "modifiedAt"),
    (EntityQuery(geo=geo("near", NEAR_UMEDA, max_distance=30_000)), f"{geo_path(LOCATION)}_2dsphere"),
    (EntityQuery(geo=geo("within", CORE), types=TypeName(T("City"))), f"{geo_path(LOCATION)}_2dsphere"),
], ids=["id", "type", "types", "attrs", "q existence", "modifiedAt range", "near", "within with a type"])
async def test_query_paths_are_index_scans(db, query, index):
    await insert(db, *SENSORS, *KANSAI)
    plan = await explain_filter(db, query)
    assert index_names(plan) == [index], plan
    assert "COLLSCAN" not in str(plan)


async def test_q_on_an_attribute_carries_the_index_backed_attribute_name(db):
    await insert(db, *SENSORS)
    query = EntityQuery(q=cmp(path("temperature"), ">", 20))
    mongo_filter = to_mongo_filter(query)
    assert mongo_filter["attrNames"] == T("temperature")  # the conjunct an index serves
    assert sorted(ids(await find_entities(db, query))) == ["s1", "s2", "s4"]
    plan = await explain_filter(db, query)
    if ON_SECANTUS and not index_names(plan):
        # SecantusDB 0.7.0b3 plans (and explains) only single-field filters; its executor does look
        # one clause of a multi-field filter up through an index, but explain reports a COLLSCAN.
        pytest.xfail("SecantusDB 0.7.0b3 explain reports a COLLSCAN for every multi-field filter")
    assert index_names(plan) == ["attrNames"], plan


async def test_ten_thousand_entities_type_query_counts_through_the_index(db):
    now = at("2026-01-01T00:00:00Z")
    docs = [to_document({"id": f"urn:ngsi-ld:Bulk:{n:05d}", "type": [T("Bulk" if n % 4 else "Rare")],
                         "createdAt": now, "modifiedAt": now, "attrs": {T("n"): [prop(n)]}}, 1)
            for n in range(10_000)]
    await db[ENTITIES].insert_many(docs, ordered=False)
    query = EntityQuery(types=TypeName(T("Rare")), count=True, limit=3)
    result = await find_entities(db, query)
    assert (ids(result), result.count) == (["00000", "00004", "00008"], 2_500)
    assert index_names(await explain_filter(db, query)) == ["type"]
