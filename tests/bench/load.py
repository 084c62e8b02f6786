"""The load generator: `concurrency` asyncio workers run one operation after another until a count or a
time limit is reached; latencies, errors and the CPU of every process involved are recorded."""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from tests.bench.processes import CpuMeter, client_cpu_s


class OperationFailed(Exception):
    """An operation answered with an unexpected status or raised."""


@dataclass
class Measurement:
    """What one scenario (broker or raw driver) did, as measured from outside."""

    ops: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    broker_cpu_s: float | None = None
    broker_system_s: float | None = None
    db_cpu_s: float | None = None
    db_system_s: float | None = None
    client_cpu_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return self.ops / self.seconds if self.seconds > 0 else 0.0

    def percentile(self, q: float) -> float | None:
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]  # nearest rank

    def per_op_us(self, cpu_s: float | None) -> float | None:
        return None if cpu_s is None or self.ops == 0 else cpu_s / self.ops * 1e6


class Meters:
    """CPU meters of the broker tree and the database server, started and stopped together."""

    def __init__(self, broker_pid: int | None, db_pid: int | None) -> None:
        self.broker = CpuMeter(broker_pid)
        self.db = CpuMeter(db_pid)
        self._client = 0.0

    def start(self) -> None:
        self.broker.start()
        self.db.start()
        self._client = client_cpu_s()

    def stop(self, measurement: Measurement) -> None:
        measurement.broker_cpu_s = self.broker.stop()
        measurement.broker_system_s = self.broker.system_s
        measurement.db_cpu_s = self.db.stop()
        measurement.db_system_s = self.db.system_s
        measurement.client_cpu_s = client_cpu_s() - self._client


Operation = Callable[[int], Awaitable[None]]
"""One request (or driver call) for sequence number i; raises on failure."""


async def drive(operation: Operation, *, requests: int, concurrency: int, max_seconds: float,
                weight: int = 1, meters: Meters | None = None, first: int = 0) -> Measurement:
    """Run `requests` operations (sequence numbers first, first+1, …) with `concurrency` in flight,
    stopping early after `max_seconds`. Each request counts `weight` ops (a batch: its entities)."""
    result = Measurement()
    numbers = itertools.count(first)
    last = first + requests
    deadline = time.perf_counter() + max_seconds

    async def worker() -> None:
        for number in numbers:
            if number >= last or time.perf_counter() > deadline:
                return
            started = time.perf_counter()
            try:
                await operation(number)
            except Exception as exc:  # every failure is an error of the scenario, never a crash of the run
                result.errors += weight
                if len(result.notes) < 3:
                    result.notes.append(f"{type(exc).__name__}: {exc}"[:300])
                continue
            result.latencies_ms.append((time.perf_counter() - started) * 1000)
            result.ops += weight

    if meters is not None:
        meters.start()
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - started
    if meters is not None:
        meters.stop(result)
    return result
