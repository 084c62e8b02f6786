"""Write semantics of the entity operations: what an entity becomes and what changed (no I/O).

Clauses of ETSI GS CIM 009: Update Attributes 5.6.2, Append Attributes 5.6.3, Partial Attribute
Update 5.6.4, Delete Attribute 5.6.5, Merge Entity 5.6.17, Replace Entity 5.6.18, Replace Attribute
5.6.19, with the patch behaviours of 5.5.8 / 5.5.12 (in `broker.ngsild.merge`) and UpdateResult
5.2.18/19. Every function returns new dicts and never mutates its inputs; only the entity, its attrs
dict and the instance lists that change are copied (shallow), the rest is shared.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from broker.ngsild.errors import BadRequestData, ResourceNotFound
from broker.ngsild.merge import created_at, is_ngsi_ld_null, merge_instance, overlay_instance, stamp
from broker.ngsild.model import Entity, Instance

NO_OVERWRITE_REASON = "attribute already exists and noOverwrite was requested"
NOTHING_TO_DELETE_REASON = "attribute instance to delete does not exist"

#: entity members a Replace Entity takes from the replacement (absent there → removed)
_REPLACED_ENTITY_MEMBERS = ("type", "scope", "expiresAt", "attrs")


@dataclass(frozen=True)
class NotUpdated:
    """One attribute instance an operation did not write (5.2.19)."""

    attribute_name: str
    reason: str
    dataset_id: str | None = None


@dataclass
class UpdateResult:
    """5.2.18: rendered by the API as {"updated": [...], "notUpdated": [...]}; names are expanded."""

    updated: list[str] = field(default_factory=list)
    not_updated: list[NotUpdated] = field(default_factory=list)


@dataclass(frozen=True)
class AttributeChange:
    """One instance created, updated or deleted: input for notifications and the temporal store."""

    name: str
    kind: Literal["created", "updated", "deleted"]
    dataset_id: str | None
    previous: Instance | None
    current: Instance | None


@dataclass
class WriteOutcome:
    entity: Entity
    changes: list[AttributeChange]
    result: UpdateResult
    changed: bool = field(default=True, compare=False)
    """False when the operation left the entity as it was (nothing to write, nothing to notify)."""


def append_attributes(entity: Entity, fragment: Entity, *, overwrite: bool, now: datetime) -> WriteOutcome:
    """5.6.3: add new attributes/instances; existing instances are replaced whole unless noOverwrite."""
    edit = _EntityEdit(entity, now)
    for name, instance in _fragment_instances(fragment):
        dataset_id = instance.get("datasetId")
        if overwrite or edit.find(name, dataset_id) is None:
            edit.replace_instance(name, instance)
        else:
            edit.skip(name, NO_OVERWRITE_REASON, dataset_id)
    edit.take_entity_members(fragment)
    return edit.outcome()


def update_attributes(entity: Entity, fragment: Entity, *, now: datetime) -> WriteOutcome:
    """5.6.2: each instance replaces the whole instance with its datasetId; a Null deletes it.

    As V1.8 conformance expects, an unknown attribute or datasetId is appended, not refused.
    """
    edit = _EntityEdit(entity, now)
    for name, instance in _fragment_instances(fragment):
        if is_ngsi_ld_null(instance):
            edit.delete_or_skip(name, instance.get("datasetId"))
        else:
            edit.replace_instance(name, instance)
    edit.take_entity_members(fragment)
    return edit.outcome()


def merge_entity(entity: Entity, fragment: Entity, *, now: datetime,
                 observed_at: str | None = None) -> WriteOutcome:
    """5.6.17: merge-patch every instance of the fragment into the entity; a Null deletes it.

    With `observed_at` (the ?observedAt parameter) a merged instance that already had observedAt is
    restamped with it, unless the fragment gives its own.
    """
    edit = _EntityEdit(entity, now)
    for name, patch in _fragment_instances(fragment):
        dataset_id = patch.get("datasetId")
        if is_ngsi_ld_null(patch):
            edit.delete_or_skip(name, dataset_id)
            continue
        previous = edit.find(name, dataset_id)
        merged = merge_instance(previous, patch, now=now)
        if observed_at is not None and previous is not None and "observedAt" in merged \
                and "observedAt" not in patch:
            merged["observedAt"] = observed_at
        edit.put(name, merged)
    edit.take_entity_members(fragment)
    return edit.outcome()


def partial_update_attribute(entity: Entity, name: str, patch: list[Instance], *,
                             now: datetime) -> WriteOutcome:
    """5.6.4: overwrite only the members given on existing instances; a Null deletes the instance."""
    _require_attribute(entity, name)
    edit = _EntityEdit(entity, now)
    for instance in patch:
        dataset_id = instance.get("datasetId")
        previous = _require_instance(edit, name, dataset_id)
        if "type" in instance and instance["type"] != previous.get("type"):
            raise BadRequestData(f"Partial update cannot change the type of attribute {name} "
                                 f"from {previous.get('type')} to {instance['type']}")
        if is_ngsi_ld_null(instance):
            edit.delete(name, dataset_id)
        else:
            edit.put(name, overlay_instance(previous, instance, now=now))
    return edit.outcome()


def replace_attribute(entity: Entity, name: str, instances: list[Instance], *,
                      now: datetime) -> WriteOutcome:
    """5.6.19: replace whole the instances with the same datasetIds (the type may change)."""
    _require_attribute(entity, name)
    edit = _EntityEdit(entity, now)
    for instance in instances:
        edit.replace_instance(name, instance)
    return edit.outcome()


def delete_attribute(entity: Entity, name: str, *, dataset_id: str | None, delete_all: bool,
                     now: datetime) -> WriteOutcome:
    """5.6.5: delete every instance (deleteAll), the one with `dataset_id`, or the default instance."""
    instances = _require_attribute(entity, name)
    edit = _EntityEdit(entity, now)
    if delete_all:
        for instance in instances:
            edit.delete(name, instance.get("datasetId"))
    else:
        _require_instance(edit, name, dataset_id)
        edit.delete(name, dataset_id)
    return edit.outcome()


def purge_attributes(entity: Entity, *, keep: frozenset[str] | None = None, drop: frozenset[str] | None = None,
                     now: datetime) -> WriteOutcome:
    """Purge with `keep` (delete every other attribute) or `drop` (delete these), V1.9.1 5.6.21."""
    edit = _EntityEdit(entity, now)
    for name, instances in entity.get("attrs", {}).items():
        if (keep is not None and name not in keep) or (drop is not None and name in drop):
            for instance in instances:
                edit.delete(name, instance.get("datasetId"))
    return edit.outcome()


def replace_entity(entity: Entity, replacement: Entity, *, now: datetime) -> WriteOutcome:
    """5.6.18: the replacement's attributes, type, scope and expiresAt replace the old ones.

    The entity keeps its id and createdAt; an instance present before (same name and datasetId)
    keeps its createdAt too, as Replace Attribute does.
    """
    old_attrs: dict[str, list[Instance]] = entity.get("attrs", {})
    new_attrs: dict[str, list[Instance]] = {}
    changes: list[AttributeChange] = []
    for name, instances in replacement.get("attrs", {}).items():
        old_instances = old_attrs.get(name, [])
        new_attrs[name] = []
        for instance in instances:
            previous = _instance_with(old_instances, instance.get("datasetId"))
            current = stamp(instance, created=created_at(previous, now), now=now)
            new_attrs[name].append(current)
            changes.append(_change(name, previous, current))
    for name, instances in old_attrs.items():
        for instance in instances:
            if _instance_with(new_attrs.get(name, []), instance.get("datasetId")) is None:
                changes.append(_change(name, instance, None))
    new_entity = {member: value for member, value in entity.items()
                  if member not in _REPLACED_ENTITY_MEMBERS}
    for member in _REPLACED_ENTITY_MEMBERS:
        if member in replacement:
            new_entity[member] = replacement[member]
    if not replacement.get("type"):
        new_entity["type"] = entity["type"]  # an entity never loses its last type
    new_entity["attrs"] = new_attrs
    new_entity["modifiedAt"] = now
    return WriteOutcome(new_entity, changes, UpdateResult(updated=_changed_names(changes)))


def delete_scope(entity: Entity, *, now: datetime) -> WriteOutcome:
    """DELETE …/attrs/scope: scope is not an attribute but is deleted through that path (4.18)."""
    if "scope" not in entity:
        raise ResourceNotFound(f"Entity {entity['id']} has no scope")
    new_entity = {member: value for member, value in entity.items() if member != "scope"}
    new_entity["modifiedAt"] = now
    return WriteOutcome(new_entity, [], UpdateResult(updated=[]))


def created_entity_changes(entity: Entity) -> list[AttributeChange]:
    """Every instance of a new entity, as a "created" change."""
    return [_change(name, None, instance)
            for name, instances in entity.get("attrs", {}).items() for instance in instances]


def deleted_entity_changes(entity: Entity) -> list[AttributeChange]:
    """Every instance of an entity being deleted, as a "deleted" change."""
    return [_change(name, instance, None)
            for name, instances in entity.get("attrs", {}).items() for instance in instances]


class _EntityEdit:
    """One entity being changed, copy-on-write, recording the changes and the UpdateResult."""

    def __init__(self, entity: Entity, now: datetime) -> None:
        self.original = entity
        self.now = now
        self.attrs: dict[str, list[Instance]] = dict(entity.get("attrs", {}))
        self.members: dict[str, Any] = {}
        self.changes: list[AttributeChange] = []
        self.result = UpdateResult()
        self._copied_lists: set[str] = set()

    def find(self, name: str, dataset_id: str | None) -> Instance | None:
        return _instance_with(self.attrs.get(name, ()), dataset_id)

    def put(self, name: str, instance: Instance) -> None:
        """Set the instance with this datasetId (replacing it if present) as given."""
        instances = self._writable(name)
        index = _index_of(instances, instance.get("datasetId"))
        if index is None:
            instances.append(instance)
            self._record(_change(name, None, instance))
        else:
            previous, instances[index] = instances[index], instance
            self._record(_change(name, previous, instance))

    def replace_instance(self, name: str, instance: Instance) -> None:
        """Put the instance whole, keeping the createdAt of the instance it replaces."""
        previous = self.find(name, instance.get("datasetId"))
        self.put(name, stamp(instance, created=created_at(previous, self.now), now=self.now))

    def delete(self, name: str, dataset_id: str | None) -> None:
        instances = self._writable(name)
        index = _index_of(instances, dataset_id)
        assert index is not None, "callers check the instance exists"
        self._record(_change(name, instances.pop(index), None))
        if not instances:
            del self.attrs[name]

    def delete_or_skip(self, name: str, dataset_id: str | None) -> None:
        if self.find(name, dataset_id) is None:
            self.skip(name, NOTHING_TO_DELETE_REASON, dataset_id)
        else:
            self.delete(name, dataset_id)

    def skip(self, name: str, reason: str, dataset_id: str | None) -> None:
        self.result.not_updated.append(NotUpdated(name, reason, dataset_id))

    def take_entity_members(self, fragment: Entity) -> None:
        """A fragment's `type` adds entity types (no duplicates); its `scope` replaces the scope."""
        types = self.original["type"]
        added = [t for t in dict.fromkeys(fragment.get("type", ())) if t not in types]
        if added:
            self.members["type"] = [*types, *added]
        if "scope" in fragment and fragment["scope"] != self.original.get("scope"):
            self.members["scope"] = fragment["scope"]

    def outcome(self) -> WriteOutcome:
        if not self.changes and not self.members:
            return WriteOutcome(dict(self.original), [], self.result, changed=False)
        entity = {**self.original, **self.members, "attrs": self.attrs, "modifiedAt": self.now}
        if "scope" in entity and not entity["scope"]:
            del entity["scope"]  # an empty scope is no scope
        return WriteOutcome(entity, self.changes, self.result)

    def _writable(self, name: str) -> list[Instance]:
        if name not in self._copied_lists:
            self.attrs[name] = list(self.attrs.get(name, ()))
            self._copied_lists.add(name)
        return self.attrs[name]

    def _record(self, change: AttributeChange) -> None:
        self.changes.append(change)
        if change.name not in self.result.updated:
            self.result.updated.append(change.name)


def _fragment_instances(fragment: Entity) -> Iterator[tuple[str, Instance]]:
    for name, instances in fragment.get("attrs", {}).items():
        for instance in instances:
            yield name, instance


def _require_attribute(entity: Entity, name: str) -> list[Instance]:
    instances = entity.get("attrs", {}).get(name)
    if not instances:
        raise ResourceNotFound(f"Entity {entity.get('id')} has no attribute {name}")
    return instances


def _require_instance(edit: _EntityEdit, name: str, dataset_id: str | None) -> Instance:
    instance = edit.find(name, dataset_id)
    if instance is not None:
        return instance
    if dataset_id is None:
        raise ResourceNotFound(f"Attribute {name} has no default instance and no datasetId was given")
    raise ResourceNotFound(f"Attribute {name} has no instance with datasetId {dataset_id}")


def _index_of(instances: list[Instance], dataset_id: str | None) -> int | None:
    for index, instance in enumerate(instances):
        if instance.get("datasetId") == dataset_id:
            return index
    return None


def _instance_with(instances: Sequence[Instance], dataset_id: str | None) -> Instance | None:
    for instance in instances:
        if instance.get("datasetId") == dataset_id:
            return instance
    return None


def _change(name: str, previous: Instance | None, current: Instance | None) -> AttributeChange:
    kind: Literal["created", "updated", "deleted"]
    if previous is None:
        kind = "created"
    elif current is None:
        kind = "deleted"
    else:
        kind = "updated"
    instance = current if current is not None else previous
    dataset_id = instance.get("datasetId") if instance is not None else None
    return AttributeChange(name, kind, dataset_id, previous, current)


def _changed_names(changes: list[AttributeChange]) -> list[str]:
    return list(dict.fromkeys(change.name for change in changes))
