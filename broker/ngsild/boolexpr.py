"""The boolean skeleton shared by q, scopeQ and type expressions: `;` AND, OR, parentheses (4.9, 4.17, 4.19).

AND binds tighter than OR. Each language supplies a leaf parser that reads one term at a Cursor; this
module owns grouping, bounds (length, nesting) and error positions, so no input can exhaust the stack.
Positions in error details are 0-based character offsets into the parameter's text.
"""

from __future__ import annotations

from collections.abc import Callable

from broker.ngsild.errors import BadRequestData
from broker.ngsild.query_ast import And, Node, Or

MAX_LENGTH = 4000
MAX_DEPTH = 32


class Cursor:
    """A read position in one parameter's text; errors name the parameter (`label`) and the position."""

    __slots__ = ("label", "pos", "text")

    def __init__(self, text: str, label: str) -> None:
        self.text = text
        self.label = label
        self.pos = 0

    def peek(self, offset: int = 0) -> str:
        """The character at pos + offset, or '' past the end."""
        index = self.pos + offset
        return self.text[index] if index < len(self.text) else ""

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def skip_spaces(self) -> None:
        text, pos = self.text, self.pos
        while pos < len(text) and text[pos].isspace():
            pos += 1
        self.pos = pos

    def found(self, at: int | None = None) -> str:
        """What stands at a position, for error details: a quoted character or 'the end'."""
        index = self.pos if at is None else at
        return f"'{self.text[index]}'" if index < len(self.text) else "the end"

    def error(self, message: str, at: int | None = None, detail: str | None = None) -> BadRequestData:
        where = self.pos if at is None else at
        text = f"{self.label}: {message} at position {where}"
        return BadRequestData(f"{text}: {detail}" if detail else text)


Leaf = Callable[[Cursor], Node]


def combine(kind: type[And] | type[Or], terms: list[Node]) -> Node:
    """One node for several terms: a lone term stands alone, nested nodes of the same kind are flattened."""
    flat: list[Node] = []
    for term in terms:
        if isinstance(term, kind):
            flat.extend(term.terms)
        else:
            flat.append(term)
    return flat[0] if len(flat) == 1 else kind(tuple(flat))


def parse_boolean(text: str, label: str, leaf: Leaf, *, or_operators: str, expected: str) -> Node:
    """Parse `text` as leaves joined by `;` (AND) and any of `or_operators` (OR), with parentheses.

    `expected` names a leaf in error details ("a query term"). Longer than MAX_LENGTH characters or
    nested deeper than MAX_DEPTH parentheses is BadRequestData, like any syntax error.
    """
    if not isinstance(text, str):
        raise BadRequestData(f"{label} must be a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise BadRequestData(f"{label}: longer than {MAX_LENGTH} characters ({len(text)})")
    if not text.strip():
        raise BadRequestData(f"{label} must not be empty")
    cursor = Cursor(text, label)
    parser = _Parser(cursor, leaf, or_operators, expected)
    node = parser.expression(0)
    cursor.skip_spaces()
    if not cursor.at_end():
        if cursor.peek() == ")":
            raise cursor.error("unbalanced parenthesis", detail="')' closes nothing")
        raise cursor.error(f"unexpected {cursor.found()}", detail=f"expected ';', {parser.or_names} or the end")
    return node


class _Parser:
    """Recursive descent whose depth is bounded by MAX_DEPTH (three frames per parenthesis level)."""

    def __init__(self, cursor: Cursor, leaf: Leaf, or_operators: str, expected: str) -> None:
        self.cursor = cursor
        self.leaf = leaf
        self.or_operators = or_operators
        self.or_names = " or ".join(f"'{op}'" for op in or_operators)
        self.expected = expected

    def expression(self, depth: int) -> Node:
        cursor = self.cursor
        terms = [self.conjunction(depth)]
        while True:
            cursor.skip_spaces()
            if cursor.peek() == "" or cursor.peek() not in self.or_operators:
                return combine(Or, terms)
            cursor.pos += 1
            terms.append(self.conjunction(depth))

    def conjunction(self, depth: int) -> Node:
        cursor = self.cursor
        terms = [self.primary(depth)]
        while True:
            cursor.skip_spaces()
            if cursor.peek() != ";":
                return combine(And, terms)
            cursor.pos += 1
            terms.append(self.primary(depth))

    def primary(self, depth: int) -> Node:
        cursor = self.cursor
        cursor.skip_spaces()
        char = cursor.peek()
        if char == "(":
            opening = cursor.pos
            if depth >= MAX_DEPTH:
                raise cursor.error(f"parentheses nested deeper than {MAX_DEPTH} levels")
            cursor.pos += 1
            node = self.expression(depth + 1)
            cursor.skip_spaces()
            if cursor.at_end():
                raise cursor.error("unbalanced parenthesis", at=opening, detail="'(' is never closed")
            if cursor.peek() != ")":
                raise cursor.error(f"unexpected {cursor.found()}", detail=f"expected ';', {self.or_names} or ')'")
            cursor.pos += 1
            return node
        if char == "" or char == ";" or char == ")" or char in self.or_operators:
            raise cursor.error(f"expected {self.expected}, found {cursor.found()}")
        return self.leaf(cursor)
