"""The shared catalog's own API, /catalog/v1: publish, list, change and unpublish datasets; DCAT-AP.

Reading is public (members-only datasets need a valid token of any member); changing needs scope
`catalog:publish` for the NGSILD-Tenant, which must be the dataset's tenant (broker/auth/policy.py).
Entity types and attribute names are expanded with the request's Link @context, as NGSI-LD does.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from broker.api.bodies import json_body, page_params, tenant_name, validated
from broker.api.http import check_params, json_response, no_content, utc_now
from broker.api.request import RequestContext, request_context, tenant_of
from broker.api.state import services
from broker.auth.errors import Forbidden
from broker.ngsild.errors import AlreadyExists, BadRequestData, ResourceNotFound
from broker.ngsild.media import JSON, JSON_LD, MERGE_PATCH
from broker.ngsild.merge import merge_patch
from broker.ngsild.names import is_valid_name
from broker.ngsild.query import non_negative
from broker.store.discovery import holds_type
from tenants.datasets import (
    DATASET_CATALOG,
    DATASETS_PATH,
    DatasetExists,
    DatasetSpec,
    NewDataset,
    base_url,
    dataset_json,
    dataset_url,
    display_names,
    editable_json,
    new_document,
    visible_to,
)
from tenants.dcat import DCAT_PATH, CatalogPage, render_catalog, render_dataset
from tenants.registry import DEFAULT_TENANT

LINK_HINT = " (send a JSON-LD @context in a Link header)"
_IDENTITY = ("name", "entityType", "tenant")
MAX_PAGE = 100_000


# --- handlers -----------------------------------------------------------------------------------

async def publish_dataset(request: web.Request) -> web.Response:
    """POST /catalog/v1/datasets — publish one of the tenant's entity types; 201 + Location."""
    check_params(request, ())
    if tenant_of(request) == DEFAULT_TENANT:
        raise BadRequestData("The default tenant cannot publish: datasets belong to a named member tenant; "
                             "send NGSILD-Tenant")
    spec = validated(NewDataset, await json_body(request, JSON, hint=LINK_HINT))
    ctx = await request_context(request)
    if spec.tenant is not None and tenant_name(spec.tenant, "tenant") != ctx.tenant:
        raise Forbidden(f"The body names tenant {spec.tenant!r} but the request acts for tenant '{ctx.tenant}': "
                        "a tenant publishes only its own entity types")
    entity_type = _expand(ctx, spec.entity_type, "entityType")
    if not await holds_type(ctx.db, entity_type):
        raise BadRequestData(f"Tenant '{ctx.tenant}' holds no entity of type '{entity_type}': a tenant publishes "
                             "only entity types it holds (create its entities first)")
    excluded = [_expand(ctx, name, "excludedAttributes") for name in spec.excluded_attributes]
    doc = new_document(spec, ctx.tenant, entity_type, excluded, utc_now())
    try:
        await request.app[DATASET_CATALOG].create(doc)
    except DatasetExists as exc:
        raise AlreadyExists(str(exc)) from None
    services(request).published.forget()
    return json_response(dataset_json(doc), status=201, headers={"Location": dataset_url("", doc["_id"])})


async def list_datasets(request: web.Request) -> web.Response:
    """GET /catalog/v1/datasets — the datasets this reader sees, by name (`tenant`, `limit`, `offset`)."""
    check_params(request, ("tenant", "limit", "offset"))
    limit, offset = page_params(request)
    query = await visible_to(request)
    if "tenant" in request.query:
        query = {"$and": [query, {"tenant": tenant_name(request.query["tenant"], "URL parameter 'tenant'")}]}
    docs, total = await request.app[DATASET_CATALOG].page(query, offset=offset, limit=limit)
    return json_response([dataset_json(doc) for doc in docs], headers={"X-Total-Count": str(total)})


async def retrieve_dataset(request: web.Request) -> web.Response:
    """GET /catalog/v1/datasets/{name} — 404 when missing or not visible to this reader."""
    check_params(request, ())
    return json_response(dataset_json(await _visible(request)))


async def update_dataset(request: web.Request) -> web.Response:
    """PATCH /catalog/v1/datasets/{name} — merge-patch (RFC 7396) of the editable members; 200 + the dataset."""
    check_params(request, ())
    patch = await json_body(request, MERGE_PATCH, JSON, hint=LINK_HINT)
    if not isinstance(patch, dict) or not patch:
        raise BadRequestData("The body must be a non-empty JSON object of the members to change")
    doc = await _owned(request)
    ctx = await request_context(request)
    fixed = sorted(name for name in _IDENTITY if name in patch and not _same_identity(ctx, doc, name, patch[name]))
    if fixed:
        raise BadRequestData(f"'{fixed[0]}' cannot be changed: unpublish the dataset (DELETE) and publish it again")
    changes = {key: value for key, value in patch.items() if key not in _IDENTITY}
    spec = validated(DatasetSpec, merge_patch(editable_json(doc), changes))
    members = spec.members()
    members["excludedAttributes"] = [_expand(ctx, name, "excludedAttributes") for name in spec.excluded_attributes]
    updated = {key: value for key, value in {**doc, **members}.items() if value is not None}
    updated["modified"] = utc_now()
    await request.app[DATASET_CATALOG].replace(updated)
    services(request).published.forget()
    return json_response(dataset_json(updated))


async def delete_dataset(request: web.Request) -> web.Response:
    """DELETE /catalog/v1/datasets/{name} — unpublish: its data is no longer readable without access; 204."""
    check_params(request, ())
    doc = await _owned(request)
    await request.app[DATASET_CATALOG].delete(doc["_id"])
    services(request).published.forget()
    return no_content()


async def dcat_catalog(request: web.Request) -> web.Response:
    """GET /catalog/v1/dcat[?page=N] — one page of the datasets this reader sees as a DCAT-AP catalog in
    JSON-LD, by name; hydra paging links when there is more than one page."""
    check_params(request, ("page",))
    svc = services(request)
    number, size = non_negative(request.query, "page", 1), svc.settings.dcat_page_size
    if not 1 <= number <= MAX_PAGE:
        raise BadRequestData(f"page must be an integer from 1 to {MAX_PAGE}, got {request.query['page']!r}")
    docs, total = await request.app[DATASET_CATALOG].page(await visible_to(request), offset=(number - 1) * size,
                                                          limit=size)
    page = CatalogPage(number, size, total, asked="page" in request.query)
    names = await display_names(svc.tenants.collection, sorted({doc["tenant"] for doc in docs}))
    base = base_url(request)
    datasets = [render_dataset(doc, base, doc.get("publisher") or names.get(doc["tenant"]) or doc["tenant"])
                for doc in docs]
    body = render_catalog(svc.settings.catalog_title, svc.settings.catalog_publisher, base, datasets, page)
    return json_response(body, media=JSON_LD)


# --- helpers ------------------------------------------------------------------------------------

def _expand(ctx: RequestContext, name: str, member: str) -> str:
    if not is_valid_name(name):
        raise BadRequestData(f"{member}: {name!r} is not a valid NGSI-LD name (a term, compact IRI or IRI)")
    return ctx.terms.expand(name)


def _same_identity(ctx: RequestContext, doc: dict[str, Any], member: str, value: Any) -> bool:
    """Whether a PATCH repeats the dataset's name, entity type or tenant, spelled as POST accepts them
    (a type expanded with the request's @context, a tenant in any case)."""
    if not isinstance(value, str):
        return False
    if member == "entityType":
        return _expand(ctx, value, member) == doc["entityType"]
    if member == "tenant":
        return tenant_name(value, member) == doc["tenant"]
    return value == doc["_id"]


async def _visible(request: web.Request) -> dict[str, Any]:
    name = request.match_info["name"]
    doc = await request.app[DATASET_CATALOG].find_one({"$and": [await visible_to(request), {"_id": name}]})
    if doc is None:
        raise ResourceNotFound(f"No dataset named {name!r} is published to this reader")
    return doc


async def _owned(request: web.Request) -> dict[str, Any]:
    """The dataset, when the request acts for its tenant (403 otherwise)."""
    doc = await _visible(request)
    tenant = tenant_of(request)
    if doc["tenant"] != tenant:
        raise Forbidden(f"Dataset '{doc['_id']}' belongs to tenant '{doc['tenant']}'; only that tenant "
                        "(NGSILD-Tenant) may change or unpublish it")
    return doc


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post(DATASETS_PATH, publish_dataset)
    r.add_get(DATASETS_PATH, list_datasets, allow_head=False)
    one = f"{DATASETS_PATH}/{{name}}"
    r.add_get(one, retrieve_dataset, allow_head=False)
    r.add_patch(one, update_dataset)
    r.add_delete(one, delete_dataset)
    r.add_get(DCAT_PATH, dcat_catalog, allow_head=False)
