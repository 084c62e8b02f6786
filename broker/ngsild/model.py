"""The expanded entity model every layer shares: what parse produces, update changes, render reads.

An entity in expanded form is a plain dict (plain dicts on the hot path, measured cheaper than
dataclasses for the per-attribute work):

    {
      "id": "urn:ngsi-ld:Building:1",
      "type": ["https://uri.etsi.org/ngsi-ld/default-context/Building"],     # expanded, ≥ 1
      "scope": ["/Osaka/Kita"],                                             # optional
      "createdAt": datetime, "modifiedAt": datetime,                        # set by the broker
      "attrs": {
        "https://uri.etsi.org/ngsi-ld/default-context/temperature": [       # expanded name
          {                                                                 # one instance
            "type": "Property", "value": 21.5,
            "observedAt": "2026-11-30T05:00:00Z", "unitCode": "CEL",
            "datasetId": "urn:ngsi-ld:Dataset:a",    # absent on the default instance
            "createdAt": datetime, "modifiedAt": datetime,
            "attrs": {<expanded sub-attribute name>: <one instance, same shape, no list>},
          },
        ],
      },
    }

Instance members by attribute type (the member names are the spec's compacted core terms):
  Property          value (any JSON except null), valueType?
  Relationship      object (URI or list of URIs), objectType? (expanded IRI or list)
  GeoProperty       value (a GeoJSON geometry dict, parsed if it came as a string)
  LanguageProperty  languageMap ({tag or "@none": str | list[str]})
  VocabProperty     vocab (expanded IRI or list of expanded IRIs)
  ListProperty      valueList (list)
  ListRelationship  objectList (list of URIs; the {"object": …} wrappers removed)
  JsonProperty      json (any JSON, never expanded)
Common optional members: observedAt, unitCode (Property/ListProperty only), datasetId, expiresAt,
createdAt, modifiedAt, attrs (sub-attributes). `observedAt`/`expiresAt` keep the client's string.

A fragment (the body of append / update / merge / partial update) has the same "attrs" shape,
optionally "type" and "scope"; in update and merge fragments a member may hold NGSI_LD_NULL.
"""

from __future__ import annotations

from typing import Any

Entity = dict[str, Any]
Instance = dict[str, Any]

NGSI_LD_NULL = "urn:ngsi-ld:null"

PROPERTY = "Property"
RELATIONSHIP = "Relationship"
GEO_PROPERTY = "GeoProperty"
LANGUAGE_PROPERTY = "LanguageProperty"
VOCAB_PROPERTY = "VocabProperty"
LIST_PROPERTY = "ListProperty"
LIST_RELATIONSHIP = "ListRelationship"
JSON_PROPERTY = "JsonProperty"

#: attribute type → the member holding its value
VALUE_MEMBER: dict[str, str] = {
    PROPERTY: "value",
    GEO_PROPERTY: "value",
    RELATIONSHIP: "object",
    LANGUAGE_PROPERTY: "languageMap",
    VOCAB_PROPERTY: "vocab",
    LIST_PROPERTY: "valueList",
    LIST_RELATIONSHIP: "objectList",
    JSON_PROPERTY: "json",
}
ATTRIBUTE_TYPES = frozenset(VALUE_MEMBER)

#: members an instance may carry besides its value member and sub-attributes
INSTANCE_META = ("observedAt", "unitCode", "datasetId", "expiresAt", "valueType", "objectType",
                 "createdAt", "modifiedAt")

#: core terms that can never be attribute names (4.5.1, 4.6.2)
RESERVED_NAMES = frozenset({
    "id", "type", "scope", "value", "object", "languageMap", "vocab", "json", "valueList",
    "objectList", "datasetId", "instanceId", "observedAt", "unitCode", "createdAt", "modifiedAt",
    "deletedAt", "expiresAt", "lang", "valueType", "objectType", "entity", "entityList",
    "@context", "@id", "@type",
})

#: entity members that are not attributes
ENTITY_MEMBERS = frozenset({"id", "type", "scope", "createdAt", "modifiedAt", "expiresAt",
                            "deletedAt", "@context", "@id", "@type"})

#: GeoProperties the spec names at entity level (4.7): always GeoProperty
GEO_ATTRIBUTE_TERMS = frozenset({"location", "observationSpace", "operationSpace"})


def default_instance(instances: list[Instance]) -> Instance | None:
    """The instance without a datasetId, if there is one."""
    for instance in instances:
        if "datasetId" not in instance:
            return instance
    return None
