"""Types and attributes present in a tenant's entities (GS CIM 009 5.7.5-5.7.10): expanded names only.

Everything is derived from `distinct("shape")` (documents.py: one scalar per entity naming its
types and its attributes with their attribute types), which MongoDB answers from the `shape`
index with a DISTINCT_SCAN, reading one key per distinct shape rather than one document per entity.
Counts are count_documents on the indexed `type` and `attrNames`. A multi-typed entity counts
under each of its types, and its attributes belong to each of them. The handlers in broker/api
compact the names and add the `id`/`type` members of the response bodies.

With a `view` (readable entity type → withheld attribute names, as in broker/ngsild/catalog_view.py)
every answer covers only the readable types and never names a withheld attribute: what a reader of
published data (the wide-area tenant) may discover in this tenant.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from broker.store.documents import parse_shape
from broker.store.entities import ENTITIES


@dataclass
class _Catalog:
    """What the distinct shapes say: attributes per type, attribute types and types per attribute."""

    type_attributes: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    attribute_types: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    attribute_type_names: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    type_attribute_types: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))


View = Mapping[str, frozenset[str]]


async def _catalog(db: AsyncDatabase, view: View | None) -> _Catalog:
    catalog = _Catalog()
    for shape in await db[ENTITIES].distinct("shape"):
        types, pairs = parse_shape(shape)
        if view is not None:
            types = [entity_type for entity_type in types if entity_type in view]
            if not types:
                continue
            withheld = frozenset().union(*(view[entity_type] for entity_type in types))
            pairs = [(name, attribute_type) for name, attribute_type in pairs if name not in withheld]
        for entity_type in types:
            catalog.type_attributes.setdefault(entity_type, set())  # listed even without attributes
        for name, attribute_type in pairs:
            catalog.attribute_types[name].add(attribute_type)
            for entity_type in types:
                catalog.type_attributes[entity_type].add(name)
                catalog.attribute_type_names[name].add(entity_type)
                catalog.type_attribute_types[(entity_type, name)].add(attribute_type)
    return catalog


async def holds_type(db: AsyncDatabase, entity_type: str) -> bool:
    """True when at least one entity of the tenant has the (expanded) type: one indexed lookup."""
    return await db[ENTITIES].find_one({"type": entity_type}, {"_id": 1}) is not None


async def list_types(db: AsyncDatabase, view: View | None = None) -> list[str]:
    """5.7.5: the expanded types of all entities, sorted."""
    return sorted((await _catalog(db, view)).type_attributes)


async def type_details(db: AsyncDatabase, view: View | None = None) -> list[dict[str, Any]]:
    """5.7.6 (details=true): per type, its expanded name and the attributes its entities have."""
    catalog = await _catalog(db, view)
    return [{"typeName": entity_type, "attributeNames": sorted(names)}
            for entity_type, names in sorted(catalog.type_attributes.items())]


async def type_info(db: AsyncDatabase, entity_type: str, view: View | None = None) -> dict[str, Any] | None:
    """5.7.7: entity count and attribute details of one expanded type; None if no entity has it."""
    if view is not None and entity_type not in view:
        return None
    count = await db[ENTITIES].count_documents({"type": entity_type})
    if count == 0:
        return None
    catalog = await _catalog(db, view)
    details = [{"attributeName": name,
                "attributeTypes": sorted(catalog.type_attribute_types[(entity_type, name)]),
                "typeNames": sorted(catalog.attribute_type_names[name])}
               for name in sorted(catalog.type_attributes.get(entity_type, ()))]
    return {"typeName": entity_type, "entityCount": count, "attributeDetails": details}


async def list_attributes(db: AsyncDatabase, view: View | None = None) -> list[str]:
    """5.7.8: the expanded names of all attributes of all entities, sorted."""
    return sorted((await _catalog(db, view)).attribute_types)


async def attribute_details(db: AsyncDatabase, view: View | None = None) -> list[dict[str, Any]]:
    """5.7.9 (details=true): per attribute, its attribute types and the types of entities having it."""
    catalog = await _catalog(db, view)
    return [{"attributeName": name, "attributeTypes": sorted(attribute_types),
             "typeNames": sorted(catalog.attribute_type_names[name])}
            for name, attribute_types in sorted(catalog.attribute_types.items())]


async def attribute_info(db: AsyncDatabase, name: str, view: View | None = None) -> dict[str, Any] | None:
    """5.7.10: how many entities have an attribute, its attribute types and entity types; None if none."""
    selection: dict[str, Any] = {"attrNames": name}
    if view is not None:
        types = sorted(entity_type for entity_type, withheld in view.items() if name not in withheld)
        if not types:
            return None
        selection["type"] = {"$in": types}
    count = await db[ENTITIES].count_documents(selection)
    if count == 0:
        return None
    catalog = await _catalog(db, view)
    return {"attributeName": name, "attributeCount": count,
            "attributeTypes": sorted(catalog.attribute_types.get(name, ())),
            "typeNames": sorted(catalog.attribute_type_names.get(name, ()))}
