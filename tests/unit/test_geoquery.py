"""geoQ (4.10): every georel against every geometry type, near modifiers, partial queries, coordinates."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.ngsild.context import compile_term_map, core_context_document, core_term_map
from broker.ngsild.errors import BadRequestData
from broker.ngsild.geoquery import parse_geo_query
from broker.ngsild.query_ast import GeoQuery

CORE = core_term_map()
LOCATION = "https://uri.etsi.org/ngsi-ld/location"
SQUARE = [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]
COORDINATES = {
    "Point": [8.68, 49.41],
    "MultiPoint": [[8.68, 49.41], [8.69, 49.42]],
    "LineString": [[8.68, 49.41], [8.69, 49.42]],
    "MultiLineString": [[[8.68, 49.41], [8.69, 49.42]], [[0, 0], [1, 1]]],
    "Polygon": SQUARE,
    "MultiPolygon": [SQUARE, [[[2, 2], [3, 2], [3, 3], [2, 2]]]],
}
GEORELS = {
    "near;maxDistance==1000": ("near", 1000.0, None),
    "near;minDistance==10": ("near", None, 10.0),
    "within": ("within", None, None),
    "contains": ("contains", None, None),
    "intersects": ("intersects", None, None),
    "equals": ("equals", None, None),
    "disjoint": ("disjoint", None, None),
    "overlaps": ("overlaps", None, None),
}


def allowed(georel: str, geometry: str) -> bool:
    if georel.startswith("near"):
        return geometry == "Point"
    if georel == "within":
        return geometry in ("Polygon", "MultiPolygon")
    return True


@pytest.mark.parametrize("geometry", sorted(COORDINATES))
@pytest.mark.parametrize("georel", sorted(GEORELS))
def test_every_georel_on_every_geometry_type(georel: str, geometry: str) -> None:
    coordinates = json.dumps(COORDINATES[geometry])
    if not allowed(georel, geometry):
        with pytest.raises(BadRequestData, match=f"georel '{georel.split(';')[0]}' needs a"):
            parse_geo_query(georel, geometry, coordinates, None, CORE)
        return
    relation, max_distance, min_distance = GEORELS[georel]
    assert parse_geo_query(georel, geometry, coordinates, None, CORE) == GeoQuery(
        georel=relation,  # type: ignore[arg-type]
        geometry={"type": geometry, "coordinates": COORDINATES[geometry]},
        geoproperty=LOCATION,
        max_distance=max_distance,
        min_distance=min_distance,
    )


def test_no_geo_parameter_is_no_geo_query() -> None:
    assert parse_geo_query(None, None, None, None, CORE) is None


def test_coordinates_may_already_be_a_list_in_a_body() -> None:
    geo = parse_geo_query("intersects", "Polygon", SQUARE, None, CORE)
    assert geo is not None and geo.geometry == {"type": "Polygon", "coordinates": SQUARE}


@pytest.mark.parametrize(("georel", "distance"), [
    ("near;maxDistance==0.5", 0.5),
    ("near;maxDistance==1e3", 1000.0),
    ("near;maxDistance==2000", 2000.0),
])
def test_near_distances_are_metres_as_floats(georel: str, distance: float) -> None:
    geo = parse_geo_query(georel, "Point", "[8.68,49.41]", None, CORE)
    assert geo is not None and geo.max_distance == distance and isinstance(geo.max_distance, float)


@pytest.mark.parametrize(("geoproperty", "expected"), [
    (None, LOCATION),
    ("location", LOCATION),
    ("observationSpace", "https://uri.etsi.org/ngsi-ld/observationSpace"),
    ("myArea", "https://uri.etsi.org/ngsi-ld/default-context/myArea"),
])
def test_geoproperty_defaults_to_location_and_is_expanded(geoproperty: str | None, expected: str) -> None:
    geo = parse_geo_query("within", "Polygon", json.dumps(SQUARE), geoproperty, CORE)
    assert geo is not None and geo.geoproperty == expected


def test_geoproperty_expands_with_the_request_context() -> None:
    terms = compile_term_map([{"area": "https://example.org/area"}], core_context_document()["@context"])
    geo = parse_geo_query("within", "Polygon", json.dumps(SQUARE), "area", terms)
    assert geo is not None and geo.geoproperty == "https://example.org/area"


POINT = "[8.68,49.41]"


@pytest.mark.parametrize(("args", "message"), [
    # partial geo-queries
    (("near;maxDistance==1", None, None, None), "georel given without geometry, coordinates"),
    ((None, "Point", None, None), "geometry given without georel, coordinates"),
    ((None, None, POINT, None), "coordinates given without georel, geometry"),
    (("within", "Polygon", None, None), "georel, geometry given without coordinates"),
    ((None, "Point", POINT, None), "geometry, coordinates given without georel"),
    ((None, None, None, "location"), "geoproperty given without georel, geometry, coordinates"),
    # georel
    (("near", "Point", POINT, None), "georel 'near' needs exactly one of maxDistance"),
    (("near;", "Point", POINT, None), "the modifier must be maxDistance==<metres> or minDistance==<metres>"),
    (("near;maxDistance==1;minDistance==0.5", "Point", POINT, None), "needs exactly one of"),
    (("near;maxDistance=1", "Point", POINT, None), "the modifier must be"),
    (("near;maxDistance==", "Point", POINT, None), "the modifier must be"),
    (("near;maxDistance==-1", "Point", POINT, None), "the modifier must be"),
    (("near;maxDistance==0", "Point", POINT, None), "the distance must be a positive number"),
    (("near;maxDistance==0.0", "Point", POINT, None), "the distance must be a positive number"),
    (("near;maxDistance==1e999", "Point", POINT, None), "the distance must be a positive number"),
    (("near;maxDistance==abc", "Point", POINT, None), "the modifier must be"),
    (("near;distance==1", "Point", POINT, None), "the modifier must be"),
    (("within;maxDistance==1", "Polygon", json.dumps(SQUARE), None), "georel 'within' takes no modifiers"),
    (("inside", "Polygon", json.dumps(SQUARE), None), "Unknown georel 'inside'"),
    (("Within", "Polygon", json.dumps(SQUARE), None), "Unknown georel 'Within'"),
    (("", "Point", POINT, None), "Unknown georel ''"),
    # geometry
    (("intersects", "point", POINT, None), "Unsupported geometry 'point'"),
    (("intersects", "GeometryCollection", "[]", None), "Unsupported geometry 'GeometryCollection'"),
    (("intersects", "Circle", POINT, None), "Unsupported geometry 'Circle'"),
    # coordinates
    (("intersects", "Point", "8.68,49.41", None), "coordinates must be a JSON array"),
    (("intersects", "Point", "{\"a\":1}", None), "coordinates must be a JSON array"),
    (("intersects", "Point", "[8.68]", None), "a Point position must be an array of 2 or 3 numbers"),
    (("intersects", "Point", "[200,0]", None), "longitude 200 is outside"),
    (("intersects", "Point", "[0,91]", None), "latitude 91 is outside"),
    (("intersects", "Point", '["8.68",49.41]', None), "coordinates must be finite numbers"),
    (("intersects", "LineString", "[[0,0]]", None), "need an array of at least 2 positions"),
    (("intersects", "Polygon", "[[[0,0],[1,0],[1,1],[0,1]]]", None), "must end at its first position"),
    (("intersects", "Polygon", "[[0,0],[1,0],[1,1],[0,0]]", None), "Polygon coordinates need an array of at least 4"),
    (("intersects", "MultiPolygon", json.dumps(SQUARE), None), "MultiPolygon coordinates need an array of at least 4"),
    # geoproperty
    (("within", "Polygon", json.dumps(SQUARE), "1bad"), "geoproperty '1bad' is not a valid attribute name"),
    (("within", "Polygon", json.dumps(SQUARE), "type"), "geoproperty 'type' is not an attribute"),
])
def test_invalid_geo_queries_are_bad_request_data(args: tuple, message: str) -> None:
    with pytest.raises(BadRequestData) as raised:
        parse_geo_query(*args, CORE)
    assert message in raised.value.detail


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.none(), st.text(max_size=30)), st.one_of(st.none(), st.sampled_from(sorted(COORDINATES)),
                                                           st.text(max_size=10)),
       st.one_of(st.none(), st.text(max_size=30), st.recursive(
           st.floats() | st.integers() | st.text(max_size=3), lambda inner: st.lists(inner, max_size=3)).map(
           lambda value: value if isinstance(value, list) else [value])),
       st.one_of(st.none(), st.text(max_size=10)))
def test_garbage_geo_queries_never_raise_anything_but_bad_request_data(georel, geometry, coordinates,
                                                                       geoproperty) -> None:
    with contextlib.suppress(BadRequestData):
        parse_geo_query(georel, geometry, coordinates, geoproperty, CORE)
