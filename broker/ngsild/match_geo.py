"""In-memory evaluation of a geoQuery against one expanded entity (GS CIM 009 4.10), with shapely.

The entity's geometry is the default instance of `geo.geoproperty`, which must be a GeoProperty;
an entity without one never matches. within / contains / intersects / disjoint / equals /
overlaps are the OGC simple-features predicates (boundaries are not interiors: a point on a
polygon's edge is not `within` it); `contains` means the entity geometry contains the reference.

`near` distances are metres on a sphere (haversine, mean Earth radius) between the two nearest
points of the geometries: exact for two points. For a line or polygon the nearest points are found
in a local equirectangular projection (longitudes scaled by the cosine of the reference's latitude),
which can pick a slightly different point than a true geodesic search over regions hundreds of
kilometres tall, and is wrong across the antimeridian. A point inside a polygon is at 0 m; a point
in a hole is not inside.
"""

from __future__ import annotations

import math
from typing import Any

import shapely
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points

from broker.ngsild.model import GEO_PROPERTY, Entity, default_instance
from broker.ngsild.query_ast import GeoQuery

EARTH_RADIUS_M = 6_371_008.8  # IUGG mean radius

_PREDICATES = {
    # the reference goes first so its prepared form is used; `within` is the entity within it
    "within": shapely.contains,
    "contains": shapely.within,
    "intersects": shapely.intersects,
    "disjoint": shapely.disjoint,
    "equals": shapely.equals,
    "overlaps": shapely.overlaps,
}

# Subscriptions keep their GeoQuery for their lifetime, so the reference geometry is built and
# prepared once per GeoQuery object (keyed by identity: a GeoQuery holds a dict, so it is unhashable).
_REFERENCES: dict[int, tuple[GeoQuery, BaseGeometry]] = {}
_MAX_REFERENCES = 4096


def matches_geo(geo: GeoQuery, entity: Entity) -> bool:
    """True if the entity's `geo.geoproperty` geometry stands in `geo.georel` to the reference."""
    target = _entity_geometry(entity, geo.geoproperty)
    if target is None:
        return False
    reference = _reference(geo)
    if reference is None:
        return False
    try:
        if geo.georel == "near":
            distance = distance_m(reference, target)
            if geo.max_distance is not None and distance > geo.max_distance:
                return False
            return geo.min_distance is None or distance >= geo.min_distance
        predicate = _PREDICATES.get(geo.georel)
        return predicate is not None and bool(predicate(reference, target))
    except shapely.errors.GEOSException:  # e.g. a self-intersecting polygon: valid GeoJSON, bad geometry
        return False


def distance_m(reference: BaseGeometry, target: BaseGeometry) -> float:
    """Haversine metres between the nearest points of two lon/lat geometries (see module docstring)."""
    if shapely.intersects(reference, target):
        return 0.0
    if isinstance(reference, Point) and isinstance(target, Point):
        return haversine_m(reference.x, reference.y, target.x, target.y)
    # Plain lon/lat space would prefer north-south edges (a degree of longitude is shorter), so look
    # for the nearest points with longitudes scaled by cos(latitude) around the reference.
    squeeze = max(math.cos(math.radians(reference.centroid.y)), 1e-6)
    near_a, near_b = nearest_points(_scaled(reference, squeeze), _scaled(target, squeeze))
    return haversine_m(near_a.x / squeeze, near_a.y, near_b.x / squeeze, near_b.y)


def _scaled(geometry: BaseGeometry, squeeze: float) -> BaseGeometry:
    return shapely.transform(geometry, lambda xy: xy * (squeeze, 1.0))


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi, d_lambda = phi2 - phi1, math.radians(lon2 - lon1)
    h = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def _entity_geometry(entity: Entity, geoproperty: str) -> BaseGeometry | None:
    instances = entity.get("attrs", {}).get(geoproperty)
    if not instances:
        return None
    instance = default_instance(instances)
    if instance is None or instance.get("type") != GEO_PROPERTY:
        return None
    return _to_shape(instance.get("value"))


def _reference(geo: GeoQuery) -> BaseGeometry | None:
    cached = _REFERENCES.get(id(geo))
    if cached is not None and cached[0] is geo:
        return cached[1]
    reference = _to_shape(geo.geometry)
    if reference is not None:
        shapely.prepare(reference)
        if len(_REFERENCES) >= _MAX_REFERENCES:
            _REFERENCES.clear()
        _REFERENCES[id(geo)] = (geo, reference)
    return reference


def _to_shape(geometry: Any) -> BaseGeometry | None:
    if not isinstance(geometry, dict):
        return None
    try:
        result = shape(geometry)
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, shapely.errors.ShapelyError):
        return None
    return None if result.is_empty else result
