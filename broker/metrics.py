"""Prometheus metrics: requests by route template, notifications, database latency, outbox depth.

One registry per application (tests build many applications in one process). The tenant label
is bounded: only tenants the registry knows are named, anything else counts as "other".
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from pymongo import monitoring

from tenants.names import tenant_label

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The broker's instruments, registered in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("kyodo_http_requests", "HTTP requests answered",
                                ("route", "method", "status", "tenant"), registry=self.registry)
        self.request_seconds = Histogram("kyodo_http_request_duration_seconds", "HTTP request latency",
                                         ("route", "method", "tenant"), buckets=_LATENCY_BUCKETS,
                                         registry=self.registry)
        self.notifications = Counter("kyodo_notifications", "Notification deliveries by outcome",
                                     ("tenant", "outcome"), registry=self.registry)
        self.outbox_depth = Gauge("kyodo_outbox_depth", "Notifications waiting in the outbox",
                                  ("tenant",), registry=self.registry)
        self.database_seconds = Histogram("kyodo_database_command_duration_seconds",
                                          "MongoDB command latency", ("command", "outcome"),
                                          buckets=_LATENCY_BUCKETS, registry=self.registry)
        self.database_listener = _DatabaseListener(self.database_seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _DatabaseListener(monitoring.CommandListener):
    """Times every MongoDB command through PyMongo's own monitoring (no wrapper on the hot path)."""

    def __init__(self, histogram: Histogram) -> None:
        self.histogram = histogram

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        return None

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self.histogram.labels(event.command_name, "ok").observe(event.duration_micros / 1e6)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self.histogram.labels(event.command_name, "failed").observe(event.duration_micros / 1e6)


METRICS = web.AppKey("metrics", Metrics)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def metrics_middleware(known_tenant: Callable[[str], bool], tenant_of_request: Callable[[web.Request], str | None]):
    """Count and time every request by its route template (outermost: it sees the final status)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        response: web.StreamResponse | None = None
        try:
            response = await handler(request)
            return response
        finally:
            metrics = request.app[METRICS]
            resource = request.match_info.route.resource
            route = resource.canonical if resource is not None else "unmatched"
            tenant = tenant_of_request(request)
            label = tenant_label(tenant) if tenant == "" or (tenant and known_tenant(tenant)) else "other"
            status = str(response.status) if response is not None else "500"
            metrics.requests.labels(route, request.method, status, label).inc()
            metrics.request_seconds.labels(route, request.method, label).observe(time.perf_counter() - started)

    return middleware


async def serve_metrics(request: web.Request) -> web.Response:
    """GET /metrics — Prometheus text format."""
    refresh = request.app.get(REFRESH)
    if refresh is not None:
        await refresh(request.app)
    return web.Response(body=request.app[METRICS].render(), headers={"Content-Type": CONTENT_TYPE_LATEST})


REFRESH = web.AppKey("metrics_refresh", Callable[[web.Application], Awaitable[None]])
