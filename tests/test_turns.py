"""TurnQueue: places are taken at join(), turns run one at a time in that order."""

from __future__ import annotations

import asyncio

from bot.turns import Turn, TurnQueue


async def test_turns_run_one_at_a_time_in_the_order_joined() -> None:
    queue = TurnQueue()
    order: list[str] = []
    running = 0

    async def work(turn: Turn, name: str, turn_delay: float) -> None:
        nonlocal running
        async with turn:
            running += 1
            assert running == 1, "never two turns at once"
            order.append(name)
            await asyncio.sleep(turn_delay)
            running -= 1

    tasks = []
    for name, delay in (("first", 0.05), ("second", 0.0), ("third", 0.01)):
        turn = queue.join()  # joined now, although the task starts later
        tasks.append(asyncio.create_task(work(turn, name, delay)))
    await asyncio.gather(*tasks)
    assert order == ["first", "second", "third"]
    assert queue.idle()


async def test_a_cancelled_or_abandoned_place_passes_the_turn_on_in_order() -> None:
    queue = TurnQueue()
    first = queue.join()
    cancelled = queue.join()
    abandoned = queue.join()
    last = queue.join()
    order: list[str] = []

    async def hold() -> None:
        async with first:
            await asyncio.sleep(0.05)
            order.append("first")

    async def wait_in_line() -> None:
        async with cancelled:
            order.append("cancelled ran")  # never

    async def finally_last() -> None:
        async with last:
            order.append("last")

    holder = asyncio.create_task(hold())
    waiter = asyncio.create_task(wait_in_line())
    closing = asyncio.create_task(finally_last())
    await asyncio.sleep(0.01)
    waiter.cancel()
    abandoned.abandon()
    await asyncio.gather(holder, closing)
    assert order == ["first", "last"], "the last waited for the first, not for the gone"
    assert queue.idle()
