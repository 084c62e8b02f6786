"""scopeQ (4.19): patterns with + and #, OR (`,` `|`), AND (`;`), parentheses; matching and regexes."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.ngsild.boolexpr import combine
from broker.ngsild.errors import BadRequestData
from broker.ngsild.query_ast import And, Node, Or, ScopeMatch
from broker.ngsild.scopeq import parse_scope_q, scope_matches, scope_q_matches, scope_regex

A, B, C = ScopeMatch("/A"), ScopeMatch("/B"), ScopeMatch("/C")
HINT = (": use levels of letters, digits, '_' or '-', '+' for one level, and a final '#' for all levels below "
        "(e.g. /Madrid/+/Parks, /CompanyA/#)")


@pytest.mark.parametrize(("text", "expected"), [
    ("/Madrid", ScopeMatch("/Madrid")),
    ("/Madrid/Gardens/ParqueNorte", ScopeMatch("/Madrid/Gardens/ParqueNorte")),
    ("/Madrid/+/ParqueNorte", ScopeMatch("/Madrid/+/ParqueNorte")),
    ("/CompanyA/#", ScopeMatch("/CompanyA/#")),
    ("/+/#", ScopeMatch("/+/#")),
    ("/#", ScopeMatch("/#")),
    ("#", ScopeMatch("#")),
    ("Madrid/Gardens", ScopeMatch("Madrid/Gardens")),
    ("/a_b-c/1", ScopeMatch("/a_b-c/1")),
    ("/東京/渋谷", ScopeMatch("/東京/渋谷")),
    ("/A,/B", Or((A, B))),
    ("/A|/B", Or((A, B))),
    ("/A;/B", And((A, B))),
    ("/A,/B;/C", Or((A, And((B, C))))),
    ("/A;/B|/C", Or((And((A, B)), C))),
    ("(/A;/B)|/C", Or((And((A, B)), C))),
    ("/A;(/B,/C)", And((A, Or((B, C))))),
    ("/A,/B|/C", Or((A, B, C))),
    ("((/A))", A),
    (" /A ; /B ", And((A, B))),
])
def test_valid_scope_q_parses_to_the_exact_ast(text: str, expected: Node) -> None:
    assert parse_scope_q(text) == expected


@pytest.mark.parametrize(("text", "detail"), [
    ("", "scopeQ must not be empty"),
    ("/", "scopeQ: '/' is not a scope pattern at position 0" + HINT),
    ("/A/", "scopeQ: '/A/' is not a scope pattern at position 0" + HINT),
    ("//A", "scopeQ: '//A' is not a scope pattern at position 0" + HINT),
    ("/A/#/B", "scopeQ: '/A/#/B' is not a scope pattern at position 0" + HINT),
    ("/A#", "scopeQ: '/A#' is not a scope pattern at position 0" + HINT),
    ("/A/+x", "scopeQ: '/A/+x' is not a scope pattern at position 0" + HINT),
    ("/A.B", "scopeQ: '/A.B' is not a scope pattern at position 0" + HINT),
    ("/A;/B*", "scopeQ: '/B*' is not a scope pattern at position 3" + HINT),
    ("/A;", "scopeQ: expected a scope pattern or '(', found the end at position 3"),
    ("/A,,/B", "scopeQ: expected a scope pattern or '(', found ',' at position 3"),
    ("(/A", "scopeQ: unbalanced parenthesis at position 0: '(' is never closed"),
    ("/A)", "scopeQ: unbalanced parenthesis at position 2: ')' closes nothing"),
    ("/A /B", "scopeQ: unexpected '/' at position 3: expected ';', ',' or '|' or the end"),
    ("(" * 33 + "/A" + ")" * 33, "scopeQ: parentheses nested deeper than 32 levels at position 32"),
])
def test_invalid_scope_q_is_bad_request_data_with_the_position(text: str, detail: str) -> None:
    with pytest.raises(BadRequestData) as raised:
        parse_scope_q(text)
    assert raised.value.detail == detail


@pytest.mark.parametrize(("pattern", "scope", "matches"), [
    ("/Madrid", "/Madrid", True),
    ("/Madrid", "/Madrid/Gardens", False),
    ("/Madrid", "/Madri", False),
    ("/Madrid", "Madrid", True),  # the leading '/' is not significant
    ("Madrid", "/Madrid", True),
    ("/Madrid/+/ParqueNorte", "/Madrid/Gardens/ParqueNorte", True),
    ("/Madrid/+/ParqueNorte", "/Madrid/Gardens/Sub/ParqueNorte", False),
    ("/Madrid/+/ParqueNorte", "/Madrid/ParqueNorte", False),
    ("/Madrid/+", "/Madrid/X", True),
    ("/Madrid/+", "/Madrid", False),
    ("/CompanyA/#", "/CompanyA", True),
    ("/CompanyA/#", "/CompanyA/OrgB", True),
    ("/CompanyA/#", "/CompanyA/OrgB/Unit/C", True),
    ("/CompanyA/#", "/CompanyAB", False),
    ("/CompanyA/#", "/CompanyB/CompanyA", False),
    ("/+/#", "/X", True),
    ("/+/#", "/X/Y/Z", True),
    ("/#", "/anything/at/all", True),
    ("/#", "/x", True),
    ("#", "x/y", True),
    ("/a.b", "/a.b", False),  # not a pattern at all: see below
])
def test_scope_patterns_match_as_4_19_describes(pattern: str, scope: str, matches: bool) -> None:
    if pattern == "/a.b":
        with pytest.raises(BadRequestData):
            scope_matches(pattern, [scope])
        return
    assert scope_matches(pattern, [scope]) is matches
    assert bool(re.match(scope_regex(pattern), scope)) is matches


def test_a_pattern_matches_if_any_scope_matches() -> None:
    assert scope_matches("/A/+", ["/B", "/A/x"]) is True
    assert scope_matches("/A/+", ["/B", "/A"]) is False
    assert scope_matches("/#", []) is False


def test_scope_regex_is_anchored_and_escapes_levels() -> None:
    assert scope_regex("/Madrid/+/Parque-Norte") == r"^/?Madrid/[^/]+/Parque\-Norte$"
    assert scope_regex("/CompanyA/#") == r"^/?CompanyA(?:/[^/]+)*$"
    assert scope_regex("/#") == r"^/?[^/]+(?:/[^/]+)*$"


@pytest.mark.parametrize(("text", "scopes", "matches"), [
    ("/A;/B", ["/A", "/B"], True),
    ("/A;/B", ["/A"], False),
    ("/A,/B", ["/B"], True),
    ("(/A;/B)|/C", ["/C"], True),
    ("(/A;/B)|/C", ["/A", "/D"], False),
    ("/A/#;/B/+", ["/A/x/y", "/B/z"], True),
    ("/#", [], False),
])
def test_scope_q_expressions_evaluate_against_entity_scopes(text: str, scopes: list[str], matches: bool) -> None:
    assert scope_q_matches(parse_scope_q(text), scopes) is matches


levels = st.one_of(st.from_regex(r"[A-Za-z0-9_-]{1,6}", fullmatch=True), st.just("+"))
patterns = st.builds(lambda parts, hash_, slash: ("/" if slash else "") + "/".join(parts) + ("/#" if hash_ else ""),
                     st.lists(levels, min_size=1, max_size=4), st.booleans(), st.booleans()).map(ScopeMatch)
scope_asts = st.recursive(patterns, lambda children: st.one_of(
    st.lists(children, min_size=2, max_size=3).map(lambda terms: combine(And, terms)),
    st.lists(children, min_size=2, max_size=3).map(lambda terms: combine(Or, terms)),
), max_leaves=8)


def show(node: Node, rnd: random.Random, inside_and: bool = False) -> str:
    if isinstance(node, ScopeMatch):
        return node.pattern
    assert isinstance(node, And | Or)
    separator = ";" if isinstance(node, And) else rnd.choice([",", "|"])
    text = separator.join(show(term, rnd, isinstance(node, And)) for term in node.terms)
    return f"({text})" if (isinstance(node, Or) and inside_and) or rnd.random() < 0.2 else text


@settings(max_examples=300, deadline=None)
@given(scope_asts, st.randoms(use_true_random=False))
def test_printed_scope_asts_parse_back_to_themselves(ast: Node, rnd: random.Random) -> None:
    assert parse_scope_q(show(ast, rnd)) == ast


@settings(max_examples=300, deadline=None)
@given(patterns, st.lists(st.from_regex(r"/?[A-Za-z0-9_-]{1,3}(/[A-Za-z0-9_-]{1,3}){0,4}", fullmatch=True),
                          max_size=3))
def test_scope_regex_agrees_with_scope_matches(pattern: ScopeMatch, scopes: list[str]) -> None:
    compiled = re.compile(scope_regex(pattern.pattern))
    assert scope_matches(pattern.pattern, scopes) is any(compiled.match(scope) is not None for scope in scopes)


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(max_size=40), st.lists(st.sampled_from(list("/AB+#,|;() ")), max_size=30).map("".join)))
def test_garbage_scope_q_never_raises_anything_but_bad_request_data(text: str) -> None:
    try:
        parse_scope_q(text)
    except BadRequestData as error:
        assert error.detail.startswith("scopeQ")
