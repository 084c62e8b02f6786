"""Query Entities requests (5.7.2): GET /entities parameters and Query bodies into an EntityQuery."""

from __future__ import annotations

from typing import Any

import pytest
from multidict import MultiDict

from broker.ngsild.context import core_term_map
from broker.ngsild.errors import BadRequestData, InvalidRequest, NgsiLdError, TooManyResults
from broker.ngsild.params import RenderOptions
from broker.ngsild.query import UNSUPPORTED_PARAMS, parse_query_body, parse_query_params
from broker.ngsild.query_ast import (
    And,
    AttributePath,
    Comparison,
    EntityQuery,
    EntitySelector,
    Exists,
    GeoQuery,
    Or,
    OrderKey,
    ScopeMatch,
    TypeName,
)

CORE = core_term_map()
D = "https://uri.etsi.org/ngsi-ld/default-context/"
NGSI = "https://uri.etsi.org/ngsi-ld/"
BUILDING = TypeName(D + "Building")
SQUARE = [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]


def parse(**query: str) -> EntityQuery:
    return parse_query_params(query, CORE)


# --- GET /entities --------------------------------------------------------------------------


def test_a_type_alone_is_a_query_with_default_paging() -> None:
    assert parse(type="Building") == EntityQuery(types=BUILDING, limit=20, offset=0)


def test_every_parameter_lands_in_its_field() -> None:
    query = parse(
        id="urn:ngsi-ld:Building:1,urn:ngsi-ld:Building:2,urn:ngsi-ld:Building:1", type="Building,Store",
        attrs="name,temperature", q="temperature>20", scopeQ="/Madrid/#", georel="near;maxDistance==100",
        geometry="Point", coordinates="[8.68,49.41]", geoproperty="location", geometryProperty="location",
        lang="fr", options="keyValues,sysAttrs", limit="5", offset="10", count="true", orderBy="name;desc,id",
        local="true", datasetId="urn:ds:1,@none",
    )
    attrs = frozenset({D + "name", D + "temperature"})
    assert query == EntityQuery(
        ids=("urn:ngsi-ld:Building:1", "urn:ngsi-ld:Building:2"),
        types=Or((BUILDING, TypeName(D + "Store"))),
        attrs=attrs,
        q=Comparison(AttributePath(D + "temperature"), ">", 20),
        scope_q=ScopeMatch("/Madrid/#"),
        geo=GeoQuery("near", {"type": "Point", "coordinates": [8.68, 49.41]}, NGSI + "location", max_distance=100.0),
        order_by=(OrderKey(AttributePath(D + "name"), descending=True), OrderKey("id")),
        limit=5, offset=10, count=True, local=True,
        render=RenderOptions(format="keyValues", sys_attrs=True, lang="fr", attrs=attrs,
                             dataset_id=frozenset({"urn:ds:1", "@none"})),
    )


def test_pick_and_omit_go_to_the_render_options_only() -> None:
    assert parse(type="T", pick="id,name").render.pick == frozenset({"id", D + "name"})
    assert parse(type="T", omit="name").render.omit == frozenset({D + "name"})
    assert parse(type="T", pick="name").attrs is None


def test_type_star_means_every_type_and_implies_local() -> None:
    assert parse(type="*") == EntityQuery(types=None, local=True)


def test_id_beats_id_pattern_but_both_are_validated() -> None:
    assert parse(type="T", id="urn:a:1", idPattern="urn:.*").id_pattern is None
    assert parse(type="T", idPattern="urn:ngsi-ld:Building:.*").id_pattern == "urn:ngsi-ld:Building:.*"
    with pytest.raises(BadRequestData, match="not a valid regular expression"):
        parse(type="T", id="urn:a:1", idPattern="x**")


def test_unsupported_parameters_are_left_to_the_handler() -> None:
    expected = {"join", "joinLevel", "containedBy", "entityMap", "csf", "expandValues", "collation", "orderFrom",
                "orderGeometry", "jsonKeys"}
    assert expected == UNSUPPORTED_PARAMS
    for name in UNSUPPORTED_PARAMS:
        assert parse_query_params({"type": "T", name: "x"}, CORE).types == TypeName(D + "T")


@pytest.mark.parametrize(("query", "error", "message"), [
    ({"type": "T", "invalidParam": "x"}, InvalidRequest, "Unknown query parameter 'invalidParam'"),
    ({"type": "T", "page": "2"}, InvalidRequest, "Unknown query parameter 'page'"),
    ({"type": "T", "Type": "T"}, InvalidRequest, "Unknown query parameter 'Type'"),
    ({"type": "T", "options": "bogus"}, InvalidRequest, "Unknown option 'bogus'"),
    ({"type": "T", "format": "xml"}, InvalidRequest, "Unknown format 'xml'"),
    ({"type": "T", "id": "not a uri"}, BadRequestData, "'not a uri' is not a URI"),
    ({"type": "T", "id": "urn:a:1,"}, BadRequestData, "'' is not a URI"),
    ({"type": "T", "id": ""}, BadRequestData, "'' is not a URI"),
    ({"type": "T", "idPattern": ""}, BadRequestData, "idPattern must be a non-empty regular expression"),
    ({"type": "T", "idPattern": "x**"}, BadRequestData, "idPattern 'x**' is not a valid regular expression"),
    ({"type": "T", "idPattern": "(" * 10}, BadRequestData, "is not a valid regular expression"),
    ({"type": "T", "idPattern": "x" * 257}, BadRequestData, "idPattern is longer than 256 characters"),
    ({"type": ""}, BadRequestData, "type must not be empty"),
    ({"type": "A,,B"}, BadRequestData, "type: expected an entity type"),
    ({"type": "T", "q": ""}, BadRequestData, "q must not be empty"),
    ({"type": "T", "q": "a=>1"}, BadRequestData, "q: unknown operator '=>' at position 1"),
    ({"type": "T", "scopeQ": "/A/"}, BadRequestData, "scopeQ: '/A/' is not a scope pattern at position 0"),
    ({"type": "T", "georel": "near"}, BadRequestData, "A geo-query needs georel, geometry and coordinates"),
    ({"type": "T", "attrs": "id,type"}, BadRequestData, "attrs names attributes; 'id' is not one"),
    ({"type": "T", "attrs": "name", "pick": "name"}, BadRequestData, "cannot be used together"),
    ({"type": "T", "attrs": ""}, BadRequestData, "has an empty item"),
    ({"type": "T", "lang": "fr;q=2"}, BadRequestData, "is not a language tag"),
    ({"type": "T", "datasetId": "nope"}, BadRequestData, "is not a URI or @none"),
    ({"type": "T", "count": "yes"}, BadRequestData, "count must be true or false, got 'yes'"),
    ({"type": "T", "count": "True"}, BadRequestData, "count must be true or false, got 'True'"),
    ({"type": "T", "local": "1"}, BadRequestData, "local must be true or false, got '1'"),
])
def test_bad_parameters_are_rejected(query: dict[str, str], error: type[NgsiLdError], message: str) -> None:
    with pytest.raises(error) as raised:
        parse_query_params(query, CORE)
    assert type(raised.value) is error
    assert message in raised.value.detail


def test_unknown_parameters_are_reported_before_bad_values() -> None:
    with pytest.raises(InvalidRequest):
        parse_query_params({"id": "not a uri", "bogus": "1"}, CORE)


def test_a_repeated_parameter_is_bad_request_data() -> None:
    with pytest.raises(BadRequestData, match="'type' is given more than once"):
        parse_query_params(MultiDict([("type", "A"), ("type", "B")]), CORE)
    assert parse_query_params(MultiDict([("type", "A")]), CORE).types == TypeName(D + "A")


# --- pagination edges ---------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "expected"), [
    ({}, (20, 0, False)),
    ({"limit": "1"}, (1, 0, False)),
    ({"limit": "1000"}, (1000, 0, False)),
    ({"limit": "0", "count": "true"}, (0, 0, True)),
    ({"limit": "0", "offset": "5", "count": "true"}, (0, 5, True)),
    ({"offset": "0"}, (20, 0, False)),
    ({"offset": "2147483647"}, (20, 2147483647, False)),
    ({"count": "false"}, (20, 0, False)),
    ({"limit": "007"}, (7, 0, False)),
])
def test_pagination_values(query: dict[str, str], expected: tuple[int, int, bool]) -> None:
    result = parse_query_params({"type": "T", **query}, CORE)
    assert (result.limit, result.offset, result.count) == expected


@pytest.mark.parametrize(("query", "error", "message"), [
    ({"limit": "-1"}, BadRequestData, "limit must be a non-negative integer, got '-1'"),
    ({"offset": "-1"}, BadRequestData, "offset must be a non-negative integer, got '-1'"),
    ({"limit": "abc"}, BadRequestData, "limit must be a non-negative integer"),
    ({"limit": "1.5"}, BadRequestData, "limit must be a non-negative integer"),
    ({"limit": "+5"}, BadRequestData, "limit must be a non-negative integer"),
    ({"limit": " 5"}, BadRequestData, "limit must be a non-negative integer"),
    ({"limit": ""}, BadRequestData, "limit must be a non-negative integer"),
    ({"limit": "٣"}, BadRequestData, "limit must be a non-negative integer"),
    ({"offset": ""}, BadRequestData, "offset must be a non-negative integer"),
    ({"offset": "9" * 19}, BadRequestData, "offset must be a non-negative integer"),
    ({"offset": "2147483648"}, BadRequestData, "offset=2147483648 is too large"),
    ({"limit": "0"}, BadRequestData, "limit=0 is only allowed with count=true"),
    ({"limit": "0", "count": "false"}, BadRequestData, "limit=0 is only allowed with count=true"),
    ({"limit": "1001"}, TooManyResults, "limit=1001 is above this broker's maximum page size of 1000"),
    ({"limit": "99999999999"}, TooManyResults, "above this broker's maximum page size"),
])
def test_bad_pagination_is_rejected(query: dict[str, str], error: type[NgsiLdError], message: str) -> None:
    with pytest.raises(error) as raised:
        parse_query_params({"type": "T", **query}, CORE)
    assert type(raised.value) is error
    assert message in raised.value.detail


def test_default_and_maximum_limits_are_the_callers_choice() -> None:
    assert parse_query_params({"type": "T"}, CORE, default_limit=50, max_limit=100).limit == 50
    assert parse_query_params({"type": "T", "limit": "100"}, CORE, default_limit=50, max_limit=100).limit == 100
    with pytest.raises(TooManyResults):
        parse_query_params({"type": "T", "limit": "101"}, CORE, default_limit=50, max_limit=100)


# --- too wide (5.7.2.4) ---------------------------------------------------------------------------


@pytest.mark.parametrize("query", [
    {},
    {"id": "urn:ngsi-ld:Building:1"},
    {"idPattern": "urn:ngsi-ld:Building:.*"},
    {"id": "urn:a:1", "idPattern": ".*"},
    {"attrs": "createdAt"},
    {"attrs": "createdAt,modifiedAt"},
    {"q": "modifiedAt>2026-01-01T00:00:00Z"},
    {"q": "createdAt>2026-01-01T00:00:00Z|!deletedAt"},
    {"scopeQ": "/A"},
    {"pick": "name"},
    {"omit": "name"},
    {"options": "keyValues", "limit": "5"},
    {"local": "false"},
    {"orderBy": "name"},
])
def test_a_too_wide_query_is_bad_request_data(query: dict[str, str]) -> None:
    with pytest.raises(BadRequestData, match="too wide"):
        parse_query_params(query, CORE)


@pytest.mark.parametrize("query", [
    {"type": "Building"},
    {"type": "*"},
    {"attrs": "temperature"},
    {"attrs": "createdAt,temperature"},
    {"q": "temperature"},
    {"q": "!temperature"},
    {"q": "createdAt>2026-01-01T00:00:00Z;temperature>1"},
    {"q": "temperature.observedAt>2026-01-01T00:00:00Z"},
    {"georel": "within", "geometry": "Polygon", "coordinates": "[[[0,0],[1,0],[1,1],[0,1],[0,0]]]"},
    {"local": "true"},
    {"id": "urn:a:1", "local": "true"},
])
def test_a_query_with_a_selective_parameter_is_accepted(query: dict[str, str]) -> None:
    assert isinstance(parse_query_params(query, CORE), EntityQuery)


# --- orderBy (4.23) -----------------------------------------------------------------------------


@pytest.mark.parametrize(("order_by", "expected"), [
    ("id", (OrderKey("id"),)),
    ("type;desc", (OrderKey("type", True),)),
    ("name", (OrderKey(AttributePath(D + "name")),)),
    ("name;asc", (OrderKey(AttributePath(D + "name")),)),
    ("name;desc,id", (OrderKey(AttributePath(D + "name"), True), OrderKey("id"))),
    ("createdAt;desc", (OrderKey(AttributePath("createdAt", system=True), True),)),
    ("name.createdAt", (OrderKey(AttributePath(D + "name", ("createdAt",))),)),
    ("name.sub", (OrderKey(AttributePath(D + "name", (D + "sub",))),)),
    ("address[city]", (OrderKey(AttributePath(D + "address", compound=("city",))),)),
    ("address[a,b];desc", (OrderKey(AttributePath(D + "address", compound=("a,b",)), True),)),
])
def test_order_by_keys(order_by: str, expected: tuple[OrderKey, ...]) -> None:
    assert parse(type="T", orderBy=order_by).order_by == expected


@pytest.mark.parametrize(("order_by", "message"), [
    ("", "orderBy='' has an empty key"),
    ("name,", "orderBy='name,' has an empty key"),
    (";desc", "has an empty key"),
    ("name;down", "orderBy key 'name;down': the direction must be ';asc' or ';desc'"),
    ("name;desc;asc", "the direction must be ';asc' or ';desc'"),
    ("name;DESC", "the direction must be ';asc' or ';desc'"),
    ("location;dist-asc", "orderBy key 'location;dist-asc': distance ordering needs orderFrom"),
    ("1name", "orderBy key '1name': '1name' is not a valid attribute name at position 0"),
    ("name==1", "orderBy key 'name==1': unexpected '=' after the attribute path at position 4"),
])
def test_bad_order_by_is_bad_request_data(order_by: str, message: str) -> None:
    with pytest.raises(BadRequestData) as raised:
        parse(type="T", orderBy=order_by)
    assert message in raised.value.detail


# --- POST /entityOperations/query (5.2.23) -------------------------------------------------------


def body(**members: Any) -> dict[str, Any]:
    return {"type": "Query", **members}


def parse_body(content: Any, url: dict[str, str] | None = None) -> EntityQuery:
    return parse_query_body(content, CORE, url or {})


def test_a_query_body_with_one_selector() -> None:
    assert parse_body(body(entities=[{"type": "Building"}])) == EntityQuery(types=BUILDING)
    assert parse_body(body(entities=[{"id": "urn:a:1", "type": "Building"}])) == EntityQuery(
        ids=("urn:a:1",), types=BUILDING)
    assert parse_body(body(entities=[{"idPattern": "urn:a:.*", "type": "Building"}])) == EntityQuery(
        id_pattern="urn:a:.*", types=BUILDING)
    assert parse_body(body(entities=[{"id": "urn:a:1", "idPattern": "x", "type": "(A;B),C"}])) == EntityQuery(
        ids=("urn:a:1",), types=Or((And((TypeName(D + "A"), TypeName(D + "B"))), TypeName(D + "C"))))


def test_several_selectors_are_ored() -> None:
    a, b, c = TypeName(D + "A"), TypeName(D + "B"), TypeName(D + "C")
    assert parse_body(body(entities=[{"type": "A"}, {"type": "B,C"}])).types == Or((a, b, c))
    assert parse_body(body(entities=[{"type": "A"}, {"type": "*"}])) == EntityQuery(local=True)
    same_type = parse_body(body(entities=[{"id": "urn:a:1", "type": "A"}, {"id": "urn:a:2", "type": "A"},
                                          {"id": "urn:a:1", "type": "A"}]))
    assert (same_type.ids, same_type.types, same_type.selectors) == (("urn:a:1", "urn:a:2"), a, ())
    mixed = parse_body(body(entities=[{"id": "urn:a:1", "type": "A"}, {"idPattern": "urn:b:.*", "type": "B"},
                                      {"type": "C"}]))
    assert mixed == EntityQuery(selectors=(EntitySelector(ids=("urn:a:1",), types=a),
                                           EntitySelector(id_pattern="urn:b:.*", types=b),
                                           EntitySelector(types=c)))


def test_a_full_query_body() -> None:
    query = parse_body(body(
        entities=[{"type": "Building"}], attrs=["name", "temperature"], q="temperature>20;name",
        geoQ={"geometry": "Polygon", "coordinates": SQUARE, "georel": "within", "geoproperty": "location"},
        scopeQ="/A|/B", lang="ja", datasetId=["urn:ds:1"],
    ), {"limit": "3", "offset": "1", "count": "true", "options": "concise", "local": "true"})
    attrs = frozenset({D + "name", D + "temperature"})
    assert query == EntityQuery(
        types=BUILDING, attrs=attrs,
        q=And((Comparison(AttributePath(D + "temperature"), ">", 20), Exists(AttributePath(D + "name")))),
        scope_q=Or((ScopeMatch("/A"), ScopeMatch("/B"))),
        geo=GeoQuery("within", {"type": "Polygon", "coordinates": SQUARE}, NGSI + "location"),
        limit=3, offset=1, count=True, local=True,
        render=RenderOptions(format="concise", lang="ja", attrs=attrs, dataset_id=frozenset({"urn:ds:1"})),
    )


def test_query_body_projection_and_context_members() -> None:
    assert parse_body(body(entities=[{"type": "T"}], pick=["id", "name"])).render.pick == frozenset({"id", D + "name"})
    assert parse_body(body(entities=[{"type": "T"}], omit="name")).render.omit == frozenset({D + "name"})
    assert parse_body({**body(entities=[{"type": "T"}]), "@context": "https://example.org/ctx.jsonld"}).types
    geo = parse_body(body(geoQ={"geometry": "Point", "coordinates": "[1,2]", "georel": "near;minDistance==5"})).geo
    assert geo == GeoQuery("near", {"type": "Point", "coordinates": [1, 2]}, NGSI + "location", min_distance=5.0)


def test_unsupported_query_body_members_are_left_to_the_handler() -> None:
    assert parse_body(body(entities=[{"type": "T"}], csf="x", join="inline", orderingParams={})).types


@pytest.mark.parametrize(("content", "url", "error", "message"), [
    ([], {}, InvalidRequest, "The body must be a JSON object (a Query), got list"),
    ("Query", {}, InvalidRequest, "got str"),
    (None, {}, InvalidRequest, "got null"),
    ({}, {}, BadRequestData, "A Query body needs \"type\": \"Query\", got None"),
    ({"type": "Entity"}, {}, BadRequestData, "got 'Entity'"),
    (body(entities=[{"type": "T"}], bogus=1), {}, BadRequestData, "Unknown Query member(s): bogus"),
    (body(entities=[{"type": "T"}], temporalQ={}), {}, BadRequestData, "temporalQ belongs to the temporal query"),
    (body(entities=[]), {}, BadRequestData, "'entities' must be a non-empty array of EntitySelectors"),
    (body(entities={"type": "T"}), {}, BadRequestData, "'entities' must be a non-empty array"),
    (body(entities=["T"]), {}, BadRequestData, "entities[0] must be an EntitySelector object, got str"),
    (body(entities=[{"id": "urn:a:1"}]), {}, BadRequestData, "entities[0] needs a 'type'"),
    (body(entities=[{"type": "T"}, {"type": "T", "x": 1}]), {}, BadRequestData,
     "entities[1] has unknown member(s): x"),
    (body(entities=[{"type": "T", "id": "nope"}]), {}, BadRequestData, "entities[0].id is not a URI: 'nope'"),
    (body(entities=[{"type": "T", "idPattern": "x**"}]), {}, BadRequestData,
     "entities[0].idPattern 'x**' is not a valid regular expression"),
    (body(entities=[{"type": "1T"}]), {}, BadRequestData, "entities[0].type: '1T' is not a valid entity type name"),
    (body(entities=[{"type": 5}]), {}, BadRequestData, "entities[0].type must be a string, got int"),
    (body(entities=[{"type": "T"}], attrs=[]), {}, BadRequestData, "'attrs' must be a non-empty array of strings"),
    (body(entities=[{"type": "T"}], attrs=[""]), {}, BadRequestData, "'attrs' must hold non-empty strings"),
    (body(entities=[{"type": "T"}], attrs=[1]), {}, BadRequestData, "'attrs' must hold non-empty strings"),
    (body(entities=[{"type": "T"}], pick=[]), {}, BadRequestData, "'pick' must be a non-empty array"),
    (body(entities=[{"type": "T"}], datasetId=[]), {}, BadRequestData, "'datasetId' must be a non-empty array"),
    (body(entities=[{"type": "T"}], attrs=["a"], pick=["b"]), {}, BadRequestData, "cannot be used together"),
    (body(entities=[{"type": "T"}], q=5), {}, BadRequestData, "'q' must be a string, got int"),
    (body(entities=[{"type": "T"}], q="a=>1"), {}, BadRequestData, "q: unknown operator '=>' at position 1"),
    (body(entities=[{"type": "T"}], scopeQ=["/A"]), {}, BadRequestData, "'scopeQ' must be a string, got list"),
    (body(entities=[{"type": "T"}], lang=["fr"]), {}, BadRequestData, "'lang' must be a string, got list"),
    (body(geoQ="near"), {}, BadRequestData, "'geoQ' must be an object, got str"),
    (body(geoQ={}), {}, BadRequestData, "geoQ needs georel, geometry and coordinates"),
    (body(geoQ={"georel": "within", "geometry": "Polygon"}), {}, BadRequestData,
     "georel, geometry given without coordinates"),
    (body(geoQ={"georel": "within", "geometry": "Polygon", "coordinates": SQUARE, "x": 1}), {}, BadRequestData,
     "geoQ has unknown member(s): x"),
    (body(geoQ={"georel": "within", "geometry": 5, "coordinates": SQUARE}), {}, BadRequestData,
     "geoQ.geometry must be a string, got int"),
    (body(geoQ={"georel": "within", "geometry": "Polygon", "coordinates": 5}), {}, BadRequestData,
     "geoQ.coordinates must be an array, got int"),
    (body(), {}, BadRequestData, "too wide"),
    (body(entities=[{"type": "T"}]), {"type": "T"}, InvalidRequest, "Unknown query parameter 'type'"),
    (body(entities=[{"type": "T"}]), {"q": "a"}, InvalidRequest, "Unknown query parameter 'q'"),
    (body(entities=[{"type": "T"}]), {"limit": "-1"}, BadRequestData, "limit must be a non-negative integer"),
    (body(entities=[{"type": "T"}]), {"limit": "5000"}, TooManyResults, "maximum page size of 1000"),
    (body(entities=[{"type": "T"}]), {"options": "bogus"}, InvalidRequest, "Unknown option 'bogus'"),
])
def test_bad_query_bodies_are_rejected(content: Any, url: dict[str, str], error: type[NgsiLdError],
                                       message: str) -> None:
    with pytest.raises(error) as raised:
        parse_body(content, url)
    assert type(raised.value) is error
    assert message in raised.value.detail


def test_query_body_url_accepts_paging_format_and_local_only() -> None:
    query = parse_body(body(attrs=["temperature"]), {"format": "keyValues", "local": "true", "limit": "0",
                                                     "count": "true", "geometryProperty": "location"})
    assert (query.render.format, query.local, query.limit, query.count) == ("keyValues", True, 0, True)
