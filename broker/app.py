"""Builds the aiohttp Application: settings → stores → routes → middleware."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from broker.api import batch, contexts, discovery, entities, purge, query, subscriptions, system
from broker.api.http import MAX_BODY_KEY
from broker.api.middleware import problem_middleware
from broker.api.state import SERVICES, Services
from broker.config import Settings
from broker.notify.dispatcher import DeliverySettings, Dispatcher
from broker.notify.notifier import Notifier, SubscriptionCache
from broker.notify.periodic import PeriodicNotifier
from broker.notify.senders import Senders
from broker.store.client import Databases
from broker.store.contexts import CONTEXTS, ContextResolver, ContextSettings
from tenants.registry import TENANTS, TenantRegistry


def create_app(settings: Settings, mongo_url: str, *,
               database_alive: Callable[[], bool] = lambda: True) -> web.Application:
    """The broker application for a MongoDB URL (the embedded server's or a real one)."""
    app = web.Application(middlewares=[problem_middleware],
                          client_max_size=settings.max_body_bytes + 1)
    app[MAX_BODY_KEY] = settings.max_body_bytes
    databases = Databases(mongo_url, settings.db_prefix, settings.mongo_timeout_ms)
    tenants = TenantRegistry(databases.catalog[TENANTS], settings.tenant_cache_ttl_s)
    resolver = ContextResolver(databases.catalog[CONTEXTS], ContextSettings(
        core_version=settings.core_context_version,
        fetch_timeout_s=settings.context_fetch_timeout_s,
        max_bytes=settings.context_max_bytes,
        cache_ttl_s=settings.context_cache_ttl_s,
        unavailable_status=settings.ld_context_unavailable_status,
    ))
    cache = SubscriptionCache(databases, resolver, settings.subscription_cache_ttl_s)
    dispatcher = Dispatcher(databases, tenants, Senders(settings.notification_targets), DeliverySettings(
        poll_interval_s=settings.notify_poll_interval_s,
        lease_s=settings.notify_lease_s,
        max_attempts=settings.notify_max_attempts,
        backoff_base_s=settings.notify_backoff_base_s,
        backoff_max_s=settings.notify_backoff_max_s,
        endpoint_concurrency=settings.notify_endpoint_concurrency,
        endpoint_queue=settings.notify_endpoint_queue,
    ))
    periodic = PeriodicNotifier(databases, tenants, cache, dispatcher,
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
        notifier=Notifier(databases, cache, dispatcher, settings.notify_default_timeout_s),
        database_alive=database_alive,
    )
    system.add_routes(app)
    entities.add_routes(app)
    contexts.add_routes(app)
    query.add_routes(app)
    discovery.add_routes(app)
    purge.add_routes(app)
    batch.add_routes(app)
    subscriptions.add_routes(app)
    app.on_startup.append(_start)
    app.on_cleanup.append(_close)
    return app


async def _start(app: web.Application) -> None:
    app[SERVICES].dispatcher.start()
    app[SERVICES].periodic.start()


async def _close(app: web.Application) -> None:
    svc = app[SERVICES]
    await svc.periodic.stop()
    await svc.dispatcher.stop()
    await svc.dispatcher.senders.close()
    await svc.contexts.close()
    await svc.databases.close()
