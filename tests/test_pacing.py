"""ChatPacer: turns to write into a chat, one per interval, and Telegram's 429 holds.

Every test runs on a FakeClock: the seconds asserted are the pacer's, not the wall's.
"""

from __future__ import annotations

import datetime as dtm
import itertools
from collections.abc import Awaitable

import pytest
from telegram.error import RetryAfter

from bot.telegram.pacing import ChatPacer, ChatRateLimiter, Pace, SendBudget
from tests.fakes.clock import FakeClock


def pacer_on(clock: FakeClock, *, private: float = 0.0, group: float = 0.0) -> ChatPacer:
    return ChatPacer(private_interval=private, group_interval=group, clock=clock, sleep=clock.sleep)


async def test_turns_in_one_chat_are_spaced_and_other_chats_are_free() -> None:
    clock = FakeClock()
    pacer = pacer_on(clock)
    started = clock.now
    times: dict[int, list[float]] = {1: [], 2: []}

    async def write(chat_id: int) -> None:
        await pacer.turn(chat_id, 0.1)
        times[chat_id].append(clock.now - started)

    await clock.run(write(1), write(1), write(1), write(2))
    assert times[1] == pytest.approx([0.0, 0.1, 0.2])
    assert times[2] == [0.0], "chat 2 did not wait for chat 1"


async def test_private_chats_keep_their_interval_whatever_the_caller_asks() -> None:
    clock = FakeClock()
    pacer = pacer_on(clock, private=1.0)
    times: list[float] = []

    async def write() -> None:
        await pacer.turn(3, 0.2, urgent=True)
        times.append(clock.now)

    await clock.run(write(), write())
    assert times[1] - times[0] == pytest.approx(1.0)


async def test_a_hold_during_a_wait_delays_writers_already_queued() -> None:
    clock = FakeClock()
    pacer = pacer_on(clock)
    await pacer.turn(1, 0.05)  # the chat was just written to
    started = clock.now
    done: list[float] = []

    async def write() -> None:
        await pacer.turn(1, 0.05)
        done.append(clock.now - started)

    async def refuse() -> None:
        await clock.sleep(0.01)
        pacer.hold(1, 0.3)  # Telegram answered 429 with retry_after

    await clock.run(write(), refuse())
    assert done == pytest.approx([0.31])


async def test_in_a_group_first_and_final_words_come_sooner_than_refreshes() -> None:
    clock = FakeClock()
    pacer = pacer_on(clock, group=0.3)
    started = clock.now
    urgent_times, routine_times = [], []

    async def writes() -> None:
        for _ in range(3):
            await pacer.turn(-5, urgent=True)
            urgent_times.append(clock.now - started)
        for _ in range(2):
            await pacer.turn(-5)
            routine_times.append(clock.now - started)

    await clock.run(writes())
    urgent_gaps = [b - a for a, b in itertools.pairwise(urgent_times)]
    assert all(abs(gap - 0.1) < 1e-9 for gap in urgent_gaps), "a third of the interval apart"
    assert abs(routine_times[0] - urgent_times[-1] - 0.3) < 1e-9
    assert abs(routine_times[1] - routine_times[0] - 0.3) < 1e-9


async def test_no_group_window_ever_holds_more_than_20_turns_and_refreshes_leave_room() -> None:
    clock = FakeClock()
    pacer = pacer_on(clock, group=0.02)  # window: 20 x 0.02 = 0.4 s
    started = clock.now
    turns: list[tuple[float, bool]] = []

    async def write(urgent: bool) -> None:
        await pacer.turn(-7, urgent=urgent)
        turns.append((clock.now - started, urgent))

    await clock.run(*(write(False) for _ in range(30)))  # refreshes: 16 per window
    routine_in_first_window = sum(1 for t, _ in turns if t < 0.4)
    assert routine_in_first_window == 16, "4 of the 20 are kept for first and final words"
    await clock.run(*(write(True) for _ in range(10)))
    for start, _ in turns:
        assert sum(1 for t, _ in turns if start <= t < start + 0.4) <= 20


async def test_the_rate_limiter_paces_replies_and_leaves_self_paced_calls_to_callers() -> None:
    clock = FakeClock()
    pacer = pacer_on(clock, private=1.0)
    limiter = ChatRateLimiter(pacer, SendBudget(2, 10.0, clock=clock, sleep=clock.sleep))
    started = clock.now
    calls: list[float] = []
    refusals = [RetryAfter(dtm.timedelta(seconds=4))]

    async def call() -> bool:
        if refusals:
            raise refusals.pop()
        calls.append(clock.now - started)
        return True

    def send(pace: Pace | None) -> Awaitable[object]:
        return limiter.process_request(call, (), {}, "sendMessage", {"chat_id": 5}, pace)

    await clock.run(send(None))  # a command reply: Telegram says wait 4 s, then it goes
    assert calls == pytest.approx([4.0])
    await clock.run(send(Pace.PREPAID))  # neither the chat's turn nor the (spent) budget
    assert calls == pytest.approx([4.0, 4.0])
    # No turn, but a share of the budget: both of the window's went to the reply and its retry.
    await clock.run(send(Pace.SELF_PACED))
    assert calls == pytest.approx([4.0, 4.0, 10.0])
