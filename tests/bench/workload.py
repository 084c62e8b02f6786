"""What the bench sends: Sensor entities spread over Kansai, and the queries and raw-driver operations
that are the database equivalent of each broker request (built by the broker's own pure functions,
so the raw baseline asks the database exactly what the broker asks it)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from broker.ngsild.context import core_term_map
from broker.ngsild.query import parse_query_params
from broker.store.documents import attrs_path
from broker.store.geo import near_stage
from broker.store.query import sort_keys, to_mongo_filter

API = "/ngsi-ld/v1"
SEED = 20261130
#: lon/lat box around Kansai (Kobe, Osaka, Kyoto, Nara, Wakayama)
KANSAI = (134.6, 136.4, 33.9, 35.7)
STATUSES = ("ok", "ok", "ok", "maintenance", "fault")
TEMPERATURE = "https://uri.etsi.org/ngsi-ld/default-context/temperature"
NEAR_DISTANCE_M = 5000
VARIANTS = 64


def sensor_id(index: int) -> str:
    return f"urn:ngsi-ld:Sensor:bench-{index:06d}"


def sensor(index: int) -> dict[str, Any]:
    """A loaded entity: the same one for the same index in every run."""
    rng = random.Random(SEED + index)
    lon = round(rng.uniform(KANSAI[0], KANSAI[1]), 5)
    lat = round(rng.uniform(KANSAI[2], KANSAI[3]), 5)
    return {
        "id": sensor_id(index),
        "type": "Sensor",
        "name": {"type": "Property", "value": f"Kansai sensor {index}"},
        "temperature": {"type": "Property", "value": round(rng.uniform(-5.0, 38.0), 1), "unitCode": "CEL",
                        "observedAt": "2026-11-30T09:00:00.000Z"},
        "status": {"type": "Property", "value": rng.choice(STATUSES)},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}},
    }


def meter(kind: str, index: int, reading: int = 0) -> dict[str, Any]:
    """A written entity (create, batch upsert): a type of its own, so queries on Sensor never see it.
    A later `reading` changes its consumption, as a device reporting again would."""
    return {
        "id": f"urn:ngsi-ld:Meter:{kind}-{index:08d}",
        "type": "Meter",
        "name": {"type": "Property", "value": f"Meter {index}"},
        "consumption": {"type": "Property", "value": (index + reading) % 1000 / 10, "unitCode": "KWH",
                        "observedAt": "2026-11-30T09:00:00.000Z"},
        "status": {"type": "Property", "value": "ok"},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [135.5 + index % 100 / 1000,
                                                                                        34.7]}},
    }


def spread(index: int, size: int) -> int:
    """Operation i → an entity index, scattered over all of them (no cache-friendly order)."""
    return (index * 7919 + 13) % size


@dataclass(frozen=True)
class QueryCase:
    """One query as the client sends it, and the database operation it amounts to."""

    url: str
    mongo_filter: dict[str, Any]
    sort: list[tuple[str, int]] | None
    limit: int
    pipeline: list[dict[str, Any]] | None = None
    """For near: the $geoNear aggregation the broker runs (broker/store/query.py)."""


def _case(params: dict[str, str]) -> QueryCase:
    query = parse_query_params(params, core_term_map())
    mongo_filter = to_mongo_filter(query)
    url = f"{API}/entities?{urlencode(params, quote_via=quote, safe='=,;[]')}"
    if query.geo is None:
        return QueryCase(url, mongo_filter, sort_keys(query), query.limit)
    pipeline = [near_stage(mongo_filter, query.geo), {"$sort": {"_distance": 1, "_id": 1}},
                {"$limit": query.limit}, {"$project": {"_distance": 0}}]
    return QueryCase(url, mongo_filter, None, query.limit, pipeline)


def query_cases() -> list[QueryCase]:
    """type + q: a range on a number and equality on a string (about 10 % of the Sensors match)."""
    rng = random.Random(SEED)
    return [_case({"type": "Sensor", "q": f'temperature>{rng.randint(25, 33)};status=="ok"'})
            for _ in range(VARIANTS)]


def near_cases() -> list[QueryCase]:
    """Sensors within 5 km of a point somewhere in Kansai, nearest first."""
    rng = random.Random(SEED + 1)
    cases = []
    for _ in range(VARIANTS):
        lon = round(rng.uniform(KANSAI[0] + 0.2, KANSAI[1] - 0.2), 4)
        lat = round(rng.uniform(KANSAI[2] + 0.2, KANSAI[3] - 0.2), 4)
        cases.append(_case({"type": "Sensor", "georel": f"near;maxDistance=={NEAR_DISTANCE_M}",
                            "geometry": "Point", "coordinates": f"[{lon},{lat}]"}))
    return cases


def temperature_update(value: float, now: Any) -> dict[str, Any]:
    """The raw driver's partial attribute update: one value, the modification time and the version."""
    return {"$set": {f"{attrs_path(TEMPERATURE)}.0.value": value, "modifiedAt": now}, "$inc": {"v": 1}}
