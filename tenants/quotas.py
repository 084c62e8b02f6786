"""Per-tenant quotas: the limits an operator sets, the checks against database counts, and the
per-process request-rate window.

Entity and subscription counts come from the tenant's database at the moment of the check, so the
limits hold across broker replicas (a few concurrent creates may overshoot by the number of creates
in flight). Request rates are counted in each process's memory: with N replicas each one allows
the configured rate unless KYODO_RATE_LIMIT_REPLICAS=N divides it among them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tenants.errors import QuotaExceeded, TooManyEntities, TooManyRequests

#: the quota names as the admin API and the registry documents spell them
MAX_ENTITIES = "maxEntities"
MAX_SUBSCRIPTIONS = "maxSubscriptions"
MAX_REQUESTS_PER_MINUTE = "maxRequestsPerMinute"
MAX_BATCH_SIZE = "maxBatchSize"
QUOTA_NAMES = (MAX_ENTITIES, MAX_SUBSCRIPTIONS, MAX_REQUESTS_PER_MINUTE, MAX_BATCH_SIZE)


@dataclass(frozen=True)
class Quotas:
    """A tenant's limits; None means unlimited."""

    max_entities: int | None = None
    max_subscriptions: int | None = None
    max_requests_per_minute: int | None = None
    max_batch_size: int | None = None

    @classmethod
    def from_document(cls, doc: Mapping[str, Any] | None) -> Quotas:
        doc = doc or {}
        return cls(doc.get(MAX_ENTITIES), doc.get(MAX_SUBSCRIPTIONS), doc.get(MAX_REQUESTS_PER_MINUTE),
                   doc.get(MAX_BATCH_SIZE))

    def to_document(self) -> dict[str, int | None]:
        return {MAX_ENTITIES: self.max_entities, MAX_SUBSCRIPTIONS: self.max_subscriptions,
                MAX_REQUESTS_PER_MINUTE: self.max_requests_per_minute, MAX_BATCH_SIZE: self.max_batch_size}


UNLIMITED = Quotas()


def counted(number: int, noun: str) -> str:
    """"1 entity", "2 entities", "0 subscriptions": the quota messages' counts."""
    if number == 1:
        return f"1 {noun}"
    return f"{number} {noun[:-1]}ies" if noun.endswith("y") else f"{number} {noun}s"


def require_entity_room(tenant: str, quotas: Quotas, stored: int) -> None:
    """One more entity: 403 QuotaExceeded when the tenant already holds maxEntities."""
    if quotas.max_entities is not None and stored >= quotas.max_entities:
        raise QuotaExceeded(f"Tenant '{tenant}' holds {counted(stored, 'entity')}; its quota {MAX_ENTITIES} "
                            f"allows at most {quotas.max_entities}", quota=MAX_ENTITIES, limit=quotas.max_entities)


def entities_beyond_room(tenant: str, quotas: Quotas, stored: int, new_ids: list[str]) -> dict[str, QuotaExceeded]:
    """Of the entities a batch would create (in array order), those beyond maxEntities, with their error."""
    limit = quotas.max_entities
    if limit is None:
        return {}
    room = max(0, limit - stored)
    return {entity_id: QuotaExceeded(
        f"Entity {entity_id} is not created: tenant '{tenant}' holds {counted(stored, 'entity')} and this batch "
        f"creates {room} more; its quota {MAX_ENTITIES} allows at most {limit}", quota=MAX_ENTITIES, limit=limit)
        for entity_id in new_ids[room:]}


def require_subscription_room(tenant: str, quotas: Quotas, stored: int) -> None:
    """One more subscription: 403 QuotaExceeded when the tenant already holds maxSubscriptions."""
    if quotas.max_subscriptions is not None and stored >= quotas.max_subscriptions:
        raise QuotaExceeded(f"Tenant '{tenant}' holds {counted(stored, 'subscription')}; its quota "
                            f"{MAX_SUBSCRIPTIONS} allows at most {quotas.max_subscriptions}",
                            quota=MAX_SUBSCRIPTIONS, limit=quotas.max_subscriptions)


def check_batch_size(tenant: str, quotas: Quotas, size: int) -> None:
    """413 TooManyEntities when a batch carries more items than the tenant's maxBatchSize."""
    if quotas.max_batch_size is not None and size > quotas.max_batch_size:
        raise TooManyEntities(f"The batch has {size} items; tenant '{tenant}' may send at most "
                              f"{quotas.max_batch_size} per request (quota {MAX_BATCH_SIZE})",
                              quota=MAX_BATCH_SIZE, limit=quotas.max_batch_size)


class RateLimiter:
    """maxRequestsPerMinute in fixed windows per tenant, in this process's memory.

    Each window of `window_s` seconds (60 by default; tests shorten it) allows
    floor(maxRequestsPerMinute × window_s / 60 / replicas) requests, at least one; a tenant's own
    requests and others' reads of its published data have a window each.
    """

    def __init__(self, window_s: float = 60.0, replicas: int = 1,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self.replicas = replicas
        self.clock = clock
        """Seconds, monotonic: where windows start and end (tests set a clock they move)."""
        self._windows: dict[str, tuple[float, int]] = {}  # tenant → (window start, requests admitted)

    def allowance(self, per_minute: int) -> int:
        return max(1, math.floor(per_minute * self.window_s / 60 / self.replicas))

    def admit(self, tenant: str, per_minute: int | None, *, public: bool = False) -> None:
        """Count one request of the tenant, or raise 429 TooManyRequests with the seconds to wait.

        `public`: a read of the tenant's published data by anyone else (anonymous or another member),
        counted in a window of its own, so that such readers cannot use up the tenant's own requests.
        """
        if per_minute is None:
            return
        key = f"{tenant}\0public" if public else tenant
        now = self.clock()
        start, count = self._windows.get(key, (now, 0))
        if now - start >= self.window_s:
            start, count = now, 0
        allowance = self.allowance(per_minute)
        if count >= allowance:
            retry_after = max(1, math.ceil(start + self.window_s - now))
            shared = f", divided among {self.replicas} replicas" if self.replicas > 1 else ""
            if public:
                detail = (f"Reads of the data published by tenant '{tenant}', by others than the tenant, have "
                          f"reached {count} on this broker process in the current {self.window_s:g} s window, "
                          f"the most allowed here (quota {MAX_REQUESTS_PER_MINUTE}: {per_minute}{shared}, "
                          f"counted apart from the tenant's own requests); retry after {retry_after} s")
            else:
                detail = (f"Tenant '{tenant}' has made {count} requests to this broker process in the current "
                          f"{self.window_s:g} s window, the most it may make here (quota "
                          f"{MAX_REQUESTS_PER_MINUTE}: {per_minute}{shared}); retry after {retry_after} s")
            raise TooManyRequests(detail, retry_after_s=retry_after, quota=MAX_REQUESTS_PER_MINUTE, limit=per_minute)
        self._windows[key] = (start, count + 1)

    def forget(self, tenant: str) -> None:
        self._windows.pop(tenant, None)
        self._windows.pop(f"{tenant}\0public", None)
