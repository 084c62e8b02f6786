"""The on-disk entity document: the one place that knows its shape.

    {
      "_id": "urn:ngsi-ld:Building:1",
      "type": ["https://uri.etsi.org/ngsi-ld/default-context/Building"],
      "scope": ["/Osaka"],                                   # optional
      "createdAt": ISODate, "modifiedAt": ISODate, "expiresAt": "…Z",  # expiresAt optional
      "v": 3,                                                # version for compare-and-swap writes
      "attrNames": ["https://…/temperature", "https://uri.etsi.org/ngsi-ld/location"],
      "attrs": {"https://uri%2Eetsi%2Eorg/…/temperature": [ <instance>, … ]},
      "geo": {"https://uri%2Eetsi%2Eorg/ngsi-ld/location": {"type": "Point", …}},
      "shape": "https://…/Building\x1d…/location\x1fGeoProperty\x1e…/temperature\x1fProperty"
    }

Instances are the model's instances (broker/ngsild/model.py) with sub-attribute names encoded.
Field names cannot hold '.' (a path separator) or start with '$': names are percent-encoded
reversibly ('%' → %25, '.' → %2E, leading '$' → %24). `attrNames` (multikey index) serves
attribute existence queries; `geo` holds each GeoProperty's default-instance geometry at an
array-free path, so a 2dsphere index on it works (SecantusDB cannot use one through arrays).

Two more denormalisations serve queries and are never part of the entity:
- `shape` (discovery, 5.7.5-5.7.10): the entity's sorted types, then its sorted "attribute name,
  attribute type" pairs, in one string (separators are control characters no IRI can hold). It is a
  scalar on purpose: MongoDB cannot answer `distinct` from a multikey index (SERVER-28952: no
  DISTINCT_SCAN when the key is an array), but it can from this single-field index, and entities
  of one data model share a handful of shapes, so listing types and attributes reads a few index
  keys instead of every entity.
- `_langValues` on each LanguageProperty instance: every string of its languageMap, so that q's
  `name[*]=="…"` (any language, 4.9) is one array condition instead of a match over unknown tags.
"""

from __future__ import annotations

from typing import Any

from broker.ngsild.model import GEO_PROPERTY, LANGUAGE_PROPERTY, Entity, Instance, default_instance

#: instance member holding all strings of a LanguageProperty's languageMap (never returned)
LANG_VALUES = "_langValues"
_SHAPE_PARTS, _SHAPE_ITEMS, _SHAPE_PAIR = "\x1d", "\x1e", "\x1f"


def encode_key(name: str) -> str:
    if "%" in name:
        name = name.replace("%", "%25")
    if "." in name:
        name = name.replace(".", "%2E")
    if name.startswith("$"):
        name = "%24" + name[1:]
    return name


def decode_key(key: str) -> str:
    if "%" not in key:
        return key
    if key.startswith("%24"):
        key = "$" + key[3:]
    return key.replace("%2E", ".").replace("%25", "%")


def attrs_path(name: str) -> str:
    """The document path of an attribute's list of instances."""
    return f"attrs.{encode_key(name)}"


def geo_path(name: str) -> str:
    """The document path of a GeoProperty's default-instance geometry (array-free, 2dsphere-indexable)."""
    return f"geo.{encode_key(name)}"


def _language_strings(language_map: Any) -> list[str]:
    strings: list[str] = []
    if isinstance(language_map, dict):
        for text in language_map.values():
            if isinstance(text, str):
                strings.append(text)
            elif isinstance(text, list):
                strings.extend(item for item in text if isinstance(item, str))
    return strings


def _encode_instance(instance: Instance) -> Instance:
    subs = instance.get("attrs")
    is_language = instance.get("type") == LANGUAGE_PROPERTY
    if not subs and not is_language:
        return instance
    encoded = dict(instance)
    if subs:
        encoded["attrs"] = {encode_key(name): _encode_instance(sub) for name, sub in subs.items()}
    if is_language:
        encoded[LANG_VALUES] = _language_strings(instance.get("languageMap"))
    return encoded


def _decode_instance(instance: Instance) -> Instance:
    instance.pop(LANG_VALUES, None)
    subs = instance.get("attrs")
    if not subs:
        return instance
    instance["attrs"] = {decode_key(key): _decode_instance(sub) for key, sub in subs.items()}
    return instance


def to_document(entity: Entity, version: int) -> dict[str, Any]:
    """The document to store for an entity in expanded form."""
    attrs = entity.get("attrs", {})
    doc: dict[str, Any] = {
        "_id": entity["id"],
        "type": entity["type"],
        "createdAt": entity["createdAt"],
        "modifiedAt": entity["modifiedAt"],
        "v": version,
        "attrNames": list(attrs),
        "attrs": {encode_key(name): [_encode_instance(i) for i in instances]
                  for name, instances in attrs.items()},
    }
    for member in ("scope", "expiresAt"):
        if member in entity:
            doc[member] = entity[member]
    geo = {}
    for name, instances in attrs.items():
        instance = default_instance(instances)
        if instance is not None and instance.get("type") == GEO_PROPERTY:
            geo[encode_key(name)] = instance["value"]
    if geo:
        doc["geo"] = geo
    doc["shape"] = entity_shape(entity)
    return doc


def entity_shape(entity: Entity) -> str:
    """The `shape` of an entity: its types and its (attribute, attribute type) pairs, sorted."""
    pairs = {f"{name}{_SHAPE_PAIR}{instance.get('type')}"
             for name, instances in entity.get("attrs", {}).items() for instance in instances}
    return _SHAPE_ITEMS.join(sorted(entity["type"])) + _SHAPE_PARTS + _SHAPE_ITEMS.join(sorted(pairs))


def parse_shape(shape: str) -> tuple[list[str], list[tuple[str, str]]]:
    """The types and the (attribute name, attribute type) pairs of a stored `shape`."""
    types, _, pairs = shape.partition(_SHAPE_PARTS)
    return ([t for t in types.split(_SHAPE_ITEMS) if t],
            [tuple(p.split(_SHAPE_PAIR, 1)) for p in pairs.split(_SHAPE_ITEMS) if p])  # type: ignore[misc]


def from_document(doc: dict[str, Any]) -> Entity:
    """The entity in expanded form for a stored document (the document is consumed)."""
    entity: Entity = {
        "id": doc["_id"],
        "type": doc["type"],
        "createdAt": doc["createdAt"],
        "modifiedAt": doc["modifiedAt"],
    }
    for member in ("scope", "expiresAt"):
        if member in doc:
            entity[member] = doc[member]
    entity["attrs"] = {decode_key(key): [_decode_instance(i) for i in instances]
                       for key, instances in doc.get("attrs", {}).items()}
    return entity


def version_of(doc: dict[str, Any]) -> int:
    return int(doc.get("v", 0))
