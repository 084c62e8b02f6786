"""Query Entities against the entities collection (GS CIM 009 5.7.2, 4.9, 4.10, 4.17, 4.19, 4.23).

to_mongo_filter translates the query AST (broker/ngsild/query_ast.py) into one MongoDB filter;
find_entities runs it with pagination, projection and ordering pushed to the database and the
cursor streamed in batches.

- Pages are deterministic: without orderBy the order is `_id` ascending, and `_id` breaks ties
  after any orderBy key. `near` orders by distance and adds no sort.
- orderBy on an attribute sorts on its instances' `value` (then `object`, for Relationships);
  `attr.sub`, `attr[key]`, `attr[lang]` and `attr.observedAt` sort on that member. An attribute
  holds a list of instances, so MongoDB's array rule decides: ascending uses the smallest value of
  the entity, descending the largest; numbers sort before strings; an entity without the value
  sorts first ascending and last descending (MongoDB's rule for missing values, which differs
  from 4.23's "absent last" in the ascending case). MongoDB cannot sort on two different arrays
  (`type` and an attribute, or two attributes): such orders run as an aggregation that first
  reduces each key to that smallest / largest value (an array-valued `value` then counts as one
  element, compared as an array).
- With `order_values`, each entity comes with what the database sorted it on (its `near`
  distance, or each orderBy key reduced as above, always through the aggregation), so pages of
  several databases can be merged in the same order (the wide-area tenant).
- The count is count_documents on the same filter; for near it is a `$geoNear` pipeline (see
  broker/store/geo.py). For equals, contains and overlaps (and `within` a non-area), whose exact
  test runs in Python, skip/limit and the count are applied while streaming the candidates.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ExecutionTimeout, OperationFailure

from broker.ngsild.model import Entity
from broker.ngsild.params import ENTITY_MEMBER_NAMES
from broker.ngsild.query_ast import (
    And,
    AttributePath,
    EntityQuery,
    EntitySelector,
    Node,
    Or,
    OrderKey,
    ScopeMatch,
    TypeName,
)
from broker.store.documents import LANG_VALUES, attrs_path, from_document, geo_path
from broker.store.entities import ENTITIES
from broker.store.errors import query_timed_out
from broker.store.geo import (
    ensure_geo_index,
    forget_geo_index,
    geo_filter,
    near_count_pipeline,
    near_stage,
    post_filter,
)
from broker.store.q_filter import DATE_MEMBERS, Filter, conjoin, disjoin, q_filter, split_sub

#: entity members every projection keeps (from_document needs them; render may show them)
_KEPT_FIELDS = ("_id", "type", "scope", "createdAt", "modifiedAt", "expiresAt")
_MAX_BATCH = 500

QUERY_TIME_LIMIT_MS: ContextVar[int] = ContextVar("query_time_limit_ms", default=30_000)
"""The database time one query may take (maxTimeMS): KYODO_QUERY_TIMEOUT_MS, set for each request
where its context is resolved (broker/api/request.py); background work keeps the default."""


@dataclass
class QueryResult:
    """One page of a query: the entities (expanded form) and, when asked for, the total count."""

    entities: list[Entity]
    count: int | None = None
    order_values: list[tuple[tuple[Any, bool], ...]] | None = None
    """With find_entities(order_values=True): per entity, (value, descending) of each sort key."""


def to_mongo_filter(query: EntityQuery) -> Filter:
    """The MongoDB filter selecting the entities a query matches (pure)."""
    clauses: list[Filter] = []
    if query.ids or query.id_pattern:
        clauses.append({"_id": _id_condition(query.ids, query.id_pattern)})
    if query.selectors:
        clauses.append(disjoin(_selector_filter(selector) for selector in query.selectors))
    if query.geo is not None:
        clauses.append(geo_filter(query.geo))
    if query.types is not None:
        clauses.append(type_filter(query.types))
    if query.q is not None:
        clauses.append(q_filter(query.q))
    if query.attrs:
        clauses.append(disjoin({"attrNames": name} for name in sorted(query.attrs)))
    if query.scope_q is not None:
        clauses.append(scope_filter(query.scope_q))
    return conjoin(clauses)


def _selector_filter(selector: EntitySelector) -> Filter:
    clauses = []
    if selector.ids or selector.id_pattern:
        clauses.append({"_id": _id_condition(selector.ids, selector.id_pattern)})
    if selector.types is not None:
        clauses.append(type_filter(selector.types))
    return conjoin(clauses)


def _id_condition(ids: tuple[str, ...], id_pattern: str | None) -> Any:
    if ids:
        return {"$in": list(ids)}  # id beats idPattern (5.2.33)
    return {"$regex": id_pattern}  # a search, not anchored (NGSI-LD.md 4)


def type_filter(node: Node) -> Filter:
    """A type expression (4.17): `type` holds all of an entity's expanded types."""
    if isinstance(node, TypeName):
        return {"type": node.type}
    if isinstance(node, And):
        return conjoin(type_filter(term) for term in node.terms)
    if isinstance(node, Or):
        return disjoin(type_filter(term) for term in node.terms)
    raise TypeError(f"not a type expression node: {node!r}")


def scope_filter(node: Node) -> Filter:
    """A scopeQ expression (4.19) as anchored patterns on the entity's scopes."""
    if isinstance(node, ScopeMatch):
        return {"scope": {"$regex": scope_regex(node.pattern)}}
    if isinstance(node, And):
        return conjoin(scope_filter(term) for term in node.terms)
    if isinstance(node, Or):
        return disjoin(scope_filter(term) for term in node.terms)
    raise TypeError(f"not a scopeQ node: {node!r}")


def scope_regex(pattern: str) -> str:
    """`/A/+/C` → one level for `+`; `/A/#` → /A and everything below it; `/#` → any scope."""
    regex = "^"
    for segment in pattern.strip("/").split("/"):
        if segment == "#":
            regex += "(?:/.*)?"
            break
        regex += "/" + ("[^/]+" if segment == "+" else re.escape(segment))
    return regex + "$"


# --- running a query ----------------------------------------------------------------------------


async def find_entities(db: AsyncDatabase, query: EntityQuery, *, order_values: bool = False) -> QueryResult:
    """One page of the entities matching a query, and their count when query.count is set; with
    `order_values`, also what each entity was sorted on (see the module docstring). 504 when the
    database works on it longer than QUERY_TIME_LIMIT_MS."""
    max_time_ms = QUERY_TIME_LIMIT_MS.get()
    try:
        return await _find_entities(db, query, max_time_ms, order_values)
    except ExecutionTimeout:
        raise query_timed_out(max_time_ms) from None


async def _find_entities(db: AsyncDatabase, query: EntityQuery, max_time_ms: int, order_values: bool) -> QueryResult:
    if query.geo is None:
        return await _run(db[ENTITIES], query, max_time_ms, order_values)
    await ensure_geo_index(db, query.geo.geoproperty)
    try:
        return await _run(db[ENTITIES], query, max_time_ms, order_values)
    except ExecutionTimeout:
        raise
    except OperationFailure:
        if query.geo.georel != "near":
            raise
    # near found no 2dsphere index (the database was dropped and made again): create it, once more
    forget_geo_index(db, query.geo.geoproperty)
    await ensure_geo_index(db, query.geo.geoproperty)
    return await _run(db[ENTITIES], query, max_time_ms, order_values)


class _Page:
    """Entities read from a cursor, with what each was sorted on when asked for."""

    def __init__(self, query: EntityQuery, order_values: bool) -> None:
        self.entities: list[Entity] = []
        self.targets = _value_targets(query) if order_values else None
        self.values: list[tuple[tuple[Any, bool], ...]] = []

    def add(self, doc: dict[str, Any]) -> None:
        # the computed sort values reach here only when asked for, and _field_value takes them out
        if self.targets is not None:
            self.values.append(tuple((_field_value(doc, field), descending) for field, descending in self.targets))
        self.entities.append(from_document(doc))

    def result(self, count: int | None) -> QueryResult:
        return QueryResult(self.entities, count, self.values if self.targets is not None else None)


_COMPUTED = "_order"
_DISTANCE = "_distance"


_PLAIN_SORT_FIELDS = ("_id", "createdAt", "modifiedAt")


def _sort_values(query: EntityQuery) -> Iterator[tuple[str, str, str | None, bool]]:
    """(name in the sorted documents, stored field, instance member, descending) of each orderBy value:
    plain fields sort as stored, the others as a value the pipeline computes under `name`."""
    for index, key in enumerate(query.order_by):
        for position, (field, member) in enumerate(_order_targets(key)):
            name = field if field in _PLAIN_SORT_FIELDS else f"{_COMPUTED}{index}_{position}"
            yield name, field, member, key.descending


def _value_targets(query: EntityQuery) -> list[tuple[str, bool]]:
    """(document field, descending) of each value an entity is sorted on, in order."""
    if query.geo is not None and query.geo.georel == "near":
        return [(_DISTANCE, False)]
    return [(name, descending) for name, _, _, descending in _sort_values(query)]


def _field_value(doc: dict[str, Any], field: str) -> Any:
    return doc.pop(field, None) if field.startswith("_") and field != "_id" else doc.get(field)


async def _run(collection: AsyncCollection, query: EntityQuery, max_time_ms: int,
               order_values: bool = False) -> QueryResult:
    mongo_filter = to_mongo_filter(query)
    keep = post_filter(query.geo)
    projection = _projection(query, keep is not None)
    page = _Page(query, order_values)
    if keep is not None:
        return await _run_filtered_in_python(collection, query, mongo_filter, projection, keep, page, max_time_ms)
    if query.limit > 0:
        async for doc in await _documents(collection, query, mongo_filter, projection, max_time_ms, paginate=True,
                                          order_values=order_values):
            page.add(doc)
    count = None
    if query.count:
        if query.geo is not None and query.geo.georel == "near":
            rows = await (await collection.aggregate(near_count_pipeline(mongo_filter, query.geo),
                                                     maxTimeMS=max_time_ms)).to_list()
            count = rows[0]["n"] if rows else 0
        else:
            count = await collection.count_documents(mongo_filter, maxTimeMS=max_time_ms)
    return page.result(count)


async def _run_filtered_in_python(collection: AsyncCollection, query: EntityQuery, mongo_filter: Filter,
                                  projection: dict[str, int] | None, keep: Any, page: _Page,
                                  max_time_ms: int) -> QueryResult:
    """Georels decided by shapely: the database streams the $geoIntersects candidates in order."""
    matched = 0
    cursor = await _documents(collection, query, mongo_filter, projection, max_time_ms, paginate=False,
                              order_values=page.targets is not None)
    try:
        async for doc in cursor:
            if not keep(doc):
                continue
            matched += 1
            if matched > query.offset and len(page.entities) < query.limit:
                page.add(doc)
            elif len(page.entities) >= query.limit and not query.count:
                break
    finally:
        await cursor.close()
    return page.result(matched if query.count else None)


async def _documents(collection: AsyncCollection, query: EntityQuery, mongo_filter: Filter,
                     projection: dict[str, int] | None, max_time_ms: int, *,
                     paginate: bool, order_values: bool = False) -> Any:
    """A cursor over the matching documents in page order, one page of them when `paginate`."""
    skip, limit = (query.offset, query.limit) if paginate else (0, 0)
    batch_size = min(limit, _MAX_BATCH) if limit else _MAX_BATCH
    if query.geo is not None and query.geo.georel == "near":
        near: list[dict[str, Any]] = [near_stage(mongo_filter, query.geo), {"$sort": {"_distance": 1, "_id": 1}}]
        if skip:
            near.append({"$skip": skip})
        if limit:
            near.append({"$limit": limit})
        if not order_values:
            near.append({"$project": projection or {_DISTANCE: 0}})
        elif projection:
            near.append({"$project": {**projection, _DISTANCE: 1}})
        return await collection.aggregate(near, batchSize=batch_size, maxTimeMS=max_time_ms)
    if not _sorts_on_two_arrays(query) and not (order_values and query.order_by):
        return collection.find(mongo_filter, projection, sort=sort_keys(query), skip=skip, limit=limit,
                               batch_size=batch_size, max_time_ms=max_time_ms)
    # MongoDB refuses a sort on two different arrays ("cannot sort with keys that are parallel
    # arrays"): `type` and each attribute's instances are arrays. Each such key becomes a scalar
    # first, by the same rule the plain sort applies: the smallest element ascending, the largest
    # descending.
    computed: dict[str, Any] = {}
    order: dict[str, int] = {}
    for name, field, member, descending in _sort_values(query):
        direction = DESCENDING if descending else ASCENDING
        if name == field:  # a plain field
            order.setdefault(field, direction)
            continue
        # $map rather than the path "$attrs.<name>.value": SecantusDB resolves a path through
        # an array of documents to nothing (MongoDB to the array of their values)
        values = {"$map": {"input": f"${field}", "in": f"$$this.{member}"}} if member else f"${field}"
        computed[name] = {"$max" if descending else "$min": values}
        order[name] = direction
    order.setdefault("_id", ASCENDING)
    pipeline: list[dict[str, Any]] = [{"$match": mongo_filter}, *([{"$addFields": computed}] if computed else []),
                                      {"$sort": order}]
    if skip:
        pipeline.append({"$skip": skip})
    if limit:
        pipeline.append({"$limit": limit})
    if not order_values:
        pipeline.append({"$project": projection or dict.fromkeys(computed, 0)})
    elif projection:
        pipeline.append({"$project": {**projection, **dict.fromkeys(computed, 1)}})
    return await collection.aggregate(pipeline, batchSize=batch_size, maxTimeMS=max_time_ms)


def _sorts_on_two_arrays(query: EntityQuery) -> bool:
    arrays = set()
    for key in query.order_by:
        if key.target == "type":
            arrays.add("type")
        elif isinstance(key.target, AttributePath) and not key.target.system:
            arrays.add(key.target.attribute)
    return len(arrays) > 1 and not (query.geo is not None and query.geo.georel == "near")


def _projection(query: EntityQuery, with_geo: bool) -> dict[str, int] | None:
    render = query.render
    if render.attrs is None and render.pick is None:
        return None
    names = (render.attrs or frozenset()) | ((render.pick or frozenset()) - ENTITY_MEMBER_NAMES)
    projection = dict.fromkeys(_KEPT_FIELDS, 1)
    for name in sorted(names):
        projection[attrs_path(name)] = 1
    if with_geo and query.geo is not None:
        projection[geo_path(query.geo.geoproperty)] = 1  # the post-filter reads it
    return projection


def sort_keys(query: EntityQuery) -> list[tuple[str, int]] | None:
    """The sort of a query's pages; None for near (the database orders by distance)."""
    if query.geo is not None and query.geo.georel == "near":
        return None
    keys: dict[str, int] = {}
    for key in query.order_by:
        direction = DESCENDING if key.descending else ASCENDING
        for field, member in _order_targets(key):
            keys.setdefault(f"{field}.{member}" if member else field, direction)
    keys.setdefault("_id", ASCENDING)
    return list(keys.items())


def _order_targets(key: OrderKey) -> list[tuple[str, str | None]]:
    """(document field, member inside each element of it) an orderBy key sorts on."""
    if key.target == "id":
        return [("_id", None)]
    if key.target == "type":
        return [("type", None)]
    path: AttributePath = key.target
    if path.system:
        return [(path.attribute, None)] if path.attribute in DATE_MEMBERS else []
    instances = attrs_path(path.attribute)
    prefix, member = split_sub(path)
    if member is not None:
        return [(instances, prefix + member)]
    if path.language == "*":
        return [(instances, prefix + LANG_VALUES)]
    if path.language is not None:
        return [(instances, f"{prefix}languageMap.{path.language}"), (instances, f"{prefix}value.{path.language}")]
    if path.compound:
        return [(instances, prefix + "value." + ".".join(path.compound))]
    return [(instances, prefix + "value"), (instances, prefix + "object")]


async def explain_filter(db: AsyncDatabase, query: EntityQuery) -> dict[str, Any]:
    """The database's winning plan for the page find_entities would read (queryPlanner verbosity).

    It explains the `find` of the filter; an order over two arrays runs as an aggregation whose
    `$match` is that same filter, planned the same way.
    """
    if query.geo is not None:
        await ensure_geo_index(db, query.geo.geoproperty)
    command: dict[str, Any] = {"find": ENTITIES, "filter": to_mongo_filter(query)}
    sort = sort_keys(query)
    if sort and not _sorts_on_two_arrays(query):
        command["sort"] = dict(sort)
    if query.offset:
        command["skip"] = query.offset
    if query.limit and post_filter(query.geo) is None:
        command["limit"] = query.limit
    result = await db.command("explain", command, verbosity="queryPlanner")
    return result["queryPlanner"]["winningPlan"]


def index_names(plan: dict[str, Any]) -> list[str]:
    """The indexes a plan reads (IXSCAN, and MongoDB's GEO_NEAR_2DSPHERE / COUNT_SCAN...), depth first."""
    found = [plan["indexName"]] if "indexName" in plan else []
    for child in ([plan["inputStage"]] if "inputStage" in plan else []) + list(plan.get("inputStages", [])):
        found.extend(index_names(child))
    return found



async def matching_ids(db: AsyncDatabase, query: EntityQuery, *, after: str | None, limit: int) -> list[str]:
    """The next `limit` ids (in id order, after `after`) of entities matching a query: walking a
    whole selection in bounded pages, whatever the writes made meanwhile (purge)."""
    mongo_filter = to_mongo_filter(query)
    if after is not None:
        mongo_filter = conjoin([mongo_filter, {"_id": {"$gt": after}}])
    max_time_ms = QUERY_TIME_LIMIT_MS.get()
    cursor = db[ENTITIES].find(mongo_filter, {"_id": 1}, sort=[("_id", ASCENDING)], limit=limit,
                               max_time_ms=max_time_ms)
    try:
        return [doc["_id"] async for doc in cursor]
    except ExecutionTimeout:
        raise query_timed_out(max_time_ms) from None
