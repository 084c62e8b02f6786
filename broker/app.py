"""Builds the aiohttp Application: settings → stores → routes → middleware."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from broker.api import batch, catalog, contexts, discovery, entities, purge, query, subscriptions, system
from broker.api.http import MAX_BODY_KEY
from broker.api.metering import usage_middleware
from broker.api.middleware import problem_middleware
from broker.api.request import TENANT_KEY
from broker.api.state import SERVICES, Services
from broker.api.wide_area import read_only_middleware
from broker.auth.middleware import auth_middleware, setup_auth
from broker.config import Settings
from broker.metrics import METRICS, REFRESH, Metrics, metrics_middleware, serve_metrics
from broker.notify.dispatcher import DeliverySettings, Dispatcher
from broker.notify.notifier import Notifier, SubscriptionCache
from broker.notify.periodic import PeriodicNotifier
from broker.notify.senders import Senders
from broker.store.client import Databases
from broker.store.contexts import CONTEXTS, ContextResolver, ContextSettings
from broker.store.entities import EntityStore
from broker.store.notifying import NotifyingTenants
from broker.store.outbox import Outbox
from broker.store.query import QUERY_TIME_LIMIT_MS
from broker.store.subscriptions import SubscriptionStore
from tenants import admin, ckan, cost_api, names, usage_api
from tenants.admission import TenantAdmission
from tenants.datasets import DATASET_CATALOG, DatasetCatalog
from tenants.meters import DayClock
from tenants.published import DATASETS, PublishedTypes
from tenants.quotas import Quotas, RateLimiter
from tenants.registry import TENANTS, TenantRegistry
from tenants.usage import USAGE, UsageMeter


def create_app(settings: Settings, mongo_url: str, *,
               database_alive: Callable[[], bool] = lambda: True) -> web.Application:
    """The broker application for a MongoDB URL (the embedded server's or a real one)."""
    metrics = Metrics()
    holder: dict[str, TenantRegistry] = {}
    app = web.Application(
        middlewares=[metrics_middleware(lambda name: holder["tenants"].is_known(name), request_tenant),
                     usage_middleware, problem_middleware, auth_middleware, read_only_middleware],
        client_max_size=settings.max_body_bytes + 1)
    app[MAX_BODY_KEY] = settings.max_body_bytes
    app[METRICS] = metrics
    setup_auth(app, settings)
    databases = Databases(mongo_url, settings.db_prefix, settings.mongo_timeout_ms,
                          query_timeout_ms=settings.query_timeout_ms,
                          event_listeners=[metrics.database_listener] if settings.database_command_metrics else [])
    tenants = holder["tenants"] = TenantRegistry(databases.catalog[TENANTS], settings.tenant_cache_ttl_s)
    resolver = ContextResolver(databases.catalog[CONTEXTS], ContextSettings(
        core_version=settings.core_context_version,
        fetch_timeout_s=settings.context_fetch_timeout_s,
        max_bytes=settings.context_max_bytes,
        cache_ttl_s=settings.context_cache_ttl_s,
        unavailable_status=settings.ld_context_unavailable_status,
    ))
    cache = SubscriptionCache(databases, resolver, settings.subscription_cache_ttl_s,
                              wide_area=settings.wide_area_tenant)
    usage = UsageMeter(databases.catalog[USAGE], DayClock(settings.usage_timezone),
                       flush_interval_s=settings.usage_flush_interval_s,
                       sample_interval_s=settings.usage_sample_interval_s,
                       sample=lambda tenant: _sample_usage(databases, tenant), tenants=tenants.stored_names)

    def delivered(tenant: str, outcome: str) -> None:
        metrics.notifications.labels(names.tenant_label(tenant), outcome).inc()
        if outcome == "sent":
            usage.count_notification(tenant)

    notifying = NotifyingTenants(databases, tenants, settings.notify_poll_interval_s,
                                 unregistered=(settings.wide_area_tenant,))
    dispatcher = Dispatcher(databases, notifying, Senders(settings.notification_target_policy), DeliverySettings(
        poll_interval_s=settings.notify_poll_interval_s,
        lease_s=settings.notify_lease_s,
        max_attempts=settings.notify_max_attempts,
        backoff_base_s=settings.notify_backoff_base_s,
        backoff_max_s=settings.notify_backoff_max_s,
        endpoint_concurrency=settings.notify_endpoint_concurrency,
        endpoint_queue=settings.notify_endpoint_queue,
    ), on_delivery=delivered)
    published = PublishedTypes(databases.catalog[DATASETS], tenants, settings.tenant_cache_ttl_s)
    periodic = PeriodicNotifier(databases, notifying, cache, dispatcher,
                                poll_interval_s=settings.notify_poll_interval_s,
                                default_timeout_s=settings.notify_default_timeout_s)
    app[SERVICES] = Services(
        settings=settings,
        databases=databases,
        tenants=tenants,
        contexts=resolver,
        subscriptions=cache,
        dispatcher=dispatcher,
        periodic=periodic,
        notifier=Notifier(databases, cache, dispatcher, settings.notify_default_timeout_s,
                          published=published, wide_area=settings.wide_area_tenant),
        admission=TenantAdmission(tenants, RateLimiter(settings.rate_limit_window_s, settings.rate_limit_replicas),
                                  autocreate=settings.autocreate_tenants, wide_area=settings.wide_area_tenant,
                                  wide_area_quotas=Quotas(
                                      max_subscriptions=settings.wide_area_max_subscriptions,
                                      max_requests_per_minute=settings.wide_area_max_requests_per_minute)),
        published=published,
        usage=usage,
        database_alive=database_alive,
    )
    app[DATASET_CATALOG] = DatasetCatalog(databases.catalog[DATASETS])
    system.add_routes(app)
    entities.add_routes(app)
    contexts.add_routes(app)
    query.add_routes(app)
    discovery.add_routes(app)
    purge.add_routes(app)
    batch.add_routes(app)
    subscriptions.add_routes(app)
    admin.add_routes(app)
    catalog.add_routes(app)
    ckan.add_routes(app)
    usage_api.add_routes(app)
    cost_api.add_routes(app)
    app.router.add_get("/metrics", serve_metrics, allow_head=False)
    app[REFRESH] = _refresh_metrics
    app.on_startup.append(_start)
    app.on_cleanup.append(_close)
    return app


def request_tenant(request: web.Request) -> str | None:
    return request.get(TENANT_KEY)


async def _refresh_metrics(app: web.Application) -> None:
    """Outbox depth per tenant, read when Prometheus scrapes (a count per tenant, not per request)."""
    svc = app[SERVICES]
    for tenant in await svc.dispatcher.notifying.polled():  # only these have an outbox (the wide-area one too)
        depth = await Outbox(svc.databases.tenant(tenant or None)).depth()
        app[METRICS].outbox_depth.labels(names.tenant_label(tenant)).set(depth)


async def _sample_usage(databases: Databases, tenant: str) -> dict[str, int]:
    """A tenant's usage gauges, counted by its database."""
    db = databases.tenant(tenant or None)
    stats = await db.command("dbStats")
    return {"entitiesStored": await EntityStore(db).count(), "subscriptions": await SubscriptionStore(db).count(),
            "storageBytes": int(stats.get("dataSize", 0)) + int(stats.get("indexSize", 0))}


async def _start(app: web.Application) -> None:
    # the background tasks' queries (periodic notifications) get KYODO_QUERY_TIMEOUT_MS too: a task
    # copies the context it is created in; requests set it in request_context
    QUERY_TIME_LIMIT_MS.set(app[SERVICES].settings.query_timeout_ms)
    app[SERVICES].dispatcher.start()
    app[SERVICES].periodic.start()
    app[SERVICES].usage.start()


async def _close(app: web.Application) -> None:
    svc = app[SERVICES]
    await svc.periodic.stop()
    await svc.dispatcher.stop()
    await svc.usage.stop()  # after the dispatcher: its last deliveries are counted too
    await svc.dispatcher.senders.close()
    await svc.contexts.close()
    await svc.databases.close()
