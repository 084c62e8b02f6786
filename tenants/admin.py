"""The admin API, /admin/v1: provision tenants, set their quotas, suspend, deactivate or purge them,
and read the audit log (README "Admin API"). JSON in and out; access control requires scope
`admin` on every route (broker/auth/policy.py). Every change is written to the audit log.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

from aiohttp import web
from pydantic import Field, StrictInt
from pydantic.alias_generators import to_camel

from broker.api.bodies import (
    Body,
    Email,
    TenantName,
    Text,
    json_body,
    page_params,
    tenant_name,
    validated,
)
from broker.api.http import boolean_param, check_params, json_response, no_content, utc_now
from broker.api.state import SERVICES, services
from broker.ngsild.errors import AlreadyExists, BadRequestData, ResourceNotFound
from broker.ngsild.media import JSON, MERGE_PATCH
from broker.ngsild.names import format_datetime
from broker.store.entities import EntityStore
from broker.store.geo import forget_geo_indexes
from broker.store.subscriptions import SubscriptionStore
from tenants.audit import ACTIONS, AUDIT, CREATE, DELETE, PURGE, UPDATE, AuditEntry, AuditLog, actor_of, request_id
from tenants.datasets import DATASET_CATALOG
from tenants.quotas import Quotas
from tenants.registry import (
    ACTIVE,
    CREATED_BY_ADMIN,
    INACTIVE,
    STATUSES,
    Contact,
    TenantExists,
    TenantRecord,
)

ADMIN_BASE = "/admin/v1"
TENANTS_PATH = f"{ADMIN_BASE}/tenants"
AUDIT_PATH = f"{ADMIN_BASE}/audit"
AUDIT_LOG = web.AppKey("audit_log", AuditLog)

# --- request bodies ---------------------------------------------------------------------------

_MAX_NUMBER = 10**12  # far above any real figure, and inside MongoDB's 64-bit integers
Kind = Literal["prefecture", "municipality", "other"]
Limit = Annotated[StrictInt, Field(ge=1, le=_MAX_NUMBER)]
Population = Annotated[StrictInt, Field(ge=0, le=_MAX_NUMBER)]


class ContactBody(Body):
    name: Text
    email: Email


class QuotasBody(Body):
    """Each limit a positive integer, or null for unlimited (the default)."""

    max_entities: Limit | None = None
    max_subscriptions: Limit | None = None
    max_requests_per_minute: Limit | None = None
    max_batch_size: Limit | None = None

    def to_quotas(self) -> Quotas:
        return Quotas(self.max_entities, self.max_subscriptions, self.max_requests_per_minute, self.max_batch_size)


class NewTenant(Body):
    """POST /admin/v1/tenants."""

    name: TenantName
    display_name: Text
    kind: Kind
    population: Population
    contact: ContactBody
    quotas: QuotasBody = Field(default_factory=QuotasBody)

    def to_record(self) -> TenantRecord:
        now = utc_now()
        return TenantRecord(name=self.name, status=ACTIVE, display_name=self.display_name, kind=self.kind,
                            population=self.population, contact=Contact(self.contact.name, self.contact.email),
                            quotas=self.quotas.to_quotas(), created_at=now, updated_at=now,
                            created_by=CREATED_BY_ADMIN)


# In a PATCH an absent member stays as it is. The defaults below are None although the types do not
# allow it: pydantic does not validate defaults, so absence is fine while an explicit null is a 400
# naming the member (these members cannot be removed; only quota limits take null, for unlimited).

class ContactPatch(Body):
    name: Text = None  # type: ignore[assignment]
    email: Email = None  # type: ignore[assignment]


class TenantPatch(Body):
    """PATCH /admin/v1/tenants/{name}: the members to change; quotas and contact member by member."""

    display_name: Text = None  # type: ignore[assignment]
    kind: Kind = None  # type: ignore[assignment]
    population: Population = None  # type: ignore[assignment]
    contact: ContactPatch = None  # type: ignore[assignment]
    quotas: QuotasBody = None  # type: ignore[assignment]
    status: Literal["active", "suspended"] = None  # type: ignore[assignment]

    def changes(self) -> dict[str, Any]:
        """The registry document members to set, as dotted paths."""
        changes: dict[str, Any] = {}
        for field in ("display_name", "kind", "population", "status"):
            if field in self.model_fields_set:
                changes[to_camel(field)] = getattr(self, field)
        for group in ("contact", "quotas"):
            if group in self.model_fields_set:
                part = getattr(self, group)
                for field in sorted(part.model_fields_set):
                    changes[f"{group}.{to_camel(field)}"] = getattr(part, field)
        return changes


# --- responses ----------------------------------------------------------------------------------

def tenant_json(record: TenantRecord, usage: dict[str, int] | None = None) -> dict[str, Any]:
    """A tenant as the admin API shows it (and as the audit log keeps it); usage only when counted."""
    body: dict[str, Any] = {
        "name": record.name,
        "displayName": record.display_name,
        "kind": record.kind,
        "population": record.population,
        "contact": {"name": record.contact.name, "email": record.contact.email} if record.contact else None,
        "quotas": record.quotas.to_document(),
        "status": record.status,
        "createdBy": record.created_by,
        "createdAt": format_datetime(record.created_at) if record.created_at else None,
        "updatedAt": format_datetime(record.updated_at) if record.updated_at else None,
    }
    if usage is not None:
        body["usage"] = usage
    return body


def audit_json(entry: AuditEntry) -> dict[str, Any]:
    return {"at": format_datetime(entry.at), "actor": entry.actor, "action": entry.action, "tenant": entry.tenant,
            "before": entry.before, "after": entry.after, "requestId": entry.request_id}


def tenant_location(name: str) -> str:
    return f"{TENANTS_PATH}/{quote(name)}"


# --- handlers -----------------------------------------------------------------------------------

async def create_tenant(request: web.Request) -> web.Response:
    """POST /admin/v1/tenants — 201 + Location and the tenant; 409 when the name is taken."""
    check_params(request, ())
    spec = validated(NewTenant, await json_body(request, JSON))
    record = spec.to_record()
    if record.name == services(request).settings.wide_area_tenant:
        raise BadRequestData(f"Tenant name '{record.name}' is the wide-area virtual tenant (KYODO_WIDE_AREA_TENANT): "
                             "it always exists, reads every tenant's open datasets and cannot be provisioned")
    try:
        await services(request).tenants.create(record)
    except TenantExists:
        raise AlreadyExists(f"Tenant '{record.name}' already exists; change it with PATCH "
                            f"{tenant_location(record.name)}") from None
    body = tenant_json(record)
    await _audit(request, CREATE, record.name, None, body)
    return json_response(body, status=201, headers={"Location": tenant_location(record.name)})


async def list_tenants(request: web.Request) -> web.Response:
    """GET /admin/v1/tenants — a page in name order (`limit`, `offset`, `status`); the total in X-Total-Count."""
    check_params(request, ("limit", "offset", "status"))
    limit, offset = page_params(request)
    status = request.query.get("status")
    if status is not None and status not in STATUSES:
        raise BadRequestData(f"URL parameter 'status' must be one of {', '.join(STATUSES)}, got {status!r}")
    records, total = await services(request).tenants.page(limit=limit, offset=offset, status=status)
    return json_response([tenant_json(record) for record in records], headers={"X-Total-Count": str(total)})


async def retrieve_tenant(request: web.Request) -> web.Response:
    """GET /admin/v1/tenants/{name} — the tenant with its current usage, counted by the database."""
    check_params(request, ())
    record = await _registered(request)
    return json_response(tenant_json(record, await _usage(request, record.name)))


async def update_tenant(request: web.Request) -> web.Response:
    """PATCH /admin/v1/tenants/{name} — change the members given (status: active | suspended); 200 + the tenant."""
    check_params(request, ())
    name = _path_tenant(request)
    changes = validated(TenantPatch, await json_body(request, JSON, MERGE_PATCH)).changes()
    if not changes:
        raise BadRequestData("The body changes nothing: give at least one of displayName, kind, population, "
                             "contact, quotas, status")
    updated = await services(request).tenants.update(name, changes)
    if updated is None:
        raise _not_found(name)
    if "status" in changes:
        services(request).published.forget()  # a suspended tenant's datasets leave the catalog at once
    before, after = tenant_json(updated[0]), tenant_json(updated[1])
    await _audit(request, UPDATE, name, before, after)
    return json_response(after)


async def delete_tenant(request: web.Request) -> web.Response:
    """DELETE /admin/v1/tenants/{name} — deactivate (data kept); `?purge=true` drops its database too. 204."""
    check_params(request, ("purge",))
    purge = boolean_param(request, "purge")
    name = _path_tenant(request)
    svc = services(request)
    if not purge:
        updated = await svc.tenants.update(name, {"status": INACTIVE})
        if updated is None:
            raise _not_found(name)
        svc.published.forget()
        await _audit(request, DELETE, name, tenant_json(updated[0]), tenant_json(updated[1]))
        return no_content()
    record = await _registered(request)
    usage = await _usage(request, name)
    # inactive first: this process stops serving it now, the others within the registry TTL
    await svc.tenants.update(name, {"status": INACTIVE})
    await svc.databases.drop_tenant(name)
    await svc.contexts.drop_tenant(name)
    unpublished = await request.app[DATASET_CATALOG].delete_tenant(name)
    svc.published.forget()
    await svc.tenants.remove(name)
    svc.indexed_tenants.discard(name)
    svc.subscriptions.invalidate(name)
    svc.admission.limiter.forget(name)
    forget_geo_indexes(svc.databases.tenant(name).name)
    await _audit(request, PURGE, name, {**tenant_json(record, usage), "datasets": unpublished}, None)
    return no_content()


async def list_audit(request: web.Request) -> web.Response:
    """GET /admin/v1/audit — admin actions, newest first (`limit`, `offset`, `tenant`, `action`); X-Total-Count."""
    check_params(request, ("limit", "offset", "tenant", "action"))
    limit, offset = page_params(request)
    action = request.query.get("action")
    if action is not None and action not in ACTIONS:
        raise BadRequestData(f"URL parameter 'action' must be one of {', '.join(ACTIONS)}, got {action!r}")
    tenant = request.query.get("tenant")
    if tenant is not None:
        tenant = tenant_name(tenant, "URL parameter 'tenant'")
    entries, total = await request.app[AUDIT_LOG].page(limit=limit, offset=offset, tenant=tenant, action=action)
    return json_response([audit_json(entry) for entry in entries], headers={"X-Total-Count": str(total)})


# --- helpers ------------------------------------------------------------------------------------

def _path_tenant(request: web.Request) -> str:
    return tenant_name(request.match_info["name"], "URL path")


def _not_found(name: str) -> ResourceNotFound:
    return ResourceNotFound(f"Tenant '{name}' is not registered")


async def _registered(request: web.Request) -> TenantRecord:
    name = _path_tenant(request)
    record = await services(request).tenants.get(name)
    if record is None:
        raise _not_found(name)
    return record


async def _usage(request: web.Request, name: str) -> dict[str, int]:
    db = services(request).databases.tenant(name)
    return {"entities": await EntityStore(db).count(), "subscriptions": await SubscriptionStore(db).count()}


async def _audit(request: web.Request, action: str, tenant: str, before: dict[str, Any] | None,
                 after: dict[str, Any] | None) -> None:
    entry = AuditEntry(at=utc_now(), actor=actor_of(request), action=action, tenant=tenant, before=before,
                       after=after, request_id=request_id())
    await request.app[AUDIT_LOG].record(entry)


def add_routes(app: web.Application) -> None:
    app[AUDIT_LOG] = AuditLog(app[SERVICES].databases.catalog[AUDIT])
    r = app.router
    r.add_post(TENANTS_PATH, create_tenant)
    r.add_get(TENANTS_PATH, list_tenants, allow_head=False)
    one = f"{TENANTS_PATH}/{{name}}"
    r.add_get(one, retrieve_tenant, allow_head=False)
    r.add_patch(one, update_tenant)
    r.add_delete(one, delete_tenant)
    r.add_get(AUDIT_PATH, list_audit, allow_head=False)

