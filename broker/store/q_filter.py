"""q (GS CIM 009 4.9) as MongoDB conditions on the entity document, and the boolean glue they share.

How the spec's rules map onto the document (broker/store/documents.py):
- A term on an attribute is `{attrNames: <name>, attrs.<name>: {$elemMatch: …}}`. $elemMatch makes
  every part of the term hold within ONE instance (a range on one value, a type guard on the
  same instance), and any instance matching is enough (multi-attribute instances). The redundant
  `attrNames` conjunct is there for the index: it lets the multikey attrNames index drive every
  positive term (SecantusDB's executor and MongoDB's planner both pick it up).
- The target is a Property `value`, a Relationship `object`, a VocabProperty `vocab` or a
  LanguageProperty's strings (any language unless `[tag]` names one); each candidate is guarded by
  the instance's attribute type. Ordering operators and patterns never consider Relationships.
- Datatype mismatch never matches: MongoDB's comparison operators only compare values of one type
  bracket, and `!=` / `!~=` carry an explicit `$type` guard (they are `$nor` of the positive test).
- An array value matches `==` if any element does; a multi-operator test (a range) must hold for
  one element (`$elemMatch`) or for the scalar itself.
- DateTimes compare as BSON dates against createdAt/modifiedAt, and as ISO text against strings
  (observedAt, string values): see _iso_text_tests for the whole-second case.
- SecantusDB 0.7.0b3 rejects `$or`/`$and` as the only keys of an `$elemMatch` criteria (it parses
  them as value operators), so every criteria carries a plain field key (the type guard).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from broker.ngsild.model import LANGUAGE_PROPERTY, PROPERTY, RELATIONSHIP, VOCAB_PROPERTY
from broker.ngsild.query_ast import (
    INSTANCE_MEMBER_TARGETS,
    And,
    AttributePath,
    Comparison,
    DateTimeValue,
    Exists,
    Node,
    Or,
    Range,
    Scalar,
    UriValue,
)
from broker.store.documents import LANG_VALUES, attrs_path, encode_key

Filter = dict[str, Any]

#: a filter no document matches (an empty `$in` is index-backed and cheap)
NOTHING: Filter = {"_id": {"$in": []}}

_MONGO_OPS = {"==": "$eq", ">": "$gt", ">=": "$gte", "<": "$lt", "<=": "$lte"}
_NEGATED = {"!=": "==", "!~=": "~="}
#: members stored as BSON dates (entity and instance level); other members are strings
DATE_MEMBERS = frozenset({"createdAt", "modifiedAt"})
_BSON_TYPES = {"number": "number", "bool": "bool", "string": "string", "uri": "string",
               "datetime": "string"}


# --- boolean glue -------------------------------------------------------------------------------


def conjoin(clauses: Iterable[Filter]) -> Filter:
    """AND of filters, kept flat: SecantusDB plans only top-level field conditions (any top-level
    `$and`/`$or` makes it scan), and a flat filter reads better in explain output."""
    merged: Filter = {}
    rest: list[Filter] = []
    for clause in clauses:
        for key, condition in clause.items():
            if key == "$and":
                rest.extend(condition)
            elif key not in merged:
                merged[key] = condition
            else:
                combined = _merge(key, merged[key], condition)
                if combined is None:
                    rest.append({key: condition})
                else:
                    merged[key] = combined
    if rest:
        merged["$and"] = rest
    return merged


def disjoin(branches: Iterable[Filter]) -> Filter:
    """OR of filters; equalities on one field become `$in`, patterns on one field one regex."""
    flat: list[Filter] = []
    for branch in branches:
        if not branch:
            return {}
        if branch == NOTHING:
            continue
        flat.extend(branch["$or"] if list(branch) == ["$or"] else [branch])
    if not flat:
        return dict(NOTHING)
    if len(flat) == 1:
        return flat[0]
    keys = {next(iter(b)) for b in flat if len(b) == 1}
    if len(keys) == 1 and all(len(b) == 1 for b in flat) and not next(iter(keys)).startswith("$"):
        key = next(iter(keys))
        values = [b[key] for b in flat]
        if all(isinstance(v, str) for v in values):
            return {key: {"$in": list(dict.fromkeys(values))}}
        if all(isinstance(v, dict) and list(v) == ["$regex"] for v in values):
            return {key: {"$regex": "|".join(f"(?:{v['$regex']})" for v in values)}}
    return {"$or": flat}


def _merge(key: str, a: Any, b: Any) -> Any:
    if key == "$nor":
        return [*a, *b]
    if key.startswith("$"):
        return None
    a, b = _as_operators(a), _as_operators(b)
    if a is None or b is None or any(op.startswith("$geo") or op == "$nearSphere" for op in (*a, *b)):
        return None
    merged = dict(a)
    for op, operand in b.items():
        if op not in merged:
            merged[op] = operand
        elif op in ("$all", "$nin"):
            merged[op] = [*merged[op], *operand]
        else:
            return None
    return merged


def _as_operators(condition: Any) -> dict[str, Any] | None:
    if isinstance(condition, str):
        return {"$all": [condition]}  # equality on an array field (type, attrNames) = contains
    if isinstance(condition, dict) and condition and all(k.startswith("$") for k in condition):
        return condition
    return None


# --- q --------------------------------------------------------------------------------------------


def q_filter(node: Node) -> Filter:
    """The MongoDB filter for a q expression."""
    if isinstance(node, And):
        return conjoin(q_filter(term) for term in node.terms)
    if isinstance(node, Or):
        return disjoin(q_filter(term) for term in node.terms)
    if isinstance(node, Comparison):
        return _comparison(node)
    if isinstance(node, Exists):
        return _exists(node)
    raise TypeError(f"not a q node: {node!r}")


def _comparison(term: Comparison) -> Filter:
    path = term.path
    if path.system:
        if path.attribute not in DATE_MEMBERS:
            return dict(NOTHING)  # observedAt/deletedAt are not entity-level fields here
        return _member_test(path.attribute, term.op, term.value, date=True, scalar=True) or dict(NOTHING)
    prefix, member = split_sub(path)
    if member is not None:
        slots: list[tuple[str | None, str]] = [(None, prefix + member)]
    else:
        slots = _value_slots(path, prefix, term)
    tests: list[Filter] = []
    for attribute_type, target in slots:
        test = _member_test(target, term.op, term.value, date=member in DATE_MEMBERS, scalar=member is not None)
        if test is not None:
            tests.append({prefix + "type": attribute_type, **test} if attribute_type else test)
    if not tests:
        return dict(NOTHING)
    criteria = _guarded(disjoin(tests), prefix + "type")
    return {"attrNames": path.attribute, attrs_path(path.attribute): {"$elemMatch": criteria}}


def _exists(term: Exists) -> Filter:
    path = term.path
    if path.system:
        present = path.attribute in DATE_MEMBERS
        return {} if present != term.negated else dict(NOTHING)
    prefix, member = split_sub(path)
    if member is not None:
        targets = [prefix + member]
    elif path.language is not None or path.compound:
        targets = [target for _type, target in _addressed_slots(path, prefix)]
        if path.language == "*":
            targets = [prefix + "languageMap"]
    elif prefix:
        targets = [prefix.rstrip(".")]
    else:
        return {"attrNames": {"$ne": path.attribute} if term.negated else path.attribute}
    criteria = _guarded(disjoin({target: {"$exists": True}} for target in targets), prefix + "type")
    found = {attrs_path(path.attribute): {"$elemMatch": criteria}}
    return {"$nor": [found]} if term.negated else {"attrNames": path.attribute, **found}


def split_sub(path: AttributePath) -> tuple[str, str | None]:
    """(path prefix of the addressed sub-attribute inside an instance, trailing instance member)."""
    subs = list(path.sub)
    member = subs.pop() if subs and subs[-1] in INSTANCE_MEMBER_TARGETS else None
    return "".join(f"attrs.{encode_key(name)}." for name in subs), member


def _addressed_slots(path: AttributePath, prefix: str) -> list[tuple[str, str]]:
    """(attribute type, member path) a bracketed path can address."""
    if path.language is not None and (not path.compound or path.compound == (path.language,)):
        if path.language == "*":
            return [(LANGUAGE_PROPERTY, prefix + LANG_VALUES)]
        # `[en]` is both a language and a compound key: the parser cannot tell them apart
        return [(LANGUAGE_PROPERTY, f"{prefix}languageMap.{path.language}"),
                (PROPERTY, f"{prefix}value.{path.language}")]
    return [(PROPERTY, prefix + "value." + ".".join(path.compound))]


def _value_slots(path: AttributePath, prefix: str, term: Comparison) -> list[tuple[str | None, str]]:
    kinds = _kinds(term.value)
    if term.op in ("~=", "!~="):
        kinds = {"string"}
    ordering = term.op not in ("==", "!=")
    if path.language is not None or path.compound:
        slots: list[tuple[str | None, str]] = list(_addressed_slots(path, prefix))
    else:
        slots = [(PROPERTY, prefix + "value"), (RELATIONSHIP, prefix + "object"),
                 (VOCAB_PROPERTY, prefix + "vocab"), (LANGUAGE_PROPERTY, prefix + LANG_VALUES)]
        if "datetime" in kinds:
            slots.append((PROPERTY, prefix + "value.@value"))  # {"@type": "DateTime", "@value": …}
    stringy = bool(kinds & {"string", "uri"})
    kept = []
    for _type, target in slots:
        if _type in (RELATIONSHIP, VOCAB_PROPERTY) and (ordering or not stringy):
            continue
        if _type == LANGUAGE_PROPERTY and not stringy:
            continue
        if target.endswith("@value") and "datetime" not in kinds:
            continue
        kept.append((_type, target))
    return kept


def _guarded(criteria: Filter, field: str) -> Filter:
    """Criteria with at least one plain field key (see the module docstring on SecantusDB)."""
    if all(key.startswith("$") for key in criteria):
        return {field: {"$exists": True}, **criteria}
    return criteria


# --- one member, one operator ---------------------------------------------------------------------


def _member_test(target: str, op: str, value: Any, *, date: bool, scalar: bool) -> Filter | None:
    """The condition `target op value` on one member path; None when no value of it can match."""
    positive_op = _NEGATED.get(op, op)
    tests = _positive_tests(positive_op, value, date)
    if not tests:
        return None
    positive = disjoin(_within_one(target, test, scalar) for test in tests)
    if positive_op == op:
        return positive
    bson_types = ["date"] if date else sorted({_BSON_TYPES[k] for k in _kinds(value)} or {"string"})
    type_guard = bson_types[0] if len(bson_types) == 1 else bson_types
    if list(positive) == [target] and len(tests) == 1:
        return {target: {"$type": type_guard, "$not": tests[0]}}
    return {target: {"$type": type_guard}, "$nor": [positive]}


def _within_one(target: str, test: dict[str, Any], scalar: bool) -> Filter:
    if len(test) == 1 or scalar:
        return {target: test}
    # several operators must hold for one array element, or for the value if it is no array
    return {"$or": [{target: {"$elemMatch": test}}, {target: {**test, "$not": {"$type": "array"}}}]}


def _positive_tests(op: str, value: Any, date: bool) -> list[dict[str, Any]]:
    """Operator documents, any of which matching means `op value` holds."""
    if op == "~=":
        return [{"$regex": value}] if isinstance(value, str) and not date else []
    if isinstance(value, Range):
        lows, highs = _positive_tests(">=", value.low, date), _positive_tests("<=", value.high, date)
        return [{**low, **high} for low in lows for high in highs]
    if isinstance(value, tuple):
        tests = [test for item in value for test in _positive_tests("==", item, date)]
        plain = [t["$eq"] for t in tests if list(t) == ["$eq"]]
        other = [t for t in tests if list(t) != ["$eq"]]
        return ([{"$in": plain}] if plain else []) + other
    operand = _operand(value, date)
    if operand is None:
        return []
    if isinstance(value, DateTimeValue) and not date:
        return _iso_text_tests(op, value.at)
    return [{_MONGO_OPS[op]: operand}]


def _operand(value: Scalar, date: bool) -> Any:
    if date:
        if isinstance(value, DateTimeValue):
            return value.at
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value)
            except ValueError:
                return None
        return None
    if isinstance(value, UriValue):
        return value.uri
    if isinstance(value, DateTimeValue):
        return value.text
    return value


def _iso_text_tests(op: str, at: datetime) -> list[dict[str, Any]]:
    """`op at` against ISO 8601 strings ending in Z, as text.

    Text order is time order for strings of one precision. The one common mix that breaks it is a
    whole-second string ("…:05Z") next to millisecond ones ("…:05.250Z"): "Z" sorts after every
    digit, so "…:05Z" looks later than "…:05.250Z". The query is rendered with milliseconds and the
    whole-second spelling of the same second is added or excluded explicitly. Other precisions
    (microseconds, one digit) compare as text.
    """
    at = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
    second = at.strftime("%Y-%m-%dT%H:%M:%S")
    millis = f"{second}.{at.microsecond // 1000:03d}Z"
    whole = f"{second}Z"
    exact = at.microsecond // 1000 == 0
    if op == "==":
        return [{"$in": [millis, whole]}] if exact else [{"$eq": millis}]
    if op == ">":
        return [{"$gt": millis, "$ne": whole}]
    if op == ">=":
        return [{"$gte": millis}] if exact else [{"$gte": millis, "$ne": whole}]
    if op == "<":
        return [{"$lt": millis}] if exact else [{"$lt": millis}, {"$eq": whole}]
    return [{"$lte": millis}, {"$eq": whole}]  # <=


def _kinds(value: Any) -> set[str]:
    if isinstance(value, Range):
        return _kinds(value.low) | _kinds(value.high)
    if isinstance(value, tuple):
        return set().union(*(_kinds(item) for item in value))
    if isinstance(value, bool):
        return {"bool"}
    if isinstance(value, int | float):
        return {"number"}
    if isinstance(value, UriValue):
        return {"uri"}
    if isinstance(value, DateTimeValue):
        return {"datetime"}
    return {"string"}
