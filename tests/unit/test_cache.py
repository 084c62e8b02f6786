"""broker/cache.py: values kept for a TTL counted from their read; forget() also discards reads under way."""

from __future__ import annotations

import asyncio

from broker.cache import TtlCache


class Reads:
    """A read that counts its calls and answers the call number, optionally held until released."""

    def __init__(self) -> None:
        self.calls = 0
        self.gate: asyncio.Event | None = None
        self.started = asyncio.Event()

    async def __call__(self) -> int:
        self.calls += 1
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        return self.calls


async def test_a_value_is_read_once_per_ttl_counted_from_the_start_of_its_read():
    now = [100.0]
    cache: TtlCache[str, int] = TtlCache(5.0, clock=lambda: now[0])
    read = Reads()
    assert await cache.get("osaka", read) == 1
    now[0] = 104.9
    assert await cache.get("osaka", read) == 1
    assert await cache.get("hyogo", read) == 2  # keys are apart
    now[0] = 105.0
    assert await cache.get("osaka", read) == 3
    assert read.calls == 3


async def test_a_read_under_way_when_its_key_is_forgotten_is_returned_but_not_kept():
    cache: TtlCache[str, int] = TtlCache(60.0)
    read = Reads()
    read.gate = asyncio.Event()
    pending = asyncio.create_task(cache.get("osaka", read))
    await read.started.wait()
    cache.forget("osaka")  # e.g. this process stored a subscription while the read was on its way
    read.gate.set()
    assert await pending == 1
    assert await cache.get("osaka", read) == 2  # read again, not the stale value
    assert await cache.get("osaka", read) == 2


async def test_forgetting_another_key_keeps_a_read_under_way():
    cache: TtlCache[str, int] = TtlCache(60.0)
    read = Reads()
    read.gate = asyncio.Event()
    pending = asyncio.create_task(cache.get("osaka", read))
    await read.started.wait()
    cache.forget("hyogo")
    read.gate.set()
    assert await pending == 1
    assert await cache.get("osaka", read) == 1  # kept
