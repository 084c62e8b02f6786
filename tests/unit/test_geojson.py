"""GeoJSON geometry validation for GeoProperty values (broker/ngsild/geojson.py)."""

from __future__ import annotations

from typing import Any

import pytest

from broker.ngsild.errors import BadRequestData
from broker.ngsild.geojson import is_geometry, validate_geometry

SQUARE = [[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]
HOLE = [[0.2, 0.2], [0.4, 0.2], [0.4, 0.4], [0.2, 0.2]]

VALID_GEOMETRIES: list[tuple[str, dict[str, Any]]] = [
    ("point_2d", {"type": "Point", "coordinates": [135.5, 34.7]}),
    ("point_3d", {"type": "Point", "coordinates": [135.5, 34.7, 12.0]}),
    ("point_integer_coordinates", {"type": "Point", "coordinates": [135, 34]}),
    ("point_on_the_bounds", {"type": "Point", "coordinates": [-180, 90]}),
    ("point_on_the_other_bounds", {"type": "Point", "coordinates": [180, -90]}),
    ("multi_point", {"type": "MultiPoint", "coordinates": [[1, 2], [3, 4]]}),
    ("empty_multi_point", {"type": "MultiPoint", "coordinates": []}),
    ("line_string", {"type": "LineString", "coordinates": [[1, 2], [3, 4]]}),
    ("multi_line_string", {"type": "MultiLineString", "coordinates": [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]}),
    ("polygon", {"type": "Polygon", "coordinates": [SQUARE]}),
    ("polygon_with_hole", {"type": "Polygon", "coordinates": [SQUARE, HOLE]}),
    ("polygon_closed_with_float_equal_to_int",
     {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0.0, 0.0]]]}),
    ("multi_polygon", {"type": "MultiPolygon", "coordinates": [[SQUARE], [SQUARE, HOLE]]}),
    ("geometry_collection", {"type": "GeometryCollection", "geometries": [
        {"type": "Point", "coordinates": [1, 2]}, {"type": "Polygon", "coordinates": [SQUARE]}]}),
    ("nested_geometry_collection", {"type": "GeometryCollection", "geometries": [
        {"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [1, 2]}]}]}),
    ("foreign_member_bbox_kept", {"type": "Point", "coordinates": [1, 2], "bbox": [1, 2, 1, 2]}),
]


@pytest.mark.parametrize(("case", "geometry"), VALID_GEOMETRIES, ids=[c for c, _ in VALID_GEOMETRIES])
def test_valid_geometry_is_returned_unchanged(case: str, geometry: dict[str, Any]) -> None:
    assert validate_geometry(geometry, "location") is geometry


def test_json_string_geometry_is_parsed_to_a_dict() -> None:
    assert validate_geometry('{"type": "Point", "coordinates": [135.5, 34.7]}', "location") == {
        "type": "Point", "coordinates": [135.5, 34.7]}


def _nested_collection(levels: int) -> dict[str, Any]:
    geometry: dict[str, Any] = {"type": "Point", "coordinates": [0, 0]}
    for _ in range(levels):
        geometry = {"type": "GeometryCollection", "geometries": [geometry]}
    return geometry


INVALID_GEOMETRIES: list[tuple[str, Any]] = [
    ("array", [1, 2]),
    ("number", 5),
    ("json_null", None),
    ("string_that_is_not_json", "POINT (1 2)"),
    ("string_that_is_json_but_not_an_object", "[1, 2]"),
    ("string_that_is_an_invalid_geometry", '{"type": "Point", "coordinates": [500, 0]}'),
    ("feature_is_not_a_geometry", {"type": "Feature", "geometry": {"type": "Point", "coordinates": [1, 2]}}),
    ("lower_case_type", {"type": "point", "coordinates": [1, 2]}),
    ("missing_type", {"coordinates": [1, 2]}),
    ("missing_coordinates", {"type": "Point"}),
    ("point_with_one_number", {"type": "Point", "coordinates": [1]}),
    ("point_with_four_numbers", {"type": "Point", "coordinates": [1, 2, 3, 4]}),
    ("point_with_boolean", {"type": "Point", "coordinates": [True, 2]}),
    ("point_with_string", {"type": "Point", "coordinates": ["1", 2]}),
    ("point_with_null", {"type": "Point", "coordinates": [None, 2]}),
    ("point_with_nan", {"type": "Point", "coordinates": [float("nan"), 2]}),
    ("point_with_infinity", {"type": "Point", "coordinates": [float("inf"), 2]}),
    ("longitude_above_180", {"type": "Point", "coordinates": [180.5, 0]}),
    ("longitude_below_minus_180", {"type": "Point", "coordinates": [-181, 0]}),
    ("latitude_above_90", {"type": "Point", "coordinates": [0, 90.01]}),
    ("latitude_below_minus_90", {"type": "Point", "coordinates": [0, -91]}),
    ("point_coordinates_not_an_array", {"type": "Point", "coordinates": {"lon": 1, "lat": 2}}),
    ("multi_point_with_bad_position", {"type": "MultiPoint", "coordinates": [[1, 2], [1]]}),
    ("line_string_with_one_position", {"type": "LineString", "coordinates": [[1, 2]]}),
    ("multi_line_string_not_nested", {"type": "MultiLineString", "coordinates": [[1, 2], [3, 4]]}),
    ("multi_line_string_not_an_array", {"type": "MultiLineString", "coordinates": 7}),
    ("polygon_without_rings", {"type": "Polygon", "coordinates": []}),
    ("polygon_ring_with_three_positions", {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]}),
    ("polygon_open_ring", {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}),
    ("polygon_with_open_hole", {"type": "Polygon", "coordinates": [SQUARE, [*HOLE[:-1], [0.3, 0.3]]]}),
    ("polygon_not_nested", {"type": "Polygon", "coordinates": SQUARE}),
    ("polygon_bow_tie", {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}),
    ("polygon_hole_outside_the_shell",
     {"type": "Polygon", "coordinates": [SQUARE, [[2, 2], [3, 2], [3, 3], [2, 2]]]}),
    ("multi_polygon_with_a_bow_tie",
     {"type": "MultiPolygon", "coordinates": [[SQUARE], [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]]}),
    ("multi_polygon_not_an_array", {"type": "MultiPolygon", "coordinates": "x"}),
    ("multi_polygon_with_open_ring",
     {"type": "MultiPolygon", "coordinates": [[[[0, 0], [1, 0], [1, 1], [0, 1]]]]}),
    ("collection_without_geometries", {"type": "GeometryCollection"}),
    ("collection_geometries_not_array", {"type": "GeometryCollection", "geometries": {}}),
    ("collection_with_invalid_member", {"type": "GeometryCollection", "geometries": [{"type": "Point"}]}),
    ("collection_nested_too_deeply", _nested_collection(20)),
]


@pytest.mark.parametrize(("case", "value"), INVALID_GEOMETRIES, ids=[c for c, _ in INVALID_GEOMETRIES])
def test_invalid_geometry_is_bad_request_data_naming_the_attribute(case: str, value: Any) -> None:
    with pytest.raises(BadRequestData, match="'observationSpace'"):
        validate_geometry(value, "observationSpace")


IS_GEOMETRY: list[tuple[Any, bool]] = [
    ({"type": "Point", "coordinates": [1, 2]}, True),
    ({"type": "Polygon", "coordinates": "shape is not checked"}, True),
    ({"type": "GeometryCollection", "geometries": []}, True),
    ({"type": "Point"}, False),
    ({"type": "GeometryCollection", "coordinates": []}, False),
    ({"type": "Property", "value": 1}, False),
    ({"type": "Feature", "coordinates": [1, 2]}, False),
    ('{"type": "Point", "coordinates": [1, 2]}', False),
    ([1, 2], False),
    (None, False),
]


@pytest.mark.parametrize(("value", "expected"), IS_GEOMETRY)
def test_is_geometry_checks_the_shape_only(value: Any, expected: bool) -> None:
    assert is_geometry(value) is expected


def test_an_invalid_polygon_says_why() -> None:
    bow_tie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    with pytest.raises(BadRequestData, match="not a valid area: Self-intersection"):
        validate_geometry(bow_tie, "location")
