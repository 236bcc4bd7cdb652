"""The pacer that keeps HubSpot's searches under its 5-a-second limit, on a clock only the test moves."""

from __future__ import annotations

import pytest

from bot.crm.pace import Pacer
from tests.bot.conftest import SleepClock


def sends(pacer: Pacer, clock: SleepClock, count: int, latency: float) -> list[float]:
    """When each of `count` requests left, each taking `latency` seconds to answer."""
    sent = []
    for _ in range(count):
        pacer.wait()
        sent.append(clock())
        clock.now += latency
    return sent


@pytest.mark.parametrize("latency", [0.0, 0.05, 0.15, 0.19, 0.3])
def test_no_window_holds_more_than_the_limit_and_no_wait_is_wasted(latency: float) -> None:
    clock = SleepClock()
    sent = sends(Pacer(5, 1.0, margin=0.1, clock=clock, sleep=clock.sleep), clock, 40, latency)
    for n in range(len(sent) - 5):
        assert sent[n + 5] - sent[n] >= 1.1 - 1e-9  # any six requests span more than the window and its margin
    if latency >= 1.1 / 5:
        assert clock.sleeps == []  # slow answers pace themselves
    else:
        assert clock.sleeps and all(s <= 1.1 + 1e-9 for s in clock.sleeps)
        assert sent[-1] == pytest.approx(sent[-6] + 1.1)  # waits exactly as long as the window asks, no longer


def test_a_pace_needs_a_limit_and_a_window() -> None:
    with pytest.raises(ValueError, match="limit of at least 1"):
        Pacer(0, 1.0)
    with pytest.raises(ValueError, match="window above 0"):
        Pacer(5, 0)
