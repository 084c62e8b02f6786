"""From entity events to outbox records: match a tenant's subscriptions, build the notifications
(5.8.6), honour throttling, and persist them before the write is acknowledged.

An event of an entity whose type its tenant publishes openly also goes to the wide-area tenant's
subscriptions (broker/ngsild/wide_area.py: withheld attributes dropped, source tenant added); that
costs one cached lookup per write while the wide-area tenant has no subscription."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from broker.cache import TtlCache
from broker.logs import log
from broker.ngsild.catalog_view import CatalogView
from broker.ngsild.context import TermMap
from broker.ngsild.errors import NgsiLdError
from broker.ngsild.match import matches_query
from broker.ngsild.media import JSON_LD
from broker.ngsild.notification import EntityEvent, fired_triggers, notification_item, notification_payload
from broker.ngsild.subscription import CompiledSubscription, compile_subscription
from broker.ngsild.wide_area import SOURCE_TENANTS_HEADER, wide_area_event, wide_area_render
from broker.notify.dispatcher import Dispatcher
from broker.store.client import Databases
from broker.store.contexts import ContextResolver
from broker.store.subscriptions import SubscriptionStore
from tenants.published import PublishedTypes


@dataclass(frozen=True)
class ActiveSubscription:
    """A stored subscription ready for matching: parsed once, with the @context to notify in."""

    stored: dict[str, Any]
    compiled: CompiledSubscription
    terms: TermMap
    context: Any


@dataclass
class TenantSubscriptions:
    """A tenant's subscriptions indexed by entity type ("*" = any type)."""

    by_type: dict[str, list[ActiveSubscription]]
    periodic: list[ActiveSubscription]

    def candidates(self, types: list[str]) -> list[ActiveSubscription]:
        seen: dict[str, ActiveSubscription] = {}
        for key in ("*", *types):
            for subscription in self.by_type.get(key, ()):
                seen.setdefault(subscription.compiled.id, subscription)
        return list(seen.values())


class SubscriptionCache:
    """Per-process view of every tenant's subscriptions, reloaded after `ttl_s` (bounded staleness
    across replicas) and at once after a local create, update or delete."""

    def __init__(self, databases: Databases, contexts: ContextResolver, ttl_s: float,
                 wide_area: str | None = None) -> None:
        self.databases = databases
        self.contexts = contexts
        self.wide_area = wide_area
        """Its subscriptions render every entity with its source tenant (compiled so once, here)."""
        self._tenants: TtlCache[str, TenantSubscriptions] = TtlCache(ttl_s)

    def invalidate(self, tenant: str) -> None:
        self._tenants.forget(tenant)

    async def get(self, tenant: str) -> TenantSubscriptions:
        return await self._tenants.get(tenant, lambda: self._load(tenant))

    async def _load(self, tenant: str) -> TenantSubscriptions:
        by_type: dict[str, list[ActiveSubscription]] = defaultdict(list)
        periodic: list[ActiveSubscription] = []
        for stored in await SubscriptionStore(self.databases.tenant(tenant or None)).all():
            try:
                active = await self.activate(stored, tenant)
            except NgsiLdError as exc:
                log.warning("subscription cannot be used", subscription=stored["id"], error=exc.detail)
                continue
            if active.compiled.time_interval:
                periodic.append(active)
                continue
            for key in stored.get("index", {}).get("types", ["*"]):
                by_type[key].append(active)
        return TenantSubscriptions(dict(by_type), periodic)

    async def activate(self, stored: dict[str, Any], tenant: str) -> ActiveSubscription:
        terms = await self.contexts.term_map(stored.get("context"), tenant)
        compiled = compile_subscription(stored, terms)
        if tenant == self.wide_area:
            compiled = dataclasses.replace(compiled, render=wide_area_render(compiled.render))
        context = stored.get("jsonldContext") or stored.get("context") or self.contexts.core_url
        notify_terms = terms if context is stored.get("context") else await self.contexts.term_map(context, tenant)
        return ActiveSubscription(stored, compiled, notify_terms, context)


def is_live(compiled: CompiledSubscription, now: datetime) -> bool:
    return compiled.is_active and (compiled.expires_at is None or _aware(compiled.expires_at) > now)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def outbox_record(subscription: ActiveSubscription, payload: dict[str, Any], tenant: str,
                  now: datetime, default_timeout_s: float, source_tenant: str | None = None) -> dict[str, Any]:
    """What the dispatcher needs to deliver one notification, headers and body final (5.8.6);
    `source_tenant`: the tenant whose entities a wide-area subscription is notified of."""
    endpoint = subscription.stored["notification"]["endpoint"]
    accept = endpoint.get("accept", "application/json")
    headers: dict[str, str] = {"Content-Type": accept}
    body = payload
    if accept == JSON_LD:
        body = {**payload, "data": [{"@context": subscription.context, **item} for item in payload["data"]]}
    elif isinstance(subscription.context, str):
        headers["Link"] = (f'<{subscription.context}>; rel="http://www.w3.org/ns/json-ld#context"; '
                           'type="application/ld+json"')
    if tenant:
        headers["NGSILD-Tenant"] = tenant
    if source_tenant is not None:
        headers[SOURCE_TENANTS_HEADER] = source_tenant
    for pair in endpoint.get("receiverInfo") or ():
        headers[pair["key"]] = pair["value"]
    timeout = endpoint.get("timeout")
    return {
        "subscriptionId": subscription.compiled.id,
        "endpoint": endpoint["uri"],
        "request": {"uri": endpoint["uri"], "accept": accept, "headers": headers, "body": body,
                    "timeout": float(timeout) / 1000 if timeout else default_timeout_s,
                    "notifierInfo": endpoint.get("notifierInfo") or []},
        "due": now, "attempts": 0, "leaseOwner": None, "leaseUntil": None, "createdAt": now,
    }


class ThrottleWindows:
    """The throttling windows this process has claimed: a notification inside one is skipped with no
    database round trip (the claim is atomic, so no replica can hold the window before it ends).
    A window another replica holds is learnt by a refused claim, one round trip per notification.
    Keyed by the subscription's modifiedAt, so a changed `throttling` is claimed afresh."""

    def __init__(self, prune_at: int = 10_000) -> None:
        self._until: dict[tuple[str, str, Any], datetime] = {}
        self._min_prune_at = self._prune_at = prune_at
        """Ended windows are dropped when this many are kept; then again only once what was left has
        doubled, so that many live windows do not make every claim a walk through all of them."""

    def __len__(self) -> int:
        return len(self._until)

    def held(self, key: tuple[str, str, Any], now: datetime) -> bool:
        until = self._until.get(key)
        return until is not None and now < until

    def claimed(self, key: tuple[str, str, Any], until: datetime, now: datetime) -> None:
        if len(self._until) >= self._prune_at:
            self._until = {k: end for k, end in self._until.items() if end > now}
            self._prune_at = max(self._min_prune_at, 2 * len(self._until))
        self._until[key] = until


class Notifier:
    """The one place every write path reports its entity events to."""

    def __init__(self, databases: Databases, cache: SubscriptionCache, dispatcher: Dispatcher,
                 default_timeout_s: float, published: PublishedTypes | None = None,
                 wide_area: str | None = None) -> None:
        self.databases = databases
        self.cache = cache
        self.dispatcher = dispatcher
        self.default_timeout_s = default_timeout_s
        self.published = published
        self.wide_area = wide_area
        """The wide-area virtual tenant, whose subscriptions see every tenant's open datasets."""
        self.throttles = ThrottleWindows()

    async def entities_changed(self, tenant: str, events: list[EntityEvent]) -> None:
        """Persist the notifications these events cause (before the client hears of success)."""
        if not events:
            return
        await self._notify(tenant, await self.cache.get(tenant), events)
        if self.wide_area is not None and self.published is not None and tenant not in ("", self.wide_area):
            subscriptions = await self.cache.get(self.wide_area)
            if not subscriptions.by_type:
                return
            readable = await self.published.readable_types(tenant, member=False)  # its open datasets
            if not readable:
                return
            view = CatalogView(readable)
            seen = [e for event in events if (e := wide_area_event(event, view, tenant)) is not None]
            await self._notify(self.wide_area, subscriptions, seen, source_tenant=tenant)

    async def _notify(self, tenant: str, subscriptions: TenantSubscriptions, events: list[EntityEvent],
                      source_tenant: str | None = None) -> None:
        """Match `tenant`'s subscriptions and put what fires in its outbox."""
        if not subscriptions.by_type or not events:
            return
        now = datetime.now(UTC)
        data: dict[str, list[dict[str, Any]]] = defaultdict(list)
        chosen: dict[str, ActiveSubscription] = {}
        for event in events:
            for subscription in subscriptions.candidates(event.entity.get("type", [])):
                compiled = subscription.compiled
                if not is_live(compiled, now) or not matches_query(compiled.query, event.entity):
                    continue
                if not fired_triggers(event, compiled.watched) & compiled.triggers:
                    continue
                data[compiled.id].append(notification_item(event, subscription.terms, compiled.render,
                                                           show_changes=compiled.show_changes, now=now))
                chosen[compiled.id] = subscription
        if not data:
            return
        db = self.databases.tenant(tenant or None)
        records = []
        for subscription_id, items in data.items():
            subscription = chosen[subscription_id]
            throttling = subscription.compiled.throttling
            if throttling:
                window = (tenant, subscription_id, subscription.stored.get("modifiedAt"))
                if self.throttles.held(window, now) or not await SubscriptionStore(db).claim_throttle(
                        subscription_id, throttling_s=throttling, now=now):
                    continue
                self.throttles.claimed(window, now + timedelta(seconds=throttling), now)
            payload = notification_payload(subscription_id, items, now)
            records.append(outbox_record(subscription, payload, tenant, now, self.default_timeout_s, source_tenant))
        await self.dispatcher.add_new(db, tenant, records)
