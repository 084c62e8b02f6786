"""Reading through published datasets: which queries a catalog view admits, and what it withholds."""

from __future__ import annotations

import pytest

from broker.ngsild.catalog_view import CatalogView, NotPublished, WithheldAttribute, restrict_query, withhold
from broker.ngsild.context import core_term_map
from broker.ngsild.query import parse_query_params
from broker.ngsild.query_ast import EntityQuery, Or, TypeName

CORE = core_term_map()
D = "https://uri.etsi.org/ngsi-ld/default-context/"
SPOT, SHELTER, SECRET = D + "TouristSpot", D + "Shelter", D + "Secret"
VIEW = CatalogView({SPOT: frozenset({D + "ownerPhone"}), SHELTER: frozenset()})


def parse(**query: str) -> EntityQuery:
    return parse_query_params(query, CORE)


def test_a_published_type_passes_unchanged() -> None:
    query = parse(type="TouristSpot", q="rating>3")
    assert restrict_query(query, VIEW) == query


def test_no_type_means_every_readable_type_in_a_stable_order() -> None:
    restricted = restrict_query(EntityQuery(id_pattern=".*"), VIEW)
    assert restricted.types == Or((TypeName(SHELTER), TypeName(SPOT)))
    single = restrict_query(EntityQuery(), CatalogView({SPOT: frozenset()}))
    assert single.types == TypeName(SPOT)


@pytest.mark.parametrize("query", [
    {"type": "Secret"},
    {"type": "TouristSpot,Secret"},
    {"type": "(TouristSpot;Secret)"},
])
def test_an_unpublished_type_anywhere_in_the_expression_is_refused(query: dict[str, str]) -> None:
    with pytest.raises(NotPublished) as raised:
        restrict_query(parse(**query), VIEW)
    assert raised.value.status == 403
    assert SECRET in raised.value.detail


@pytest.mark.parametrize("query", [
    {"type": "TouristSpot", "q": "ownerPhone==\"06\""},
    {"type": "TouristSpot", "q": "rating>3|ownerPhone"},
    {"type": "TouristSpot", "attrs": "ownerPhone"},
    {"type": "TouristSpot", "orderBy": "ownerPhone"},
])
def test_filtering_projecting_or_sorting_on_a_withheld_attribute_is_refused(query: dict[str, str]) -> None:
    with pytest.raises(WithheldAttribute, match="ownerPhone"):
        restrict_query(parse(**query), VIEW)


def test_a_view_with_nothing_published_refuses_everything() -> None:
    with pytest.raises(NotPublished):
        restrict_query(parse(type="TouristSpot"), CatalogView({}))


def test_withhold_drops_only_the_withheld_attributes_of_the_entitys_types() -> None:
    entity = {"id": "urn:a", "type": [SPOT], "attrs": {D + "ownerPhone": [{}], D + "name": [{}]}}
    shown = withhold(entity, VIEW)
    assert shown["attrs"].keys() == {D + "name"}
    assert entity["attrs"].keys() == {D + "ownerPhone", D + "name"}  # the stored entity is not changed
    shelter = {"id": "urn:b", "type": [SHELTER], "attrs": {D + "ownerPhone": [{}]}}
    assert withhold(shelter, VIEW) is shelter
