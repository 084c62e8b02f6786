"""Entity type selection (4.17): `,`/`|` OR, `;` AND, parentheses, `*`, expansion with the @context."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.ngsild.context import compile_term_map, core_context_document, core_term_map
from broker.ngsild.errors import BadRequestData
from broker.ngsild.query_ast import And, Node, Or, TypeName
from broker.ngsild.typeexpr import parse_type_expression

CORE = core_term_map()
USER = compile_term_map([{"schema": "https://schema.org/", "Car": "https://example.org/Vehicle"}],
                        core_context_document()["@context"])
D = "https://uri.etsi.org/ngsi-ld/default-context/"
A, B, C = TypeName(D + "A"), TypeName(D + "B"), TypeName(D + "C")


@pytest.mark.parametrize(("text", "expected"), [
    ("*", None),
    (" * ", None),
    ("Building", TypeName(D + "Building")),
    ("A,B", Or((A, B))),
    ("A|B", Or((A, B))),
    ("A;B", And((A, B))),
    ("(A;B),C", Or((And((A, B)), C))),
    ("A;B,C", Or((And((A, B)), C))),
    ("A,B;C", Or((A, And((B, C))))),
    ("A;(B|C)", And((A, Or((B, C))))),
    ("A,B|C", Or((A, B, C))),
    ("(A,B),(C)", Or((A, B, C))),
    ("((A))", A),
    (" A , B ", Or((A, B))),
    ("ngsi-ld:Thing", TypeName("https://uri.etsi.org/ngsi-ld/Thing")),
    ("https://example.org/T", TypeName("https://example.org/T")),
    ("urn:x:T", TypeName("urn:x:T")),
])
def test_valid_type_expressions_parse_to_the_exact_ast(text: str, expected: Node | None) -> None:
    assert parse_type_expression(text, CORE) == expected


def test_type_names_expand_with_the_request_context() -> None:
    assert parse_type_expression("Car,schema:Place", USER) == Or((
        TypeName("https://example.org/Vehicle"), TypeName("https://schema.org/Place")))


@pytest.mark.parametrize(("text", "detail"), [
    ("", "type must not be empty"),
    ("A,", "type: expected an entity type or '(', found the end at position 2"),
    (",A", "type: expected an entity type or '(', found ',' at position 0"),
    ("A;;B", "type: expected an entity type or '(', found ';' at position 2"),
    ("A,*", "type: '*' (all types) must stand alone at position 2"),
    ("1A", "type: '1A' is not a valid entity type name at position 0"),
    ("A,B-C", "type: 'B-C' is not a valid entity type name at position 2"),
    ("A B", "type: unexpected 'B' at position 2: expected ';', ',' or '|' or the end"),
    ("(A,B", "type: unbalanced parenthesis at position 0: '(' is never closed"),
    ("A)", "type: unbalanced parenthesis at position 1: ')' closes nothing"),
    ("type", "type: 'type' is not an entity type (it expands to the keyword @type) at position 0"),
    ("(" * 33 + "A" + ")" * 33, "type: parentheses nested deeper than 32 levels at position 32"),
])
def test_invalid_type_expressions_are_bad_request_data_with_the_position(text: str, detail: str) -> None:
    with pytest.raises(BadRequestData) as raised:
        parse_type_expression(text, CORE)
    assert raised.value.detail == detail


def test_the_label_names_where_the_expression_came_from() -> None:
    with pytest.raises(BadRequestData, match=r"^entities\[0\]\.type: '1A'"):
        parse_type_expression("1A", CORE, "entities[0].type")


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(max_size=40), st.lists(st.sampled_from(list("AB_1*,|;() :")), max_size=30).map("".join)))
def test_garbage_type_expressions_never_raise_anything_but_bad_request_data(text: str) -> None:
    try:
        parse_type_expression(text, CORE)
    except BadRequestData as error:
        assert error.detail.startswith("type")
