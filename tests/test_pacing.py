"""ChatPacer: turns to write into a chat, one per interval, and Telegram's 429 holds."""

from __future__ import annotations

import asyncio
import itertools
import time

from bot.telegram.streaming import ChatPacer


async def test_turns_in_one_chat_are_spaced_and_other_chats_are_free() -> None:
    pacer = ChatPacer(private_interval=0.0, group_interval=0.0)
    started = time.monotonic()
    times: dict[int, list[float]] = {1: [], 2: []}

    async def write(chat_id: int) -> None:
        await pacer.turn(chat_id, 0.1)
        times[chat_id].append(time.monotonic() - started)

    await asyncio.gather(write(1), write(1), write(1), write(2))
    first, second, third = times[1]
    assert second - first >= 0.09
    assert third - second >= 0.09
    assert times[2][0] < second, "chat 2 did not wait for chat 1"


async def test_a_hold_during_a_wait_delays_writers_already_queued() -> None:
    pacer = ChatPacer(private_interval=0.0, group_interval=0.0)
    await pacer.turn(1, 0.05)  # the chat was just written to
    started = time.monotonic()
    waiting = asyncio.ensure_future(pacer.turn(1, 0.05))
    await asyncio.sleep(0.01)
    pacer.hold(1, 0.3)  # Telegram answered 429 with retry_after
    await waiting
    assert time.monotonic() - started >= 0.29


async def test_in_a_group_first_and_final_words_come_sooner_than_refreshes() -> None:
    pacer = ChatPacer(private_interval=0.0, group_interval=0.3)
    loop_started = time.monotonic()
    urgent_times, routine_times = [], []
    for _ in range(3):
        await pacer.turn(-5, urgent=True)
        urgent_times.append(time.monotonic() - loop_started)
    for _ in range(2):
        await pacer.turn(-5)
        routine_times.append(time.monotonic() - loop_started)
    urgent_gaps = [b - a for a, b in itertools.pairwise(urgent_times)]
    assert all(0.09 <= gap < 0.2 for gap in urgent_gaps), "a third of the interval apart"
    assert routine_times[0] - urgent_times[-1] >= 0.29
    assert routine_times[1] - routine_times[0] >= 0.29


async def test_no_group_window_ever_holds_more_than_20_turns_and_refreshes_leave_room() -> None:
    pacer = ChatPacer(private_interval=0.0, group_interval=0.02)  # window: 20 x 0.02 = 0.4 s
    started = time.monotonic()
    turns: list[tuple[float, bool]] = []

    async def write(urgent: bool) -> None:
        await pacer.turn(-7, urgent=urgent)
        turns.append((time.monotonic() - started, urgent))

    await asyncio.gather(*(write(False) for _ in range(30)))  # refreshes: 16 per window
    routine_in_first_window = sum(1 for t, _ in turns if t < 0.39)
    assert routine_in_first_window <= 16, "4 of the 20 are kept for first and final words"
    await asyncio.gather(*(write(True) for _ in range(10)))
    for start, _ in turns:
        assert sum(1 for t, _ in turns if start <= t < start + 0.4) <= 20
