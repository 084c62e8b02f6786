"""In-memory evaluation of the query AST against one expanded entity (GS CIM 009 4.9, 4.10, 4.17, 4.19, 5.7.2).

The twin of broker/store/query.py (the same semantics as a MongoDB filter): subscription matching
runs this on every write for every candidate subscription, so it is pure, allocates little, never
copies the entity and caches compiled regular expressions.

Decisions where the spec is silent or loose (keep broker/store/query.py in step with them):
- A Comparison matches if ANY instance of a multi-instance attribute matches; `!A` if none has A.
- Targets: Property/GeoProperty `value`, Relationship `object`, ListRelationship `objectList`,
  VocabProperty `vocab`, ListProperty `valueList`, LanguageProperty `languageMap` entries
  (`[tag]` one language, case-insensitive; `[*]` or no tag: every language). A JsonProperty's `json`
  is opaque: it exists, but only a compound path (`a[k]`) reaches inside it to compare.
- `attr[k]` keys into a dict value (an `[x]` parsed as a language works as a key on non-language
  attributes, and a one-key compound works as a language tag on LanguageProperties).
- Datatypes never mix: numbers (bool excluded) with numbers, strings with strings and URIs, booleans
  with booleans (`==`/`!=` only), DateTimes with DateTimes. Temporal members (observedAt,
  createdAt, modifiedAt, deletedAt, expiresAt) are DateTimes: quoted or unquoted query values are
  parsed, and patterns on them never match. A DateTimeValue compared with a string value parses it
  (a DateTime or a Date); unparsable means no match. Other strings compare as text (ISO order).
- An array target matches `==`/ordering/`~=` if any element does; `!=`/`!~=` if at least one
  element is comparable and none matches the positive form. A list value is any-of / none-of;
  a range is inclusive.
- Relationship objects (and objectList) never match ordering operators or ranges; `==`/`!=` and
  patterns work on them as on strings.
- The system target `observedAt` (the entity has none of its own) means any attribute instance's.
- With `ids` given, `id_pattern` is ignored (as in EntitySelector, 5.2.33); `selectors` are ORed.
- Scope patterns are scopeq.scope_matches (a leading `/` is not significant).
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from broker.ngsild.match_geo import matches_geo
from broker.ngsild.model import (
    JSON_PROPERTY,
    LANGUAGE_PROPERTY,
    LIST_RELATIONSHIP,
    RELATIONSHIP,
    VALUE_MEMBER,
    Entity,
    Instance,
)
from broker.ngsild.query_ast import (
    INSTANCE_MEMBER_TARGETS,
    And,
    AttributePath,
    Comparison,
    DateTimeValue,
    EntityQuery,
    Exists,
    Node,
    Or,
    Range,
    Scalar,
    ScopeMatch,
    TypeName,
    UriValue,
)
from broker.ngsild.scopeq import scope_matches

__all__ = ["matches_geo", "matches_q", "matches_query", "matches_scope", "matches_types"]

_TEMPORAL_MEMBERS = frozenset({"observedAt", "createdAt", "modifiedAt", "deletedAt", "expiresAt"})
_ORDERING = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}


class _Opaque:
    """A target that exists but compares with nothing (a whole JsonProperty, a bad DateTime)."""


_OPAQUE = _Opaque()
_MISSING = object()


# --- boolean structure ------------------------------------------------------------------------


def _evaluate(node: Node, leaf: Callable[[Any], bool]) -> bool:
    if isinstance(node, And):
        return all(_evaluate(term, leaf) for term in node.terms)
    if isinstance(node, Or):
        return any(_evaluate(term, leaf) for term in node.terms)
    return leaf(node)


def matches_q(node: Node, entity: Entity) -> bool:
    """True if the q expression (Comparison/Exists leaves under And/Or) holds for the entity."""
    def leaf(term: Any) -> bool:
        if isinstance(term, Comparison):
            return any(_comparison_holds(value, relationship, term) for value, relationship in
                       _targets(term.path, entity))
        if isinstance(term, Exists):
            found = next(_targets(term.path, entity), None) is not None
            return found != term.negated
        raise TypeError(f"not a q term: {term!r}")
    return _evaluate(node, leaf)


def matches_scope(node: Node, entity: Entity) -> bool:
    """True if the scopeQ expression (ScopeMatch leaves) holds for the entity's scopes (4.19)."""
    scopes = entity.get("scope") or []
    if isinstance(scopes, str):
        scopes = [scopes]

    def leaf(term: Any) -> bool:
        if not isinstance(term, ScopeMatch):
            raise TypeError(f"not a scopeQ term: {term!r}")
        return scope_matches(term.pattern, scopes)
    return _evaluate(node, leaf)


def matches_types(node: Node | None, entity_types: list[str]) -> bool:
    """True if the type expression (TypeName leaves) holds for the types; None means any type (4.17)."""
    if node is None:
        return True

    def leaf(term: Any) -> bool:
        if not isinstance(term, TypeName):
            raise TypeError(f"not a type expression term: {term!r}")
        return term.type in entity_types
    return _evaluate(node, leaf)


def matches_query(query: EntityQuery, entity: Entity) -> bool:
    """True if the entity is selected by the query (5.7.2); limit, offset and order do not apply."""
    if not _selected(query.ids, query.id_pattern, query.types, entity):
        return False
    if query.selectors and not any(_selected(selector.ids, selector.id_pattern, selector.types, entity)
                                   for selector in query.selectors):
        return False
    if query.attrs is not None:
        attrs = entity.get("attrs", {})
        if not any(name in attrs for name in query.attrs):
            return False
    if query.scope_q is not None and not matches_scope(query.scope_q, entity):
        return False
    if query.q is not None and not matches_q(query.q, entity):
        return False
    return query.geo is None or matches_geo(query.geo, entity)


def _selected(ids: tuple[str, ...], id_pattern: str | None, types: Node | None, entity: Entity) -> bool:
    if ids:
        if entity["id"] not in ids:
            return False
    elif id_pattern is not None:
        pattern = _compiled(id_pattern)
        if pattern is None or pattern.search(entity["id"]) is None:
            return False
    return types is None or matches_types(types, entity.get("type", []))


# --- resolving a path to its targets ----------------------------------------------------------


def _targets(path: AttributePath, entity: Entity) -> Iterator[tuple[Any, bool]]:
    """(value, is_relationship) for every instance where the path resolves."""
    if path.system:
        if path.attribute == "observedAt":
            for instances in entity.get("attrs", {}).values():
                for instance in instances:
                    if "observedAt" in instance:
                        yield _instant(instance["observedAt"]), False
        elif path.attribute in entity:
            yield _instant(entity[path.attribute]), False
        return
    for instance in entity.get("attrs", {}).get(path.attribute, ()):
        target = _instance_target(instance, path)
        if target is not _MISSING:
            yield target


def _instance_target(instance: Instance, path: AttributePath) -> Any:
    node = instance
    last = len(path.sub) - 1
    for index, name in enumerate(path.sub):
        if index == last and name in INSTANCE_MEMBER_TARGETS:
            if name not in node or path.compound:
                return _MISSING
            member = node[name]
            return (_instant(member) if name in _TEMPORAL_MEMBERS else member), False
        node = node.get("attrs", {}).get(name)
        if node is None:
            return _MISSING
        if isinstance(node, list):  # defensive: the model keeps one instance per sub-attribute
            if not node:
                return _MISSING
            node = node[0]
    kind = node.get("type")
    member = VALUE_MEMBER.get(kind, "value")
    if member not in node:
        return _MISSING
    value = node[member]
    if kind == LANGUAGE_PROPERTY:
        return _language_target(value, path)
    keys = path.compound
    if not keys and path.language is not None:
        if path.language == "*":
            return _MISSING
        keys = (path.language,)
    if not keys:
        if kind == JSON_PROPERTY:
            return _OPAQUE, False
        if isinstance(value, dict) and "@value" in value:  # {"@type": "DateTime", "@value": …}
            value = value["@value"]
        return value, kind in (RELATIONSHIP, LIST_RELATIONSHIP)
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return _MISSING
        value = value[key]
    return value, False


def _language_target(language_map: Any, path: AttributePath) -> Any:
    if not isinstance(language_map, dict) or len(path.compound) > 1:
        return _MISSING
    tag = path.language if path.language is not None else (path.compound[0] if path.compound else "*")
    strings: list[Any] = []
    wanted = tag.lower()
    for language, text in language_map.items():
        if tag == "*" or language.lower() == wanted:
            if isinstance(text, list):
                strings.extend(text)
            else:
                strings.append(text)
    if not strings and (path.language is not None or path.compound):
        return _MISSING
    return strings, False


def _instant(member: Any) -> Any:
    """A temporal member as an aware datetime; an unparsable one exists but never compares."""
    if isinstance(member, datetime):
        return member if member.tzinfo is not None else member.replace(tzinfo=UTC)
    if isinstance(member, str):
        parsed = _parse_datetime(member)
        if parsed is not None:
            return parsed
    return _OPAQUE


def _parse_datetime(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


# --- comparing --------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:  # the parsers reject bad patterns (400); a stored one simply never matches
        return None


def _comparison_holds(value: Any, relationship: bool, term: Comparison) -> bool:
    op = term.op
    elements = value if isinstance(value, list) else (value,)
    if op == "~=" or op == "!~=":
        pattern = _compiled(term.value) if isinstance(term.value, str) else None
        strings = [element for element in elements if isinstance(element, str)]
        if pattern is None or not strings:
            return False
        found = any(pattern.search(text) is not None for text in strings)
        return found if op == "~=" else not found
    wanted = term.value
    if op == "==" or op == "!=":
        results = [_equals(element, wanted, relationship) for element in elements]
        if op == "==":
            return True in results
        return False in results and True not in results
    if relationship or isinstance(wanted, Range | tuple):
        return False
    return any(_ordered(element, op, wanted) is True for element in elements)


def _equals(target: Any, wanted: Scalar | Range | tuple[Scalar, ...], relationship: bool) -> bool | None:
    """== for one target element: True, False, or None when the datatypes are not comparable."""
    if isinstance(wanted, Range):
        if relationship:
            return None
        low, high = _ordered(target, ">=", wanted.low), _ordered(target, "<=", wanted.high)
        if low is None or high is None:
            return None
        return low and high
    if isinstance(wanted, tuple):
        outcome = None
        for one in wanted:
            result = _equals(target, one, relationship)
            if result:
                return True
            if result is False:
                outcome = False
        return outcome
    pair = _comparable(target, wanted)
    return None if pair is None else pair[0] == pair[1]


def _ordered(target: Any, op: str, wanted: Any) -> bool | None:
    if isinstance(wanted, bool) or isinstance(target, bool):
        return None
    pair = _comparable(target, wanted)
    return None if pair is None else _ORDERING[op](pair[0], pair[1])


def _comparable(target: Any, wanted: Any) -> tuple[Any, Any] | None:
    """(target, wanted) as two values of one datatype, or None on a datatype mismatch."""
    if isinstance(wanted, bool):
        return (target, wanted) if isinstance(target, bool) else None
    if isinstance(wanted, int | float):
        numeric = isinstance(target, int | float) and not isinstance(target, bool)
        return (target, wanted) if numeric else None
    if isinstance(wanted, str | UriValue):
        text = wanted if isinstance(wanted, str) else wanted.uri
        if isinstance(target, str):
            return target, text
        if isinstance(target, datetime) and isinstance(wanted, str):
            parsed = _parse_datetime(text)
            return None if parsed is None else (target, parsed)
        return None
    if isinstance(wanted, DateTimeValue):
        return _comparable_instants(target, wanted)
    return None


def _comparable_instants(target: Any, wanted: DateTimeValue) -> tuple[Any, Any] | None:
    at = wanted.at if wanted.at.tzinfo is not None else wanted.at.replace(tzinfo=UTC)
    if isinstance(target, datetime):
        return target, at
    if not isinstance(target, str):
        return None
    parsed = _parse_datetime(target)
    return None if parsed is None else (parsed, at)
