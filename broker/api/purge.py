"""Purge entities: DELETE /entities with a selection, optionally `keep` or `drop` attributes (V1.9.1 5.6.21).

Matching entities are walked in id order, 500 at a time, each page deleted (or stripped of
attributes) with one bulk write; every change is reported like any other write (notifications).
An entity deleted or changed by another request meanwhile is left to that request (204 still).
"""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from broker.api import changes
from broker.api.http import API_BASE, check_params, no_content, utc_now
from broker.api.request import request_context
from broker.ngsild.batch import Change
from broker.ngsild.errors import BadRequestData, NgsiLdError, ResourceNotFound
from broker.ngsild.model import Entity
from broker.ngsild.params import parse_attribute_names
from broker.ngsild.query import parse_query_params
from broker.ngsild.update import WriteOutcome, purge_attributes
from broker.store.batch import Applied, BatchStore
from broker.store.query import matching_ids

_SELECTORS = ("type", "id", "idPattern", "q", "scopeQ")
_PAGE = 500


async def purge_entities(request: web.Request) -> web.Response:
    """DELETE /entities?type=…&q=…[&keep=…|&drop=…] — 204; no selector or keep with drop → 400."""
    check_params(request, (*_SELECTORS, "keep", "drop", "local"))
    if not any(name in request.query for name in _SELECTORS):
        raise BadRequestData(f"Purge needs at least one of {', '.join(_SELECTORS)}: it would delete everything")
    if "keep" in request.query and "drop" in request.query:
        raise BadRequestData("keep and drop cannot be used together")
    ctx = await request_context(request)
    selection = {name: value for name, value in request.query.items() if name in _SELECTORS}
    # purge names its entities explicitly, so V1.8's too-wide rule for queries does not apply
    query = parse_query_params({**selection, "local": "true"}, ctx.terms)
    keep = parse_attribute_names(request.query.get("keep"), "keep", ctx.terms)
    drop = parse_attribute_names(request.query.get("drop"), "drop", ctx.terms)
    store = BatchStore(ctx.db)
    after: str | None = None
    while ids := await matching_ids(ctx.db, query, after=after, limit=_PAGE):
        after = ids[-1]
        now = utc_now()
        if keep is None and drop is None:
            deleted = await store.delete(ids)
            events = [changes.deleted(entity, now) for entity in deleted.values()
                      if not isinstance(entity, NgsiLdError)]
        else:
            applied = await store.apply({entity_id: _stripper(keep, drop, now) for entity_id in ids})
            events = [event for result in applied.values() if isinstance(result, Applied)
                      for event in changes.updated(result.outcome)]
        await changes.entities_changed(ctx, events)
    return no_content()


def _stripper(keep: frozenset[str] | None, drop: frozenset[str] | None, now: datetime) -> Change:
    def change(entity: Entity | None) -> WriteOutcome:
        if entity is None:
            raise ResourceNotFound("entity deleted meanwhile")
        return purge_attributes(entity, keep=keep, drop=drop, now=now)
    return change


def add_routes(app: web.Application) -> None:
    app.router.add_delete(f"{API_BASE}/entities", purge_entities)
