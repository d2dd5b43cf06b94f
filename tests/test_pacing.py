"""ChatPacer: turns to write into a chat, one per interval, and Telegram's 429 holds."""

from __future__ import annotations

import asyncio
import time

from bot.streaming import ChatPacer


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
