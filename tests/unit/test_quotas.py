"""Quota checks and the per-process request-rate window, without I/O."""

from __future__ import annotations

import pytest

from tenants.errors import QuotaExceeded, TooManyEntities, TooManyRequests
from tenants.quotas import (
    UNLIMITED,
    Quotas,
    RateLimiter,
    check_batch_size,
    counted,
    entities_beyond_room,
    require_entity_room,
    require_subscription_room,
)
from tenants.registry import _with_changes


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(("per_minute", "window_s", "replicas", "allowance"), [
    (60, 60.0, 1, 60),
    (60, 60.0, 4, 15),
    (100, 60.0, 3, 33),   # rounded down: the replicas together never exceed the quota
    (1, 60.0, 5, 1),      # but at least one request per window
    (120, 1.0, 1, 2),
    (30, 1.0, 1, 1),
])
def test_allowance_per_window(per_minute, window_s, replicas, allowance):
    assert RateLimiter(window_s, replicas).allowance(per_minute) == allowance


def test_the_window_admits_its_allowance_then_refuses_until_it_ends():
    clock = Clock()
    limiter = RateLimiter(60.0, 1, clock)
    for _ in range(3):
        limiter.admit("osaka", 3)
    clock.now += 20.2
    with pytest.raises(TooManyRequests) as refused:
        limiter.admit("osaka", 3)
    assert (refused.value.status, refused.value.type) == (429, "urn:kyodo:error:TooManyRequests")
    assert refused.value.headers == {"Retry-After": "40"}
    limiter.admit("hyogo", 3)  # other tenants have their own window
    clock.now += 39.8
    limiter.admit("osaka", 3)


def test_refused_requests_do_not_count_and_unlimited_tenants_are_never_counted():
    clock = Clock()
    limiter = RateLimiter(10.0, 1, clock)
    limiter.admit("osaka", 6)
    for _ in range(5):
        with pytest.raises(TooManyRequests):
            limiter.admit("osaka", 6)
    clock.now += 10
    limiter.admit("osaka", 6)
    for _ in range(1000):
        limiter.admit("nara", None)


def test_others_reads_of_published_data_have_a_window_apart_from_the_tenants_own():
    clock = Clock()
    limiter = RateLimiter(60.0, 1, clock)
    limiter.admit("osaka", 1, public=True)
    with pytest.raises(TooManyRequests) as refused:
        limiter.admit("osaka", 1, public=True)
    assert "published by tenant 'osaka', by others than the tenant" in refused.value.detail
    limiter.admit("osaka", 1)  # the tenant's own window is untouched
    limiter.forget("osaka")  # a purged tenant: both windows go
    limiter.admit("osaka", 1, public=True)
    limiter.admit("osaka", 1)


def test_entity_and_subscription_rooms():
    quotas = Quotas(max_entities=2, max_subscriptions=1)
    require_entity_room("osaka", quotas, 1)
    require_subscription_room("osaka", quotas, 0)
    with pytest.raises(QuotaExceeded) as refused:
        require_entity_room("osaka", quotas, 2)
    assert refused.value.extra == {"quota": "maxEntities", "limit": 2}
    with pytest.raises(QuotaExceeded):
        require_subscription_room("osaka", quotas, 1)
    require_entity_room("osaka", UNLIMITED, 10**9)


def test_entities_beyond_room_are_the_last_new_ones():
    quotas = Quotas(max_entities=5)
    assert list(entities_beyond_room("osaka", quotas, 3, ["a", "b", "c", "d"])) == ["c", "d"]
    assert list(entities_beyond_room("osaka", quotas, 7, ["a"])) == ["a"]
    assert entities_beyond_room("osaka", UNLIMITED, 7, ["a"]) == {}


def test_batch_size():
    check_batch_size("osaka", Quotas(max_batch_size=2), 2)
    with pytest.raises(TooManyEntities) as refused:
        check_batch_size("osaka", Quotas(max_batch_size=2), 3)
    assert refused.value.status == 413


def test_quotas_round_trip_through_the_registry_document():
    quotas = Quotas(10, None, 600, 50)
    assert quotas.to_document() == {"maxEntities": 10, "maxSubscriptions": None, "maxRequestsPerMinute": 600,
                                    "maxBatchSize": 50}
    assert Quotas.from_document(quotas.to_document()) == quotas
    assert Quotas.from_document(None) == UNLIMITED


def test_registry_updates_apply_dotted_paths_like_mongodb_set():
    doc = {"_id": "osaka", "quotas": {"maxEntities": 1, "maxBatchSize": 2}}
    assert _with_changes(doc, {"quotas.maxEntities": None, "contact.email": "a@b.jp", "status": "suspended"}) == {
        "_id": "osaka", "quotas": {"maxEntities": None, "maxBatchSize": 2}, "contact": {"email": "a@b.jp"},
        "status": "suspended"}
    assert doc == {"_id": "osaka", "quotas": {"maxEntities": 1, "maxBatchSize": 2}}


@pytest.mark.parametrize(("number", "noun", "text"), [
    (0, "entity", "0 entities"), (1, "entity", "1 entity"), (2, "entity", "2 entities"),
    (1, "subscription", "1 subscription"), (7, "subscription", "7 subscriptions"),
])
def test_quota_messages_count_in_the_right_number(number, noun, text):
    assert counted(number, noun) == text
