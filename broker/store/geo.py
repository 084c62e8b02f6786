"""Geo-queries (GS CIM 009 4.10) on the array-free `geo.<name>` path, and its 2dsphere indexes.

- near, within, intersects and disjoint are MongoDB operators ($nearSphere, $geoWithin,
  $geoIntersects, $nor of $geoIntersects). MongoDB measures on the sphere (metres, geodesic edges).
- equals, contains and overlaps have no MongoDB operator: the database answers the index-backed
  $geoIntersects (each of them implies intersecting), and shapely decides exactly on the streamed
  documents (planar predicates on lon/lat, which agree with the sphere except for large shapes).
  `within` a reference that is not a (Multi)Polygon goes the same way ($geoWithin accepts only
  areas). For these georels pagination and counting happen in Python (see store/query.py).
- near needs a Point reference (MongoDB's $nearSphere and $geoNear accept nothing else).
- The 2dsphere index on `geo.<name>` is created on first use of the GeoProperty in a query and
  remembered per process; a $nearSphere that finds no index (the database was dropped and made
  again) forgets it, so the caller can create it again and retry.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import shapely
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure
from shapely.geometry import shape

from broker.ngsild.errors import BadRequestData
from broker.ngsild.query_ast import GeoQuery
from broker.store.documents import encode_key, geo_path

log = logging.getLogger(__name__)

ENTITIES = "entities"
_AREAS = frozenset({"Polygon", "MultiPolygon"})
_indexed: set[tuple[str, str]] = set()
_creating: dict[tuple[str, str], asyncio.Lock] = {}

Filter = dict[str, Any]


async def ensure_geo_index(db: AsyncDatabase, expanded_name: str) -> None:
    """Create the 2dsphere index of a GeoProperty once per process and database: concurrent first
    queries wait for the one creation (createIndex itself is idempotent across processes)."""
    key = (db.name, expanded_name)
    if key in _indexed:
        return
    lock = _creating.setdefault(key, asyncio.Lock())
    async with lock:
        if key in _indexed:
            return
        path = geo_path(expanded_name)
        try:
            await db[ENTITIES].create_index([(path, "2dsphere")], name=f"{path}_2dsphere")
        except OperationFailure as error:
            # a stored geometry the index cannot take (e.g. a self-crossing polygon on MongoDB):
            # $geoWithin/$geoIntersects still work unindexed; only near needs the index
            log.warning("geo_index_failed", extra={"db": db.name, "path": path, "error": str(error)})
        _indexed.add(key)
    _creating.pop(key, None)


def forget_geo_index(db: AsyncDatabase, expanded_name: str) -> None:
    _indexed.discard((db.name, expanded_name))


def forget_geo_indexes(db_name: str) -> None:
    """A dropped (purged) database has lost its indexes: create them again when next used."""
    for key in [key for key in _indexed if key[0] == db_name]:
        _indexed.discard(key)


def geo_filter(geo: GeoQuery) -> Filter:
    """The MongoDB condition of a geo-query (a prefilter for the georels post_filter decides)."""
    path = geo_path(geo.geoproperty)
    reference = {"$geometry": geo.geometry}
    if geo.georel == "near":
        if geo.geometry.get("type") != "Point":
            raise BadRequestData("georel=near needs a Point geometry")
        near: dict[str, Any] = dict(reference)
        if geo.max_distance is not None:
            near["$maxDistance"] = geo.max_distance
        if geo.min_distance is not None:
            near["$minDistance"] = geo.min_distance
        return {path: {"$nearSphere": near}}
    if geo.georel == "within" and geo.geometry.get("type") in _AREAS:
        return {path: {"$geoWithin": reference}}
    if geo.georel == "disjoint":
        # an entity without the GeoProperty does not match (4.10); attrNames lets an index narrow it
        return {"attrNames": geo.geoproperty, path: {"$exists": True},
                "$nor": [{path: {"$geoIntersects": reference}}]}
    return {path: {"$geoIntersects": reference}}


def post_filter(geo: GeoQuery | None) -> Callable[[dict[str, Any]], bool] | None:
    """The exact test a document must also pass, for the georels MongoDB cannot express; else None."""
    if geo is None or geo.georel not in ("equals", "contains", "overlaps", "within"):
        return None
    if geo.georel == "within" and geo.geometry.get("type") in _AREAS:
        return None
    reference = shape(geo.geometry)
    shapely.prepare(reference)
    # the reference is the prepared (first) operand: `entity contains reference` = reference within entity
    predicate = {"equals": shapely.equals, "contains": shapely.within, "overlaps": shapely.overlaps,
                 "within": shapely.contains}[geo.georel]
    key = encode_key(geo.geoproperty)

    def keep(doc: dict[str, Any]) -> bool:
        geometry = doc.get("geo", {}).get(key)
        if geometry is None:
            return False
        try:
            return bool(predicate(reference, shape(geometry)))
        except (shapely.errors.GEOSException, ValueError, TypeError, AttributeError):
            return False

    return keep


def near_stage(mongo_filter: Filter, geo: GeoQuery) -> dict[str, Any]:
    """The `$geoNear` stage of a near query: the rest of the filter as its `query`, the distance
    in `_distance`. Pages are read through it rather than through `$nearSphere` because SecantusDB
    does not return `$nearSphere` results in distance order (MongoDB does; both order $geoNear)."""
    path = geo_path(geo.geoproperty)
    rest = {key: condition for key, condition in mongo_filter.items() if key != path}
    stage: dict[str, Any] = {"near": geo.geometry, "distanceField": "_distance", "spherical": True,
                             "key": path, "query": rest}
    if geo.max_distance is not None:
        stage["maxDistance"] = geo.max_distance
    if geo.min_distance is not None:
        stage["minDistance"] = geo.min_distance
    return {"$geoNear": stage}


def near_count_pipeline(mongo_filter: Filter, geo: GeoQuery) -> list[dict[str, Any]]:
    """A pipeline counting what a near query finds.

    `count` refuses $nearSphere. `$geoNear` applies exactly the same distance rule (max and min
    distance, to the nearest point of each geometry); a `$geoWithin: {$centerSphere}` rewrite would
    not: it needs a whole polygon inside the circle, and it cannot express a minimum distance.
    """
    return [near_stage(mongo_filter, geo), {"$count": "n"}]
