"""Expanded entity -> output JSON: normalized, keyValues, concise, GeoJSON (GS CIM 009 4.5, 4.15, 4.21)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from broker.ngsild.context import TermMap
from broker.ngsild.model import (
    GEO_PROPERTY,
    LANGUAGE_PROPERTY,
    LIST_PROPERTY,
    LIST_RELATIONSHIP,
    PROPERTY,
    RELATIONSHIP,
    VOCAB_PROPERTY,
    Entity,
    Instance,
    default_instance,
)
from broker.ngsild.names import format_datetime
from broker.ngsild.params import RenderOptions

NONE = "@none"

# Rendering is the hot read path, so it is one pass of dict literals: output dicts share the
# input's value objects (values, languageMaps, json, lists) instead of copying them, and the
# input is never modified.
#
# Decisions where the spec leaves room (each has a test):
# - concise (4.5.x.3): a lone Property or GeoProperty instance with no metadata and no
#   sub-attribute is its bare value; a GeoProperty's bare value is its GeoJSON geometry, which
#   concise input infers back as a GeoProperty (Orion-LD renders it the same way). A Property whose
#   value is an object with a "type" or value member ("value", "object", ...) is kept as
#   {"value": …}, because bare it would parse back as a different attribute. Instances of a
#   multi-instance attribute are always objects: a bare value in that array would be ambiguous.
#   ListRelationship keeps the {"object": uri} wrappers of its objectList (the core @context maps
#   objectList to a @list of nodes); keyValues gives the bare URIs.
# - keyValues: the {"dataset": …} form is used when an attribute has several instances; a lone
#   instance is its bare value whatever its datasetId.
# - lang (4.15): see render_lang. A LanguageProperty with lang is a Property with a "lang" member,
#   so concise renders it bare only when nothing else (metadata, sub-attributes) is on it.
# - pick/omit project id, type, scope and attributes; createdAt/modifiedAt/expiresAt follow
#   sysAttrs only. With attrs, an entity that has none of the requested attributes renders as
#   None (Retrieve Entity answers 404, 5.7.1.4).

#: Property values that, bare in concise, would read back as another attribute shape
_CONCISE_AMBIGUOUS_KEYS = frozenset({
    "type", "value", "object", "languageMap", "vocab", "json", "valueList", "objectList",
})


def render_entity(entity: Entity, terms: TermMap, options: RenderOptions) -> dict[str, Any] | None:
    """The entity in the requested representation, or None when the projection leaves nothing."""
    pick, omit = options.pick, options.omit
    out: dict[str, Any] = {}
    if _keeps("id", pick, omit):
        out["id"] = entity["id"]
    if _keeps("type", pick, omit):
        out["type"] = _compact_one_or_many(entity["type"], terms)
    scope = entity.get("scope")
    if scope is not None and _keeps("scope", pick, omit):
        out["scope"] = scope[0] if isinstance(scope, list) and len(scope) == 1 else scope

    render_attribute = _ATTRIBUTE_RENDERERS[options.format]
    attrs, dataset_ids = options.attrs, options.dataset_id
    sys_attrs, lang = options.sys_attrs, options.lang
    found = False
    for name, instances in entity.get("attrs", {}).items():
        if (attrs is not None and name not in attrs) or (pick is not None and name not in pick) or (
                omit is not None and name in omit):
            continue
        if dataset_ids is not None:
            instances = [i for i in instances if i.get("datasetId", NONE) in dataset_ids]
            if not instances:
                continue
        found = True
        out[terms.compact(name)] = render_attribute(instances, terms, sys_attrs, lang)

    if not out or (attrs is not None and not found):
        return None
    if sys_attrs:
        for member in ("createdAt", "modifiedAt", "expiresAt"):
            value = entity.get(member)
            if value is not None:
                out[member] = _time(value)
    deleted_at = entity.get("deletedAt")  # only ever set on notification payloads (5.8.6)
    if deleted_at is not None:
        out["deletedAt"] = _time(deleted_at)
    return out


def render_geojson_feature(entity: Entity, terms: TermMap, options: RenderOptions,
                           geometry_property: str) -> dict[str, Any]:
    """The entity as a GeoJSON Feature (4.5.16, 4.5.17 for keyValues).

    `geometry_property` is an expanded attribute name (a term is expanded with `terms`); its
    default instance gives the geometry, whatever attrs/pick/omit keep in "properties".
    """
    rendered = render_entity(entity, terms, options) or {}
    properties = {name: value for name, value in rendered.items() if name != "id"}
    attrs = entity.get("attrs", {})
    instances = attrs.get(geometry_property) or attrs.get(terms.expand(geometry_property))
    instance = default_instance(instances) if instances else None
    geometry = instance.get("value") if instance is not None and instance["type"] == GEO_PROPERTY else None
    return {"id": entity["id"], "type": "Feature", "geometry": geometry, "properties": properties}


def render_lang(language_map: dict[str, Any], lang: str) -> tuple[Any, str]:
    """The value of a languageMap best matching `lang`, and the tag it has (4.15).

    Ranges are tried by decreasing q (ties in the client's order); tags compare case-insensitively.
    For one range the order is: the same tag, a more specific tag ("fr" finds "fr-CH"), then the
    range truncated (RFC 4647 lookup: "fr-CH" finds "fr"). "*" is any language and takes the
    default "@none" value if there is one, else the first tag. When nothing matches, the value is
    still returned: "@none" if present, else the first tag; "lang" then states that tag.
    """
    lowered = {tag.lower(): tag for tag in language_map}
    for wanted in _language_ranges(lang):
        if wanted == "*":
            break
        tag = lowered.get(wanted)
        if tag is None:
            tag = _more_specific(wanted, lowered) or _truncated(wanted, lowered)
        if tag is not None:
            return language_map[tag], tag
    if NONE in language_map:
        return language_map[NONE], NONE
    for tag, value in language_map.items():
        return value, tag
    return None, NONE


@lru_cache(maxsize=512)
def _language_ranges(lang: str) -> tuple[str, ...]:
    """Lower-cased ranges of a lang parameter, best first; q=0 ranges are dropped.

    Lenient: parse_render_options has already rejected malformed values with BadRequestData.
    """
    ranked = []
    for position, item in enumerate(lang.split(",")):
        wanted, _, parameters = item.partition(";")
        wanted = wanted.strip().lower()
        quality = 1.0
        key, _, value = parameters.partition("=")
        if key.strip().lower() == "q":
            try:
                quality = float(value)
            except ValueError:
                quality = 1.0
        if wanted and quality > 0:
            ranked.append((-quality, position, wanted))
    ranked.sort()
    return tuple(wanted for _, _, wanted in ranked)


def _more_specific(wanted: str, lowered: dict[str, str]) -> str | None:
    prefix = wanted + "-"
    for low, tag in lowered.items():
        if low.startswith(prefix):
            return tag
    return None


def _truncated(wanted: str, lowered: dict[str, str]) -> str | None:
    while "-" in wanted:
        wanted = wanted.rsplit("-", 1)[0]
        tag = lowered.get(wanted)
        if tag is not None:
            return tag
    return None


# ---- normalized (4.5.2 and the per-type clauses 4.5.18-24) -------------------------------------

def _normalized_attribute(instances: list[Instance], terms: TermMap, sys_attrs: bool,
                          lang: str | None) -> Any:
    if len(instances) == 1:
        return _normalized(instances[0], terms, sys_attrs, lang)
    return [_normalized(instance, terms, sys_attrs, lang) for instance in instances]


def _normalized(instance: Instance, terms: TermMap, sys_attrs: bool, lang: str | None) -> dict[str, Any]:
    kind = instance["type"]
    if kind in (PROPERTY, GEO_PROPERTY):
        out = {"type": kind, "value": instance["value"]}
    elif kind == RELATIONSHIP:
        out = {"type": kind, "object": instance["object"]}
    elif kind == LANGUAGE_PROPERTY:
        if lang is None:
            out = {"type": kind, "languageMap": instance["languageMap"]}
        else:
            value, tag = render_lang(instance["languageMap"], lang)
            out = {"type": PROPERTY, "value": value, "lang": tag}
    elif kind == VOCAB_PROPERTY:
        out = {"type": kind, "vocab": _compact_one_or_many(instance["vocab"], terms)}
    elif kind == LIST_PROPERTY:
        out = {"type": kind, "valueList": instance["valueList"]}
    elif kind == LIST_RELATIONSHIP:
        out = {"type": kind, "objectList": [{"object": uri} for uri in instance["objectList"]]}
    else:  # JsonProperty: json is never expanded, so never compacted
        out = {"type": kind, "json": instance["json"]}
    _add_metadata(out, instance, terms, sys_attrs)
    subs = instance.get("attrs")
    if subs:
        for name, sub in subs.items():
            out[terms.compact(name)] = _normalized(sub, terms, sys_attrs, lang)
    if sys_attrs:
        _add_sys_attrs(out, instance)
    return out


# ---- concise (4.5.x.3) ---------------------------------------------------------------------------

def _concise_attribute(instances: list[Instance], terms: TermMap, sys_attrs: bool, lang: str | None) -> Any:
    if len(instances) == 1:
        return _concise(instances[0], terms, sys_attrs, lang, lone=True)
    return [_concise(instance, terms, sys_attrs, lang, lone=False) for instance in instances]


def _concise(instance: Instance, terms: TermMap, sys_attrs: bool, lang: str | None, lone: bool) -> Any:
    kind = instance["type"]
    bare_size = 0  # the size `out` has when the instance carries nothing but its value
    if kind in (PROPERTY, GEO_PROPERTY):
        value = instance["value"]
        out: dict[str, Any] = {"value": value}
        if kind == GEO_PROPERTY or not isinstance(value, dict) or _CONCISE_AMBIGUOUS_KEYS.isdisjoint(value):
            bare_size = 1
    elif kind == RELATIONSHIP:
        out = {"object": instance["object"]}
    elif kind == LANGUAGE_PROPERTY:
        if lang is None:
            out = {"languageMap": instance["languageMap"]}
        else:
            value, tag = render_lang(instance["languageMap"], lang)
            out = {"value": value, "lang": tag}
            bare_size = 2
    elif kind == VOCAB_PROPERTY:
        out = {"vocab": _compact_one_or_many(instance["vocab"], terms)}
    elif kind == LIST_PROPERTY:
        out = {"valueList": instance["valueList"]}
    elif kind == LIST_RELATIONSHIP:
        out = {"objectList": [{"object": uri} for uri in instance["objectList"]]}
    else:
        out = {"json": instance["json"]}
    _add_metadata(out, instance, terms, sys_attrs)
    subs = instance.get("attrs")
    if subs:
        for name, sub in subs.items():
            out[terms.compact(name)] = _concise(sub, terms, sys_attrs, lang, lone=True)
    if sys_attrs:
        _add_sys_attrs(out, instance)
    if lone and len(out) == bare_size:
        return out["value"]
    return out


# ---- keyValues (4.5.4) ---------------------------------------------------------------------------

def _key_values_attribute(instances: list[Instance], terms: TermMap, sys_attrs: bool,
                          lang: str | None) -> Any:
    if len(instances) == 1:
        return _key_value(instances[0], terms, lang)
    return {"dataset": {instance.get("datasetId", NONE): _key_value(instance, terms, lang)
                        for instance in instances}}


def _key_value(instance: Instance, terms: TermMap, lang: str | None) -> Any:
    kind = instance["type"]
    if kind in (PROPERTY, GEO_PROPERTY):
        return instance["value"]
    if kind == RELATIONSHIP:
        return instance["object"]
    if kind == LANGUAGE_PROPERTY:
        if lang is None:
            return {"languageMap": instance["languageMap"]}
        return render_lang(instance["languageMap"], lang)[0]
    if kind == VOCAB_PROPERTY:
        return {"vocab": _compact_one_or_many(instance["vocab"], terms)}
    if kind == LIST_PROPERTY:
        return instance["valueList"]
    if kind == LIST_RELATIONSHIP:
        return instance["objectList"]
    return {"json": instance["json"]}


_ATTRIBUTE_RENDERERS = {
    "normalized": _normalized_attribute,
    "concise": _concise_attribute,
    "keyValues": _key_values_attribute,
}


# ---- shared ------------------------------------------------------------------------------------

def _keeps(member: str, pick: frozenset[str] | None, omit: frozenset[str] | None) -> bool:
    if pick is not None:
        return member in pick
    return omit is None or member not in omit


def _add_metadata(out: dict[str, Any], instance: Instance, terms: TermMap, sys_attrs: bool) -> None:
    value = instance.get("observedAt")
    if value is not None:
        out["observedAt"] = _time(value)
    value = instance.get("unitCode")
    if value is not None:
        out["unitCode"] = value
    value = instance.get("datasetId")
    if value is not None and value != NONE:  # the default instance's datasetId is never output (4.5.5)
        out["datasetId"] = value
    value = instance.get("expiresAt")
    if value is not None:
        out["expiresAt"] = _time(value)
    value = instance.get("valueType")
    if value is not None:
        out["valueType"] = _compact_one_or_many(value, terms)
    value = instance.get("objectType")
    if value is not None:
        out["objectType"] = _compact_one_or_many(value, terms)


def _add_sys_attrs(out: dict[str, Any], instance: Instance) -> None:
    value = instance.get("createdAt")
    if value is not None:
        out["createdAt"] = _time(value)
    value = instance.get("modifiedAt")
    if value is not None:
        out["modifiedAt"] = _time(value)


def _compact_one_or_many(iris: str | list[str], terms: TermMap) -> str | list[str]:
    """A string for one IRI, a list for several (JSON-LD compaction of a non-@set member)."""
    if isinstance(iris, str):
        return terms.compact(iris)
    if len(iris) == 1:
        return terms.compact(iris[0])
    return [terms.compact(iri) for iri in iris]


def _time(value: datetime | str) -> str:
    """Broker-set times are datetimes; client-given ones (observedAt, expiresAt) stay strings."""
    return format_datetime(value) if isinstance(value, datetime) else value
