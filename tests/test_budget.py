"""SendBudget: never more than Telegram's overall limit in any window; urgent calls first."""

from __future__ import annotations

import asyncio

from bot.budget import SendBudget


async def test_no_window_ever_holds_more_than_the_limit() -> None:
    budget = SendBudget(5, 0.1)
    loop = asyncio.get_running_loop()
    granted: list[float] = []

    async def call() -> None:
        await budget.take(urgent=False)
        granted.append(loop.time())

    await asyncio.gather(*(call() for _ in range(23)))
    assert len(granted) == 23
    for start in granted:  # a token bucket would let 5 more through right after a burst
        assert sum(1 for t in granted if start <= t < start + 0.1 - 1e-3) <= 5
    assert granted[-1] - granted[0] >= 0.4, "23 calls at 5 per 0.1 s take four windows more"


async def test_urgent_calls_go_before_routine_ones_waiting_longer() -> None:
    budget = SendBudget(2, 0.1)
    order: list[str] = []

    async def call(name: str, *, urgent: bool) -> None:
        await budget.take(urgent=urgent)
        order.append(name)

    await call("first", urgent=False)
    await call("second", urgent=False)  # the window is full now
    waiting = [asyncio.create_task(call(f"refresh {i}", urgent=False)) for i in range(3)]
    await asyncio.sleep(0)
    waiting.append(asyncio.create_task(call("final", urgent=True)))
    await asyncio.gather(*waiting)
    assert order == ["first", "second", "final", "refresh 0", "refresh 1", "refresh 2"]


async def test_a_caller_that_stopped_waiting_uses_no_room() -> None:
    budget = SendBudget(1, 0.1)
    loop = asyncio.get_running_loop()
    await budget.take(urgent=True)
    gone = asyncio.create_task(budget.take(urgent=False))
    await asyncio.sleep(0.01)
    gone.cancel()
    started = loop.time()
    await budget.take(urgent=False)
    await budget.take(urgent=False)
    # Granted when the first grant left the window (< 0.1 s), then one window later (0.2 s in
    # all); had the cancelled caller used room, the second would come a window later still.
    assert 0.15 <= loop.time() - started < 0.25
