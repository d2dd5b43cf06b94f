"""SlotQueue: a few holders at once, the rest first come first served, told their place."""

from __future__ import annotations

import asyncio

from bot.queueing import SlotQueue


async def test_three_users_one_slot_served_in_order_and_told_their_place() -> None:
    queue = SlotQueue(slots=1)
    order: list[str] = []
    told: dict[str, list[int]] = {"a": [], "b": [], "c": []}
    release = {name: asyncio.Event() for name in told}

    async def user(name: str) -> None:
        async with queue.slot(asyncio.Event(), told[name].append) as held:
            assert held
            order.append(name)
            await release[name].wait()

    tasks = [asyncio.create_task(user(name)) for name in "abc"]
    await asyncio.sleep(0.01)
    assert (order, queue.waiting) == (["a"], 2)
    release["a"].set()
    await asyncio.sleep(0.01)
    assert order == ["a", "b"]
    release["b"].set()
    release["c"].set()
    await asyncio.gather(*tasks)
    assert order == ["a", "b", "c"]
    assert told == {"a": [], "b": [1, 0], "c": [2, 1, 0]}


async def test_stop_while_in_line_leaves_it_and_the_others_move_up() -> None:
    queue = SlotQueue(slots=1)
    holder_done = asyncio.Event()
    stop_b = asyncio.Event()
    told_c: list[int] = []
    outcomes: dict[str, bool] = {}

    async def holder() -> None:
        async with queue.slot(asyncio.Event(), lambda _: None):
            await holder_done.wait()

    async def waiter(name: str, stop: asyncio.Event, told: list[int]) -> None:
        async with queue.slot(stop, told.append) as held:
            outcomes[name] = held

    tasks = [
        asyncio.create_task(holder()),
        asyncio.create_task(waiter("b", stop_b, [])),
        asyncio.create_task(waiter("c", asyncio.Event(), told_c)),
    ]
    await asyncio.sleep(0.01)
    stop_b.set()
    await asyncio.sleep(0.01)
    assert outcomes == {"b": False}
    assert told_c == [2, 1], "c moved up when b left"
    holder_done.set()
    await asyncio.gather(*tasks)
    assert outcomes == {"b": False, "c": True}
    assert queue.waiting == 0


async def test_a_cancelled_waiter_gives_its_place_up() -> None:
    queue = SlotQueue(slots=2)
    gate = asyncio.Event()
    held: list[int] = []

    async def work(n: int) -> None:
        async with queue.slot(asyncio.Event(), lambda _: None):
            held.append(n)
            await gate.wait()

    tasks = [asyncio.create_task(work(n)) for n in range(4)]
    await asyncio.sleep(0.01)
    assert held == [0, 1], "two at once"
    tasks[2].cancel()
    gate.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert held == [0, 1, 3]
    assert queue.waiting == 0


async def test_a_waiter_cancelled_as_its_slot_is_granted_hands_the_slot_on() -> None:
    queue = SlotQueue(slots=1)
    first_done = asyncio.Event()
    got: list[str] = []

    async def first() -> None:
        async with queue.slot(asyncio.Event(), lambda _: None):
            await first_done.wait()

    async def second() -> None:
        async with queue.slot(asyncio.Event(), lambda _: None):
            got.append("second")  # never: cancelled in the same moment it was granted

    async def third() -> None:
        async with queue.slot(asyncio.Event(), lambda _: None):
            got.append("third")

    tasks = [asyncio.create_task(job()) for job in (first, second, third)]
    await asyncio.sleep(0.01)
    first_done.set()  # grants the second...
    tasks[1].cancel()  # ...which is cancelled before it ever runs
    await asyncio.gather(*tasks, return_exceptions=True)
    assert got == ["third"]
    assert queue.waiting == 0


async def test_closing_turns_away_the_line_and_newcomers() -> None:
    queue = SlotQueue(slots=1)
    release = asyncio.Event()
    outcomes: list[bool] = []

    async def holder() -> None:
        async with queue.slot(asyncio.Event(), lambda _: None) as held:
            outcomes.append(held)
            await release.wait()

    async def waiter() -> None:
        async with queue.slot(asyncio.Event(), lambda _: None) as held:
            outcomes.append(held)

    tasks = [asyncio.create_task(holder()), asyncio.create_task(waiter())]
    await asyncio.sleep(0.01)
    queue.close()
    await asyncio.sleep(0.01)
    await waiter()
    release.set()
    await asyncio.gather(*tasks)
    assert outcomes == [True, False, False]
