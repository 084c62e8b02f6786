"""Pure parts of the shared catalog: CKAN parameter validation and search filters, bodies."""

from __future__ import annotations

from typing import Any

import pytest

from tenants.ckan import CkanError, natural_number, paging, search_filter, sort_order
from tenants.datasets import DatasetSpec


@pytest.mark.parametrize(("value", "expected"), [
    ("0", 0), ("25", 25), (" 7 ", 7), (3, 3), (4.0, 4),
    ("-1", "Must be a natural number"), (-3, "Must be a natural number"),
    ("1.5", "Invalid integer"), (1.5, "Invalid integer"), ("ten", "Invalid integer"), (True, "Invalid integer"),
    ("", "Invalid integer"), (None, "Invalid integer"),
])
def test_natural_number_accepts_what_ckans_validator_accepts(value: Any, expected: Any) -> None:
    if isinstance(expected, int):
        assert natural_number(value) == expected
    else:
        with pytest.raises(ValueError, match=expected):
            natural_number(value)


def test_rows_default_to_10_and_are_capped_at_1000() -> None:
    assert paging({}, "rows", 10) == (10, 0)
    assert paging({"rows": "100000", "start": "20"}, "rows", 10) == (1000, 20)
    with pytest.raises(CkanError) as raised:
        paging({"rows": "-1", "start": "x"}, "rows", 10)
    assert (raised.value.status, raised.value.error) == (409, {
        "__type": "Validation Error", "rows": ["Must be a natural number"], "start": ["Invalid integer"]})


def test_q_words_must_all_match_and_fq_clauses_become_field_conditions() -> None:
    query = search_filter('観光 "open data"', 'tags:防災 -organization:Osaka res_format:csv')
    words = [condition["$or"][0]["title.ja"]["$regex"] for condition in query["$and"][:2]]
    assert words == ["観光", r"open\ data"]
    assert query["$and"][2:] == [{"keywords": "防災"}, {"$nor": [{"tenant": "osaka"}]}, {"_id": {"$in": []}}]
    assert search_filter("*:*", "") == {}


@pytest.mark.parametrize(("q", "fq"), [("", "colour:red"), ("", "plainword"), ("colour:red", "")])
def test_unsupported_search_syntax_is_a_validation_error(q: str, fq: str) -> None:
    with pytest.raises(CkanError) as raised:
        search_filter(q, fq)
    assert raised.value.status == 409


def test_sort_accepts_ckan_fields_and_ignores_score() -> None:
    assert sort_order("score desc, metadata_modified desc") == [("modified", -1), ("_id", 1)]
    assert sort_order("name desc") == [("_id", -1), ("_id", 1)]
    with pytest.raises(CkanError):
        sort_order("name sideways")


def test_members_drop_duplicate_keywords_and_absent_languages() -> None:
    spec = DatasetSpec.model_validate({"title": {"en": "Shelters"}, "license": "CC0-1.0",
                                       "keywords": ["防災", "防災", "shelter"]})
    members = spec.members()
    assert (members["title"], members["keywords"], members["visibility"]) == (
        {"en": "Shelters"}, ["防災", "shelter"], "open")
