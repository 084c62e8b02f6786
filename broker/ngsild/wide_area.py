"""The wide-area virtual tenant (広域), pure part: per-tenant queries, deterministic merge, source tenant.

The wide-area tenant holds no entities: a query on it runs on every tenant that publishes an
`open` dataset, each through that tenant's CatalogView (catalog_view.py), and the pages are merged
here. Decisions (README "Wide-area queries"):
- A type the query names that a tenant does not publish openly is dropped from that tenant's query;
  a tenant left with none of the requested types is skipped, so a type nobody publishes openly
  answers 200 with an empty list, as a type without entities does on any tenant. Filtering,
  sorting or projecting on an attribute that an in-scope publisher withheld is 403 NotPublished.
- Each tenant's query reads `offset + limit + 1` entities from its start; the union is ordered by
  the keys the database sorted on (distance for `near`, the orderBy values, MongoDB's comparison
  order), then entity id, then tenant, and sliced. Deeper than MAX_WINDOW entities → 403.
- Entity ids are not rewritten: every entity carries its tenant in the Property SOURCE_TENANT,
  so the same id held by two tenants is returned twice, once per tenant; retrieving such an id by
  itself (GET /entities/{id}) is 409 AmbiguousEntity rather than a guess.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from broker.ngsild.catalog_view import CatalogView, restrict_query, withhold
from broker.ngsild.errors import TooManyResults
from broker.ngsild.model import PROPERTY, Entity
from broker.ngsild.notification import EntityEvent
from broker.ngsild.params import RenderOptions
from broker.ngsild.query_ast import And, EntityQuery, EntitySelector, Node, Or, TypeName

SOURCE_TENANT = "urn:kyodo:sourceTenant"
"""The Property naming the tenant an entity comes from; a client @context may map a term to it."""
SOURCE_TENANTS_HEADER = "Kyodo-Source-Tenants"
"""Response (and notification) header: the tenants of the entities in this page, comma-separated."""
MAX_WINDOW = 10_000
"""offset + limit at most this on the wide-area tenant: each tenant reads that many entities."""

OrderValues = tuple[tuple[Any, bool], ...]
"""What the database sorted one entity on: (value, descending) per sort key, in order."""


@dataclass(frozen=True)
class TenantPage:
    """One tenant's answer to its part of a wide-area query."""

    tenant: str
    view: CatalogView
    entities: list[Entity]
    order_values: list[OrderValues]
    count: int | None = None


@dataclass(frozen=True)
class MergedPage:
    entities: list[Entity]
    """With withheld attributes dropped and SOURCE_TENANT added."""
    has_next: bool
    count: int | None
    tenants: list[str]
    """The distinct source tenants of `entities`, sorted."""


def tenant_query(query: EntityQuery, view: CatalogView) -> EntityQuery | None:
    """The part of a wide-area query one tenant answers (from offset 0), or None when it has none of the
    requested types; NotPublished when the query touches an attribute this tenant withholds."""
    readable = view.types.keys()
    types = query.types
    if types is not None:
        types = _narrow(types, readable)
        if types is None:
            return None
    selectors: tuple[EntitySelector, ...] = ()
    if query.selectors:
        selectors = tuple(dataclasses.replace(s, types=narrowed) for s in query.selectors
                          if s.types is None or (narrowed := _narrow(s.types, readable)) is not None)
        if not selectors:
            return None
    restricted = restrict_query(dataclasses.replace(query, types=types, selectors=selectors), view)
    window = query.offset + query.limit + 1 if query.limit else 0
    return dataclasses.replace(restricted, offset=0, limit=window)


def check_window(query: EntityQuery) -> None:
    """TooManyResults when the page reaches deeper than MAX_WINDOW (each tenant would read that many),
    whether or not any tenant publishes what the query asks for."""
    if query.limit and query.offset + query.limit > MAX_WINDOW:
        raise TooManyResults(f"On the wide-area tenant offset + limit may be at most {MAX_WINDOW}; "
                             "narrow the query (type, q, geo-query) instead of paging further")


def _narrow(node: Node, readable: Iterable[str]) -> Node | None:
    """The type expression limited to readable types; None when nothing of it is readable."""
    if isinstance(node, TypeName):
        return node if node.type in readable else None
    if isinstance(node, Or):
        terms = [narrowed for term in node.terms if (narrowed := _narrow(term, readable)) is not None]
        return None if not terms else terms[0] if len(terms) == 1 else Or(tuple(terms))
    if isinstance(node, And):
        terms = [_narrow(term, readable) for term in node.terms]
        return None if any(term is None for term in terms) else And(tuple(terms))  # type: ignore[arg-type]
    return None


def merge_pages(pages: Iterable[TenantPage], *, offset: int, limit: int, count: bool) -> MergedPage:
    """One page of the union of the tenants' pages, in a deterministic order (module docstring)."""
    candidates = []
    total = 0
    for page in pages:
        total += page.count or 0
        for entity, values in zip(page.entities, page.order_values, strict=True):
            candidates.append((_merge_key(values, entity["id"], page.tenant), page, entity))
    candidates.sort(key=lambda item: item[0])
    chosen = candidates[offset:offset + limit]
    entities = [with_source(withhold(entity, page.view), page.tenant) for _, page, entity in chosen]
    return MergedPage(entities=entities, has_next=len(candidates) > offset + limit,
                      count=total if count else None, tenants=sorted({page.tenant for _, page, _ in chosen}))


def with_source(entity: Entity, tenant: str) -> Entity:
    """The entity with its SOURCE_TENANT Property (a copy)."""
    return {**entity, "attrs": {**entity.get("attrs", {}), SOURCE_TENANT: [{"type": PROPERTY, "value": tenant}]}}


def wide_area_render(options: RenderOptions) -> RenderOptions:
    """Rendering that keeps SOURCE_TENANT whatever `attrs` or `pick` keep (only `omit` can drop it)."""
    return dataclasses.replace(
        options,
        attrs=None if options.attrs is None else options.attrs | {SOURCE_TENANT},
        pick=None if options.pick is None else options.pick | {SOURCE_TENANT})


def wide_area_event(event: EntityEvent, view: CatalogView, tenant: str) -> EntityEvent | None:
    """A tenant's entity event as the wide-area tenant's subscriptions see it: None unless one of the
    entity's types is in the view; withheld attributes (and changes to them) dropped; SOURCE_TENANT added."""
    types = event.entity.get("type") or ()
    if not any(entity_type in view.types for entity_type in types):
        return None
    entity = withhold(event.entity, view)
    withheld = event.entity.get("attrs", {}).keys() - entity.get("attrs", {}).keys()
    changes = [change for change in event.changes if change.name not in withheld]
    if event.kind == "updated" and not changes:
        return None
    if event.kind != "deleted":
        entity = with_source(entity, tenant)
    return dataclasses.replace(event, entity=entity, changes=changes)


# --- comparing what the database sorted on, across tenants ------------------------------------------

def _merge_key(values: OrderValues, entity_id: str, tenant: str) -> tuple[Any, ...]:
    return (*(_Descending(_bson_key(value)) if descending else _bson_key(value) for value, descending in values),
            entity_id, tenant)


def _bson_key(value: Any) -> tuple[int, Any]:
    """MongoDB's comparison order: null < numbers < strings < objects < arrays < booleans < dates.

    Objects and arrays compare by their JSON text (MongoDB compares them member by member): two
    tenants' entities whose sort values are objects or arrays may interleave slightly differently.
    """
    if value is None:
        return (1, 0)
    if isinstance(value, bool):
        return (8, value)
    if isinstance(value, int | float):
        return (2, value)
    if isinstance(value, str):
        return (3, value)
    if isinstance(value, datetime):
        return (9, value.timestamp())
    if isinstance(value, dict):
        return (4, orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=str))
    if isinstance(value, list | tuple):
        return (5, orjson.dumps(list(value), default=str))
    return (10, str(value))


@functools.total_ordering
class _Descending:
    """A sort key compared the other way round (orderBy `;desc`)."""

    __slots__ = ("key",)

    def __init__(self, key: tuple[int, Any]) -> None:
        self.key = key

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Descending) and self.key == other.key

    def __lt__(self, other: _Descending) -> bool:
        return other.key < self.key

    def __hash__(self) -> int:
        return hash(self.key)


# --- discovery ------------------------------------------------------------------------------------

def merge_discovery(results: Iterable[Any], *, single: bool = False) -> Any:
    """The union of several tenants' discovery answers (broker/store/discovery.py shapes): name lists
    are merged and sorted; rows naming the same type or attribute have their lists unioned and their
    counts summed. `single`: each answer is one row or None (None when no tenant has one)."""
    if single:
        rows = [result for result in results if result is not None]
        return _merge_rows(rows) if rows else None
    results = list(results)
    if all(isinstance(item, str) for result in results for item in result):
        return sorted({item for result in results for item in result})
    grouped: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        for row in result:
            grouped.setdefault(_row_name(row), []).append(row)
    return [_merge_rows(group) for _, group in sorted(grouped.items())]


def views_by_tenant(published: Iterable[tuple[str, str, frozenset[str]]]) -> dict[str, CatalogView]:
    """(tenant, entity type, withheld attributes) of each open dataset → each tenant's CatalogView."""
    types: dict[str, dict[str, frozenset[str]]] = {}
    for tenant, entity_type, withheld in published:
        types.setdefault(tenant, {})[entity_type] = withheld
    return {tenant: CatalogView(readable) for tenant, readable in sorted(types.items())}


def _row_name(row: Mapping[str, Any]) -> str:
    return row["typeName"] if "typeName" in row else row["attributeName"]


def _merge_rows(rows: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for row in rows:
        for key, value in row.items():
            if key not in merged:
                merged[key] = value
            elif isinstance(value, int) and not isinstance(value, bool):
                merged[key] += value
            elif isinstance(value, list) and any(isinstance(item, dict) for item in (*merged[key], *value)):
                merged[key] = merge_discovery([merged[key], value])
            elif isinstance(value, list):
                merged[key] = sorted(set(merged[key]) | set(value))
    return merged
