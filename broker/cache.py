"""A per-process cache of values read from the database, each kept `ttl_s` seconds: the bounded
staleness a replica accepts for what other replicas change (subscriptions, published datasets,
tenants that notify).

A value's age counts from the start of the read that produced it, and forget() also discards reads
under way: a read that began before a local change is returned to its caller but never kept, so a
process always sees its own changes at once.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self._entries: dict[K, tuple[float, V]] = {}
        self._generations: dict[K, int] = {}
        """Bumped by forget(): a read keeps its value only if its key's generation did not move."""

    async def get(self, key: K, read: Callable[[], Awaitable[V]]) -> V:
        """The value kept for `key` if younger than the TTL, else `read()` (kept unless forgotten meanwhile)."""
        entry = self._entries.get(key)
        started = self.clock()
        if entry is not None and started - entry[0] < self.ttl_s:
            return entry[1]
        generation = self._generations.get(key, 0)
        value = await read()
        if generation == self._generations.get(key, 0):
            self._entries[key] = (started, value)
        return value

    def forget(self, key: K) -> None:
        """Drop `key`'s value and any read of it under way: the next get() reads again."""
        self._entries.pop(key, None)
        self._generations[key] = self._generations.get(key, 0) + 1
