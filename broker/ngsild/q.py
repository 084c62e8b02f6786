"""The NGSI-LD Query Language (`q`) parsed into the query AST (GS CIM 009 clause 4.9).

Grammar as implemented (AND `;` binds tighter than OR `|`; spaces between tokens are ignored):

    term   = "!" path | path [op value]
    path   = name *("." name) *("[" key "]")       ; name: is_valid_name, expanded; key: not expanded
    op     = "==" / "!=" / ">" / ">=" / "<" / "<=" / "~=" / "!~="
    value  = scalar / scalar ".." scalar / scalar 1*("," scalar)   ; range and list: == and != only
    scalar = number / "quoted string" / true / false / DateTime / Date / Time / URI

Decisions on points the spec leaves open:
- Unquoted values end at `;` `|` `)` `,` `"` or a space; a URI holding those characters must be quoted.
  A quoted value is always a str (a quoted DateTime or URI included); `\\"` and `\\\\` are its escapes.
- An unquoted DateTime becomes a DateTimeValue; Date (`2026-01-01`) and Time (`12:00:00Z`) stay str.
- The `~=`/`!~=` pattern is quoted (only `\\"` is unescaped) or unquoted; an unquoted pattern runs to the
  first `;`, `|` or unbalanced `)` outside its own groups and classes, so `a~=x|y` is "x" OR `y`: write
  `a~=(x|y)` or quote it. Patterns are checked with Python's `re` and limited to 256 characters.
- `attr[key]`: one bracket is either a LanguageProperty tag or a compound key, and the grammar cannot
  tell which. So compound=(key,) always, and language=key as well when key looks like a BCP 47 tag or
  `*`; the store matches either a languageMap entry or the compound member.
- Names are terms or compact IRIs; absolute IRIs (with `.` and `/`) cannot be written in a path.
- Linked-entity paths (`rel{attr}`) need `join`, which is not supported: BadRequestData.
"""

from __future__ import annotations

import math
import re
from datetime import date

from broker.ngsild.boolexpr import Cursor, parse_boolean
from broker.ngsild.context import TermMap
from broker.ngsild.errors import BadRequestData
from broker.ngsild.names import is_uri, is_valid_name, parse_datetime
from broker.ngsild.query_ast import (
    INSTANCE_MEMBER_TARGETS,
    SYSTEM_TARGETS,
    And,
    AttributePath,
    Comparison,
    DateTimeValue,
    Exists,
    Node,
    Operator,
    Or,
    Range,
    Scalar,
    UriValue,
)

MAX_PATTERN_LENGTH = 256

#: longest first, so that ">=" is not read as ">" followed by "="
_OPERATORS: tuple[Operator, ...] = ("!~=", "==", "!=", ">=", "<=", "~=", ">", "<")
_OPERATOR_CHARS = frozenset("=!<>~")
_EQUALITY = frozenset({"==", "!="})
_NAME_STOP = frozenset('.[]=!<>~;|(),"{}')
_VALUE_STOP = frozenset(';|),"')
_LANGUAGE_TAG = re.compile(r"(?:[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*|\*)", re.ASCII)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?", re.ASCII)
_DATETIME_LIKE = re.compile(r"\d{4}-\d{2}-\d{2}T", re.ASCII)
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)
_TIME = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,9})?Z?", re.ASCII)


def parse_q(text: str, terms: TermMap) -> Node:
    """The AST of a q expression with expanded names; any syntax error is BadRequestData with its position."""
    return parse_boolean(text, "q", lambda cursor: _term(cursor, terms), or_operators="|",
                         expected="an attribute name, '!' or '('")


def parse_attribute_path(text: str, terms: TermMap, label: str) -> AttributePath:
    """A whole text as one q attribute path (`attr`, `attr.sub`, `attr[key]`, `createdAt`), e.g. for orderBy."""
    cursor = Cursor(text, label)
    path = _path(cursor, terms)
    if not cursor.at_end():
        raise cursor.error(f"unexpected {cursor.found()} after the attribute path")
    return path


def is_system_only(node: Node) -> bool:
    """True if no term of a q AST addresses an attribute (only createdAt, modifiedAt, … ): 5.7.2.4."""
    stack: list[Node] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Comparison | Exists):
            if not current.path.system:
                return False
        elif isinstance(current, And | Or):
            stack.extend(current.terms)
    return True


# --- terms ------------------------------------------------------------------------------------


def _term(cursor: Cursor, terms: TermMap) -> Node:
    negated = cursor.peek() == "!"
    if negated:
        cursor.pos += 1
    path = _path(cursor, terms)
    cursor.skip_spaces()
    if cursor.at_end() or cursor.peek() in ";|)":
        return Exists(path, negated)
    at = cursor.pos
    operator = _operator(cursor)
    if negated:
        raise cursor.error(f"'!' before an attribute tests that it does not exist; it cannot take '{operator}'",
                           at=at)
    cursor.skip_spaces()
    if operator in ("~=", "!~="):
        return Comparison(path, operator, _pattern(cursor))
    return Comparison(path, operator, _value(cursor, operator))


def _path(cursor: Cursor, terms: TermMap) -> AttributePath:
    names = [_name(cursor)]
    while cursor.peek() == ".":
        cursor.pos += 1
        names.append(_name(cursor))
    keys: list[str] = []
    while cursor.peek() == "[":
        opening = cursor.pos
        end = cursor.text.find("]", opening + 1)
        nested = cursor.text.find("[", opening + 1)
        if end < 0 or 0 <= nested < end:
            raise cursor.error("'[' is never closed", at=opening)
        key = cursor.text[opening + 1:end]
        if not key.strip():
            raise cursor.error("empty '[]'", at=opening)
        keys.append(key)
        cursor.pos = end + 1
    if cursor.peek() == "{":
        raise cursor.error("linked-entity paths (rel{attr}) need join, which this broker does not support")
    return _attribute_path(cursor, names, keys, terms)


def _name(cursor: Cursor) -> tuple[str, int]:
    start = cursor.pos
    text = cursor.text
    end = start
    while end < len(text) and text[end] not in _NAME_STOP and not text[end].isspace():
        end += 1
    name = text[start:end]
    if not name:
        raise cursor.error(f"expected an attribute name, found {cursor.found()}")
    if not is_valid_name(name):
        raise cursor.error(f"'{name}' is not a valid attribute name", at=start)
    cursor.pos = end
    return name, start


def _attribute_path(cursor: Cursor, names: list[tuple[str, int]], keys: list[str], terms: TermMap) -> AttributePath:
    (first, at), rest = names[0], names[1:]
    if first in SYSTEM_TARGETS:
        if rest or keys:
            raise cursor.error(f"'{first}' is an entity member: it has no sub-attributes or keys", at=at)
        return AttributePath(attribute=first, system=True)
    sub = []
    for index, (name, position) in enumerate(rest):
        last = index == len(rest) - 1
        sub.append(name if last and name in INSTANCE_MEMBER_TARGETS else _expand(cursor, name, position, terms))
    language = keys[0] if len(keys) == 1 and _LANGUAGE_TAG.fullmatch(keys[0]) else None
    return AttributePath(attribute=_expand(cursor, first, at, terms), sub=tuple(sub), compound=tuple(keys),
                         language=language)


def _expand(cursor: Cursor, name: str, at: int, terms: TermMap) -> str:
    expanded = terms.expand(name)
    if expanded.startswith("@"):  # `id`, `type`: JSON-LD keywords, not attributes
        raise cursor.error(f"'{name}' is not an attribute (it expands to the keyword {expanded})", at=at)
    return expanded


def _operator(cursor: Cursor) -> Operator:
    start = end = cursor.pos
    while end < len(cursor.text) and cursor.text[end] in _OPERATOR_CHARS:
        end += 1
    run = cursor.text[start:end]
    for operator in _OPERATORS:
        # no value starts with = ! < > ~, so `<>` or `===` is a wrong operator; a pattern may, though
        if run.startswith(operator) and (run == operator or operator in ("~=", "!~=")):
            cursor.pos += len(operator)
            return operator
    if run:
        raise cursor.error(f"unknown operator '{run}'")
    raise cursor.error(f"unexpected {cursor.found()}",
                       detail="expected an operator (==, !=, >, >=, <, <=, ~=, !~=), ';', '|' or ')'")


# --- values -----------------------------------------------------------------------------------


def _value(cursor: Cursor, operator: Operator) -> Scalar | Range | tuple[Scalar, ...]:
    start = cursor.pos
    first = _scalar(cursor)
    if cursor.text.startswith("..", cursor.pos):
        if operator not in _EQUALITY:
            raise cursor.error(f"a range is only allowed with == and !=, not '{operator}'", at=start)
        cursor.pos += 2
        second = _scalar(cursor)
        _check_range(cursor, first, second, start)
        if cursor.text.startswith("..", cursor.pos):
            raise cursor.error("a range has exactly two bounds")
        return Range(first, second)
    if cursor.peek() == ",":
        if operator not in _EQUALITY:
            raise cursor.error(f"a value list is only allowed with == and !=, not '{operator}'", at=start)
        values = [first]
        while cursor.peek() == ",":
            cursor.pos += 1
            cursor.skip_spaces()
            values.append(_scalar(cursor))
            if cursor.text.startswith("..", cursor.pos):
                raise cursor.error("a value list cannot hold ranges")
        return tuple(values)
    if operator not in _EQUALITY and (isinstance(first, bool | UriValue)):
        raise cursor.error(f"'{operator}' compares numbers, strings and DateTimes only", at=start)
    return first


def _check_range(cursor: Cursor, low: Scalar, high: Scalar, at: int) -> None:
    def kind(value: Scalar) -> str:
        if isinstance(value, bool | UriValue):
            return "other"
        return "number" if isinstance(value, int | float) else type(value).__name__

    if kind(low) == "other" or kind(high) == "other":
        raise cursor.error("range bounds must be numbers, strings or DateTimes", at=at)
    if kind(low) != kind(high):
        raise cursor.error("both range bounds must be of the same kind", at=at)


def _scalar(cursor: Cursor) -> Scalar:
    start = cursor.pos
    if cursor.peek() == '"':
        return _quoted(cursor, pattern=False)
    text = cursor.text
    end = start
    while end < len(text) and text[end] not in _VALUE_STOP and not text[end].isspace():
        end += 1
    atom = text[start:end]
    if ".." in atom and not is_uri(atom):
        atom = atom[:atom.index("..")]  # a range: `1..5`, `2026-01-01T00:00:00Z..2026-02-01T00:00:00Z`
    if not atom:
        raise cursor.error(f"expected a value, found {cursor.found()}")
    cursor.pos = start + len(atom)
    return _unquoted(cursor, atom, start)


def _unquoted(cursor: Cursor, atom: str, at: int) -> Scalar:
    if atom in ("true", "false"):
        return atom == "true"
    if _NUMBER.fullmatch(atom):
        if "." not in atom and "e" not in atom and "E" not in atom:
            return int(atom)
        number = float(atom)
        if not math.isfinite(number):
            raise cursor.error(f"number '{atom}' is out of range", at=at)
        return number
    if _DATETIME_LIKE.match(atom):
        try:
            return DateTimeValue(atom, parse_datetime(atom, "q"))
        except BadRequestData:
            raise cursor.error(f"'{atom}' is not a valid DateTime", at=at,
                               detail="use YYYY-MM-DDThh:mm:ss[.fraction]Z") from None
    if match := _DATE.fullmatch(atom):
        try:
            date(*(int(part) for part in match.groups()))
        except ValueError:
            raise cursor.error(f"'{atom}' is not a valid Date", at=at) from None
        return atom
    if _TIME.fullmatch(atom):
        return atom
    if is_uri(atom):
        return UriValue(atom)
    raise cursor.error(f"'{atom}' is not a value", at=at,
                       detail='strings are quoted ("…"); unquoted values are numbers, true, false, '
                              "DateTimes, Dates, Times and URIs")


def _quoted(cursor: Cursor, *, pattern: bool) -> str:
    """A double-quoted text: `\\"` is a quote; in a string `\\\\` is a backslash, in a pattern it stays."""
    text, start = cursor.text, cursor.pos
    pos = start + 1
    parts: list[str] = []
    while pos < len(text):
        char = text[pos]
        if char == "\\" and pos + 1 < len(text):
            following = text[pos + 1]
            if following == '"' or (following == "\\" and not pattern):
                parts.append(following)
            else:
                parts.append(char + following)
            pos += 2
        elif char == '"':
            cursor.pos = pos + 1
            return "".join(parts)
        else:
            parts.append(char)
            pos += 1
    raise cursor.error("unterminated string", at=start, detail="'\"' is never closed")


def _pattern(cursor: Cursor) -> str:
    start = cursor.pos
    pattern = _quoted(cursor, pattern=True) if cursor.peek() == '"' else _unquoted_pattern(cursor)
    if not pattern:
        raise cursor.error("expected a regular expression", at=start)
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise cursor.error(f"the regular expression is longer than {MAX_PATTERN_LENGTH} characters", at=start)
    try:
        re.compile(pattern)
    except (re.error, RecursionError, OverflowError, ValueError) as exc:
        raise cursor.error("invalid regular expression", at=start, detail=str(exc)) from None
    return pattern


def _unquoted_pattern(cursor: Cursor) -> str:
    """Up to the first `;`, `|` or `)` that belongs to q rather than to the pattern's groups or classes."""
    text, start = cursor.text, cursor.pos
    pos, depth, in_class = start, 0, False
    while pos < len(text):
        char = text[pos]
        if char == "\\":
            pos += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            if text.startswith("^", pos + 1):
                pos += 1
            if text.startswith("]", pos + 1):
                pos += 1  # `[]…]` and `[^]…]`: a leading ']' is a literal
        elif char == "(":
            depth += 1
        elif char == ")":
            if depth == 0:
                break
            depth -= 1
        elif char in ";|" and depth == 0:
            break
        pos += 1
    pos = min(pos, len(text))
    cursor.pos = pos
    return text[start:pos].rstrip()
