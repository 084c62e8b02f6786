"""Usage meters in memory: counting, taking and merging back, days in Japan, periods, request kinds."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from broker.api.metering import request_kind
from tenants.meters import (
    METERS,
    DayClock,
    DayUsage,
    PendingCounts,
    PendingSamples,
    PeriodError,
    empty_meters,
    parse_period,
    totals_by_tenant,
)


def test_counts_add_up_per_tenant_and_day_and_take_leaves_nothing():
    pending = PendingCounts()
    pending.add(("osaka", "2026-11-30"), "readRequests")
    pending.add(("osaka", "2026-11-30"), "readRequests")
    pending.add(("osaka", "2026-11-30"), "bytesIn", 120)
    pending.add(("", "2026-11-30"), "writeRequests")
    taken = pending.take()
    assert taken == {("osaka", "2026-11-30"): {"readRequests": 2, "bytesIn": 120},
                     ("", "2026-11-30"): {"writeRequests": 1}}
    assert not pending


def test_counts_a_failed_flush_puts_back_are_added_to_those_that_arrived_meanwhile():
    pending = PendingCounts()
    pending.add(("osaka", "2026-11-30"), "readRequests", 3)
    taken = pending.take()
    pending.add(("osaka", "2026-11-30"), "readRequests", 2)
    pending.add(("hyogo", "2026-12-01"), "entitiesCreated")
    pending.merge(taken)
    assert pending.take() == {("osaka", "2026-11-30"): {"readRequests": 5},
                              ("hyogo", "2026-12-01"): {"entitiesCreated": 1}}


def test_a_gauge_sample_put_back_never_replaces_a_newer_one():
    samples = PendingSamples()
    samples.put(("osaka", "2026-11-30"), 100.0, {"entitiesStored": 1})
    taken = samples.take()
    samples.put(("osaka", "2026-11-30"), 200.0, {"entitiesStored": 7})
    samples.merge(taken)
    assert samples.take() == {("osaka", "2026-11-30"): (200.0, {"entitiesStored": 7})}
    samples.merge(taken)
    assert samples.take() == taken


@pytest.mark.parametrize(("utc", "day"), [
    (datetime(2026, 11, 30, 14, 59, 59, tzinfo=UTC), "2026-11-30"),   # 23:59:59 in Tokyo
    (datetime(2026, 11, 30, 15, 0, 0, tzinfo=UTC), "2026-12-01"),     # midnight in Tokyo
    (datetime(2026, 12, 31, 15, 0, 0, tzinfo=UTC), "2027-01-01"),
])
def test_a_day_is_a_calendar_day_in_japan(utc, day):
    assert DayClock("Asia/Tokyo", now=utc.timestamp).today() == day


def test_the_day_clock_moves_on_at_midnight_and_not_before():
    now = [datetime(2026, 11, 30, 14, 0, 0, tzinfo=UTC).timestamp()]
    clock = DayClock("Asia/Tokyo", now=lambda: now[0])
    assert clock.today() == "2026-11-30"
    now[0] += 3599.5
    assert clock.today() == "2026-11-30"
    now[0] += 0.5
    assert clock.today() == "2026-12-01"
    assert clock.date() == date(2026, 12, 1)


def test_totals_add_counters_and_gauges_over_the_days():
    rows = [DayUsage("osaka", "2026-11-29", {**empty_meters(), "readRequests": 2, "entitiesStored": 10}),
            DayUsage("osaka", "2026-11-30", {**empty_meters(), "readRequests": 3, "entitiesStored": 12}),
            DayUsage("", "2026-11-30", {**empty_meters(), "bytesOut": 9})]
    totals = totals_by_tenant(rows)
    assert totals["osaka"] == {**empty_meters(), "readRequests": 5, "entitiesStored": 22}
    assert totals[""] == {**empty_meters(), "bytesOut": 9}
    assert list(totals["osaka"]) == list(METERS)


TODAY = date(2026, 11, 30)


@pytest.mark.parametrize(("start", "end", "period"), [
    (None, None, (date(2026, 11, 1), TODAY)),
    ("2026-10-05", None, (date(2026, 10, 5), TODAY)),
    (None, "2026-02-14", (date(2026, 2, 1), date(2026, 2, 14))),
    ("2026-11-30", "2026-11-30", (TODAY, TODAY)),
    ("2025-12-01", "2026-11-30", (date(2025, 12, 1), TODAY)),      # 365 days
    ("2023-03-01", "2024-02-29", (date(2023, 3, 1), date(2024, 2, 29))),  # 366 days
])
def test_a_period_is_inclusive_and_defaults_to_this_month(start, end, period):
    assert parse_period(start, end, TODAY) == period


@pytest.mark.parametrize(("start", "end", "message"), [
    ("2026-13-01", None, "'from' must be a date YYYY-MM-DD, got '2026-13-01'"),
    ("20261101", None, "'from' must be a date YYYY-MM-DD, got '20261101'"),
    (None, "yesterday", "'to' must be a date YYYY-MM-DD, got 'yesterday'"),
    ("2026-12-01", "2026-11-30", "'from' (2026-12-01) is after 'to' (2026-11-30): the period is empty"),
    ("2025-11-29", "2026-11-30", "The period from 2025-11-29 to 2026-11-30 has 367 days; at most 366 are allowed"),
    ("2025-01-01", "2026-11-30", "The period from 2025-01-01 to 2026-11-30 has 699 days; at most 366 are allowed"),
])
def test_a_bad_period_says_what_is_wrong(start, end, message):
    with pytest.raises(PeriodError) as raised:
        parse_period(start, end, TODAY)
    assert str(raised.value) == message


@pytest.mark.parametrize(("method", "route", "kind"), [
    ("GET", "/ngsi-ld/v1/entities", "read"),
    ("HEAD", "/ngsi-ld/v1/entities/{entityId}", "read"),
    ("POST", "/ngsi-ld/v1/entityOperations/query", "read"),
    ("POST", "/ngsi-ld/v1/entities", "write"),
    ("DELETE", "/ngsi-ld/v1/entities/{entityId}/attrs/{attrId}", "write"),
    ("POST", "/ngsi-ld/v1/jsonldContexts", "write"),
    ("POST", "/catalog/v1/datasets", "write"),
    ("GET", "/ngsi-ld/v1/subscriptions", "subscribe"),
    ("POST", "/admin/v1/tenants", "admin"),
    ("GET", "/admin/v1/usage", "admin"),
    ("GET", "/tenant/v1/usage", "read"),
    ("GET", "/health", None),
    ("GET", "/metrics", None),
    ("GET", "/catalog/v1/dcat", None),
    ("GET", "/nowhere", None),
])
def test_the_request_kind_is_the_scope_of_the_route(method, route, kind):
    assert request_kind(method, route) == kind
