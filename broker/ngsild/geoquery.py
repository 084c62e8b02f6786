"""Geo-queries (georel, geometry, coordinates, geoproperty) into a GeoQuery (GS CIM 009 clause 4.10).

The same parser serves the URL parameters of Query Entities (6.4.3.2) and the geoQ member of Query
bodies and subscriptions (5.2.13), where `coordinates` may already be a JSON array.
Decision: `geoproperty` alone, without a georel, is a partial geo-query (BadRequestData) too.
"""

from __future__ import annotations

import math
import re
from typing import Any, get_args

import orjson

from broker.ngsild.context import TermMap
from broker.ngsild.errors import BadRequestData
from broker.ngsild.geojson import COORDINATE_TYPES, validate_geometry
from broker.ngsild.names import is_valid_name
from broker.ngsild.query_ast import GeoQuery, GeoRelation

DEFAULT_GEOPROPERTY = "location"
GEO_RELATIONS: frozenset[str] = frozenset(get_args(GeoRelation))
#: 4.10: `within` is only meaningful against an area; `near` measures distance from a point
_AREA_TYPES = frozenset({"Polygon", "MultiPolygon"})
_DISTANCE = re.compile(r"(maxDistance|minDistance)==(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)", re.ASCII)


def parse_geo_query(georel: str | None, geometry: str | None, coordinates: str | list[Any] | None,
                    geoproperty: str | None, terms: TermMap) -> GeoQuery | None:
    """A validated GeoQuery, None when no geo parameter is given; a partial or invalid one is BadRequestData."""
    given = {"georel": georel, "geometry": geometry, "coordinates": coordinates, "geoproperty": geoproperty}
    if all(value is None for value in given.values()):
        return None
    missing = [name for name in ("georel", "geometry", "coordinates") if given[name] is None]
    if missing:
        present = [name for name, value in given.items() if value is not None]
        raise BadRequestData(f"A geo-query needs georel, geometry and coordinates together: "
                             f"{', '.join(present)} given without {', '.join(missing)}")
    relation, max_distance, min_distance = _parse_georel(georel)  # type: ignore[arg-type]
    kind = _parse_geometry_type(geometry)  # type: ignore[arg-type]
    if relation == "near" and kind != "Point":
        raise BadRequestData(f"georel 'near' needs a Point geometry, got {kind}")
    if relation == "within" and kind not in _AREA_TYPES:
        raise BadRequestData(f"georel 'within' needs a Polygon or MultiPolygon geometry, got {kind}")
    reference = validate_geometry({"type": kind, "coordinates": _parse_coordinates(coordinates)}, "coordinates")
    return GeoQuery(georel=relation, geometry=reference, geoproperty=_parse_geoproperty(geoproperty, terms),
                    max_distance=max_distance, min_distance=min_distance)


def _parse_georel(georel: str) -> tuple[GeoRelation, float | None, float | None]:
    if not isinstance(georel, str):
        raise BadRequestData(f"georel must be a string, got {type(georel).__name__}")
    relation, *modifiers = georel.split(";")
    if relation not in GEO_RELATIONS:
        raise BadRequestData(f"Unknown georel {relation!r}: use near, within, contains, intersects, equals, "
                             "disjoint or overlaps")
    if relation != "near":
        if modifiers:
            raise BadRequestData(f"georel {relation!r} takes no modifiers, got {georel!r}")
        return relation, None, None  # type: ignore[return-value]
    if len(modifiers) != 1:
        raise BadRequestData(f"georel 'near' needs exactly one of maxDistance==<metres> or "
                             f"minDistance==<metres>, got {georel!r}")
    match = _DISTANCE.fullmatch(modifiers[0])
    if not match:
        raise BadRequestData(f"georel {georel!r}: the modifier must be maxDistance==<metres> or "
                             "minDistance==<metres>")
    distance = float(match.group(2))
    if not math.isfinite(distance) or distance <= 0:
        raise BadRequestData(f"georel {georel!r}: the distance must be a positive number of metres")
    if match.group(1) == "maxDistance":
        return "near", distance, None
    return "near", None, distance


def _parse_geometry_type(geometry: str) -> str:
    if not isinstance(geometry, str) or geometry not in COORDINATE_TYPES:
        raise BadRequestData(f"Unsupported geometry {geometry!r}: use Point, MultiPoint, LineString, "
                             "MultiLineString, Polygon or MultiPolygon")
    return geometry


def _parse_coordinates(coordinates: str | list[Any]) -> list[Any]:
    if isinstance(coordinates, str):
        try:
            coordinates = orjson.loads(coordinates)
        except orjson.JSONDecodeError:
            raise BadRequestData(f"coordinates must be a JSON array, got {coordinates!r}") from None
    if not isinstance(coordinates, list):
        raise BadRequestData(f"coordinates must be a JSON array, got {coordinates!r}")
    return coordinates


def _parse_geoproperty(geoproperty: str | None, terms: TermMap) -> str:
    name = DEFAULT_GEOPROPERTY if geoproperty is None else geoproperty
    if not is_valid_name(name):
        raise BadRequestData(f"geoproperty {name!r} is not a valid attribute name")
    expanded = terms.expand(name)
    if expanded.startswith("@"):
        raise BadRequestData(f"geoproperty {name!r} is not an attribute (it expands to the keyword {expanded})")
    return expanded
