"""Query Entities requests into an EntityQuery: GET /entities URL parameters (6.4.3.2) and Query bodies (5.2.23).

Decisions:
- Too wide (5.7.2.4, V1.8 semantics): a query needs a type, `attrs` naming a non-system attribute, a
  `q` naming a non-system attribute, a geo-query or local=true; else BadRequestData. `id` or
  `idPattern` alone IS too wide, as are `attrs=createdAt` and `q=modifiedAt>…`.
- `type=*` (every type) implies local=true (4.17), so it is never too wide.
- Parameters in UNSUPPORTED_PARAMS (and, in a body, UNSUPPORTED_BODY_MEMBERS) are accepted and
  ignored here: the handler answers 501 for them before using the result.
- Limits: a negative or non-integer limit/offset is BadRequestData; limit above the maximum is
  TooManyResults (403, V1.8.1); limit=0 is only allowed with count=true.
- A parameter given twice is BadRequestData (when the mapping can tell, e.g. aiohttp's MultiDict).
- Query body: one EntitySelector, or several with types only (ORed), or several with ids of one same
  type, fill ids/id_pattern/types; other combinations go to EntityQuery.selectors (ORed).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from broker.ngsild.boolexpr import combine
from broker.ngsild.context import TermMap
from broker.ngsild.errors import BadRequestData, InvalidRequest, TooManyResults
from broker.ngsild.geoquery import parse_geo_query
from broker.ngsild.names import is_uri
from broker.ngsild.params import RenderOptions, parse_render_options
from broker.ngsild.q import is_system_only, parse_attribute_path, parse_q
from broker.ngsild.query_ast import SYSTEM_TARGETS, EntityQuery, EntitySelector, GeoQuery, Node, Or, OrderKey
from broker.ngsild.scopeq import parse_scope_q
from broker.ngsild.typeexpr import parse_type_expression

MAX_ID_PATTERN_LENGTH = 256
MAX_OFFSET = 2**31 - 1

#: recognised but not implemented: the handler answers 501 Not Implemented when one is present
UNSUPPORTED_PARAMS = frozenset({"join", "joinLevel", "containedBy", "entityMap", "csf", "expandValues",
                                "collation", "orderFrom", "orderGeometry", "jsonKeys"})
#: GET /entities (6.4.3.2)
QUERY_PARAMS = frozenset({"id", "idPattern", "type", "attrs", "pick", "omit", "q", "scopeQ", "georel",
                          "geometry", "coordinates", "geoproperty", "geometryProperty", "lang", "options",
                          "format", "limit", "offset", "count", "orderBy", "local", "datasetId"})
#: URL parameters of POST /entityOperations/query (6.23.3.1); geometryProperty serves GeoJSON output
QUERY_BODY_PARAMS = frozenset({"limit", "offset", "count", "options", "format", "local", "geometryProperty"})
#: Query body members (5.2.23); "@context" belongs to application/ld+json bodies
QUERY_BODY_MEMBERS = frozenset({"type", "entities", "attrs", "pick", "omit", "q", "geoQ", "scopeQ", "lang",
                                "datasetId", "@context"})
UNSUPPORTED_BODY_MEMBERS = UNSUPPORTED_PARAMS | {"orderingParams"}
_SELECTOR_MEMBERS = frozenset({"id", "idPattern", "type"})
_GEOQ_MEMBERS = frozenset({"geometry", "coordinates", "georel", "geoproperty"})
_DIRECTIONS = {"asc": False, "desc": True}
_DISTANCE_DIRECTIONS = frozenset({"dist-asc", "dist-desc"})
_NON_NEGATIVE = re.compile(r"\d+", re.ASCII)


def parse_query_params(query: Mapping[str, str], terms: TermMap, *, default_limit: int = 20,
                       max_limit: int = 1000, types_implied: bool = False) -> EntityQuery:
    """The EntityQuery of GET /entities; unknown parameters are InvalidRequest, bad values BadRequestData.

    `types_implied`: the reader's readable types stand in for an absent type (the wide-area tenant,
    whose scope is bounded by the catalog), so the query is never too wide.
    """
    _check_parameters(query, QUERY_PARAMS)
    render = parse_render_options(query, terms)
    _check_attrs(render)
    type_text = query.get("type")
    types = None if type_text is None else parse_type_expression(type_text, terms)
    ids = _parse_ids(query.get("id"))
    id_pattern = _parse_id_pattern(query.get("idPattern"), "idPattern")
    limit, offset, count = parse_pagination(query, default_limit=default_limit, max_limit=max_limit)
    result = EntityQuery(
        ids=ids,
        id_pattern=None if ids else id_pattern,
        types=types,
        attrs=render.attrs,
        q=_optional(query.get("q"), lambda text: parse_q(text, terms)),
        scope_q=_optional(query.get("scopeQ"), parse_scope_q),
        geo=parse_geo_query(query.get("georel"), query.get("geometry"), query.get("coordinates"),
                            query.get("geoproperty"), terms),
        order_by=parse_order_by(query.get("orderBy"), terms),
        limit=limit,
        offset=offset,
        count=count,
        local=parse_boolean(query, "local") or (type_text is not None and types is None),
        render=render,
    )
    if not types_implied:
        check_not_too_wide(result, terms)
    return result


def parse_query_body(body: Any, terms: TermMap, url_query: Mapping[str, str], *, default_limit: int = 20,
                     max_limit: int = 1000, types_implied: bool = False) -> EntityQuery:
    """The EntityQuery of POST /entityOperations/query: a Query body (5.2.23) plus paging and format in the
    URL; `types_implied` as in parse_query_params."""
    _check_parameters(url_query, QUERY_BODY_PARAMS)
    if not isinstance(body, dict):
        raise InvalidRequest(f"The body must be a JSON object (a Query), got {_kind(body)}")
    unknown = sorted(set(body) - QUERY_BODY_MEMBERS - UNSUPPORTED_BODY_MEMBERS)
    if "temporalQ" in unknown:
        raise BadRequestData("temporalQ belongs to the temporal query (/temporal/entityOperations/query)")
    if unknown:
        raise BadRequestData(f"Unknown Query member(s): {', '.join(unknown)}")
    if body.get("type") != "Query":
        raise BadRequestData(f"A Query body needs \"type\": \"Query\", got {body.get('type')!r}")
    render_query: dict[str, str] = {name: url_query[name] for name in ("options", "format") if name in url_query}
    for member in ("attrs", "pick", "omit", "datasetId"):
        if member in body:
            render_query[member] = ",".join(_string_list(body[member], member))
    for member in ("q", "scopeQ", "lang"):
        if member in body and not isinstance(body[member], str):
            raise BadRequestData(f"'{member}' must be a string, got {_kind(body[member])}")
    if "lang" in body:
        render_query["lang"] = body["lang"]
    render = parse_render_options(render_query, terms)
    _check_attrs(render)
    ids, id_pattern, types, selectors, every_type = _parse_selectors(body.get("entities"), terms)
    limit, offset, count = parse_pagination(url_query, default_limit=default_limit, max_limit=max_limit)
    result = EntityQuery(
        ids=ids,
        id_pattern=id_pattern,
        types=types,
        selectors=selectors,
        attrs=render.attrs,
        q=_optional(body.get("q"), lambda text: parse_q(text, terms)),
        scope_q=_optional(body.get("scopeQ"), parse_scope_q),
        geo=_parse_geo_member(body.get("geoQ"), terms),
        limit=limit,
        offset=offset,
        count=count,
        local=parse_boolean(url_query, "local") or every_type,
        render=render,
    )
    if not types_implied:
        check_not_too_wide(result, terms)
    return result


# --- shared checks ------------------------------------------------------------------------------


def parse_pagination(query: Mapping[str, str], *, default_limit: int, max_limit: int) -> tuple[int, int, bool]:
    """(limit, offset, count) of a query (5.5.9, 6.3.10, 6.3.13)."""
    count = parse_boolean(query, "count")
    limit = non_negative(query, "limit", default_limit)
    offset = non_negative(query, "offset", 0)
    if limit > max_limit:
        raise TooManyResults(f"limit={limit} is above this broker's maximum page size of {max_limit}")
    if limit == 0 and not count:
        raise BadRequestData("limit=0 is only allowed with count=true")
    if offset > MAX_OFFSET:
        raise BadRequestData(f"offset={offset} is too large")
    return limit, offset, count


def parse_boolean(query: Mapping[str, str], name: str) -> bool:
    """A true/false parameter; absent is false."""
    raw = query.get(name)
    if raw is None or raw == "false":
        return False
    if raw == "true":
        return True
    raise BadRequestData(f"{name} must be true or false, got {raw!r}")


def parse_order_by(raw: str | None, terms: TermMap) -> tuple[OrderKey, ...]:
    """orderBy (4.23, V1.9): comma list of `id`, `type` or an attribute path, each with `;asc` or `;desc`."""
    if raw is None:
        return ()
    keys = []
    for item in _split_outside_brackets(raw, ","):
        target, *direction = _split_outside_brackets(item, ";")
        if not target:
            raise BadRequestData(f"orderBy={raw!r} has an empty key")
        if len(direction) > 1 or (direction and direction[0] not in _DIRECTIONS):
            if direction and direction[0] in _DISTANCE_DIRECTIONS:
                raise BadRequestData(f"orderBy key {item!r}: distance ordering needs orderFrom")
            raise BadRequestData(f"orderBy key {item!r}: the direction must be ';asc' or ';desc'")
        descending = bool(direction) and _DIRECTIONS[direction[0]]
        if target in ("id", "type"):
            keys.append(OrderKey(target, descending))  # type: ignore[arg-type]
        else:
            keys.append(OrderKey(parse_attribute_path(target, terms, f"orderBy key {target!r}"), descending))
    return tuple(keys)


def check_not_too_wide(query: EntityQuery, terms: TermMap) -> None:
    """5.7.2.4: refuse a query that selects no type, attribute, q on an attribute, geo-query or local scope.

    `type=*` parses to types=None with local=True, so it passes through `local`.
    """
    system = SYSTEM_TARGETS | {terms.expand(name) for name in SYSTEM_TARGETS}
    if (query.types is not None or query.selectors or query.local or query.geo is not None
            or (query.attrs is not None and not query.attrs <= system)
            or (query.q is not None and not is_system_only(query.q))):
        return
    raise BadRequestData("The query is too wide: give a type, attrs or q naming an attribute, a geo-query, "
                         "or local=true (5.7.2.4)")


def _check_parameters(query: Mapping[str, str], allowed: frozenset[str]) -> None:
    for name in query:
        if name not in allowed and name not in UNSUPPORTED_PARAMS:
            raise InvalidRequest(f"Unknown query parameter {name!r}")
    getall = getattr(query, "getall", None)
    if getall is not None:
        for name in set(query):
            if len(getall(name)) > 1:
                raise BadRequestData(f"The parameter {name!r} is given more than once")


def _check_attrs(render: RenderOptions) -> None:
    for name in sorted(render.attrs or ()):
        if name.startswith("@"):  # `attrs=id,type`: entity members, not attributes
            raise BadRequestData(f"attrs names attributes; {name.lstrip('@')!r} is not one")


def non_negative(query: Mapping[str, str], name: str, default: int) -> int:
    """An integer parameter ≥ 0 (ASCII digits, at most 18 of them); `default` when absent."""
    raw = query.get(name)
    if raw is None:
        return default
    if not _NON_NEGATIVE.fullmatch(raw) or len(raw) > 18:
        raise BadRequestData(f"{name} must be a non-negative integer, got {raw!r}")
    return int(raw)


def _parse_ids(raw: str | None) -> tuple[str, ...]:
    if raw is None:
        return ()
    ids = []
    for item in raw.split(","):
        if not is_uri(item):
            raise BadRequestData(f"id={raw!r}: {item!r} is not a URI")
        if item not in ids:
            ids.append(item)
    return tuple(ids)


def _parse_id_pattern(raw: Any, where: str) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw:
        raise BadRequestData(f"{where} must be a non-empty regular expression")
    if len(raw) > MAX_ID_PATTERN_LENGTH:
        raise BadRequestData(f"{where} is longer than {MAX_ID_PATTERN_LENGTH} characters")
    try:
        re.compile(raw)
    except (re.error, RecursionError, OverflowError, ValueError) as exc:
        raise BadRequestData(f"{where} {raw!r} is not a valid regular expression: {exc}") from None
    return raw


def _optional(raw: str | None, parse: Callable[[str], Node]) -> Node | None:
    return None if raw is None else parse(raw)


def _split_outside_brackets(text: str, separator: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        if char == "[":
            depth += 1
        elif char == "]":
            depth = max(depth - 1, 0)
        elif char == separator and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return parts


# --- Query body members -------------------------------------------------------------------------


def _parse_selectors(raw: Any, terms: TermMap
                     ) -> tuple[tuple[str, ...], str | None, Node | None, tuple[EntitySelector, ...], bool]:
    """(ids, id_pattern, types, selectors, every_type) from the `entities` member."""
    if raw is None:
        return (), None, None, (), False
    if not isinstance(raw, list) or not raw:
        raise BadRequestData("'entities' must be a non-empty array of EntitySelectors")
    selectors = [_parse_selector(item, index, terms) for index, item in enumerate(raw)]
    every_type = any(selector.types is None for selector in selectors)
    if len(selectors) == 1:
        only = selectors[0]
        return only.ids, only.id_pattern, only.types, (), every_type
    if all(not s.ids and s.id_pattern is None for s in selectors):
        types = None if every_type else combine(Or, [s.types for s in selectors])  # type: ignore[misc]
        return (), None, types, (), every_type
    first = selectors[0]
    if all(s.ids and s.types == first.types for s in selectors):
        ids = tuple(dict.fromkeys(entity_id for s in selectors for entity_id in s.ids))
        return ids, None, first.types, (), every_type
    return (), None, None, tuple(selectors), every_type


def _parse_selector(raw: Any, index: int, terms: TermMap) -> EntitySelector:
    where = f"entities[{index}]"
    if not isinstance(raw, dict):
        raise BadRequestData(f"{where} must be an EntitySelector object, got {_kind(raw)}")
    unknown = sorted(set(raw) - _SELECTOR_MEMBERS)
    if unknown:
        raise BadRequestData(f"{where} has unknown member(s): {', '.join(unknown)}")
    if "type" not in raw:
        raise BadRequestData(f"{where} needs a 'type'")
    types = parse_type_expression(raw["type"], terms, f"{where}.type")
    entity_id = raw.get("id")
    if entity_id is not None and not is_uri(entity_id):
        raise BadRequestData(f"{where}.id is not a URI: {entity_id!r}")
    id_pattern = _parse_id_pattern(raw.get("idPattern"), f"{where}.idPattern")
    if entity_id is not None:
        return EntitySelector(ids=(entity_id,), types=types)  # id beats idPattern (5.2.33)
    return EntitySelector(id_pattern=id_pattern, types=types)


def _parse_geo_member(raw: Any, terms: TermMap) -> GeoQuery | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise BadRequestData(f"'geoQ' must be an object, got {_kind(raw)}")
    unknown = sorted(set(raw) - _GEOQ_MEMBERS)
    if unknown:
        raise BadRequestData(f"geoQ has unknown member(s): {', '.join(unknown)}")
    for member in ("georel", "geometry", "geoproperty"):
        if member in raw and not isinstance(raw[member], str):
            raise BadRequestData(f"geoQ.{member} must be a string, got {_kind(raw[member])}")
    if "coordinates" in raw and not isinstance(raw["coordinates"], list | str):
        raise BadRequestData(f"geoQ.coordinates must be an array, got {_kind(raw['coordinates'])}")
    geo = parse_geo_query(raw.get("georel"), raw.get("geometry"), raw.get("coordinates"), raw.get("geoproperty"),
                          terms)
    if geo is None:
        raise BadRequestData("geoQ needs georel, geometry and coordinates")
    return geo


def _string_list(raw: Any, member: str) -> list[str]:
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise BadRequestData(f"'{member}' must be a non-empty array of strings")
    for item in raw:
        if not isinstance(item, str) or not item:
            raise BadRequestData(f"'{member}' must hold non-empty strings, got {item!r}")
    return raw


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__
