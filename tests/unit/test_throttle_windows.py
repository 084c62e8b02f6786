"""The throttling windows a process has claimed (broker/notify/notifier.py), without I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from broker.notify.notifier import ThrottleWindows

NOW = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
LATER = NOW + timedelta(seconds=2)


def window(n: int) -> tuple[str, str, datetime]:
    return ("osaka", f"urn:ngsi-ld:Subscription:{n}", NOW)


def test_a_window_is_held_until_it_ends():
    windows = ThrottleWindows()
    windows.claimed(window(1), NOW + timedelta(seconds=5), NOW)
    assert windows.held(window(1), NOW + timedelta(seconds=4.9))
    assert not windows.held(window(1), NOW + timedelta(seconds=5))
    assert not windows.held(window(2), NOW)


def test_ended_windows_are_pruned_again_only_once_the_live_ones_have_doubled():
    windows = ThrottleWindows(prune_at=4)
    for n in range(5):  # the fifth claim prunes: all four live, so the next prune waits for eight
        windows.claimed(window(n), NOW + timedelta(minutes=1), NOW)
    windows.claimed(window(5), NOW + timedelta(seconds=1), NOW)
    windows.claimed(window(6), LATER + timedelta(minutes=1), LATER)  # window 5 has ended: kept for now
    assert len(windows) == 7
    windows.claimed(window(7), LATER + timedelta(minutes=1), LATER)
    windows.claimed(window(8), LATER + timedelta(minutes=1), LATER)  # eight kept: window 5 goes
    assert len(windows) == 8
    assert not windows.held(window(5), LATER)
    assert all(windows.held(window(n), LATER) for n in (0, 1, 2, 3, 4, 6, 7, 8))


def test_pruning_never_waits_for_fewer_windows_than_it_was_set_to():
    windows = ThrottleWindows(prune_at=4)
    for n in range(4):
        windows.claimed(window(n), NOW + timedelta(seconds=1), NOW)
    windows.claimed(window(4), LATER + timedelta(minutes=1), LATER)  # prunes all four: one left
    for n in range(5, 8):
        windows.claimed(window(n), LATER + timedelta(seconds=1), LATER)
    assert len(windows) == 4
    windows.claimed(window(8), LATER + timedelta(minutes=1), LATER + timedelta(seconds=2))  # four again: prunes
    assert len(windows) == 2
