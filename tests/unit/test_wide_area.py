"""Wide-area merge (pure): per-tenant queries, the deterministic order across tenants, discovery unions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from broker.ngsild.catalog_view import CatalogView, NotPublished
from broker.ngsild.query_ast import And, AttributePath, Comparison, EntityQuery, Or, TypeName
from broker.ngsild.wide_area import (
    SOURCE_TENANT,
    TenantPage,
    merge_discovery,
    merge_pages,
    tenant_query,
)

SPOT, PARK, HALL = "ex:Spot", "ex:Park", "ex:Hall"
VIEW = CatalogView({SPOT: frozenset({"ex:phone"}), PARK: frozenset()})


@pytest.mark.parametrize(("types", "expected"), [
    (TypeName(SPOT), TypeName(SPOT)),
    (Or((TypeName(SPOT), TypeName(HALL))), TypeName(SPOT)),
    (Or((TypeName(SPOT), TypeName(PARK), TypeName(HALL))), Or((TypeName(SPOT), TypeName(PARK)))),
    (And((TypeName(SPOT), TypeName(PARK))), And((TypeName(SPOT), TypeName(PARK)))),
])
def test_a_tenant_answers_for_the_requested_types_it_publishes_from_offset_zero(types, expected):
    part = tenant_query(EntityQuery(types=types, offset=4, limit=2), VIEW)
    assert (part.types, part.offset, part.limit) == (expected, 0, 7)


@pytest.mark.parametrize("types", [TypeName(HALL), And((TypeName(SPOT), TypeName(HALL)))])
def test_a_tenant_publishing_none_of_the_requested_types_is_skipped(types):
    assert tenant_query(EntityQuery(types=types), VIEW) is None


def test_without_a_type_a_tenant_answers_for_every_type_it_publishes():
    assert tenant_query(EntityQuery(), VIEW).types == Or((TypeName(PARK), TypeName(SPOT)))


def test_a_filter_on_an_attribute_a_tenant_withholds_is_not_published():
    query = EntityQuery(types=TypeName(PARK), q=Comparison(AttributePath("ex:phone"), "==", "1"))
    with pytest.raises(NotPublished, match="ex:phone"):
        tenant_query(query, VIEW)


def _page(tenant: str, rows: list[tuple[str, tuple]], count: int | None = None) -> TenantPage:
    return TenantPage(tenant, VIEW, [{"id": entity_id, "type": [SPOT], "attrs": {"ex:phone": [{}]}}
                                     for entity_id, _ in rows], [values for _, values in rows], count)


def test_pages_merge_by_the_database_sort_values_then_id_then_tenant():
    pages = [
        _page("osaka", [("urn:a", ((2.0, True),)), ("urn:b", (("x", True),)), ("urn:c", ((None, True),))], 3),
        _page("kyoto", [("urn:a", ((2.0, True),)), ("urn:d", ((True, True),))], 2),
    ]
    merged = merge_pages(pages, offset=0, limit=10, count=True)
    order = [(entity["attrs"][SOURCE_TENANT][0]["value"], entity["id"]) for entity in merged.entities]
    # descending in MongoDB's order: booleans > strings > numbers > null
    assert order == [("kyoto", "urn:d"), ("osaka", "urn:b"), ("kyoto", "urn:a"), ("osaka", "urn:a"),
                     ("osaka", "urn:c")]
    assert (merged.count, merged.has_next, merged.tenants) == (5, False, ["kyoto", "osaka"])
    assert all("ex:phone" not in entity["attrs"] for entity in merged.entities)


def test_a_page_is_a_slice_of_the_merged_order_and_knows_whether_more_follow():
    at = datetime(2026, 1, 1, tzinfo=UTC)
    pages = [_page("osaka", [(f"urn:{n}", ((at, False),)) for n in "ace"]),
             _page("hyogo", [(f"urn:{n}", ((at, False),)) for n in "bdf"])]
    merged = merge_pages(pages, offset=2, limit=2, count=False)
    assert [entity["id"] for entity in merged.entities] == ["urn:c", "urn:d"]
    assert (merged.count, merged.has_next, merged.tenants) == (None, True, ["hyogo", "osaka"])


def test_discovery_answers_are_unioned_and_counts_summed():
    assert merge_discovery([["ex:b", "ex:a"], [], ["ex:a", "ex:c"]]) == ["ex:a", "ex:b", "ex:c"]
    osaka = {"attributeName": "ex:name", "attributeCount": 2, "attributeTypes": ["Property"], "typeNames": [SPOT]}
    kyoto = {"attributeName": "ex:name", "attributeCount": 3, "attributeTypes": ["LanguageProperty"],
             "typeNames": [PARK]}
    assert merge_discovery([osaka, None, kyoto], single=True) == {
        "attributeName": "ex:name", "attributeCount": 5, "attributeTypes": ["LanguageProperty", "Property"],
        "typeNames": [PARK, SPOT]}
    assert merge_discovery([None, None], single=True) is None
    assert merge_discovery([[{"typeName": SPOT, "attributeNames": ["ex:b"]}],
                            [{"typeName": SPOT, "attributeNames": ["ex:a"]}, {"typeName": PARK,
                                                                              "attributeNames": []}]]) == [
        {"typeName": PARK, "attributeNames": []}, {"typeName": SPOT, "attributeNames": ["ex:a", "ex:b"]}]
