"""Batch operations without I/O: the request array, repeated ids in order, the result (broker.ngsild.batch)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from broker.ngsild.batch import BatchOperationResult, batch_items, merge_change, update_change, upsert_change
from broker.ngsild.context import core_term_map
from broker.ngsild.entity import parse_entity, parse_fragment
from broker.ngsild.errors import AlreadyExists, BadRequestData, HttpError, ResourceNotFound
from broker.ngsild.model import Entity

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 2, 1, 12, 30, tzinfo=UTC)
NS = "https://uri.etsi.org/ngsi-ld/default-context/"
ID = "urn:ngsi-ld:Sensor:1"
TERMS = core_term_map()


def entity(now: datetime = NOW, **attrs: Any) -> Entity:
    return parse_entity({"id": ID, "type": "Sensor", **attrs}, TERMS, now=now)


def fragment(*, allow_null: bool = False, **attrs: Any) -> Entity:
    return parse_fragment({"id": ID, **attrs}, TERMS, now=NOW, allow_null=allow_null)


def values(result: Entity) -> dict[str, Any]:
    return {name.removeprefix(NS): instances[0]["value"] for name, instances in result["attrs"].items()}


@pytest.mark.parametrize(("body", "error", "detail"), [
    ({}, BadRequestData, "The body of a batch operation must be a JSON array, got an object"),
    (3, BadRequestData, "The body of a batch operation must be a JSON array, got a number"),
    ([], BadRequestData, "The batch is empty: give at least one entity"),
    ([{}, None], BadRequestData, "Item 1 of the batch is null"),
    ([{}] * 4, HttpError, "The batch has 4 items; at most 3 are allowed per request"),
])
def test_batch_items_rejects_a_malformed_array_as_a_whole(body, error, detail):
    with pytest.raises(error) as raised:
        batch_items(body, 3)
    assert raised.value.detail == detail


def test_batch_items_over_the_limit_is_413_with_kyodo_s_own_type():
    with pytest.raises(HttpError) as raised:
        batch_items(["a", "b"], 1)
    assert (raised.value.status, raised.value.type) == (413, "urn:kyodo:error:TooManyEntities")


def test_upsert_of_an_absent_entity_creates_it_and_the_last_replacing_occurrence_wins():
    change = upsert_change([entity(speed=1, old=True), entity(speed=2)], replace=True, now=NOW)
    outcome = change(None)
    assert values(outcome.entity) == {"speed": 2}
    assert [(c.name.removeprefix(NS), c.kind) for c in outcome.changes] == [
        ("speed", "created"), ("old", "created"), ("speed", "updated"), ("old", "deleted")]


def test_upsert_update_of_a_stored_entity_appends_each_occurrence_in_order():
    stored = entity(T0, speed=0, level=5)
    outcome = upsert_change([entity(speed=1, phase="a"), entity(speed=2)], replace=False, now=NOW)(stored)
    assert values(outcome.entity) == {"speed": 2, "level": 5, "phase": "a"}
    assert outcome.entity["createdAt"] == T0


def test_update_of_an_absent_entity_is_resource_not_found():
    with pytest.raises(ResourceNotFound):
        update_change([fragment(level=1)], overwrite=True, now=NOW)(None)


def test_update_with_no_overwrite_collects_the_skipped_attributes_of_every_occurrence():
    outcome = update_change([fragment(speed=1), fragment(speed=2, level=3)], overwrite=False,
                            now=NOW)(entity(T0, speed=0))
    assert values(outcome.entity) == {"speed": 0, "level": 3}
    assert [item.attribute_name for item in outcome.result.not_updated] == [NS + "speed", NS + "speed"]


def test_merge_applies_the_occurrences_in_order_and_a_later_null_deletes():
    fragments = [fragment(level=1, phase="a"), fragment(allow_null=True, level=2, phase="urn:ngsi-ld:null")]
    outcome = merge_change(fragments, now=NOW)(entity(T0, speed=0))
    assert values(outcome.entity) == {"speed": 0, "level": 2}
    assert outcome.changed


def test_an_update_that_changes_nothing_says_so():
    outcome = update_change([fragment(speed=1)], overwrite=False, now=NOW)(entity(T0, speed=0))
    assert not outcome.changed


def test_batch_operation_result_lists_ids_once_and_errors_in_request_order():
    result = BatchOperationResult()
    result.fail(3, "urn:b", AlreadyExists("Entity urn:b already exists"))
    result.succeed(2, "urn:b")
    result.succeed(0, "urn:a")
    result.fail(1, None, BadRequestData("Entity 'id' is missing"))
    result.succeed(4, "urn:a")
    assert result.to_json() == {"success": ["urn:a", "urn:b"], "errors": [
        {"entityId": None, "error": {"type": "https://uri.etsi.org/ngsi-ld/errors/BadRequestData",
                                     "title": "Bad request data", "detail": "Entity 'id' is missing"}},
        {"entityId": "urn:b", "error": {"type": "https://uri.etsi.org/ngsi-ld/errors/AlreadyExists",
                                        "title": "Already exists", "detail": "Entity urn:b already exists"}}]}
