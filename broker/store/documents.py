"""The on-disk entity document: the one place that knows its shape.

    {
      "_id": "urn:ngsi-ld:Building:1",
      "type": ["https://uri.etsi.org/ngsi-ld/default-context/Building"],
      "scope": ["/Osaka"],                                   # optional
      "createdAt": ISODate, "modifiedAt": ISODate, "expiresAt": "…Z",  # expiresAt optional
      "v": 3,                                                # version for compare-and-swap writes
      "attrNames": ["https://…/temperature", "https://uri.etsi.org/ngsi-ld/location"],
      "attrs": {"https://uri%2Eetsi%2Eorg/…/temperature": [ <instance>, … ]},
      "geo": {"https://uri%2Eetsi%2Eorg/ngsi-ld/location": {"type": "Point", …}}
    }

Instances are the model's instances (broker/ngsild/model.py) with sub-attribute names encoded.
Field names cannot hold '.' (a path separator) or start with '$': names are percent-encoded
reversibly ('%' → %25, '.' → %2E, leading '$' → %24). `attrNames` (multikey index) serves
attribute existence queries; `geo` holds each GeoProperty's default-instance geometry at an
array-free path, so a 2dsphere index on it works (SecantusDB cannot use one through arrays).
"""

from __future__ import annotations

from typing import Any

from broker.ngsild.model import GEO_PROPERTY, Entity, Instance, default_instance


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


def _encode_instance(instance: Instance) -> Instance:
    subs = instance.get("attrs")
    if not subs:
        return instance
    encoded = dict(instance)
    encoded["attrs"] = {encode_key(name): _encode_instance(sub) for name, sub in subs.items()}
    return encoded


def _decode_instance(instance: Instance) -> Instance:
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
    return doc


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
