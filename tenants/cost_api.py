"""Cost allocations (費用負担), /admin/v1/cost-allocations: split a period's cost, keep it, list it, export CSV."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from aiohttp import web
from pydantic import Field, StrictInt, StrictStr

from broker.api.bodies import Body, TenantName, json_body, page_params, validated
from broker.api.http import check_params, json_response, utc_now
from broker.api.state import SERVICES, services
from broker.ngsild.errors import BadRequestData, ResourceNotFound
from broker.ngsild.media import JSON, negotiate
from broker.ngsild.names import format_datetime
from tenants.admin import ADMIN_BASE, AUDIT_LOG
from tenants.allocations import COST_ALLOCATIONS, AllocationStore, new_allocation_id
from tenants.audit import ALLOCATE, AuditEntry, actor_of, request_id
from tenants.costs import (
    MAX_YEN,
    Allocation,
    AllocationError,
    BaseSplit,
    Member,
    Method,
    Terms,
    allocate,
    decimal_text,
)
from tenants.meters import PeriodError, empty_meters, parse_period, totals_by_tenant
from tenants.registry import CREATED_BY_ADMIN, TenantRecord

ALLOCATIONS_PATH = f"{ADMIN_BASE}/cost-allocations"
ALLOCATIONS = web.AppKey("cost_allocations", AllocationStore)
CSV = "text/csv"
MAX_TENANTS = 10_000

Yen = Annotated[StrictInt, Field(ge=0, le=MAX_YEN)]
UnitPrice = Annotated[Decimal, Field(ge=0, le=10**9, decimal_places=6, allow_inf_nan=False)]


class PeriodBody(Body):
    start: StrictStr = Field(alias="from")
    end: StrictStr = Field(alias="to")


class NewAllocation(Body):
    """POST /admin/v1/cost-allocations."""

    period: PeriodBody
    method: Method
    total: Yen | None = None
    fixed: Yen | None = None
    unit_prices: dict[str, UnitPrice] = Field(default_factory=dict)
    fixed_split: BaseSplit | None = None
    tenants: Annotated[list[TenantName], Field(min_length=1, max_length=MAX_TENANTS)] | None = None

    def terms(self) -> Terms:
        if self.fixed_split is not None and self.method != "hybrid":
            raise AllocationError("fixedSplit belongs to method 'hybrid' (how its fixed part is split)")
        return Terms(self.method, self.total, self.fixed, self.unit_prices, self.fixed_split or "population")

    def recorded(self) -> dict[str, Any]:
        """The request as kept with the result: exactly the inputs that produced it."""
        return {"period": {"from": self.period.start, "to": self.period.end}, "method": self.method,
                "total": self.total, "fixed": self.fixed,
                "unitPrices": {meter: str(price) for meter, price in self.unit_prices.items()},
                "fixedSplit": self.fixed_split, "tenants": self.tenants}


def allocation_json(allocation_id: str, created_at: str, actor: str, spec: NewAllocation, period: tuple[date, date],
                    timezone: str, records: dict[str, TenantRecord], usage: dict[str, dict[str, int]],
                    result: Allocation) -> dict[str, Any]:
    return {
        "id": allocation_id, "createdAt": created_at, "createdBy": actor,
        "period": {"from": period[0].isoformat(), "to": period[1].isoformat()}, "timezone": timezone,
        "method": spec.method, "total": result.total,
        "rounding": "largest remainder: whole yen rounded down, the yen left over to the largest remainders, "
                    "equal remainders in tenant name order",
        "request": spec.recorded(),
        "tenants": [{
            "tenant": share.tenant, "displayName": records[share.tenant].display_name,
            "population": records[share.tenant].population, "usage": usage[share.tenant],
            "weightedUsage": decimal_text(share.weighted_usage), "basePart": decimal_text(share.base_part),
            "usagePart": decimal_text(share.usage_part), "exactShare": decimal_text(share.exact),
            "amount": share.amount,
        } for share in result.shares],
    }


async def create_allocation(request: web.Request) -> web.Response:
    """POST /admin/v1/cost-allocations — 201 + Location and the allocation with its inputs."""
    check_params(request, ())
    svc = services(request)
    spec = validated(NewAllocation, await json_body(request, JSON))
    try:
        period = parse_period(spec.period.start, spec.period.end, svc.usage.clock.date(),
                              ("period.from", "period.to"))
        terms = spec.terms()
    except (PeriodError, AllocationError) as exc:
        raise BadRequestData(str(exc)) from None
    records = await _members(request, spec.tenants)
    totals = totals_by_tenant(await svc.usage.read(*period, tenants=list(records)))
    usage = {name: totals.get(name) or empty_meters() for name in records}
    members = [Member(name, record.population, usage[name]) for name, record in records.items()]
    try:
        result = allocate(members, terms)
    except AllocationError as exc:
        raise BadRequestData(str(exc)) from None
    now, actor = utc_now(), actor_of(request)
    body = allocation_json(new_allocation_id(), format_datetime(now), actor, spec, period,
                           svc.settings.usage_timezone, records, usage, result)
    await request.app[ALLOCATIONS].insert(body, now)
    summary = {key: body[key] for key in ("id", "period", "method", "total")}
    summary["amounts"] = {share["tenant"]: share["amount"] for share in body["tenants"]}
    await request.app[AUDIT_LOG].record(AuditEntry(at=now, actor=actor, action=ALLOCATE, tenant="", before=None,
                                                   after=summary, request_id=request_id()))
    return json_response(body, status=201, headers={"Location": f"{ALLOCATIONS_PATH}/{body['id']}"})


async def list_allocations(request: web.Request) -> web.Response:
    """GET /admin/v1/cost-allocations — newest first (`limit`, `offset`); the total in X-Total-Count."""
    check_params(request, ("limit", "offset"))
    limit, offset = page_params(request)
    found, total = await request.app[ALLOCATIONS].page(limit=limit, offset=offset)
    return json_response(found, headers={"X-Total-Count": str(total)})


async def retrieve_allocation(request: web.Request) -> web.Response:
    """GET /admin/v1/cost-allocations/{id} — JSON, or CSV when the Accept header prefers `text/csv`."""
    check_params(request, ())
    media = negotiate(request.headers.get("Accept"), (JSON, CSV))
    allocation_id = request.match_info["id"]
    found = await request.app[ALLOCATIONS].get(allocation_id)
    if found is None:
        raise ResourceNotFound(f"No cost allocation with id '{allocation_id}'")
    if media == CSV:
        return web.Response(body=allocation_csv(found).encode("utf-8-sig"), content_type=CSV, charset="utf-8",
                            headers={"Content-Disposition": f'attachment; filename="cost-allocation-'
                                                            f'{allocation_id}.csv"'})
    return json_response(found)


def allocation_csv(allocation: dict[str, Any]) -> str:
    """One row per tenant: the allocation's inputs, the tenant's priced usage, its exact share and amount."""
    priced = list(allocation["request"]["unitPrices"])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["allocationId", "periodFrom", "periodTo", "method", "tenant", "displayName", "population",
                     *priced, "weightedUsage", "basePart", "usagePart", "exactShare", "amount"])
    for share in allocation["tenants"]:
        writer.writerow([allocation["id"], allocation["period"]["from"], allocation["period"]["to"],
                         allocation["method"], share["tenant"], share["displayName"] or "",
                         "" if share["population"] is None else share["population"],
                         *(share["usage"][meter] for meter in priced), share["weightedUsage"], share["basePart"],
                         share["usagePart"], share["exactShare"], share["amount"]])
    return out.getvalue()


async def _members(request: web.Request, names: list[str] | None) -> dict[str, TenantRecord]:
    """The tenants to bill by name: the ones listed (registered, whatever their status), or by default
    every active member: provisioned through the admin API, or created implicitly and then given a
    displayName there."""
    registry = services(request).tenants
    if names is None:
        chosen = {name: record for name, record in (await registry.records()).items()
                  if record.created_by == CREATED_BY_ADMIN or record.display_name is not None}
        if not chosen:
            raise BadRequestData("No tenants to allocate the cost to: no active tenant is provisioned; "
                                 "provision tenants or list them in 'tenants'")
        return chosen
    if len(set(names)) != len(names):
        duplicates = sorted({name for name in names if names.count(name) > 1})
        raise BadRequestData(f"tenants: listed more than once: {', '.join(duplicates)}")
    chosen = await registry.records(names)
    unknown = sorted(set(names) - chosen.keys())
    if unknown:
        raise BadRequestData(f"tenants: tenant '{unknown[0]}' is not registered")
    return chosen


def add_routes(app: web.Application) -> None:
    app[ALLOCATIONS] = AllocationStore(app[SERVICES].databases.catalog[COST_ALLOCATIONS])
    app.router.add_post(ALLOCATIONS_PATH, create_allocation)
    app.router.add_get(ALLOCATIONS_PATH, list_allocations, allow_head=False)
    app.router.add_get(f"{ALLOCATIONS_PATH}/{{id}}", retrieve_allocation, allow_head=False)
