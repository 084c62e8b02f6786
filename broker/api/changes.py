"""The one path every entity write reports through, single-entity or batch (5.6; hook of 5.8.6).

Handlers call `entities_changed` once per request, after the database acknowledged the writes,
with one `EntityEvent` per entity that changed, in the order they were written. Notifications
and usage meters attach here, so no write path can forget them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from broker.api.request import RequestContext
from broker.ngsild.model import Entity
from broker.ngsild.notification import EntityEvent
from broker.ngsild.update import WriteOutcome, created_entity_changes, deleted_entity_changes


def created(entity: Entity) -> EntityEvent:
    """A new entity: every instance counts as a created attribute."""
    return EntityEvent("created", entity, created_entity_changes(entity), entity["createdAt"])


def updated(outcome: WriteOutcome) -> list[EntityEvent]:
    """The event of a modification, or none when the write changed nothing (e.g. noOverwrite)."""
    if not outcome.changed:
        return []
    return [EntityEvent("updated", outcome.entity, outcome.changes, outcome.entity["modifiedAt"])]


def deleted(entity: Entity, at: datetime) -> EntityEvent:
    """A deleted entity, as it was just before the deletion."""
    return EntityEvent("deleted", entity, deleted_entity_changes(entity), at)


async def entities_changed(ctx: RequestContext, events: Sequence[EntityEvent]) -> None:
    """Entities of `ctx.tenant` changed by this request: notifications are persisted before the
    handler acknowledges the write, so an acknowledged write is never left without them."""
    if not events:
        return
    ctx.services.usage.count_entity_changes(ctx.tenant, (event.kind for event in events))
    await ctx.services.notifier.entities_changed(ctx.tenant, list(events))
