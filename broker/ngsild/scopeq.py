"""The scope query language (`scopeQ`) and scope pattern matching (GS CIM 009 clause 4.19).

A pattern is a scope whose levels may be `+` (exactly one level) and whose last level may be `#` (that
level and everything below it: `/A/#` matches `/A`, `/A/B`, `/A/B/C`); `/#` matches every scope.
`,` and `|` are OR, `;` is AND (the entity has scopes matching each side), parentheses group.
Decision: the leading `/` is optional in scopes (4.18 ABNF) and is not significant, so `/A/B` and
`A/B` name the same scope in both patterns and entities.
"""

from __future__ import annotations

import re
from functools import lru_cache

from broker.ngsild.boolexpr import Cursor, parse_boolean
from broker.ngsild.errors import BadRequestData
from broker.ngsild.query_ast import And, Node, Or, ScopeMatch

_LEVEL = r"(?:[\w\-]+|\+)"
_PATTERN = re.compile(rf"^/?(?:#|{_LEVEL}(?:/{_LEVEL})*(?:/#)?)$")
_PATTERN_STOP = frozenset(",|;()")


def parse_scope_q(text: str) -> Node:
    """The AST of a scopeQ over ScopeMatch leaves; a syntax error is BadRequestData with its position."""
    return parse_boolean(text, "scopeQ", _scope_pattern, or_operators=",|", expected="a scope pattern or '('")


def _scope_pattern(cursor: Cursor) -> ScopeMatch:
    text, start = cursor.text, cursor.pos
    end = start
    while end < len(text) and text[end] not in _PATTERN_STOP and not text[end].isspace():
        end += 1
    pattern = text[start:end]
    if not _PATTERN.fullmatch(pattern):
        raise cursor.error(f"'{pattern}' is not a scope pattern", at=start,
                           detail="use levels of letters, digits, '_' or '-', '+' for one level, "
                                  "and a final '#' for all levels below (e.g. /Madrid/+/Parks, /CompanyA/#)")
    cursor.pos = end
    return ScopeMatch(pattern)


def scope_regex(pattern: str) -> str:
    """An anchored regular expression (Python and PCRE alike) matching the scopes a pattern matches."""
    if not isinstance(pattern, str) or not _PATTERN.fullmatch(pattern):
        raise BadRequestData(f"scopeQ: {pattern!r} is not a scope pattern")
    levels = pattern.lstrip("/").split("/")
    if levels == ["#"]:
        return r"^/?[^/]+(?:/[^/]+)*$"
    rest = ""
    if levels[-1] == "#":
        levels.pop()
        rest = r"(?:/[^/]+)*"
    body = "/".join("[^/]+" if level == "+" else re.escape(level) for level in levels)
    return f"^/?{body}{rest}$"


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(scope_regex(pattern))


def scope_matches(pattern: str, scopes: list[str]) -> bool:
    """True if any of an entity's scopes matches the pattern."""
    compiled = _compiled(pattern)
    return any(isinstance(scope, str) and compiled.fullmatch(scope) for scope in scopes)


def scope_q_matches(node: Node, scopes: list[str]) -> bool:
    """Evaluate a parsed scopeQ against an entity's scopes (no scope matches no pattern)."""
    if isinstance(node, ScopeMatch):
        return scope_matches(node.pattern, scopes)
    if isinstance(node, And):
        return all(scope_q_matches(term, scopes) for term in node.terms)
    if isinstance(node, Or):
        return any(scope_q_matches(term, scopes) for term in node.terms)
    raise TypeError(f"not a scopeQ node: {node!r}")
