"""Batch entity operations: POST /entityOperations/{create,upsert,update,delete,merge}
(GS CIM 009 5.6.7-5.6.10, 5.6.20; HTTP binding 6.14-6.17, 6.31).

201 or 204 when every entity succeeded, else 207 with a BatchOperationResult: one bad entity never
fails the others, and each entity follows the 6.3.5 @context rules on its own. Repeated ids: see
broker/ngsild/batch.py; the bulk writes: broker/store/batch.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from aiohttp import web

from broker.api import changes
from broker.api.http import API_BASE, check_params, json_response, no_content, read_json, utc_now, write_options
from broker.api.request import RequestContext, body_context, request_context
from broker.api.state import services
from broker.ngsild import batch
from broker.ngsild import entity as payload
from broker.ngsild.batch import BatchOperationResult, item_entity_id, json_kind
from broker.ngsild.context import TermMap
from broker.ngsild.errors import AlreadyExists, BadRequestData, InvalidRequest, NgsiLdError, ResourceNotFound
from broker.ngsild.media import JSON_LD, request_media_type
from broker.ngsild.model import Entity
from broker.ngsild.names import require_entity_id
from broker.ngsild.notification import EntityEvent
from broker.ngsild.update import UpdateResult
from broker.store.batch import Applied, BatchStore
from tenants.quotas import check_batch_size

_PARAMS = ("local",)


@dataclass(frozen=True)
class _Item:
    """One valid entity (or fragment) of the array, with its place and its @context's term map."""

    index: int
    entity: Entity
    terms: TermMap


async def create_entities(request: web.Request) -> web.Response:
    """POST /entityOperations/create — 5.6.7: 201 + the created ids, or 207."""
    check_params(request, _PARAMS)
    operation = await _Batch.read(request, create=True)
    now = utc_now()
    items = await operation.parse_each(lambda body, terms: payload.parse_entity(body, terms, now=now))
    entities = await operation.within_entity_quota(operation.first_occurrences(items))
    if entities:
        await operation.ctx.register_tenant()
    failures = await BatchStore(operation.ctx.db).insert([item.entity for item in entities])
    await operation.report_created(entities, failures)
    return operation.response(lambda: json_response(operation.result.success, status=201))


async def upsert_entities(request: web.Request) -> web.Response:
    """POST /entityOperations/upsert — 5.6.8: 201 + the newly created ids, 204 if none, or 207."""
    check_params(request, ("options", *_PARAMS))
    options = write_options(request, ("update", "replace"))
    if len(options) > 1:
        raise InvalidRequest("'options' is either update or replace, not both")
    operation = await _Batch.read(request, create=True)
    now = utc_now()
    items = await operation.parse_each(lambda body, terms: payload.parse_entity(body, terms, now=now))
    by_id = _by_id(await operation.within_entity_quota(items))
    if by_id:
        await operation.ctx.register_tenant()
    written = await BatchStore(operation.ctx.db).apply({
        entity_id: batch.upsert_change([item.entity for item in group], replace="update" not in options, now=now)
        for entity_id, group in by_id.items()})
    created = await operation.report(by_id, written)
    return operation.response(lambda: json_response(created, status=201) if created else no_content())


async def update_entities(request: web.Request) -> web.Response:
    """POST /entityOperations/update — 5.6.9: Append Entity Attributes (5.6.3) per entity; 204 or 207."""
    check_params(request, ("options", *_PARAMS))
    overwrite = "noOverwrite" not in write_options(request, ("noOverwrite",))
    operation = await _Batch.read(request)
    now = utc_now()
    items = await operation.parse_each(lambda body, terms: _fragment(body, terms, now=now, allow_null=False))
    by_id = _by_id(items)
    written = await BatchStore(operation.ctx.db).apply({
        entity_id: batch.update_change([item.entity for item in group], overwrite=overwrite, now=now)
        for entity_id, group in by_id.items()})
    await operation.report(by_id, written)
    return operation.response(no_content)


async def merge_entities(request: web.Request) -> web.Response:
    """POST /entityOperations/merge — 5.6.20: Merge Entity (5.6.17) per entity; 204 or 207."""
    check_params(request, _PARAMS)
    operation = await _Batch.read(request)
    now = utc_now()
    items = await operation.parse_each(lambda body, terms: _fragment(body, terms, now=now, allow_null=True))
    by_id = _by_id(items)
    written = await BatchStore(operation.ctx.db).apply({
        entity_id: batch.merge_change([item.entity for item in group], now=now)
        for entity_id, group in by_id.items()})
    await operation.report(by_id, written)
    return operation.response(no_content)


async def delete_entities(request: web.Request) -> web.Response:
    """POST /entityOperations/delete — 5.6.10: the body is an array of entity ids; 204 or 207."""
    check_params(request, _PARAMS)
    operation = await _Batch.read(request)
    entity_ids = operation.distinct_ids()
    deleted = await BatchStore(operation.ctx.db).delete(list(entity_ids))
    await operation.report_deleted(entity_ids, deleted)
    return operation.response(no_content)


@dataclass
class _Batch:
    """One batch request: its array, its context, and the BatchOperationResult being filled."""

    array: list[Any]
    ctx: RequestContext
    inline_contexts: bool
    """application/ld+json: every entity carries its own @context."""
    result: BatchOperationResult

    @classmethod
    async def read(cls, request: web.Request, *, create: bool = False) -> _Batch:
        """Media type → JSON array → the request's @context rules → tenant; items are checked later."""
        media = request_media_type(request.headers.get("Content-Type"))
        array = batch.batch_items(await read_json(request), services(request).settings.max_batch_entities)
        ctx = await request_context(request, context=body_context(array, media, request), from_link=False,
                                    create=create)
        check_batch_size(ctx.tenant, ctx.quotas, len(array))
        return cls(array, ctx, media == JSON_LD, BatchOperationResult())

    async def parse_each(self, parse: Callable[[dict[str, Any], TermMap], Entity]) -> list[_Item]:
        """Validate and expand every item once; an invalid one becomes its error entry."""
        resolved: dict[bytes, TermMap | NgsiLdError] = {}
        items = []
        for index, body in enumerate(self.array):
            try:
                terms = await self._terms_of(body, resolved)
                items.append(_Item(index, parse(body, terms), terms))
            except NgsiLdError as exc:
                self.result.fail(index, item_entity_id(body), exc)
        return items

    async def _terms_of(self, body: Any, resolved: dict[bytes, TermMap | NgsiLdError]) -> TermMap:
        """The term map of one entity under the 6.3.5 rules: the request's, or its own @context."""
        if not isinstance(body, dict):
            raise BadRequestData(f"Each entity must be a JSON object, got {json_kind(body)}")
        if not self.inline_contexts:
            if "@context" in body:
                raise BadRequestData("@context in an entity requires Content-Type application/ld+json "
                                     "(with application/json, send the context in a Link header)")
            return self.ctx.terms
        if "@context" not in body:
            raise BadRequestData("With Content-Type application/ld+json every entity needs its own @context")
        # resolved once per distinct @context, failures too: an unreachable context is not fetched again
        key = orjson.dumps(body["@context"], option=orjson.OPT_SORT_KEYS)
        if key not in resolved:
            try:
                resolved[key] = await self.ctx.services.contexts.term_map(body["@context"], self.ctx.tenant)
            except NgsiLdError as exc:
                resolved[key] = exc
        terms = resolved[key]
        if isinstance(terms, NgsiLdError):
            raise terms
        return terms

    async def within_entity_quota(self, items: list[_Item]) -> list[_Item]:
        """The items maxEntities allows: a new entity beyond the room left is a QuotaExceeded entry.

        New entities get the room in array order; entities that already exist never need any.
        """
        first: dict[str, _Item] = {}
        for item in items:
            first.setdefault(item.entity["id"], item)
        refused = await self.ctx.entities_beyond_quota(list(first))
        for entity_id, error in refused.items():
            self.result.fail(first[entity_id].index, entity_id, error)
        return [item for item in items if item.entity["id"] not in refused]

    def first_occurrences(self, items: list[_Item]) -> list[_Item]:
        """Create: the first occurrence of each id; a repeat is an AlreadyExists entry."""
        first: dict[str, _Item] = {}
        for item in items:
            entity_id = item.entity["id"]
            if entity_id in first:
                self.result.fail(item.index, entity_id,
                                 AlreadyExists(f"Entity {entity_id} is created earlier in this batch"))
            else:
                first[entity_id] = item
        return list(first.values())

    def distinct_ids(self) -> dict[str, int]:
        """Delete: each valid id with the index of its first occurrence; a repeat is a ResourceNotFound entry."""
        first: dict[str, int] = {}
        for index, value in enumerate(self.array):
            try:
                entity_id = require_entity_id(value, f"item {index}")
            except NgsiLdError as exc:
                self.result.fail(index, item_entity_id(value), exc)
                continue
            if entity_id in first:
                self.result.fail(index, entity_id,
                                 ResourceNotFound(f"Entity {entity_id} is deleted earlier in this batch"))
            else:
                first[entity_id] = index
        return first

    async def report_created(self, items: list[_Item], failures: list[NgsiLdError | None]) -> None:
        events = []
        for item, failure in zip(items, failures, strict=True):
            if failure is None:
                self.result.succeed(item.index, item.entity["id"])
                events.append(changes.created(item.entity))
            else:
                self.result.fail(item.index, item.entity["id"], failure)
        await changes.entities_changed(self.ctx, events)

    async def report_deleted(self, entity_ids: dict[str, int], deleted: dict[str, Entity | NgsiLdError]) -> None:
        now = utc_now()
        events = []
        for entity_id, index in entity_ids.items():
            outcome = deleted[entity_id]
            if isinstance(outcome, NgsiLdError):
                self.result.fail(index, entity_id, outcome)
            else:
                self.result.succeed(index, entity_id)
                events.append(changes.deleted(outcome, now))
        await changes.entities_changed(self.ctx, events)

    async def report(self, by_id: dict[str, list[_Item]], written: dict[str, Applied | NgsiLdError]) -> list[str]:
        """Record each entity's result, report what changed; return the ids of the entities created.

        An entity whose write left attributes as they were (noOverwrite, a Null for a missing
        attribute) is an error entry naming them, as the single-entity 207 UpdateResult does;
        what it did write stays written.
        """
        events: list[EntityEvent] = []
        created = []
        for entity_id, group in by_id.items():
            outcome = written[entity_id]
            if isinstance(outcome, NgsiLdError):
                self.result.fail(group[0].index, entity_id, outcome)
                continue
            events += [changes.created(outcome.outcome.entity)] if outcome.created else changes.updated(outcome.outcome)
            if outcome.outcome.result.not_updated:
                error = _not_updated(entity_id, outcome.outcome.result, group[-1].terms)
                self.result.fail(group[0].index, entity_id, error)
                continue
            self.result.succeed(group[0].index, entity_id)
            if outcome.created:
                created.append(entity_id)
        await changes.entities_changed(self.ctx, events)
        return created

    def response(self, success: Callable[[], web.Response]) -> web.Response:
        """`success()` when every entity succeeded, else 207 with the BatchOperationResult."""
        return json_response(self.result.to_json(), status=207) if self.result.failed else success()


def _fragment(body: dict[str, Any], terms: TermMap, *, now: datetime, allow_null: bool) -> Entity:
    """An entity of a batch update or merge: a fragment (5.6.3, 5.6.17) that names its entity."""
    if "id" not in body and "@id" not in body:
        raise BadRequestData("Entity 'id' is missing")
    return payload.parse_fragment(body, terms, now=now, allow_null=allow_null)


def _by_id(items: list[_Item]) -> dict[str, list[_Item]]:
    """The valid items grouped by entity id: ids in order of appearance, each group in array order."""
    groups: dict[str, list[_Item]] = {}
    for item in items:
        groups.setdefault(item.entity["id"], []).append(item)
    return groups


def _not_updated(entity_id: str, result: UpdateResult, terms: TermMap) -> BadRequestData:
    listed = "; ".join(terms.compact(item.attribute_name)
                       + (f" (datasetId {item.dataset_id})" if item.dataset_id else "") + f": {item.reason}"
                       for item in result.not_updated)
    return BadRequestData(f"Not written in entity {entity_id}: {listed}")


def add_routes(app: web.Application) -> None:
    base = f"{API_BASE}/entityOperations"
    app.router.add_post(f"{base}/create", create_entities)
    app.router.add_post(f"{base}/upsert", upsert_entities)
    app.router.add_post(f"{base}/update", update_entities)
    app.router.add_post(f"{base}/delete", delete_entities)
    app.router.add_post(f"{base}/merge", merge_entities)
