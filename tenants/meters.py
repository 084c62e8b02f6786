"""Usage meters per tenant per day, counted in memory (pure: no I/O; README "Usage meters and cost allocation").

The request path only increments dictionaries here; tenants/usage.py flushes them in batches.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

REQUEST_KINDS = ("read", "write", "subscribe", "admin")
REQUEST_METERS = {kind: f"{kind}Requests" for kind in REQUEST_KINDS}
ENTITY_METERS = {"created": "entitiesCreated", "updated": "entitiesUpdated", "deleted": "entitiesDeleted"}
COUNTERS = (*REQUEST_METERS.values(), *ENTITY_METERS.values(), "notificationsSent", "bytesIn", "bytesOut")
"""Added up: per day, over processes, over the days of a period."""
GAUGES = ("entitiesStored", "subscriptions", "storageBytes")
"""Sampled: a day keeps its latest sample; a period adds its days (entity-days, byte-days)."""
METERS = COUNTERS + GAUGES
MAX_PERIOD_DAYS = 366

Key = tuple[str, str]
"""(tenant, day as YYYY-MM-DD); the default tenant is ""."""


class DayClock:
    """Today's date in the metering timezone, recomputed only when the day may have changed."""

    def __init__(self, timezone: str, now: Callable[[], float] = time.time) -> None:
        self.zone = ZoneInfo(timezone)
        self.now = now
        self._day = ""
        self._until = 0.0  # epoch seconds of the next midnight

    def today(self) -> str:
        now = self.now()
        if now >= self._until:
            local = datetime.fromtimestamp(now, self.zone)
            midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), self.zone)
            self._day, self._until = local.date().isoformat(), midnight.timestamp()
        return self._day

    def date(self) -> date:
        return date.fromisoformat(self.today())


class PendingCounts:
    """Counter increments not yet written: {(tenant, day): {meter: n}}."""

    def __init__(self) -> None:
        self.counts: dict[Key, dict[str, int]] = {}

    def add(self, key: Key, meter: str, amount: int = 1) -> None:
        meters = self.counts.get(key)
        if meters is None:
            meters = self.counts[key] = {}
        meters[meter] = meters.get(meter, 0) + amount

    def take(self) -> dict[Key, dict[str, int]]:
        """Everything pending, leaving nothing: what one flush writes."""
        taken, self.counts = self.counts, {}
        return taken

    def merge(self, taken: Mapping[Key, Mapping[str, int]]) -> None:
        """Put back counts a flush failed to write, added to what arrived meanwhile."""
        for key, meters in taken.items():
            for meter, amount in meters.items():
                self.add(key, meter, amount)

    def __bool__(self) -> bool:
        return bool(self.counts)


class PendingSamples:
    """Gauge samples not yet written: {(tenant, day): (sampled at, {gauge: value})}; the latest wins."""

    def __init__(self) -> None:
        self.samples: dict[Key, tuple[float, dict[str, int]]] = {}

    def put(self, key: Key, at: float, gauges: dict[str, int]) -> None:
        current = self.samples.get(key)
        if current is None or current[0] <= at:
            self.samples[key] = (at, gauges)

    def take(self) -> dict[Key, tuple[float, dict[str, int]]]:
        taken, self.samples = self.samples, {}
        return taken

    def merge(self, taken: Mapping[Key, tuple[float, dict[str, int]]]) -> None:
        for key, (at, gauges) in taken.items():
            self.put(key, at, gauges)


@dataclass(frozen=True)
class DayUsage:
    """One tenant's meters on one day (every meter present, 0 when nothing was counted)."""

    tenant: str
    day: str
    meters: dict[str, int]


def empty_meters() -> dict[str, int]:
    return dict.fromkeys(METERS, 0)


def add_meters(total: dict[str, int], meters: Mapping[str, int]) -> dict[str, int]:
    for meter, value in meters.items():
        total[meter] = total.get(meter, 0) + value
    return total


def totals_by_tenant(rows: Iterable[DayUsage]) -> dict[str, dict[str, int]]:
    """Each tenant's meters over the rows' days: counters and gauges alike are sums of the days."""
    totals: dict[str, dict[str, int]] = {}
    for row in rows:
        add_meters(totals.setdefault(row.tenant, empty_meters()), row.meters)
    return totals


class PeriodError(ValueError):
    """A period that is not one: its message names the parameter and what is wrong."""


def parse_day(raw: str, name: str) -> date:
    try:
        if len(raw) != 10:
            raise ValueError
        return date.fromisoformat(raw)
    except ValueError:
        raise PeriodError(f"{name} must be a date YYYY-MM-DD, got {raw!r}") from None


def parse_period(start: str | None, end: str | None, today: date,
                 names: tuple[str, str] = ("'from'", "'to'")) -> tuple[date, date]:
    """The inclusive period [from, to]; unset `to` is today, unset `from` the first day of `to`'s month.
    `names` name the two bounds in error messages."""
    last = parse_day(end, names[1]) if end is not None else today
    first = parse_day(start, names[0]) if start is not None else last.replace(day=1)
    if first > last:
        raise PeriodError(f"{names[0]} ({first.isoformat()}) is after {names[1]} ({last.isoformat()}): "
                          "the period is empty")
    days = (last - first).days + 1
    if days > MAX_PERIOD_DAYS:
        raise PeriodError(f"The period from {first.isoformat()} to {last.isoformat()} has {days} days; "
                          f"at most {MAX_PERIOD_DAYS} are allowed")
    return first, last
