"""What the handlers share for the life of the process: settings, database, registries, caches."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from broker.config import Settings
from broker.notify.dispatcher import Dispatcher
from broker.notify.notifier import Notifier, SubscriptionCache
from broker.notify.periodic import PeriodicNotifier
from broker.store.client import Databases
from broker.store.contexts import ContextResolver
from tenants.admission import TenantAdmission
from tenants.published import PublishedTypes
from tenants.registry import TenantRegistry
from tenants.usage import UsageMeter


@dataclass
class Services:
    settings: Settings
    databases: Databases
    tenants: TenantRegistry
    contexts: ContextResolver
    subscriptions: SubscriptionCache
    dispatcher: Dispatcher
    periodic: PeriodicNotifier
    notifier: Notifier
    admission: TenantAdmission
    """Tenant status, implicit creation and request rate, checked where the tenant is resolved."""
    published: PublishedTypes
    """The entity types tenants publish in the shared catalog (anonymous, member and wide-area reads)."""
    usage: UsageMeter
    """This process's usage meters per tenant per day, flushed to the shared catalog in batches."""
    database_alive: Callable[[], bool] = lambda: True
    """False when the embedded database child has died (readiness)."""
    indexed_tenants: set[str] = field(default_factory=set)


SERVICES = web.AppKey("services", Services)


def services(request: web.Request) -> Services:
    return request.app[SERVICES]
