"""The q grammar (4.9): exact ASTs for valid expressions, positioned errors for invalid ones, round trips."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.ngsild.boolexpr import combine
from broker.ngsild.context import compile_term_map, core_context_document, core_term_map
from broker.ngsild.errors import BadRequestData
from broker.ngsild.names import parse_datetime
from broker.ngsild.q import is_system_only, parse_attribute_path, parse_q
from broker.ngsild.query_ast import (
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

CORE = core_term_map()
USER = compile_term_map([{"schema": "https://schema.org/", "temp": "https://example.org/temperature"}],
                        core_context_document()["@context"])
D = "https://uri.etsi.org/ngsi-ld/default-context/"
NGSI = "https://uri.etsi.org/ngsi-ld/"


def path(name: str, *sub: str, compound: tuple[str, ...] = (), language: str | None = None) -> AttributePath:
    return AttributePath(D + name, tuple(sub), compound, language)


def system(name: str) -> AttributePath:
    return AttributePath(name, system=True)


def has(name: str, negated: bool = False) -> Exists:
    return Exists(path(name), negated)


def cmp(name: str, op: str, value: object) -> Comparison:
    return Comparison(path(name), op, value)  # type: ignore[arg-type]


def dt(text: str) -> DateTimeValue:
    return DateTimeValue(text, parse_datetime(text, "test"))


VALID: list[tuple[str, Node]] = [
    # existence
    ("temperature", has("temperature")),
    ("!temperature", has("temperature", negated=True)),
    ("  temperature  ", has("temperature")),
    # every operator
    ("speed==5", cmp("speed", "==", 5)),
    ("speed!=5", cmp("speed", "!=", 5)),
    ("speed>5", cmp("speed", ">", 5)),
    ("speed>=5", cmp("speed", ">=", 5)),
    ("speed<5", cmp("speed", "<", 5)),
    ("speed<=5", cmp("speed", "<=", 5)),
    ("name~=ab.*", cmp("name", "~=", "ab.*")),
    ("name!~=ab.*", cmp("name", "!~=", "ab.*")),
    ("speed == 5", cmp("speed", "==", 5)),
    # numbers
    ("speed==-5", cmp("speed", "==", -5)),
    ("speed==0", cmp("speed", "==", 0)),
    ("speed==2.5", cmp("speed", "==", 2.5)),
    ("speed==-0.25", cmp("speed", "==", -0.25)),
    ("speed==1e3", cmp("speed", "==", 1000.0)),
    ("speed==1.5E-3", cmp("speed", "==", 0.0015)),
    ("speed>=-2e+2", cmp("speed", ">=", -200.0)),
    ("speed==12345678901234567890", cmp("speed", "==", 12345678901234567890)),
    # strings
    ('name=="Bob"', cmp("name", "==", "Bob")),
    ('name==""', cmp("name", "==", "")),
    ('name=="a \\"quoted\\" word"', cmp("name", "==", 'a "quoted" word')),
    ('name=="back\\\\slash"', cmp("name", "==", "back\\slash")),
    ('name=="keep\\n"', cmp("name", "==", "keep\\n")),
    ('name=="a;b|c)(d,e..f"', cmp("name", "==", "a;b|c)(d,e..f")),
    ('name=="<tag> & =="', cmp("name", "==", "<tag> & ==")),
    ('name=="東京"', cmp("name", "==", "東京")),
    ('name>"M"', cmp("name", ">", "M")),
    # booleans
    ("active==true", cmp("active", "==", True)),
    ("active!=false", cmp("active", "!=", False)),
    # DateTime, Date, Time
    ("observedAt>2026-01-01T00:00:00Z", Comparison(system("observedAt"), ">", dt("2026-01-01T00:00:00Z"))),
    ("createdAt>=2026-01-01T12:30:00.123Z",
     Comparison(system("createdAt"), ">=", dt("2026-01-01T12:30:00.123Z"))),
    ("modifiedAt<2026-01-01T00:00:00Z", Comparison(system("modifiedAt"), "<", dt("2026-01-01T00:00:00Z"))),
    ("deletedAt", Exists(system("deletedAt"))),
    ("!createdAt", Exists(system("createdAt"), negated=True)),
    ("when==2026-01-01T00:00:00Z", cmp("when", "==", dt("2026-01-01T00:00:00Z"))),
    ('when=="2026-01-01T00:00:00Z"', cmp("when", "==", "2026-01-01T00:00:00Z")),
    ("day==2026-01-31", cmp("day", "==", "2026-01-31")),
    ("at<12:00:00Z", cmp("at", "<", "12:00:00Z")),
    ("at<=23:59:59.5Z", cmp("at", "<=", "23:59:59.5Z")),
    # URIs
    ("owner==urn:ngsi-ld:Person:1", cmp("owner", "==", UriValue("urn:ngsi-ld:Person:1"))),
    ("owner!=https://a.b/c", cmp("owner", "!=", UriValue("https://a.b/c"))),
    ("owner==https://a.b/c?x=1&y=2#f", cmp("owner", "==", UriValue("https://a.b/c?x=1&y=2#f"))),
    ("owner==urn:a..b", cmp("owner", "==", UriValue("urn:a..b"))),
    ('owner=="urn:ngsi-ld:Person:1"', cmp("owner", "==", "urn:ngsi-ld:Person:1")),
    # ranges
    ("speed==1..5", cmp("speed", "==", Range(1, 5))),
    ("speed!=1..5", cmp("speed", "!=", Range(1, 5))),
    ("speed==-5..-1", cmp("speed", "==", Range(-5, -1))),
    ("speed==1.5..2.5", cmp("speed", "==", Range(1.5, 2.5))),
    ("speed==1..2.5e1", cmp("speed", "==", Range(1, 25.0))),
    ('name=="a".."m"', cmp("name", "==", Range("a", "m"))),
    ("when==2026-01-01T00:00:00Z..2026-02-01T00:00:00Z",
     cmp("when", "==", Range(dt("2026-01-01T00:00:00Z"), dt("2026-02-01T00:00:00Z")))),
    ("day==2026-01-01..2026-12-31", cmp("day", "==", Range("2026-01-01", "2026-12-31"))),
    ('day==2026-01-01.."2026-12-31"', cmp("day", "==", Range("2026-01-01", "2026-12-31"))),
    # value lists
    ('name=="A","B"', cmp("name", "==", ("A", "B"))),
    ('name!="A","B",3', cmp("name", "!=", ("A", "B", 3))),
    ('name=="A", "B"', cmp("name", "==", ("A", "B"))),
    ("owner==urn:a:1,urn:a:2", cmp("owner", "==", (UriValue("urn:a:1"), UriValue("urn:a:2")))),
    ("flag==true,false", cmp("flag", "==", (True, False))),
    ("when==2026-01-01T00:00:00Z,2026-02-01T00:00:00Z",
     cmp("when", "==", (dt("2026-01-01T00:00:00Z"), dt("2026-02-01T00:00:00Z")))),
    # paths
    ("temperature.observedAt>2026-01-01T00:00:00Z",
     Comparison(path("temperature", "observedAt"), ">", dt("2026-01-01T00:00:00Z"))),
    ("temperature.unitCode==\"CEL\"", Comparison(path("temperature", "unitCode"), "==", "CEL")),
    ("temperature.datasetId==urn:ds:1", Comparison(path("temperature", "datasetId"), "==", UriValue("urn:ds:1"))),
    ("a.b.c==1", Comparison(path("a", D + "b", D + "c"), "==", 1)),
    ("a.b.observedAt", Exists(path("a", D + "b", "observedAt"))),
    ("a.observedAt.b", Exists(path("a", NGSI + "observedAt", D + "b"))),
    ("a.location", Exists(path("a", NGSI + "location"))),
    ('address[city]=="Berlin"', Comparison(path("address", compound=("city",)), "==", "Berlin")),
    ('address[street][name]=="Main"', Comparison(path("address", compound=("street", "name")), "==", "Main")),
    ("address[city]", Exists(path("address", compound=("city",)))),
    ("!address[city]", Exists(path("address", compound=("city",)), negated=True)),
    ("address[postal code]==1", Comparison(path("address", compound=("postal code",)), "==", 1)),
    ("a.b[k]==1", Comparison(path("a", D + "b", compound=("k",)), "==", 1)),
    # languages: a one-key bracket that looks like a tag is both a compound key and a language
    ('name[en]=="red"', Comparison(path("name", compound=("en",), language="en"), "==", "red")),
    ('name[fr-CH]=="rouge"', Comparison(path("name", compound=("fr-CH",), language="fr-CH"), "==", "rouge")),
    ('name[jpn]=="赤"', Comparison(path("name", compound=("jpn",), language="jpn"), "==", "赤")),
    ('name[*]=="red"', Comparison(path("name", compound=("*",), language="*"), "==", "red")),
    ('name[*]!="red"', Comparison(path("name", compound=("*",), language="*"), "!=", "red")),
    ("name[*]", Exists(path("name", compound=("*",), language="*"))),
    ("name[en][x]", Exists(path("name", compound=("en", "x")))),
    ('address[city]=="x"', Comparison(path("address", compound=("city",)), "==", "x")),
    # names
    ("b_2==1", cmp("b_2", "==", 1)),
    ("ngsi-ld:foo==1", Comparison(AttributePath(NGSI + "foo"), "==", 1)),
    ("location", Exists(AttributePath(NGSI + "location"))),
    # patterns
    ('name~="(?i)^bob"', cmp("name", "~=", "(?i)^bob")),
    ('name~="a;b|c"', cmp("name", "~=", "a;b|c")),
    ('name~="say \\"hi\\""', cmp("name", "~=", 'say "hi"')),
    ('name~="\\d+\\\\"', cmp("name", "~=", "\\d+\\\\")),
    ("name~=\\d{3}", cmp("name", "~=", "\\d{3}")),
    ("name~=(a|b)c", cmp("name", "~=", "(a|b)c")),
    ("name~=[;|)]x", cmp("name", "~=", "[;|)]x")),
    ("name~=[]|]", cmp("name", "~=", "[]|]")),
    ("name~=[^]|]", cmp("name", "~=", "[^]|]")),
    ("name~=a\\;b", cmp("name", "~=", "a\\;b")),
    ("name~=foo bar", cmp("name", "~=", "foo bar")),
    ("name~=x|y", Or((cmp("name", "~=", "x"), has("y")))),
    ("(name~=x);y", And((cmp("name", "~=", "x"), has("y")))),
    ("(name~=(x|y))", cmp("name", "~=", "(x|y)")),
    ("name~=x  ;y", And((cmp("name", "~=", "x"), has("y")))),
    # logic: AND binds tighter than OR; flattening
    ("a;b", And((has("a"), has("b")))),
    ("a|b", Or((has("a"), has("b")))),
    ("a;b;c", And((has("a"), has("b"), has("c")))),
    ("a|b;c", Or((has("a"), And((has("b"), has("c")))))),
    ("a;b|c", Or((And((has("a"), has("b"))), has("c")))),
    ("a;b|c;d", Or((And((has("a"), has("b"))), And((has("c"), has("d")))))),
    ("(a|b);c", And((Or((has("a"), has("b"))), has("c")))),
    ("a;(b|c)", And((has("a"), Or((has("b"), has("c")))))),
    ("(a;b);c", And((has("a"), has("b"), has("c")))),
    ("a|(b|c)", Or((has("a"), has("b"), has("c")))),
    ("((a))", has("a")),
    ("((a;b))|((c))", Or((And((has("a"), has("b"))), has("c")))),
    ("( a ; b ) | c", Or((And((has("a"), has("b"))), has("c")))),
    ('speed>5;name=="x"|!owner', Or((And((cmp("speed", ">", 5), cmp("name", "==", "x"))), has("owner", True)))),
    ("(speed==1..5|speed==7);(owner==urn:a:1,urn:a:2)",
     And((Or((cmp("speed", "==", Range(1, 5)), cmp("speed", "==", 7))),
          cmp("owner", "==", (UriValue("urn:a:1"), UriValue("urn:a:2")))))),
    ("(" * 32 + "a" + ")" * 32, has("a")),
]


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_valid_q_parses_to_the_exact_ast(text: str, expected: Node) -> None:
    assert parse_q(text, CORE) == expected


def test_names_expand_with_the_request_context() -> None:
    assert parse_q("temp>20;schema:name==\"x\";temp.unitCode", USER) == And((
        Comparison(AttributePath("https://example.org/temperature"), ">", 20),
        Comparison(AttributePath("https://schema.org/name"), "==", "x"),
        Exists(AttributePath("https://example.org/temperature", ("unitCode",))),
    ))


INVALID: list[tuple[str, str]] = [
    # (q, the exact error detail)
    ("", "q must not be empty"),
    ("   ", "q must not be empty"),
    ("speed=>3", "q: unknown operator '=>' at position 5"),
    ("speed=3", "q: unknown operator '=' at position 5"),
    ("speed<>3", "q: unknown operator '<>' at position 5"),
    ("speed!3", "q: unknown operator '!' at position 5"),
    ("speed~3", "q: unknown operator '~' at position 5"),
    ("(a;b", "q: unbalanced parenthesis at position 0: '(' is never closed"),
    ("a;(b|(c)", "q: unbalanced parenthesis at position 2: '(' is never closed"),
    ("a;b)", "q: unbalanced parenthesis at position 3: ')' closes nothing"),
    ("(a))", "q: unbalanced parenthesis at position 3: ')' closes nothing"),
    (")", "q: expected an attribute name, '!' or '(', found ')' at position 0"),
    ("()", "q: expected an attribute name, '!' or '(', found ')' at position 1"),
    ("a;", "q: expected an attribute name, '!' or '(', found the end at position 2"),
    ("a||b", "q: expected an attribute name, '!' or '(', found '|' at position 2"),
    (";a", "q: expected an attribute name, '!' or '(', found ';' at position 0"),
    ("a b", "q: unexpected 'b' at position 2: expected an operator (==, !=, >, >=, <, <=, ~=, !~=), ';', '|' or ')'"),
    ("(a b)", "q: unexpected 'b' at position 3: expected an operator (==, !=, >, >=, <, <=, ~=, !~=), ';', '|' "
              "or ')'"),
    ("a==1 2", "q: unexpected '2' at position 5: expected ';', '|' or the end"),
    ("(a==1 2)", "q: unexpected '2' at position 6: expected ';', '|' or ')'"),
    ("a==", "q: expected a value, found the end at position 3"),
    ("a==;b", "q: expected a value, found ';' at position 3"),
    ("a==foo", "q: 'foo' is not a value at position 3: strings are quoted (\"…\"); unquoted values are numbers, "
               "true, false, DateTimes, Dates, Times and URIs"),
    ("a==True", "q: 'True' is not a value at position 3: strings are quoted (\"…\"); unquoted values are numbers, "
                "true, false, DateTimes, Dates, Times and URIs"),
    ('a=="x', "q: unterminated string at position 3: '\"' is never closed"),
    ('a=="x\\"', "q: unterminated string at position 3: '\"' is never closed"),
    ("a>1..5", "q: a range is only allowed with == and !=, not '>' at position 2"),
    ("a<=1..5", "q: a range is only allowed with == and !=, not '<=' at position 3"),
    ('a>"x","y"', "q: a value list is only allowed with == and !=, not '>' at position 2"),
    ("a==1..", "q: expected a value, found the end at position 6"),
    ("a==..5", "q: expected a value, found '.' at position 3"),
    ("a==1..5..7", "q: a range has exactly two bounds at position 7"),
    ("a==1..\"x\"", "q: both range bounds must be of the same kind at position 3"),
    ("a==true..false", "q: range bounds must be numbers, strings or DateTimes at position 3"),
    ("a==1,2..3", "q: a value list cannot hold ranges at position 6"),
    ("a==1,", "q: expected a value, found the end at position 5"),
    ("a>true", "q: '>' compares numbers, strings and DateTimes only at position 2"),
    ("a<urn:x:1", "q: '<' compares numbers, strings and DateTimes only at position 2"),
    ("a==2026-13-01T00:00:00Z", "q: '2026-13-01T00:00:00Z' is not a valid DateTime at position 3: use "
                                "YYYY-MM-DDThh:mm:ss[.fraction]Z"),
    ("a==2026-01-01T00:00:00+02:00", "q: '2026-01-01T00:00:00+02:00' is not a valid DateTime at position 3: "
                                     "use YYYY-MM-DDThh:mm:ss[.fraction]Z"),
    ("a==2026-02-30", "q: '2026-02-30' is not a valid Date at position 3"),
    ("a==1e999", "q: number '1e999' is out of range at position 3"),
    ("a==5x", "q: '5x' is not a value at position 3: strings are quoted (\"…\"); unquoted values are numbers, "
              "true, false, DateTimes, Dates, Times and URIs"),
    ("1a==5", "q: '1a' is not a valid attribute name at position 0"),
    ("a.1b==5", "q: '1b' is not a valid attribute name at position 2"),
    ("a-b==5", "q: 'a-b' is not a valid attribute name at position 0"),
    ("a..b==5", "q: expected an attribute name, found '.' at position 2"),
    ("a.==5", "q: expected an attribute name, found '=' at position 2"),
    ("!", "q: expected an attribute name, found the end at position 1"),
    ("!(a)", "q: expected an attribute name, found '(' at position 1"),
    ("!a==1", "q: '!' before an attribute tests that it does not exist; it cannot take '==' at position 2"),
    ("type==\"Building\"", "q: 'type' is not an attribute (it expands to the keyword @type) at position 0"),
    ("id==urn:x:1", "q: 'id' is not an attribute (it expands to the keyword @id) at position 0"),
    ("a.type==1", "q: 'type' is not an attribute (it expands to the keyword @type) at position 2"),
    ("createdAt.x>1", "q: 'createdAt' is an entity member: it has no sub-attributes or keys at position 0"),
    ("modifiedAt[x]", "q: 'modifiedAt' is an entity member: it has no sub-attributes or keys at position 0"),
    ("a[x", "q: '[' is never closed at position 1"),
    ("a[x[y]]", "q: '[' is never closed at position 1"),
    ("a[]", "q: empty '[]' at position 1"),
    ("a[x]y", "q: unexpected 'y' at position 4: expected an operator (==, !=, >, >=, <, <=, ~=, !~=), ';', '|' "
              "or ')'"),
    ("rel{name}==1", "q: linked-entity paths (rel{attr}) need join, which this broker does not support at position 3"),
    ("a~=", "q: expected a regular expression at position 3"),
    ("a~=;b", "q: expected a regular expression at position 3"),
    ('a~=""', "q: expected a regular expression at position 3"),
    ("a~=[", "q: invalid regular expression at position 3: unterminated character set at position 0"),
    ("a~=(x", "q: invalid regular expression at position 3: missing ), unterminated subpattern at position 0"),
    ("a~=x**", "q: invalid regular expression at position 3: multiple repeat at position 2"),
    ('a~="x**"', "q: invalid regular expression at position 3: multiple repeat at position 2"),
    ("a~=x\\", "q: invalid regular expression at position 3: bad escape (end of pattern) at position 1"),
    ("a~=" + "x" * 257, "q: the regular expression is longer than 256 characters at position 3"),
    ("(" * 33 + "a" + ")" * 33, "q: parentheses nested deeper than 32 levels at position 32"),
    ("a;" * 2000 + "b", "q: longer than 4000 characters (4001)"),
]


@pytest.mark.parametrize(("text", "detail"), INVALID)
def test_invalid_q_is_bad_request_data_with_the_position(text: str, detail: str) -> None:
    with pytest.raises(BadRequestData) as raised:
        parse_q(text, CORE)
    assert raised.value.detail == detail


def test_deep_nesting_never_exhausts_the_stack() -> None:
    for depth in (33, 100, 1999):
        with pytest.raises(BadRequestData, match="nested deeper than 32"):
            parse_q("(" * depth + "a" + ")" * depth, CORE)


def test_non_string_q_is_bad_request_data() -> None:
    with pytest.raises(BadRequestData, match="q must be a string"):
        parse_q(5, CORE)  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "expected"), [
    ("temperature", path("temperature")),
    ("temperature.observedAt", path("temperature", "observedAt")),
    ("address[city]", path("address", compound=("city",))),
    ("createdAt", system("createdAt")),
])
def test_a_single_attribute_path_parses_for_order_by(text: str, expected: AttributePath) -> None:
    assert parse_attribute_path(text, CORE, "orderBy") == expected


@pytest.mark.parametrize(("text", "detail"), [
    ("temperature;desc", "orderBy: unexpected ';' after the attribute path at position 11"),
    ("a b", "orderBy: unexpected ' ' after the attribute path at position 1"),
    ("", "orderBy: expected an attribute name, found the end at position 0"),
])
def test_a_bad_attribute_path_names_its_position(text: str, detail: str) -> None:
    with pytest.raises(BadRequestData) as raised:
        parse_attribute_path(text, CORE, "orderBy")
    assert raised.value.detail == detail


@pytest.mark.parametrize(("text", "system_only"), [
    ("createdAt>2026-01-01T00:00:00Z", True),
    ("createdAt>2026-01-01T00:00:00Z;modifiedAt<2027-01-01T00:00:00Z|!deletedAt", True),
    ("createdAt>2026-01-01T00:00:00Z;speed>1", False),
    ("speed", False),
    ("!speed", False),
    ("(createdAt|(modifiedAt;observedAt))|speed.observedAt", False),
])
def test_system_only_q_is_recognised_for_the_too_wide_rule(text: str, system_only: bool) -> None:
    assert is_system_only(parse_q(text, CORE)) is system_only


# --- property tests: print random ASTs back to q, parse, compare -------------------------------

_NAMES = ["temperature", "speed", "name", "address", "a", "b_2", "location", "ngsi-ld:foo"]
_LANGUAGE_TAG = re.compile(r"(?:[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*|\*)")
_SAFE_PATTERNS = ["^a.*", "(x|y)z", "[;|)]+", "a\\d+", "(?i)bob", "[]a]", "x{2,3}", "\\(", "é+"]


@st.composite
def attribute_paths(draw: st.DrawFn) -> AttributePath:
    if draw(st.integers(0, 9)) == 0:
        return system(draw(st.sampled_from(["createdAt", "modifiedAt", "observedAt", "deletedAt"])))
    sub = [CORE.expand(name) for name in draw(st.lists(st.sampled_from(_NAMES), max_size=2))]
    if draw(st.booleans()):
        sub.append(draw(st.sampled_from(["observedAt", "unitCode", "datasetId", "createdAt"])))
    keys = tuple(draw(st.lists(st.one_of(st.from_regex(r"[A-Za-z0-9_ -]{1,8}", fullmatch=True),
                                         st.sampled_from(["en", "fr-CH", "*"])), max_size=2)))
    keys = tuple(key for key in keys if key.strip())
    language = keys[0] if len(keys) == 1 and _LANGUAGE_TAG.fullmatch(keys[0]) else None
    return AttributePath(CORE.expand(draw(st.sampled_from(_NAMES))), tuple(sub), keys, language)


def _datetime_text(moment: object) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + ("" if not moment.microsecond  # type: ignore[attr-defined]
                                                   else f".{moment.microsecond:06d}") + "Z"  # type: ignore


datetimes = st.datetimes(min_value=__import__("datetime").datetime(1000, 1, 1)).map(_datetime_text).map(dt)
numbers = st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False))
comparables: dict[str, st.SearchStrategy[Scalar]] = {
    "number": numbers, "str": st.text(max_size=12), "datetime": datetimes,
}
uris = st.from_regex(r"urn:ngsi-ld:[A-Za-z]{1,6}:[A-Za-z0-9]{1,6}|https://example\.org/[a-z]{1,6}",
                     fullmatch=True).map(UriValue)
scalars = st.one_of(*comparables.values(), st.booleans(), uris)


@st.composite
def comparisons(draw: st.DrawFn) -> Node:
    target = draw(attribute_paths())
    form = draw(st.sampled_from(["ordering", "equality", "range", "list", "pattern", "exists"]))
    if form == "exists":
        return Exists(target, draw(st.booleans()))
    if form == "ordering":
        kind = draw(st.sampled_from(sorted(comparables)))
        return Comparison(target, draw(st.sampled_from([">", ">=", "<", "<="])), draw(comparables[kind]))
    if form == "pattern":
        return Comparison(target, draw(st.sampled_from(["~=", "!~="])), draw(st.sampled_from(_SAFE_PATTERNS)))
    op = draw(st.sampled_from(["==", "!="]))
    if form == "equality":
        return Comparison(target, op, draw(scalars))
    if form == "range":
        kind = comparables[draw(st.sampled_from(sorted(comparables)))]
        return Comparison(target, op, Range(draw(kind), draw(kind)))
    return Comparison(target, op, tuple(draw(st.lists(scalars, min_size=2, max_size=4))))


q_asts = st.recursive(
    comparisons(),
    lambda children: st.one_of(
        st.lists(children, min_size=2, max_size=4).map(lambda terms: combine(And, terms)),
        st.lists(children, min_size=2, max_size=4).map(lambda terms: combine(Or, terms)),
    ),
    max_leaves=10,
)


def show_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, DateTimeValue):
        return value.text
    if isinstance(value, UriValue):
        return value.uri
    if isinstance(value, Range):
        return f"{show_value(value.low)}..{show_value(value.high)}"
    if isinstance(value, tuple):
        return ",".join(show_value(item) for item in value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def show_path(target: AttributePath) -> str:
    if target.system:
        return target.attribute
    names = [CORE.compact(target.attribute), *(CORE.compact(name) for name in target.sub)]
    return ".".join(names) + "".join(f"[{key}]" for key in target.compound)


def show(node: Node, rnd: random.Random, inside_and: bool = False) -> str:
    space = rnd.choice(["", "", " "])
    if isinstance(node, And | Or):
        separator = f"{space};{space}" if isinstance(node, And) else f"{space}|{space}"
        text = separator.join(show(term, rnd, isinstance(node, And)) for term in node.terms)
        needs_parentheses = isinstance(node, Or) and inside_and
        return f"({text})" if needs_parentheses or rnd.random() < 0.2 else text
    if isinstance(node, Exists):
        return ("!" if node.negated else "") + show_path(node.path)
    assert isinstance(node, Comparison)
    if node.op in ("~=", "!~="):
        value = f'"{node.value}"' if rnd.random() < 0.5 or node.value in ("[;|)]+",) else node.value
    else:
        value = show_value(node.value)
    return f"{show_path(node.path)}{space}{node.op}{space}{value}"


@settings(max_examples=400, deadline=None)
@given(q_asts, st.randoms(use_true_random=False))
def test_printed_asts_parse_back_to_themselves(ast: Node, rnd: random.Random) -> None:
    text = show(ast, rnd)
    assert parse_q(text, CORE) == ast, text


_Q_ALPHABET = [*'ab_.[]=!<>~;|(),"\\ 0123456789-:TZe*{}urn', "2026-01-01T00:00:00Z", "==", "..", "urn:x:1"]


@settings(max_examples=1000, deadline=None)
@given(st.one_of(st.text(max_size=60), st.lists(st.sampled_from(_Q_ALPHABET), max_size=40).map("".join)))
def test_garbage_never_raises_anything_but_bad_request_data(text: str) -> None:
    try:
        parse_q(text, CORE)
    except BadRequestData as error:
        assert error.detail.startswith("q")
