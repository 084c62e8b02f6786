"""Batch entity operations without I/O: the request array, repeated ids, what each entity becomes,
and the BatchOperationResult (GS CIM 009 5.6.7-5.6.10, 5.6.20, 5.2.16/17).

Repeated ids inside one request are applied in array order (4.6.6: the later occurrence is the
newer one), and each entity is written once with the result of all its occurrences:
- create: the first valid occurrence is created; every repeat is an AlreadyExists error;
- upsert, update, merge: the occurrences are applied one after the other, so the last one wins
  where they overlap (upsert with replace: the last occurrence is the entity);
- delete: the first occurrence deletes; every repeat is a ResourceNotFound error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from broker.ngsild import update
from broker.ngsild.errors import BadRequestData, HttpError, NgsiLdError, ResourceNotFound
from broker.ngsild.model import Entity
from broker.ngsild.update import UpdateResult, WriteOutcome

TOO_MANY_ENTITIES = "urn:kyodo:error:TooManyEntities"

Change = Callable[[Entity | None], WriteOutcome]
"""What one entity becomes, given how it is stored now (None: it does not exist)."""


def batch_items(body: Any, limit: int) -> list[Any]:
    """The items of a batch body: a non-empty JSON array of at most `limit` non-null items."""
    if not isinstance(body, list):
        raise BadRequestData(f"The body of a batch operation must be a JSON array, got {json_kind(body)}")
    if not body:
        raise BadRequestData("The batch is empty: give at least one entity")
    if len(body) > limit:
        raise HttpError(413, "Too many entities",
                        f"The batch has {len(body)} items; at most {limit} are allowed per request",
                        TOO_MANY_ENTITIES)
    for index, item in enumerate(body):
        if item is None:
            raise BadRequestData(f"Item {index} of the batch is null")
    return body


def item_entity_id(item: Any) -> str | None:
    """The id an item names, as written, for its error entry; None when it names none."""
    if isinstance(item, str):
        return item
    if isinstance(item, dict):
        value = item.get("id", item.get("@id"))
        if isinstance(value, str):
            return value
    return None


def upsert_change(entities: Sequence[Entity], *, replace: bool, now: datetime) -> Change:
    """5.6.8: create the entity if absent, else replace it (5.6.18) or append to it (5.6.3, update)."""
    def change(stored: Entity | None) -> WriteOutcome:
        steps: list[Callable[[Entity], WriteOutcome]] = []
        for entity in entities:
            if replace:
                steps.append(lambda current, e=entity: update.replace_entity(current, e, now=now))
            else:
                steps.append(lambda current, e=entity: update.append_attributes(current, e, overwrite=True, now=now))
        if stored is None:
            first = entities[0]
            created = WriteOutcome(first, update.created_entity_changes(first), UpdateResult(list(first["attrs"])))
            return _in_order(created, steps[1:])
        return _in_order(WriteOutcome(stored, [], UpdateResult(), changed=False), steps)
    return change


def update_change(fragments: Sequence[Entity], *, overwrite: bool, now: datetime) -> Change:
    """5.6.9: Append Entity Attributes (5.6.3) on an existing entity; noOverwrite keeps existing ones."""
    return _existing(fragments, lambda current, fragment: update.append_attributes(
        current, fragment, overwrite=overwrite, now=now))


def merge_change(fragments: Sequence[Entity], *, now: datetime) -> Change:
    """5.6.20: Merge Entity (5.6.17) on an existing entity; NGSI-LD Null deletes."""
    return _existing(fragments, lambda current, fragment: update.merge_entity(current, fragment, now=now))


def _existing(fragments: Sequence[Entity], apply: Callable[[Entity, Entity], WriteOutcome]) -> Change:
    entity_id = fragments[0]["id"]

    def change(stored: Entity | None) -> WriteOutcome:
        if stored is None:
            raise ResourceNotFound(f"Entity {entity_id} not found")
        steps = [lambda current, f=fragment: apply(current, f) for fragment in fragments]
        return _in_order(WriteOutcome(stored, [], UpdateResult(), changed=False), steps)
    return change


def _in_order(start: WriteOutcome, steps: Sequence[Callable[[Entity], WriteOutcome]]) -> WriteOutcome:
    """The outcome of applying `steps` one after the other: every change, every UpdateResult item."""
    outcome = start
    for step in steps:
        following = step(outcome.entity)
        result = UpdateResult(list(dict.fromkeys([*outcome.result.updated, *following.result.updated])),
                              [*outcome.result.not_updated, *following.result.not_updated])
        outcome = WriteOutcome(following.entity, [*outcome.changes, *following.changes], result,
                               changed=outcome.changed or following.changed)
    return outcome


class BatchOperationResult:
    """5.2.16: the ids written and one BatchEntityError (5.2.17) per failed item, in request order."""

    def __init__(self) -> None:
        self._success: dict[str, int] = {}   # id → index of its first occurrence
        self._errors: list[tuple[int, str | None, NgsiLdError]] = []

    def succeed(self, index: int, entity_id: str) -> None:
        self._success.setdefault(entity_id, index)

    def fail(self, index: int, entity_id: str | None, error: NgsiLdError) -> None:
        self._errors.append((index, entity_id, error))

    @property
    def success(self) -> list[str]:
        return sorted(self._success, key=self._success.__getitem__)

    @property
    def failed(self) -> bool:
        return bool(self._errors)

    def to_json(self) -> dict[str, Any]:
        errors = sorted(self._errors, key=lambda error: error[0])
        return {"success": self.success,
                "errors": [{"entityId": entity_id, "error": error.to_problem()} for _, entity_id, error in errors]}


def json_kind(value: Any) -> str:
    """How a JSON value is called in error details: "an object", "a string", "null"…"""
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(type(value), "a number")
