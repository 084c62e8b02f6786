"""Entity events and the notifications they produce: triggers, data items, payloads (5.8.6, 5.3.1)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from broker.ngsild.context import TermMap
from broker.ngsild.model import NGSI_LD_NULL, VALUE_MEMBER, Entity, Instance
from broker.ngsild.names import format_datetime
from broker.ngsild.params import RenderOptions
from broker.ngsild.render import render_entity
from broker.ngsild.update import AttributeChange

ENTITY_CREATED, ENTITY_UPDATED, ENTITY_DELETED = "entityCreated", "entityUpdated", "entityDeleted"
ATTRIBUTE_CREATED, ATTRIBUTE_UPDATED, ATTRIBUTE_DELETED = "attributeCreated", "attributeUpdated", "attributeDeleted"
DEFAULT_TRIGGERS = (ATTRIBUTE_CREATED, ATTRIBUTE_UPDATED)

_PREVIOUS_MEMBER = {
    "value": "previousValue", "object": "previousObject", "languageMap": "previousLanguageMap",
    "vocab": "previousVocab", "json": "previousJson", "valueList": "previousValueList",
    "objectList": "previousObjectList",
}


@dataclass(frozen=True)
class EntityEvent:
    """One entity changed by one write: what every write path reports, single or batch."""

    kind: Literal["created", "updated", "deleted"]
    entity: Entity
    """After the write; for "deleted", the entity as it was."""
    changes: list[AttributeChange] = field(default_factory=list)
    at: datetime | None = None


def fired_triggers(event: EntityEvent, watched: frozenset[str] | None) -> set[str]:
    """The notificationTrigger values this event fires for a subscription watching `watched`."""
    relevant = [c for c in event.changes if watched is None or c.name in watched]
    fired = {_ATTRIBUTE_TRIGGER[c.kind] for c in relevant}
    if event.kind == "created":
        if watched is None or any(name in watched for name in event.entity.get("attrs", {})):
            fired.add(ENTITY_CREATED)
    elif event.kind == "deleted":
        fired.add(ENTITY_DELETED)
        if any(watched is None or name in watched for name in event.entity.get("attrs", {})):
            fired.add(ATTRIBUTE_DELETED)
    elif relevant:
        fired.add(ENTITY_UPDATED)
    return fired


_ATTRIBUTE_TRIGGER = {"created": ATTRIBUTE_CREATED, "updated": ATTRIBUTE_UPDATED, "deleted": ATTRIBUTE_DELETED}


def notification_item(event: EntityEvent, terms: TermMap, options: RenderOptions, *, show_changes: bool,
                      now: datetime) -> dict[str, Any]:
    """The `data` element for one entity (5.3.1): the entity in the subscription's format, with
    deleted attributes as NGSI-LD Null and, with showChanges, the previous values."""
    entity = event.entity
    if event.kind == "deleted":
        item: dict[str, Any] = {"id": entity["id"], "type": _compact_types(entity["type"], terms),
                                "deletedAt": format_datetime(event.at or now)}
        if options.sys_attrs:
            item["createdAt"] = format_datetime(entity["createdAt"])
            item["modifiedAt"] = format_datetime(entity["modifiedAt"])
        return item
    deleted = [c for c in event.changes if c.kind == "deleted" and c.previous is not None]
    if deleted:
        attrs = dict(entity.get("attrs", {}))
        for change in deleted:
            attrs.setdefault(change.name, []).append(_null_instance(change.previous, change.dataset_id))
        entity = {**entity, "attrs": attrs}
    rendered = render_entity(entity, terms, options)
    if rendered is None:
        return {"id": entity["id"], "type": _compact_types(entity["type"], terms)}
    if show_changes and options.format == "normalized":
        _add_previous_values(rendered, event.changes, terms)
    return rendered


def notification_payload(subscription_id: str, data: list[dict[str, Any]], now: datetime) -> dict[str, Any]:
    return {"id": f"urn:ngsi-ld:Notification:{uuid.uuid4()}", "type": "Notification",
            "subscriptionId": subscription_id, "notifiedAt": format_datetime(now), "data": data}


def _compact_types(types: list[str], terms: TermMap) -> str | list[str]:
    compacted = [terms.compact(t) for t in types]
    return compacted[0] if len(compacted) == 1 else compacted


def _null_instance(previous: Instance, dataset_id: str | None) -> Instance:
    kind = previous.get("type", "Property")
    member = VALUE_MEMBER.get(kind, "value")
    instance: Instance = {"type": kind, member: {"@none": NGSI_LD_NULL} if member == "languageMap" else NGSI_LD_NULL}
    if dataset_id is not None:
        instance["datasetId"] = dataset_id
    return instance


def _add_previous_values(rendered: dict[str, Any], changes: Iterable[AttributeChange], terms: TermMap) -> None:
    for change in changes:
        if change.kind == "created" or change.previous is None:
            continue
        output = rendered.get(terms.compact(change.name))
        instances = output if isinstance(output, list) else [output]
        for instance in instances:
            if not isinstance(instance, dict) or instance.get("datasetId") != change.dataset_id:
                continue
            member = VALUE_MEMBER.get(change.previous.get("type", "Property"), "value")
            if member in change.previous:
                previous = change.previous[member]
                if member == "vocab":
                    previous = [terms.compact(v) for v in previous] if isinstance(previous, list) \
                        else terms.compact(previous)
                instance[_PREVIOUS_MEMBER[member]] = previous
