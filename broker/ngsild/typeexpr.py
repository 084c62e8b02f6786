"""Entity type selection expressions (`type` parameter, EntitySelector.type) into the AST (GS CIM 009 4.17).

`,` and `|` are OR, `;` is AND (the entity has both types), parentheses group: `(A;B),C`. Names are
validated and expanded with the request @context. `*` alone means every type and parses to None;
inside a larger expression it is an error.
"""

from __future__ import annotations

from broker.ngsild.boolexpr import Cursor, parse_boolean
from broker.ngsild.context import TermMap
from broker.ngsild.names import is_valid_name
from broker.ngsild.query_ast import Node, TypeName

ALL_TYPES = "*"
_NAME_STOP = frozenset(",|;()")


def parse_type_expression(text: str, terms: TermMap, label: str = "type") -> Node | None:
    """The AST over TypeName leaves, or None for `*`; invalid text is BadRequestData naming `label`."""
    if isinstance(text, str) and text.strip() == ALL_TYPES:
        return None
    return parse_boolean(text, label, lambda cursor: _type_name(cursor, terms), or_operators=",|",
                         expected="an entity type or '('")


def _type_name(cursor: Cursor, terms: TermMap) -> TypeName:
    text, start = cursor.text, cursor.pos
    end = start
    while end < len(text) and text[end] not in _NAME_STOP and not text[end].isspace():
        end += 1
    name = text[start:end]
    if name == ALL_TYPES:
        raise cursor.error("'*' (all types) must stand alone", at=start)
    if not is_valid_name(name):
        raise cursor.error(f"'{name}' is not a valid entity type name", at=start)
    expanded = terms.expand(name)
    if expanded.startswith("@"):
        raise cursor.error(f"'{name}' is not an entity type (it expands to the keyword {expanded})", at=start)
    cursor.pos = end
    return TypeName(expanded)
