"""Representation query parameters: options/format, attrs/pick/omit, lang, datasetId."""

from __future__ import annotations

import pytest

from broker.ngsild.context import compile_term_map, core_context_document, core_term_map
from broker.ngsild.errors import BadRequestData, InvalidRequest, NgsiLdError
from broker.ngsild.params import MAX_NAMES, RenderOptions, parse_render_options

CORE = core_term_map()
USER = compile_term_map(
    [{"schema": "https://schema.org/", "name": "schema:name", "temperature": "https://example.org/temp"}],
    core_context_document()["@context"],
)
DEFAULT = "https://uri.etsi.org/ngsi-ld/default-context/"


@pytest.mark.parametrize(("query", "expected"), [
    ({}, RenderOptions()),
    ({"options": "normalized"}, RenderOptions()),
    ({"options": "keyValues"}, RenderOptions(format="keyValues")),
    ({"options": "simplified"}, RenderOptions(format="keyValues")),
    ({"options": "keyValues,simplified"}, RenderOptions(format="keyValues")),
    ({"options": "concise"}, RenderOptions(format="concise")),
    ({"options": "sysAttrs"}, RenderOptions(sys_attrs=True)),
    ({"options": "sysAttrs,keyValues"}, RenderOptions(format="keyValues", sys_attrs=True)),
    ({"options": "concise,sysAttrs"}, RenderOptions(format="concise", sys_attrs=True)),
    ({"format": "keyValues"}, RenderOptions(format="keyValues")),
    ({"format": "simplified"}, RenderOptions(format="keyValues")),
    ({"format": "concise"}, RenderOptions(format="concise")),
    ({"format": "normalized", "options": "keyValues"}, RenderOptions()),
    ({"format": "keyValues", "options": "normalized"}, RenderOptions(format="keyValues")),
    ({"format": "concise", "options": "keyValues,sysAttrs"}, RenderOptions(format="concise", sys_attrs=True)),
    ({"options": "noOverwrite"}, RenderOptions()),
    ({"options": "update,replace,append,keyValues"}, RenderOptions(format="keyValues")),
    ({"limit": "3", "q": "temperature>2", "type": "Building"}, RenderOptions()),
])
def test_options_and_format_choose_the_representation(query: dict[str, str], expected: RenderOptions) -> None:
    assert parse_render_options(query, CORE) == expected


@pytest.mark.parametrize(("query", "error"), [
    ({"options": "foo"}, InvalidRequest),
    ({"options": "keyvalues"}, InvalidRequest),
    ({"options": "keyValues,foo"}, InvalidRequest),
    ({"options": ""}, InvalidRequest),
    ({"options": "keyValues,"}, InvalidRequest),
    ({"options": "temporalValues"}, InvalidRequest),
    ({"format": "foo"}, InvalidRequest),
    ({"format": "sysAttrs"}, InvalidRequest),
    ({"format": ""}, InvalidRequest),
    ({"format": "keyValues,concise"}, InvalidRequest),
    ({"format": "keyValues", "options": "bogus"}, InvalidRequest),
    ({"options": "keyValues,concise"}, BadRequestData),
    ({"options": "normalized,simplified"}, BadRequestData),
])
def test_bad_options_or_format_are_rejected(query: dict[str, str], error: type[NgsiLdError]) -> None:
    with pytest.raises(error) as raised:
        parse_render_options(query, CORE)
    assert type(raised.value) is error


@pytest.mark.parametrize(("query", "terms", "expected"), [
    ({"attrs": "temperature"}, CORE, RenderOptions(attrs=frozenset({DEFAULT + "temperature"}))),
    ({"attrs": "temperature,location"}, CORE,
     RenderOptions(attrs=frozenset({DEFAULT + "temperature", "https://uri.etsi.org/ngsi-ld/location"}))),
    ({"attrs": "temperature,name,schema:address"}, USER,
     RenderOptions(attrs=frozenset({"https://example.org/temp", "https://schema.org/name",
                                    "https://schema.org/address"}))),
    ({"attrs": "https://example.org/x"}, CORE, RenderOptions(attrs=frozenset({"https://example.org/x"}))),
    ({"pick": "id,temperature"}, CORE, RenderOptions(pick=frozenset({"id", DEFAULT + "temperature"}))),
    ({"pick": "id|type|name"}, USER, RenderOptions(pick=frozenset({"id", "type", "https://schema.org/name"}))),
    ({"pick": "id"}, CORE, RenderOptions(pick=frozenset({"id"}))),
    ({"pick": "scope,a|b"}, CORE, RenderOptions(pick=frozenset({"scope", DEFAULT + "a", DEFAULT + "b"}))),
    ({"omit": "type"}, CORE, RenderOptions(omit=frozenset({"type"}))),
    ({"omit": "id,type|temperature"}, USER,
     RenderOptions(omit=frozenset({"id", "type", "https://example.org/temp"}))),
])
def test_attrs_pick_and_omit_names_are_expanded_with_the_request_context(
        query: dict[str, str], terms: object, expected: RenderOptions) -> None:
    assert parse_render_options(query, terms) == expected  # type: ignore[arg-type]


def test_attrs_expands_id_like_any_name_because_id_is_not_an_attribute() -> None:
    assert parse_render_options({"attrs": "id"}, CORE) == RenderOptions(attrs=frozenset({"@id"}))


@pytest.mark.parametrize("query", [
    {"attrs": "a", "pick": "b"},
    {"attrs": "a", "omit": "b"},
    {"pick": "a", "omit": "b"},
    {"attrs": "a", "pick": "b", "omit": "c"},
    {"attrs": "", "pick": "b"},
])
def test_any_two_of_attrs_pick_omit_are_bad_request_data(query: dict[str, str]) -> None:
    with pytest.raises(BadRequestData):
        parse_render_options(query, CORE)


@pytest.mark.parametrize("query", [
    {"attrs": ""},
    {"attrs": "a,,b"},
    {"attrs": "a,"},
    {"attrs": "a b"},
    {"attrs": "1abc"},
    {"attrs": "a|b"},
    {"attrs": "a.b"},
    {"pick": ""},
    {"pick": "id||type"},
    {"pick": "a,"},
    {"pick": "rel{name}"},
    {"omit": "a-b"},
    {"omit": "|"},
])
def test_empty_or_invalid_names_are_bad_request_data(query: dict[str, str]) -> None:
    with pytest.raises(BadRequestData):
        parse_render_options(query, CORE)


@pytest.mark.parametrize(("query", "detail"), [
    ({"attrs": "a,,b"}, "attrs='a,,b' has an empty item"),
    ({"pick": "id|"}, "pick='id|' has an empty item"),
    ({"omit": "a b"}, "omit='a b': 'a b' is not a valid attribute name"),
])
def test_name_errors_say_what_is_wrong(query: dict[str, str], detail: str) -> None:
    with pytest.raises(BadRequestData) as raised:
        parse_render_options(query, CORE)
    assert raised.value.detail == detail


@pytest.mark.parametrize("lang", ["fr", "*", "fr-CH,fr;q=0.8", "en-GB, en;q=0.5, *;q=0.1", "zh-Hant-TW",
                                  "de;q=1", "de;Q=0.000", "x-klingon"])
def test_lang_is_kept_raw(lang: str) -> None:
    assert parse_render_options({"lang": lang}, CORE) == RenderOptions(lang=lang)


@pytest.mark.parametrize("lang", ["", "fr,", "fr;q=2", "fr;q=abc", "fr;level=1", "fr_CH", "toolongtag", "**",
                                  "fr;q=0.1234", ",fr"])
def test_malformed_lang_is_bad_request_data(lang: str) -> None:
    with pytest.raises(BadRequestData):
        parse_render_options({"lang": lang}, CORE)


@pytest.mark.parametrize(("raw", "expected"), [
    ("urn:ngsi-ld:Dataset:a", frozenset({"urn:ngsi-ld:Dataset:a"})),
    ("urn:ngsi-ld:Dataset:a,@none", frozenset({"urn:ngsi-ld:Dataset:a", "@none"})),
    ("@none", frozenset({"@none"})),
])
def test_dataset_id_is_a_comma_list_of_uris_or_none(raw: str, expected: frozenset[str]) -> None:
    assert parse_render_options({"datasetId": raw}, CORE) == RenderOptions(dataset_id=expected)


@pytest.mark.parametrize("raw", ["", "not a uri", "urn:a,", "urn:a,,urn:b", "none"])
def test_invalid_dataset_id_is_bad_request_data(raw: str) -> None:
    with pytest.raises(BadRequestData):
        parse_render_options({"datasetId": raw}, CORE)


def test_all_parameters_together() -> None:
    query = {"options": "sysAttrs", "format": "concise", "pick": "id|name", "lang": "ja",
             "datasetId": "urn:ds:1"}
    assert parse_render_options(query, USER) == RenderOptions(
        format="concise", sys_attrs=True, lang="ja", pick=frozenset({"id", "https://schema.org/name"}),
        dataset_id=frozenset({"urn:ds:1"}))


def test_an_attrs_list_over_the_limit_is_rejected():
    names = ",".join(f"a{i}" for i in range(MAX_NAMES + 1))
    with pytest.raises(BadRequestData, match="at most 1000"):
        parse_render_options({"attrs": names}, CORE)
