"""SendBudget: never more than Telegram's overall limit in any window; urgent calls first.

Every test runs on a FakeClock: the seconds asserted are the budget's, not the wall's.
"""

from __future__ import annotations

import asyncio

import pytest

from bot.telegram.pacing import OVERALL_CALLS, OVERALL_WINDOW_S, SendBudget
from tests.fakes.clock import FakeClock


def budget_on(clock: FakeClock, calls: int, window: float) -> SendBudget:
    return SendBudget(calls, window, clock=clock, sleep=clock.sleep)


async def test_no_window_ever_holds_more_than_the_limit() -> None:
    clock = FakeClock()
    budget = budget_on(clock, OVERALL_CALLS, OVERALL_WINDOW_S)
    granted: list[float] = []

    async def call() -> None:
        await budget.take(urgent=False)
        granted.append(clock.now)

    await clock.run(*(call() for _ in range(95)))
    assert len(granted) == 95
    for start in granted:  # a token bucket would let 30 more through right after a burst
        assert sum(1 for t in granted if start <= t < start + OVERALL_WINDOW_S) <= OVERALL_CALLS
    # 95 calls at 30 a window: three windows after the first.
    assert granted[-1] - granted[0] == pytest.approx(3 * OVERALL_WINDOW_S)


async def test_urgent_calls_go_before_routine_ones_waiting_longer() -> None:
    clock = FakeClock()
    budget = budget_on(clock, 2, 0.1)
    order: list[str] = []

    async def call(name: str, *, urgent: bool) -> None:
        await budget.take(urgent=urgent)
        order.append(name)

    await call("first", urgent=False)
    await call("second", urgent=False)  # the window is full now
    refreshes = [call(f"refresh {i}", urgent=False) for i in range(3)]

    async def final_a_little_later() -> None:
        await clock.sleep(0.01)
        await call("final", urgent=True)

    await clock.run(*refreshes, final_a_little_later())
    assert order == ["first", "second", "final", "refresh 0", "refresh 1", "refresh 2"]


async def test_a_caller_that_stopped_waiting_uses_no_room() -> None:
    clock = FakeClock()
    budget = budget_on(clock, 1, 0.1)
    first = clock.now
    await budget.take(urgent=True)
    gone = asyncio.create_task(budget.take(urgent=False))
    await clock.advance(0.01)
    gone.cancel()
    granted: list[float] = []

    async def two_calls() -> None:
        for _ in range(2):
            await budget.take(urgent=False)
            granted.append(round(clock.now - first, 9))

    await clock.run(two_calls())
    # Granted when the first grant left the window, then one window later; had the cancelled
    # caller used room, each would come a window later still.
    assert granted == [0.1, 0.2]


async def test_try_take_leaves_the_spare_to_others() -> None:
    clock = FakeClock()
    budget = budget_on(clock, 30, 1.1)
    assert sum(budget.try_take(spare=20) for _ in range(30)) == 10
    await budget.take(urgent=True)  # an answer's first words still go at once
    await clock.advance(1.1)
    assert budget.try_take(spare=20), "a new window has room again"
