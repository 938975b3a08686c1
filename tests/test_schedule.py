"""Retry backoff and the periodic timer (schedule.py): exact numbers, no clock."""

import random

import pytest

from tr069client import schedule


@pytest.mark.parametrize("n, low, high", [
    (1, 5, 10), (2, 10, 20), (3, 20, 40), (4, 40, 80), (5, 80, 160), (6, 160, 320),
    (7, 320, 640), (8, 640, 1280), (9, 1280, 2560), (10, 2560, 5120),
    (11, 2560, 5120), (50, 2560, 5120),   # TR-069 3.2.1.1: n is capped at 10
])
def test_default_windows_are_the_spec_table(n, low, high):
    assert schedule.retry_window(n) == (low, high)
    assert schedule.retry_wait(n, 5, 2000, lambda: 0.0) == low
    assert schedule.retry_wait(n, 5, 2000, lambda: 1.0) == high


def test_wait_is_spread_over_the_window():
    assert schedule.retry_wait(2, 5, 2000, lambda: 0.25) == pytest.approx(12.5)
    rng = random.Random(7)
    waits = [schedule.retry_wait(3, 5, 2000, rng.random) for _ in range(500)]
    assert all(20 <= w <= 40 for w in waits)
    # Jitter: the CPEs of one ISP do not come back in the same second.
    assert max(waits) - min(waits) > 15 and len(set(round(w, 3) for w in waits)) > 400


def test_minimum_and_multiplier_from_the_acs():
    assert schedule.retry_window(1, 1, 2000) == (1, 2)
    assert schedule.retry_window(2, 1, 2000) == (2, 4)
    assert schedule.retry_window(3, 10, 1000) == (10, 10)   # k = 1000: no growth
    assert schedule.retry_window(2, 2, 3000) == (6, 18)
    assert schedule.retry_window(10, 65535, 65535)[1] == pytest.approx(65535 * 65.535 ** 10)


def test_no_failure_no_wait():
    assert schedule.retry_wait(0, 5, 2000, lambda: 1.0) == 0.0


def test_periodic_after_the_last_session():
    assert schedule.next_periodic(1000, 60) == 1060
    assert schedule.next_periodic(1000, 60, last=990) == 1050
    # Overdue (the daemon was down): one interval from now, not a burst of catch-up Informs.
    assert schedule.next_periodic(1000, 60, last=100) == 1060
    assert schedule.next_periodic(1000, 0) == 1001   # an interval below 1 s is taken as 1


def test_periodic_anchored_on_periodic_inform_time():
    # Informs fall on anchor + k * interval, whether the anchor is past or future.
    assert schedule.next_periodic(1000, 60, anchor=30) == 1050
    assert schedule.next_periodic(1050, 60, anchor=30) == 1110   # strictly after now
    assert schedule.next_periodic(100, 60, anchor=1000) == 160
    assert schedule.next_periodic(1000, 3600, anchor=0, last=999) == 3600
