"""CKAN-compatible action API (CKAN 2.9+ shapes) over the shared catalog: /catalog/api/3/action/{action}.

Read-only actions, by GET (URL parameters) or POST (a JSON object), answered in CKAN's envelope
`{"help", "success", "result"}` or `{"help", "success": false, "error": {"__type", …}}` with CKAN's
status codes (409 Validation Error, 404 Not Found Error, 400 Bad Request). Organisations are the
tenants. `rows` and `start` are validated as CKAN does: a negative or non-integer value is a 409
Validation Error, and `rows` above 1000 is lowered to 1000 (CKAN's `ckan.search.rows_max` default).
package_search counts the matching datasets per value of the `facet.field`s asked for (tags,
organization, license_id, res_format; any other field, such as groups, has no items), as CKAN's
Solr facets do, most frequent first.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web
from pymongo import ASCENDING, DESCENDING

from broker.api.http import MAX_BODY_KEY
from broker.api.state import services
from broker.ngsild.names import format_datetime
from tenants.datasets import (
    DATASET_CATALOG,
    DatasetCatalog,
    access_note,
    access_url,
    base_url,
    dataset_url,
    display_names,
    display_title,
    visible_to,
)
from tenants.vocabularies import FREQUENCIES, LICENSES

ACTION_BASE = "/catalog/api/3/action"
ROWS_DEFAULT, ROWS_MAX = 10, 1000
FORMAT = "JSON-LD"
_FORMATS = {"json-ld", "jsonld", "application/ld+json"}
_TOKEN = re.compile(r'\s*(?:([+-]?)([A-Za-z_]+):(?:"([^"]*)"|(\S+))|"([^"]*)"|(\S+))')
_SORTS = {"name": "_id", "metadata_modified": "modified", "metadata_created": "issued"}
FACET_MEMBERS = {"tags": "keywords", "organization": "tenant", "license_id": "license", "res_format": None}
"""The facet fields package_search counts → the dataset member holding their values (None: every
dataset has the one resource format)."""
FACET_LIMIT_DEFAULT, FACET_MINCOUNT_DEFAULT = 50, 1
Action = Callable[[web.Request, dict[str, Any]], Coroutine[Any, Any, Any]]


class CkanError(Exception):
    """A CKAN error answer: status and the `error` object."""

    def __init__(self, status: int, error: dict[str, Any]) -> None:
        super().__init__(error)
        self.status = status
        self.error = error


def validation_error(errors: dict[str, list[str]]) -> CkanError:
    return CkanError(409, {"__type": "Validation Error", **errors})


def not_found(message: str = "Not found") -> CkanError:
    return CkanError(404, {"__type": "Not Found Error", "message": message})


# --- parameters ---------------------------------------------------------------------------------

def integer(value: Any) -> int:
    """CKAN's int_validator: an integer (negative included), else ValueError with CKAN's message."""
    if isinstance(value, bool):
        raise ValueError("Invalid integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    raise ValueError("Invalid integer")


def natural_number(value: Any) -> int:
    """CKAN's natural_number_validator: an integer ≥ 0, else ValueError with CKAN's message."""
    number = integer(value)
    if number < 0:
        raise ValueError("Must be a natural number")
    return number


def paging(params: dict[str, Any], rows_name: str, default_rows: int | None) -> tuple[int | None, int]:
    """(rows, start) validated as CKAN does; rows above the maximum are lowered to it."""
    errors: dict[str, list[str]] = {}
    values: dict[str, int | None] = {rows_name: default_rows, "start": 0}
    start_name = "start" if rows_name == "rows" else "offset"
    for name, key in ((rows_name, rows_name), (start_name, "start")):
        if name in params and params[name] not in ("", None):
            try:
                values[key] = natural_number(params[name])
            except ValueError as exc:
                errors[name] = [str(exc)]
    if errors:
        raise validation_error(errors)
    rows = values[rows_name]
    return (min(rows, ROWS_MAX) if rows is not None else None), values["start"] or 0


@dataclass(frozen=True)
class FacetRequest:
    """package_search's facet.field, facet.limit (negative: no limit) and facet.mincount."""

    fields: list[str]
    limit: int
    mincount: int


def facet_request(params: dict[str, Any]) -> FacetRequest:
    """The facet parameters validated as CKAN does (facet.field a JSON list of strings, given as JSON
    text in a URL). Any field name is accepted, as CKAN's Solr does: those Kyodo does not count
    (groups, …) come back with no items, so a portal asking for its usual facets is answered."""
    errors: dict[str, list[str]] = {}
    fields: Any = params.get("facet.field") or []
    if isinstance(fields, str):
        try:
            fields = orjson.loads(fields)
        except orjson.JSONDecodeError:
            errors["facet.field"] = ["Could not parse as valid JSON"]
            fields = []
    if not isinstance(fields, list) or not all(isinstance(field, str) for field in fields):
        errors["facet.field"] = ["Must be a list of strings, such as [\"tags\", \"organization\"]"]
        fields = []
    limit, mincount = FACET_LIMIT_DEFAULT, FACET_MINCOUNT_DEFAULT
    for name in ("facet.limit", "facet.mincount"):
        value = params.get(name)
        if value in ("", None):
            continue
        try:
            if name == "facet.limit":
                limit = integer(value)
            else:
                mincount = natural_number(value)
        except ValueError as exc:
            errors[name] = [str(exc)]
    if errors:
        raise validation_error(errors)
    return FacetRequest(list(dict.fromkeys(fields)), limit, mincount)


def facet_items(counts: dict[str, int], request: FacetRequest,
                display: Callable[[str], str]) -> list[dict[str, Any]]:
    """CKAN's search_facets items of one field: most frequent first (then by name), at least
    `mincount`, at most `limit` of them."""
    ordered = sorted(((value, n) for value, n in counts.items() if n >= request.mincount),
                     key=lambda item: (-item[1], item[0]))
    if request.limit >= 0:
        ordered = ordered[:request.limit]
    return [{"name": value, "display_name": display(value), "count": n} for value, n in ordered]


def search_filter(q: str, fq: str) -> dict[str, Any]:
    """The MongoDB filter of a CKAN q (free text, all words) and fq (field:value clauses, all of them)."""
    conditions: list[dict[str, Any]] = []
    for source, text in (("q", q), ("fq", fq)):
        if text.strip() in ("", "*:*"):
            continue
        for sign, field, quoted, bare, phrase, word in _TOKEN.findall(text):
            if field:
                condition = _field_condition(source, field, quoted or bare)
                conditions.append({"$nor": [condition]} if sign == "-" else condition)
            elif source == "fq":
                raise validation_error({"fq": [f"Unsupported filter {phrase or word!r}: use field:value with a field "
                                               "among tags, organization, res_format, license_id, name"]})
            elif (phrase or word).upper() not in ("AND", "&&"):
                conditions.append(_text_condition(phrase or word))
    return {"$and": conditions} if conditions else {}


def _text_condition(text: str) -> dict[str, Any]:
    pattern = {"$regex": re.escape(text), "$options": "i"}
    return {"$or": [{path: pattern} for path in ("title.ja", "title.en", "description.ja", "description.en",
                                                 "keywords", "_id")]}


def _field_condition(source: str, field: str, value: str) -> dict[str, Any]:
    if field == "tags":
        return {"keywords": value}
    if field in ("organization", "owner_org"):
        return {"tenant": value.lower()}
    if field == "license_id":
        return {"license": value}
    if field == "name":
        return {"_id": value}
    if field == "res_format":
        return {} if value.lower() in _FORMATS else {"_id": {"$in": []}}
    raise validation_error({source: [f"Unsupported field {field!r}: one of tags, organization, res_format, "
                                     "license_id, name"]})


def sort_order(sort: str | None) -> list[tuple[str, int]]:
    """CKAN `sort` ("metadata_modified desc, name asc"); the default is newest first, as CKAN's."""
    if not sort or not sort.strip():
        return [("modified", DESCENDING), ("_id", ASCENDING)]
    order: list[tuple[str, int]] = []
    for clause in sort.split(","):
        parts = clause.split()
        if len(parts) == 2 and parts[0] == "score":
            continue  # no relevance ranking: every match scores the same
        if len(parts) != 2 or parts[0] not in _SORTS or parts[1] not in ("asc", "desc"):
            raise validation_error({"sort": [f"Unsupported sort {clause.strip()!r}: '<field> asc|desc' with a "
                                             f"field among {', '.join(_SORTS)}"]})
        order.append((_SORTS[parts[0]], ASCENDING if parts[1] == "asc" else DESCENDING))
    return [*order, ("_id", ASCENDING)] if order else sort_order(None)


# --- rendering ----------------------------------------------------------------------------------

def _ckan_time(doc: dict[str, Any], member: str) -> str:
    return format_datetime(doc[member]).removesuffix("Z")  # CKAN shows naive UTC times


def organization(tenant: str, title: str | None, package_count: int | None = None) -> dict[str, Any]:
    org = {"id": tenant, "name": tenant, "title": title or tenant, "display_name": title or tenant,
           "type": "organization", "is_organization": True, "state": "active", "approval_status": "approved",
           "description": "", "image_url": ""}
    if package_count is not None:
        org["package_count"] = package_count
    return org


def package(doc: dict[str, Any], base: str, org_title: str | None) -> dict[str, Any]:
    """A dataset as a CKAN package (package_show's result)."""
    license_ = LICENSES[doc["license"]]
    created, modified = _ckan_time(doc, "issued"), _ckan_time(doc, "modified")
    description = doc.get("description") or {}
    contact = doc.get("contact") or {}
    keywords = doc.get("keywords") or []
    resource = {
        "id": str(uuid.uuid5(uuid.UUID(doc["packageId"]), "ngsi-ld")),
        "package_id": doc["packageId"],
        "url": access_url(base, doc),
        "format": FORMAT,
        "mimetype": "application/ld+json",
        "name": f"NGSI-LD entities: {doc.get('typeName') or doc['entityType']}",
        "description": access_note(doc),
        "state": "active",
        "position": 0,
        "created": created,
        "last_modified": modified,
    }
    extras = [{"key": "ngsi_ld_tenant", "value": doc["tenant"]},
              {"key": "ngsi_ld_entity_type", "value": doc["entityType"]},
              {"key": "visibility", "value": doc.get("visibility", "open")}]
    spatial = doc.get("spatial") or {}
    if spatial.get("bbox"):
        west, south, east, north = spatial["bbox"]
        polygon = {"type": "Polygon", "coordinates": [[[west, south], [east, south], [east, north], [west, north],
                                                       [west, south]]]}
        extras.append({"key": "spatial", "value": orjson.dumps(polygon).decode()})  # ckanext-spatial
    if spatial.get("name"):
        extras.append({"key": "spatial_text", "value": spatial["name"]})
    if doc.get("updateFrequency"):
        extras.append({"key": "frequency", "value": FREQUENCIES[doc["updateFrequency"]]})
    return {
        "id": doc["packageId"],
        "name": doc["_id"],
        "title": display_title(doc),
        "title_translated": dict(doc.get("title") or {}),
        "notes": description.get("ja") or description.get("en") or "",
        "notes_translated": dict(description),
        "url": dataset_url(base, doc["_id"]),
        "type": "dataset",
        "license_id": license_.id,
        "license_title": license_.title,
        "license_url": license_.url,
        "isopen": True,
        "tags": [{"name": keyword, "display_name": keyword, "state": "active", "vocabulary_id": None}
                 for keyword in keywords],
        "num_tags": len(keywords),
        "organization": organization(doc["tenant"], org_title),
        "owner_org": doc["tenant"],
        "resources": [resource],
        "num_resources": 1,
        "groups": [],
        "metadata_created": created,
        "metadata_modified": modified,
        "author": doc.get("publisher") or org_title or doc["tenant"],
        "author_email": None,
        "maintainer": contact.get("name"),
        "maintainer_email": contact.get("email"),
        "version": None,
        "private": False,
        "state": "active",
        "extras": extras,
    }


# --- actions ------------------------------------------------------------------------------------

async def _packages(request: web.Request, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    names = await display_names(services(request).tenants.collection, sorted({doc["tenant"] for doc in docs}))
    base = base_url(request)
    return [package(doc, base, names.get(doc["tenant"])) for doc in docs]


async def package_list(request: web.Request, params: dict[str, Any]) -> list[str]:
    limit, offset = paging(params, "limit", None)
    return await _catalog(request).names(await visible_to(request), offset=offset, limit=limit)


async def package_show(request: web.Request, params: dict[str, Any]) -> dict[str, Any]:
    name_or_id = params.get("id") or params.get("name_or_id")
    if not isinstance(name_or_id, str) or not name_or_id:
        raise validation_error({"name_or_id": ["Missing value"]})
    doc = await _catalog(request).find_one({"$and": [await visible_to(request),
                                                     {"$or": [{"_id": name_or_id}, {"packageId": name_or_id}]}]})
    if doc is None:
        raise not_found()
    return (await _packages(request, [doc]))[0]


async def package_search(request: web.Request, params: dict[str, Any]) -> dict[str, Any]:
    rows, start = paging(params, "rows", ROWS_DEFAULT)
    q, fq, sort = (params.get(name) or "" for name in ("q", "fq", "sort"))
    if not all(isinstance(value, str) for value in (q, fq, sort)):
        raise validation_error({name: ["Must be a string"] for name in ("q", "fq", "sort")
                                if not isinstance(params.get(name) or "", str)})
    facets = facet_request(params)
    query = {"$and": [await visible_to(request), search_filter(q, fq)]}
    docs, count = await _catalog(request).page(query, offset=start, limit=rows or 0, sort=sort_order(sort))
    search_facets = await _search_facets(request, query, facets, count)
    return {"count": count, "sort": sort or "score desc, metadata_modified desc",
            "facets": {field: {item["name"]: item["count"] for item in facet["items"]}
                       for field, facet in search_facets.items()},
            "search_facets": search_facets, "results": await _packages(request, docs)}


async def _search_facets(request: web.Request, query: dict[str, Any], facets: FacetRequest,
                         count: int) -> dict[str, Any]:
    """{field: {"title", "items"}} for the facet fields asked for, counted concurrently."""
    catalog = _catalog(request)
    counted = await asyncio.gather(*(_facet_counts(catalog, query, field, count) for field in facets.fields))
    by_field = dict(zip(facets.fields, counted, strict=True))
    titles: dict[str, str] = {}
    if "organization" in by_field:
        titles = await display_names(services(request).tenants.collection, sorted(by_field["organization"]))
    displays: dict[str, Callable[[str], str]] = {
        "organization": lambda tenant: titles.get(tenant, tenant),
        "license_id": lambda license_id: LICENSES[license_id].title if license_id in LICENSES else license_id}
    return {field: {"title": field, "items": facet_items(counts, facets, displays.get(field, str))}
            for field, counts in by_field.items()}


async def _facet_counts(catalog: DatasetCatalog, query: dict[str, Any], field: str, count: int) -> dict[str, int]:
    """Value → matching datasets of one facet field: every dataset has the one format; nothing is
    counted for a field Kyodo's datasets do not have."""
    if field not in FACET_MEMBERS:
        return {}
    member = FACET_MEMBERS[field]
    if member is None:
        return {FORMAT: count} if count else {}
    return await catalog.counts_of(query, member)


async def organization_list(request: web.Request, params: dict[str, Any]) -> list[Any]:
    """The tenants that publish a dataset this reader sees; `all_fields=true` gives the organisations."""
    counts = await _catalog(request).counts_by_tenant(await visible_to(request))
    tenants = list(counts)
    if str(params.get("all_fields", "false")).lower() not in ("true", "1"):
        return tenants
    names = await display_names(services(request).tenants.collection, tenants)
    return [organization(tenant, names.get(tenant), count) for tenant, count in counts.items()]


async def license_list(request: web.Request, params: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"id": item.id, "title": item.title, "url": item.url, "status": "active"} for item in LICENSES.values()]


ACTIONS: dict[str, Action] = {
    "package_list": package_list,
    "package_show": package_show,
    "package_search": package_search,
    "organization_list": organization_list,
    "license_list": license_list,
}


def _catalog(request: web.Request) -> DatasetCatalog:
    return request.app[DATASET_CATALOG]


async def _params(request: web.Request) -> dict[str, Any]:
    if request.method == "GET":
        return dict(request.query)
    if request.content_length and request.content_length > request.app[MAX_BODY_KEY]:
        raise CkanError(413, {"__type": "Bad Request", "message": "Bad request - the body is too large"})
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return {**request.query, **{key: value for key, value in (await request.post()).items()
                                    if isinstance(value, str)}}
    data = await request.read()
    if not data.strip():
        return dict(request.query)
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise CkanError(400, {"__type": "Bad Request", "message": "Bad request - JSON Error: "
                                                                   "the body is not a JSON object"}) from None
    if not isinstance(body, dict):
        raise CkanError(400, {"__type": "Bad Request", "message": "Bad request - JSON Error: "
                                                                   "the body is not a JSON object"})
    return {**request.query, **body}


async def call_action(request: web.Request) -> web.Response:
    """GET or POST /catalog/api/3/action/{action}: CKAN's envelope around the action's result."""
    name = request.match_info["action"]
    help_url = f"{base_url(request)}{ACTION_BASE}/help_show?name={name}"
    action = ACTIONS.get(name)
    try:
        if action is None:
            raise CkanError(400, {"__type": "Bad Request", "message": f"Bad request - Action name not known: {name}"})
        result = await action(request, await _params(request))
    except CkanError as exc:
        body = {"help": help_url, "success": False, "error": exc.error}
        return web.Response(body=orjson.dumps(body), status=exc.status, content_type="application/json")
    body = {"help": help_url, "success": True, "result": result}
    return web.Response(body=orjson.dumps(body), content_type="application/json")


def add_routes(app: web.Application) -> None:
    app.router.add_get(f"{ACTION_BASE}/{{action}}", call_action, allow_head=False)
    app.router.add_post(f"{ACTION_BASE}/{{action}}", call_action)
