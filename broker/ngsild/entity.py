"""Validate entity, fragment and attribute payloads and expand them to the model (GS CIM 009 4.5, 5.6).

Concise input (4.5.x.3) is inferred from the value member an object carries. A JSON object with
no "type" and none of the value members is rejected as BadRequestData rather than taken as a
Property whose value is that object: the spec wraps JSON-object values in "value" so that they
cannot be confused with sub-attribute maps (Orion-LD rejects the same input, issue #1564).
What each member may hold is checked in broker/ngsild/instance_members.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from broker.ngsild.context import TermMap
from broker.ngsild.errors import BadRequestData, InvalidRequest
from broker.ngsild.geojson import is_geometry
from broker.ngsild.instance_members import (
    MAX_DEPTH,
    META_MEMBERS,
    bad,
    datetime_string,
    expand_name,
    is_null,
    parse_meta_member,
    parse_value_member,
)
from broker.ngsild.model import (
    ATTRIBUTE_TYPES,
    ENTITY_MEMBERS,
    GEO_ATTRIBUTE_TERMS,
    GEO_PROPERTY,
    JSON_PROPERTY,
    LANGUAGE_PROPERTY,
    LIST_PROPERTY,
    LIST_RELATIONSHIP,
    PROPERTY,
    RELATIONSHIP,
    RESERVED_NAMES,
    VALUE_MEMBER,
    VOCAB_PROPERTY,
    Entity,
    Instance,
)
from broker.ngsild.names import is_valid_name, is_valid_scope, require_entity_id

__all__ = ["MAX_DEPTH", "is_null", "parse_attribute", "parse_entity", "parse_fragment"]

# Fixed order, so that the error for an ambiguous concise object is deterministic.
_VALUE_MEMBERS = ("value", "object", "languageMap", "vocab", "valueList", "objectList", "json")
_VALUE_MEMBER_NAMES = frozenset(_VALUE_MEMBERS)
_CONCISE_TYPE = {"object": RELATIONSHIP, "languageMap": LANGUAGE_PROPERTY, "vocab": VOCAB_PROPERTY,
                 "valueList": LIST_PROPERTY, "objectList": LIST_RELATIONSHIP, "json": JSON_PROPERTY}
#: system members the client may send but the broker sets (4.8), and instanceId (temporal only)
_IGNORED_MEMBERS = frozenset({"instanceId", "createdAt", "modifiedAt", "deletedAt"})


def parse_entity(body: Any, terms: TermMap, *, now: datetime) -> Entity:
    """The expanded entity of a Create (5.6.1) or Replace (5.6.18) body; NGSI-LD Null is refused."""
    members = _require_object(body)
    parser = _Parser(terms, now, allow_null=False)
    entity: Entity = {"id": _entity_id(members), "type": parser.types(members)}
    if "scope" in members:
        entity["scope"] = _scopes(members["scope"])
    if "expiresAt" in members:
        entity["expiresAt"] = datetime_string(members["expiresAt"], "expiresAt")
    entity["createdAt"] = now
    entity["modifiedAt"] = now
    entity["attrs"] = parser.attributes(members)
    return entity


def parse_fragment(body: Any, terms: TermMap, *, now: datetime, allow_null: bool) -> dict[str, Any]:
    """Append (5.6.3), Update Attributes (5.6.2) and Merge (5.6.17) bodies.

    Returns {"attrs": {...}} plus "id", "type", "scope" and "expiresAt" when the body has them.
    """
    members = _require_object(body)
    parser = _Parser(terms, now, allow_null=allow_null)
    fragment: dict[str, Any] = {"attrs": parser.attributes(members)}
    if "id" in members or "@id" in members:
        fragment["id"] = _entity_id(members)
    if "type" in members or "@type" in members:
        fragment["type"] = parser.types(members)
    if "scope" in members:
        fragment["scope"] = _scopes(members["scope"])
    if "expiresAt" in members:
        fragment["expiresAt"] = datetime_string(members["expiresAt"], "expiresAt")
    return fragment


def parse_attribute(body: Any, name: str, terms: TermMap, *, now: datetime, allow_null: bool,
                    partial: bool) -> list[Instance]:
    """The instances of a PATCH (5.6.4) or PUT (5.6.19) /entities/{id}/attrs/{name} body.

    With `partial`, "type" and the value member may be left out; instances then carry only the
    members given (no inferred "type"), for the caller to lay over the stored instance.
    An "@context" member of the body object is the request's (application/ld+json): ignored here.
    """
    if not isinstance(body, dict | list):
        raise InvalidRequest(f"The body of attribute '{name}' must be a JSON object, got {_kind(body)}")
    if isinstance(body, dict) and "@context" in body:
        body = {key: value for key, value in body.items() if key != "@context"}
    if not body:
        raise BadRequestData(f"The body of attribute '{name}' is empty")
    parser = _Parser(terms, now, allow_null=allow_null)
    if isinstance(body, dict):
        return [parser.instance(body, name, name, 1, partial=partial)]
    instances = []
    for item in body:
        if not isinstance(item, dict) or not item:
            raise BadRequestData(f"Attribute '{name}': each instance must be a non-empty JSON object")
        instances.append(parser.instance(item, name, name, 2, partial=partial))
    _check_datasets(instances, name)
    return instances


class _Parser:
    """One payload's settings; `where` is the compacted attribute path used in error details."""

    __slots__ = ("allow_null", "now", "terms")

    def __init__(self, terms: TermMap, now: datetime, *, allow_null: bool) -> None:
        self.terms = terms
        self.now = now
        self.allow_null = allow_null

    def types(self, members: dict[str, Any]) -> list[str]:
        raw = _alias(members, "type", "@type")
        if raw is None and "type" not in members and "@type" not in members:
            raise BadRequestData("Entity 'type' is missing")
        names = [raw] if isinstance(raw, str) else raw
        if not isinstance(names, list) or not names:
            raise BadRequestData(f"Entity 'type' must be a name or a non-empty array of names, got {raw!r}")
        expanded: dict[str, None] = {}
        for name in names:
            if not is_valid_name(name) or name == "type" or is_null(name):
                raise BadRequestData(f"Invalid entity type {name!r}")
            expanded[expand_name(self.terms, name, "type")] = None
        return list(expanded)

    def attributes(self, members: dict[str, Any]) -> dict[str, list[Instance]]:
        attrs: dict[str, list[Instance]] = {}
        for name, value in members.items():
            if name in ENTITY_MEMBERS:
                continue
            expanded = self._attribute_name(name, name)
            instances = self.attribute(value, name)
            if expanded in attrs:  # two terms naming one IRI: one attribute with all the instances
                instances = attrs[expanded] + instances
                _check_datasets(instances, name)
            attrs[expanded] = instances
        return attrs

    def attribute(self, value: Any, name: str) -> list[Instance]:
        """An entity-level attribute: one instance, or a multi-attribute array (4.5.5)."""
        if isinstance(value, list) and value and all(_is_instance(item) for item in value):
            instances = [self.instance(item, name, name, 3) for item in value]
            _check_datasets(instances, name)
            return instances
        return [self.instance(value, name, name, 2)]

    def instance(self, value: Any, name: str, where: str, depth: int, *, partial: bool = False) -> Instance:
        """One attribute instance in normalized or concise form; `name` is the term as written.

        `partial` (5.6.4): "type" and the value member may be absent, and an inferred type is not
        recorded, so that the instance holds only what the client sent.
        """
        if depth > MAX_DEPTH:
            raise BadRequestData(f"Attribute '{where}' is nested deeper than {MAX_DEPTH} levels")
        if not isinstance(value, dict):
            kind = GEO_PROPERTY if name in GEO_ATTRIBUTE_TERMS else PROPERTY
            return self._stamp({"type": kind, "value": self._value(kind, "value", value, where, depth)})
        if "type" not in value:
            kind = _infer_type(value, name, where, partial)
            return self._build(value, kind, name, where, depth, partial=partial)
        kind = value["type"]
        if isinstance(kind, str) and kind in ATTRIBUTE_TYPES:
            return self._build(value, kind, name, where, depth, partial=partial)
        if is_geometry(value):  # concise GeoProperty: the bare geometry
            geometry = self._value(GEO_PROPERTY, "value", value, where, depth)
            return self._stamp({"value": geometry} if partial else {"type": GEO_PROPERTY, "value": geometry})
        raise bad(where, f"unknown attribute type {kind!r}")

    def _build(self, members: dict[str, Any], kind: str | None, name: str, where: str, depth: int,
               *, partial: bool) -> Instance:
        if name in GEO_ATTRIBUTE_TERMS and kind is not None and kind != GEO_PROPERTY:
            raise bad(where, f"must be a GeoProperty, not a {kind}")
        own = VALUE_MEMBER.get(kind) if kind else None
        if own is not None and own not in members and not partial:
            raise bad(where, f"a {kind} needs '{own}'")
        keep_type = kind is not None and ("type" in members or not partial)
        instance: Instance = {"type": kind} if keep_type else {}
        sub_attrs: dict[str, Instance] = {}
        for key, item in members.items():
            if key == "type" or key in _IGNORED_MEMBERS:
                continue
            if key in _VALUE_MEMBER_NAMES:
                if key != own:
                    raise bad(where, f"a {kind} must not carry '{key}'")
                instance[key] = self._value(kind, key, item, where, depth + 1)
            elif key in META_MEMBERS:
                checked = parse_meta_member(kind, key, item, where, self.terms)
                if checked is not None:
                    instance[key] = checked
            elif key == "@context":
                raise bad(where, "an attribute must not carry an @context (5.5.7)")
            else:
                expanded = self._attribute_name(key, f"{where}.{key}")
                if expanded in sub_attrs:
                    raise bad(where, f"sub-attribute '{key}' is given twice")
                sub_attrs[expanded] = self._sub_attribute(item, key, f"{where}.{key}", depth + 1)
        if sub_attrs:
            instance["attrs"] = sub_attrs
        return self._stamp(instance)

    def _sub_attribute(self, value: Any, name: str, where: str, depth: int) -> Instance:
        """A sub-attribute: always whole, even inside a partial update; one instance only."""
        if isinstance(value, list) and value and all(_is_instance(item) for item in value):
            raise bad(where, "a sub-attribute cannot have several instances")
        return self.instance(value, name, where, depth)

    def _attribute_name(self, name: str, where: str) -> str:
        if name in RESERVED_NAMES or not is_valid_name(name) or is_null(name):
            raise BadRequestData(f"Invalid attribute name {name!r} ('{where}')")
        return expand_name(self.terms, name, where)

    def _value(self, kind: str | None, member: str, value: Any, where: str, depth: int) -> Any:
        return parse_value_member(kind, member, value, where, depth, terms=self.terms,
                                  allow_null=self.allow_null)

    def _stamp(self, instance: Instance) -> Instance:
        instance["createdAt"] = self.now
        instance["modifiedAt"] = self.now
        return instance


def _require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidRequest(f"The body must be a JSON object, got {_kind(body)}")
    return body


def _alias(members: dict[str, Any], key: str, keyword: str) -> Any:
    """`key` or its JSON-LD keyword alias (`id`/`@id`, `type`/`@type`); both must then agree."""
    if key in members and keyword in members and members[key] != members[keyword]:
        raise BadRequestData(f"Entity '{key}' and '{keyword}' disagree")
    return members[key] if key in members else members.get(keyword)


def _entity_id(members: dict[str, Any]) -> str:
    raw = _alias(members, "id", "@id")
    if raw is None and "id" not in members and "@id" not in members:
        raise BadRequestData("Entity 'id' is missing")
    if is_null(raw):
        raise BadRequestData("Entity 'id' cannot be NGSI-LD Null")
    return require_entity_id(raw)


def _scopes(value: Any) -> list[str]:
    scopes = [value] if isinstance(value, str) else value
    if not isinstance(scopes, list) or not scopes or not all(is_valid_scope(s) for s in scopes):
        raise BadRequestData(f"'scope' must be a scope or a non-empty array of scopes, got {value!r}")
    return list(dict.fromkeys(scopes))


def _infer_type(members: dict[str, Any], name: str, where: str, partial: bool) -> str | None:
    """The attribute type of a concise object without "type" (4.5.x.3); None for a bare partial update."""
    present = [member for member in _VALUE_MEMBERS if member in members]
    if len(present) > 1:
        raise bad(where, f"concise form is ambiguous: both {present[0]!r} and {present[1]!r} given")
    if not present:
        if partial:
            return None
        raise bad(where, "no 'type' and none of " + ", ".join(_VALUE_MEMBERS)
                  + " (wrap a JSON-object value in 'value')")
    if present[0] == "value":
        value = members["value"]
        return GEO_PROPERTY if name in GEO_ATTRIBUTE_TERMS or is_geometry(value) else PROPERTY
    return _CONCISE_TYPE[present[0]]


def _is_instance(item: Any) -> bool:
    """An array item that is an attribute instance rather than part of a Property's array value."""
    if not isinstance(item, dict):
        return False
    kind = item.get("type")
    if isinstance(kind, str) and kind in ATTRIBUTE_TYPES:
        return True
    return any(member in item for member in _VALUE_MEMBERS)


def _check_datasets(instances: list[Instance], where: str) -> None:
    seen: set[str | None] = set()
    for instance in instances:
        dataset = instance.get("datasetId")
        if dataset in seen:
            raise bad(where, "more than one default instance" if dataset is None
                      else f"more than one instance with datasetId {dataset!r}")
        seen.add(dataset)


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__
