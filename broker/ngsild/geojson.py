"""GeoJSON geometry validation for GeoProperty values (GS CIM 009 clause 4.7, IETF RFC 7946 3.1)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import orjson
import shapely

from broker.ngsild.errors import BadRequestData

COORDINATE_TYPES = frozenset({"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon",
                              "MultiPolygon"})
GEOMETRY_TYPES = COORDINATE_TYPES | {"GeometryCollection"}

# RFC 7946 3.1.8 discourages nested GeometryCollections; a small bound keeps recursion finite.
_MAX_COLLECTION_NESTING = 8


def is_geometry(value: Any) -> bool:
    """True if `value` has the shape of a GeoJSON geometry object (no coordinate checks)."""
    if not isinstance(value, dict):
        return False
    kind = value.get("type")
    if not isinstance(kind, str):
        return False
    if kind in COORDINATE_TYPES:
        return "coordinates" in value
    return kind == "GeometryCollection" and "geometries" in value


def validate_geometry(value: Any, where: str) -> dict[str, Any]:
    """The geometry dict (parsed if it came as a JSON string), or BadRequestData naming `where`."""
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise BadRequestData(f"'{where}' is a string but not a JSON-encoded geometry") from None
    _check_geometry(value, where, 0)
    return value


def _check_geometry(value: Any, where: str, nesting: int) -> None:
    if not isinstance(value, dict):
        raise BadRequestData(f"'{where}' must be a GeoJSON geometry object, got {_kind(value)}")
    kind = value.get("type")
    if not isinstance(kind, str) or kind not in GEOMETRY_TYPES:
        raise BadRequestData(f"'{where}' has an unsupported GeoJSON geometry type {kind!r}")
    if kind == "GeometryCollection":
        geometries = value.get("geometries")
        if not isinstance(geometries, list):
            raise BadRequestData(f"'{where}': a GeometryCollection needs a 'geometries' array")
        if nesting >= _MAX_COLLECTION_NESTING:
            raise BadRequestData(f"'{where}': GeometryCollections are nested too deeply")
        for geometry in geometries:
            _check_geometry(geometry, where, nesting + 1)
        return
    if "coordinates" not in value:
        raise BadRequestData(f"'{where}': a {kind} needs 'coordinates'")
    _COORDINATE_CHECKS[kind](value["coordinates"], where, kind)


def _check_position(position: Any, where: str, kind: str) -> None:
    if not isinstance(position, list) or len(position) not in (2, 3):
        raise BadRequestData(f"'{where}': a {kind} position must be an array of 2 or 3 numbers")
    for number in position:
        if isinstance(number, bool) or not isinstance(number, int | float) or not math.isfinite(number):
            raise BadRequestData(f"'{where}': {kind} coordinates must be finite numbers, got {number!r}")
    longitude, latitude = position[0], position[1]
    if not -180 <= longitude <= 180:
        raise BadRequestData(f"'{where}': longitude {longitude} is outside [-180, 180]")
    if not -90 <= latitude <= 90:
        raise BadRequestData(f"'{where}': latitude {latitude} is outside [-90, 90]")


def _positions(value: Any, where: str, kind: str, minimum: int) -> list[Any]:
    if not isinstance(value, list) or len(value) < minimum:
        raise BadRequestData(f"'{where}': {kind} coordinates need an array of at least {minimum} positions")
    for position in value:
        _check_position(position, where, kind)
    return value


def _check_point(value: Any, where: str, kind: str) -> None:
    _check_position(value, where, kind)


def _check_multi_point(value: Any, where: str, kind: str) -> None:
    _positions(value, where, kind, 0)


def _check_line_string(value: Any, where: str, kind: str) -> None:
    _positions(value, where, kind, 2)


def _check_polygon(value: Any, where: str, kind: str) -> None:
    if not isinstance(value, list) or not value:
        raise BadRequestData(f"'{where}': {kind} coordinates must be a non-empty array of linear rings")
    for ring in value:
        _positions(ring, where, kind, 4)
        if ring[0] != ring[-1]:
            raise BadRequestData(f"'{where}': a {kind} linear ring must end at its first position")
    # MongoDB's 2dsphere index refuses such polygons (a write would fail only once the index exists)
    polygon = shapely.Polygon([p[:2] for p in value[0]], [[p[:2] for p in ring] for ring in value[1:]])
    if not shapely.is_valid(polygon):
        raise BadRequestData(f"'{where}': the {kind} is not a valid area: {shapely.is_valid_reason(polygon)} "
                             "(rings must not cross themselves or each other; holes lie inside the outer ring)")


_Check = Callable[[Any, str, str], None]


def _each(check: _Check) -> _Check:
    def check_all(value: Any, where: str, kind: str) -> None:
        if not isinstance(value, list):
            raise BadRequestData(f"'{where}': {kind} coordinates must be an array")
        for member in value:
            check(member, where, kind)
    return check_all


_COORDINATE_CHECKS: dict[str, _Check] = {
    "Point": _check_point,
    "MultiPoint": _check_multi_point,
    "LineString": _check_line_string,
    "MultiLineString": _each(_check_line_string),
    "Polygon": _check_polygon,
    "MultiPolygon": _each(_check_polygon),
}


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__
