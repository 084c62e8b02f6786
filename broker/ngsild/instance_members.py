"""The members of one attribute instance, validated per attribute type (GS CIM 009 4.5.2-4.5.24, 5.2.1).

Helpers of broker/ngsild/entity.py, which owns the payload structure (entity, attributes,
instances, concise inference); this module checks what one member may hold.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from broker.ngsild.context import TermMap
from broker.ngsild.errors import BadRequestData
from broker.ngsild.geojson import validate_geometry
from broker.ngsild.model import (
    GEO_PROPERTY,
    LANGUAGE_PROPERTY,
    LIST_PROPERTY,
    LIST_RELATIONSHIP,
    NGSI_LD_NULL,
    PROPERTY,
    RELATIONSHIP,
)
from broker.ngsild.names import is_uri, is_valid_name, parse_datetime

#: deepest nesting of JSON containers accepted, counted from the request body
MAX_DEPTH = 64

# unitCode belongs to Property (4.5.2) and ListProperty; GeoProperty is a Property subclass in
# the information model (4.2), so a unit (e.g. for altitude) is tolerated there too.
_UNIT_CODE_TYPES = frozenset({PROPERTY, LIST_PROPERTY, GEO_PROPERTY})
_RELATIONSHIP_TYPES = frozenset({RELATIONSHIP, LIST_RELATIONSHIP})
_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*$")


def is_null(value: Any) -> bool:
    """True for the NGSI-LD Null, the deletion marker of update and merge fragments (5.2.1)."""
    return isinstance(value, str) and value == NGSI_LD_NULL


def bad(where: str, message: str) -> BadRequestData:
    return BadRequestData(f"Attribute '{where}': {message}")


def expand_name(terms: TermMap, name: str, where: str) -> str:
    """The IRI of a (validated) attribute or type name; a name expanding to a keyword is refused."""
    expanded = terms.expand(name)
    if expanded.startswith("@"):  # a user @context mapping a term onto a JSON-LD keyword
        raise BadRequestData(f"Name {name!r} ('{where}') expands to the keyword {expanded!r}")
    return expanded


def datetime_string(value: Any, where: str) -> str:
    """The client's DateTime string, unchanged once checked (4.6.3)."""
    parse_datetime(value, where)
    return value  # type: ignore[no-any-return]


def check_nested(value: Any, where: str, depth: int) -> None:
    """Bound the nesting of a JSON value and refuse NGSI-LD Null inside it; iterative on purpose."""
    if not isinstance(value, dict | list):
        if is_null(value):
            raise bad(where, "NGSI-LD Null is not allowed inside a value")
        return
    stack: list[tuple[Any, int]] = [(value, depth)]
    while stack:
        current, level = stack.pop()
        if level > MAX_DEPTH:
            raise bad(where, f"value is nested deeper than {MAX_DEPTH} levels")
        for child in current.values() if isinstance(current, dict) else current:
            if isinstance(child, dict | list):
                stack.append((child, level + 1))
            elif is_null(child):
                raise bad(where, "NGSI-LD Null is not allowed inside a value")


def parse_value_member(kind: str | None, member: str, value: Any, where: str, depth: int, *, terms: TermMap,
                       allow_null: bool) -> Any:
    """The stored form of `member` (value, object, languageMap, …) of a `kind` attribute."""
    if value is None:
        raise bad(where, f"'{member}' must not be JSON null (use NGSI-LD Null to delete)")
    if is_null(value) and member != "languageMap":  # that one is deleted by {"@none": Null}
        if not allow_null:
            raise bad(where, f"NGSI-LD Null is not allowed here ('{member}')")
        return value
    if kind == GEO_PROPERTY:
        geometry = validate_geometry(value, where)
        check_nested(geometry, where, depth)  # foreign members (RFC 7946 6.1) are free JSON
        return geometry
    if member == "languageMap":
        return _language_map(value, where, allow_null)
    if member == "vocab":
        return _vocab(value, where, terms)
    return _VALUE_CHECKS[member](value, where, depth)


def parse_meta_member(kind: str | None, member: str, value: Any, where: str, terms: TermMap) -> Any:
    """The stored form of observedAt, unitCode, datasetId, …; None means "leave it out".

    `kind` is None in a partial update that names no type: the caller checks it against the
    stored attribute.
    """
    where = f"{where}.{member}"
    if is_null(value):
        raise BadRequestData(f"'{where}' cannot be NGSI-LD Null")
    if member in ("observedAt", "expiresAt"):
        return datetime_string(value, where)
    if member == "datasetId":
        if value == "@none":
            return None  # the default instance: datasetId is left out (4.5.5)
        if not is_uri(value):
            raise BadRequestData(f"'{where}' must be a URI, got {value!r}")
        return value
    if member == "objectType":
        return _object_type(kind, value, where, terms)
    if member == "unitCode" and kind is not None and kind not in _UNIT_CODE_TYPES:
        raise BadRequestData(f"'{where}': a {kind} cannot have a unitCode")
    if member == "valueType" and kind in _RELATIONSHIP_TYPES:
        raise BadRequestData(f"'{where}': a {kind} has objectType, not valueType")
    if not isinstance(value, str) or not value:  # unitCode, valueType
        raise BadRequestData(f"'{where}' must be a non-empty string, got {value!r}")
    if member == "valueType" and kind == LANGUAGE_PROPERTY and value != "langString":
        raise BadRequestData(f"'{where}' of a LanguageProperty must be 'langString', got {value!r}")
    return value


META_MEMBERS = frozenset({"observedAt", "expiresAt", "datasetId", "objectType", "unitCode", "valueType"})


def _any_json(value: Any, where: str, depth: int) -> Any:
    check_nested(value, where, depth)
    return value


def _object(value: Any, where: str, depth: int) -> str | list[str]:
    if isinstance(value, str) and is_uri(value):
        return value
    if isinstance(value, list) and value and all(isinstance(v, str) and is_uri(v) and not is_null(v)
                                                  for v in value):
        return value
    raise bad(where, f"'object' must be a URI or a non-empty array of URIs, got {value!r}")


def _language_map(value: Any, where: str, allow_null: bool) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad(where, f"'languageMap' must be a JSON object, got {_kind(value)}")
    for tag, text in value.items():
        if tag != "@none" and not _LANGUAGE_TAG.match(tag):
            raise bad(where, f"'languageMap' key {tag!r} is not a language tag")
        if is_null(text):
            if not (allow_null and tag == "@none"):
                raise bad(where, f"NGSI-LD Null is not allowed here ('languageMap' {tag!r})")
        elif not (isinstance(text, str) or (isinstance(text, list)
                  and all(isinstance(t, str) and not is_null(t) for t in text))):
            raise bad(where, f"'languageMap' {tag!r} must be a string or an array of strings")
    return value


def _vocab(value: Any, where: str, terms: TermMap) -> str | list[str]:
    if isinstance(value, str) and value:
        return terms.expand(value)
    if isinstance(value, list) and value and all(isinstance(v, str) and v and not is_null(v) for v in value):
        return [terms.expand(v) for v in value]
    raise bad(where, f"'vocab' must be a name or a non-empty array of names, got {value!r}")


def _value_list(value: Any, where: str, depth: int) -> list[Any]:
    if not isinstance(value, list):
        raise bad(where, f"'valueList' must be an array, got {_kind(value)}")
    check_nested(value, where, depth)
    return value


def _object_list(value: Any, where: str, depth: int) -> list[str]:
    if not isinstance(value, list):
        raise bad(where, f"'objectList' must be an array, got {_kind(value)}")
    uris = []
    for item in value:
        uri = item
        if (isinstance(item, dict) and "object" in item and set(item) <= {"object", "type"}
                and item.get("type", RELATIONSHIP) == RELATIONSHIP):
            uri = item["object"]  # the normalized {"object": URI} wrapper is not stored
        if not isinstance(uri, str) or not is_uri(uri) or is_null(uri):
            raise bad(where, f"'objectList' items must be URIs or {{\"object\": URI}}, got {item!r}")
        uris.append(uri)
    return uris


def _json(value: Any, where: str, depth: int) -> Any:
    if not isinstance(value, dict | list):
        raise bad(where, f"'json' must be a JSON object or array, got {_kind(value)}")
    check_nested(value, where, depth)
    return value


def _object_type(kind: str | None, value: Any, where: str, terms: TermMap) -> str | list[str]:
    if kind is not None and kind not in _RELATIONSHIP_TYPES:
        raise BadRequestData(f"'{where}': only a Relationship or ListRelationship has objectType")
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or not all(
            is_valid_name(name) and not is_null(name) for name in names):
        raise BadRequestData(f"'{where}' must be a type name or a non-empty array of them, got {value!r}")
    expanded = [expand_name(terms, name, where) for name in names]
    return expanded[0] if isinstance(value, str) else expanded


_VALUE_CHECKS: dict[str, Callable[[Any, str, int], Any]] = {
    "value": _any_json,
    "object": _object,
    "valueList": _value_list,
    "objectList": _object_list,
    "json": _json,
}


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__
