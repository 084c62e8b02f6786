"""Usage read-out: GET /admin/v1/usage (every tenant, scope admin) and GET /tenant/v1/usage (a tenant's own)."""

from __future__ import annotations

from datetime import date
from itertools import groupby
from operator import attrgetter
from typing import Any

from aiohttp import web

from broker.api.bodies import tenant_name
from broker.api.http import check_params, json_response
from broker.api.request import existing_tenant
from broker.api.state import services
from broker.ngsild.errors import BadRequestData
from tenants.admin import ADMIN_BASE
from tenants.meters import METERS, DayUsage, PeriodError, empty_meters, parse_period, totals_by_tenant
from tenants.names import DEFAULT_TENANT_NAME, tenant_label
from tenants.registry import DEFAULT_TENANT

ADMIN_USAGE_PATH = f"{ADMIN_BASE}/usage"
TENANT_USAGE_PATH = "/tenant/v1/usage"


def period_of(request: web.Request) -> tuple[date, date]:
    """`from` and `to` (inclusive, YYYY-MM-DD); by default the current month up to today."""
    try:
        return parse_period(request.query.get("from"), request.query.get("to"),
                            services(request).usage.clock.date(),
                            ("URL parameter 'from'", "URL parameter 'to'"))
    except PeriodError as exc:
        raise BadRequestData(str(exc)) from None


def usage_json(first: date, last: date, timezone: str, rows: list[DayUsage],
               tenants: list[str] | None = None) -> dict[str, Any]:
    """Per-day rows and totals per tenant; `tenants` lists who to show even without rows."""
    by_tenant = {name: list(days) for name, days in groupby(rows, key=attrgetter("tenant"))}  # rows come sorted
    names = tenants if tenants is not None else list(by_tenant)
    totals = totals_by_tenant(rows)
    return {"from": first.isoformat(), "to": last.isoformat(), "timezone": timezone, "meters": list(METERS),
            "tenants": [{"tenant": tenant_label(name),
                         "days": [{"day": row.day, **row.meters} for row in by_tenant.get(name, ())],
                         "total": totals.get(name, empty_meters())}
                        for name in names]}


async def admin_usage(request: web.Request) -> web.Response:
    """GET /admin/v1/usage?from=&to=&tenant= — every tenant's meters, or one tenant's."""
    check_params(request, ("from", "to", "tenant"))
    first, last = period_of(request)
    tenant = _tenant_param(request.query.get("tenant"))
    svc = services(request)
    rows = await svc.usage.read(first, last, None if tenant is None else [tenant])
    return json_response(usage_json(first, last, svc.settings.usage_timezone, rows,
                                    None if tenant is None else [tenant]))


async def own_usage(request: web.Request) -> web.Response:
    """GET /tenant/v1/usage?from=&to= — the request's tenant's own meters."""
    check_params(request, ("from", "to"))
    first, last = period_of(request)
    tenant = await existing_tenant(request)
    svc = services(request)
    rows = await svc.usage.read(first, last, [tenant])
    return json_response(usage_json(first, last, svc.settings.usage_timezone, rows, [tenant]))


def _tenant_param(raw: str | None) -> str | None:
    if raw is None:
        return None
    if raw.strip().lower() == DEFAULT_TENANT_NAME:
        return DEFAULT_TENANT
    return tenant_name(raw, "URL parameter 'tenant'")


def add_routes(app: web.Application) -> None:
    app.router.add_get(ADMIN_USAGE_PATH, admin_usage, allow_head=False)
    app.router.add_get(TENANT_USAGE_PATH, own_usage, allow_head=False)
