"""How updates come in: strangers cannot stall the bot, an update PTB cannot read is skipped,
Business updates are ignored, and the webhook refuses what is too big or unsigned."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from pathlib import Path

import aiohttp
import pytest

from bot.refusals import RefusalMemory
from bot.telegram.app import build_application
from bot.telegram.serving import Webhook, running
from tests.fakes.ollama import FakeOllama
from tests.fakes.telegram import FakeTelegram, FakeUser
from tests.harness import ALICE, MALLORY, running_bot, settings_for

SECRET_WORDS = "my bank password is hunter2"
WEBHOOK_SECRET = "s3cret-Token_1"


def shown(tg: FakeTelegram, user: FakeUser) -> int:
    """How many drafts with words (not the empty "Thinking…" one) and messages `user` got."""
    return len([d for d in tg.drafts_of(user.id) if d.text]) + len(tg.bot_messages(user.id))


def first_words_seen(tg: FakeTelegram, user: FakeUser, before: int) -> bool:
    """The bot has shown `user` words of an answer (a draft or a message) since `before`
    drafts and messages."""
    return shown(tg, user) > before


async def seconds_to_first_words(tg: FakeTelegram, user: FakeUser, text: str) -> float:
    """`user` asks `text`; seconds until the first words of the answer are visible."""
    before = shown(tg, user)
    start = time.monotonic()
    tg.user_sends(user, text)
    await tg.wait_for(lambda: first_words_seen(tg, user, before), timeout=60)
    return time.monotonic() - start


def refusals_to(tg: FakeTelegram, chat_id: int) -> list[str]:
    """Every sendMessage the bot tried in `chat_id`, whatever Telegram answered."""
    return [
        str(call.params.get("text"))
        for call in tg.calls_of("sendMessage")
        if call.params.get("chat_id") == chat_id
    ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_strangers_flood_does_not_hold_up_an_allowed_user(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path):
        quiet = await seconds_to_first_words(tg, ALICE, "hello")
        await tg.wait_for_bot_messages(ALICE.id, 1)
        await asyncio.sleep(0.5)  # the chat's pacing interval after that answer, not measured
        for n in range(300):
            tg.user_sends(MALLORY, f"let me in {n}")
        flooded = await seconds_to_first_words(tg, ALICE, "still there?")
        await tg.wait_for_bot_messages(ALICE.id, 2)
    assert flooded < quiet + 1.0, f"first words after {flooded:.2f} s (quiet: {quiet:.2f} s)"
    [refusal] = tg.bot_texts(MALLORY.id)
    assert str(MALLORY.id) in refusal, "the stranger is told their id, once"


async def test_thousands_of_strangers_leave_the_bot_answering_and_its_memory_bounded(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    now = [1000.0]
    memory = RefusalMemory(window=300, capacity=500, clock=lambda: now[0])
    app = build_application(settings_for(tg, ollama, db_path), refusals=memory)
    async with running(app, poll_timeout=1.0):
        for n in range(3000):
            tg.user_sends(FakeUser(id=50_000 + n, first_name="Stranger"), "hi")
        flooded = await seconds_to_first_words(tg, ALICE, "anyone home?")
        await tg.wait_for_bot_messages(ALICE.id, 1)
        await tg.wait_for(lambda: not tg.pending_updates, timeout=30)
        remembered = len(memory)
        now[0] += 301
        forgotten = len(memory)
    # Alice's message comes after 3000 others: reading them takes about 0.5 s on a quiet
    # machine, a few seconds on a busy one. Answering each stranger made it minutes.
    assert flooded < 10.0, f"first words after {flooded:.2f} s"
    assert 0 < remembered <= 500
    assert forgotten == 0
    told = sum(1 for n in range(3000) if tg.bot_messages(50_000 + n))
    assert 0 < told <= remembered, "refusals only when the overall budget had room to spare"


async def test_a_refusal_telegram_pushes_back_on_is_dropped(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    tg.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(MALLORY, "let me in")
        await tg.wait_for(lambda: tg.too_many_requests == 1)
        assert await seconds_to_first_words(tg, ALICE, "hello") < 1.0
        await tg.wait_for_bot_messages(ALICE.id, 1)
        await asyncio.sleep(1.5)  # past the retry_after a retry would have waited for
        tg.user_sends(MALLORY, "let me in, please")
        await tg.wait_for(lambda: not tg.pending_updates)
        await asyncio.sleep(0.3)
    assert len(refusals_to(tg, MALLORY.id)) == 1, "not retried, and not sent again at once"
    assert tg.bot_messages(MALLORY.id) == []


async def test_an_update_the_library_cannot_read_is_skipped(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    unreadable = tg.inject_update(unreadable_message(ALICE))
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, "are you there?")
        [answer] = await tg.wait_for_bot_messages(ALICE.id, 1)
        polls = len(tg.calls_of("getUpdates"))
    assert answer.content == "Echo: are you there?"
    assert polls < 10, f"{polls} getUpdates calls: polling must not spin"
    assert SECRET_WORDS not in caplog.text, "message text never reaches the log"
    assert f"skipped update {unreadable}" in caplog.text
    assert "still running" not in caplog.text


async def test_an_unreadable_update_on_the_webhook_is_answered_and_skipped(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tg.allow_http_webhooks = True
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    webhook = {"webhook_url": url, "webhook_port": port, "webhook_secret": WEBHOOK_SECRET}
    async with running_bot(tg, ollama, db_path, **webhook):
        unreadable = tg.inject_update(unreadable_message(ALICE))
        await tg.wait_for(lambda: len(tg.webhook_deliveries) == 1)
        tg.user_sends(ALICE, "are you there?")
        [answer] = await tg.wait_for_bot_messages(ALICE.id, 1)
    assert tg.webhook_deliveries[0] == (unreadable, 200), "Telegram must not send it again"
    assert answer.content == "Echo: are you there?"
    assert SECRET_WORDS not in caplog.text


def unreadable_message(user: FakeUser) -> dict[str, object]:
    """A message whose entity lacks its required `type`: PTB refuses to build it."""
    return {
        "message": {
            "message_id": 1,
            "date": int(time.time()),
            "chat": {"id": user.id, "type": "private", "first_name": user.first_name},
            "from": user.to_api(),
            "text": SECRET_WORDS,
            "entities": [{"offset": 0, "length": 2}],
        }
    }


def business_message(user: FakeUser, text: str) -> dict[str, object]:
    """A customer writing to the owner's Business account the bot is connected to."""
    return {
        "business_message": {
            "message_id": 1,
            "date": int(time.time()),
            "business_connection_id": "bc-1",
            "chat": {"id": user.id, "type": "private", "first_name": user.first_name},
            "from": user.to_api(),
            "text": text,
        }
    }


async def test_business_updates_are_not_asked_for_and_ignored(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path):
        tg.inject_update(business_message(MALLORY, "hello shop"))
        tg.inject_update(business_message(ALICE, "hello shop"))
        tg.inject_update(
            {
                "business_connection": {
                    "id": "bc-1",
                    "user": MALLORY.to_api(),
                    "user_chat_id": MALLORY.id,
                    "date": int(time.time()),
                    "is_enabled": True,
                }
            }
        )
        tg.user_sends(ALICE, "and now to the bot")
        [answer] = await tg.wait_for_bot_messages(ALICE.id, 1)
        await asyncio.sleep(0.3)
    assert refusals_to(tg, MALLORY.id) == [], "the owner's customer gets nothing from the bot"
    assert [r["messages"][-1]["content"] for r in ollama.chat_requests] == ["and now to the bot"]
    assert answer.content == "Echo: and now to the bot"
    assert tg.allowed_updates is not None
    assert not [kind for kind in tg.allowed_updates if kind.startswith("business")]


async def raw_exchange(port: int, head: bytes, body: list[bytes]) -> tuple[bytes, bool]:
    """Send `head`, then `body` piece by piece; the response's status line, and whether every
    piece could be sent."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sent_all = True
    try:
        writer.write(head)
        await writer.drain()
        for piece in body:
            await asyncio.sleep(0.01)
            try:
                writer.write(piece)
                await writer.drain()
            except OSError:
                sent_all = False
                break
        try:
            status = await asyncio.wait_for(reader.readline(), 5)
        except OSError:
            status = b""
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    return status, sent_all


async def test_the_webhook_refuses_big_and_unsigned_requests_before_reading_them(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    tg.allow_http_webhooks = True
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    settings = settings_for(
        tg, ollama, db_path, webhook_url=url, webhook_port=port, webhook_secret=WEBHOOK_SECRET
    )
    signed = f"X-Telegram-Bot-Api-Secret-Token: {WEBHOOK_SECRET}\r\n"
    async with running(build_application(settings), webhook=Webhook.from_settings(settings)):
        # Only the head is sent: the answer must come without the body.
        too_big, _ = await raw_exchange(
            port,
            f"POST /hook HTTP/1.1\r\nHost: x\r\n{signed}Content-Length: 2000000\r\n\r\n".encode(),
            [],
        )
        chunk = b"%x\r\n%s\r\n" % (64 * 1024, b"x" * 64 * 1024)
        chunked = f"POST /hook HTTP/1.1\r\nHost: x\r\n{signed}Transfer-Encoding: chunked\r\n\r\n"
        endless, sent_all = await raw_exchange(
            port,
            chunked.encode(),
            [chunk] * 64,  # 4 MB if nothing stops it
        )
        # A refused request's connection is closed (its body is never read): one each.
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(connector=connector) as stranger:
            wrong = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET[:-1] + "2"}
            async with stranger.post(url, json={"update_id": 1}, headers=wrong) as response:
                wrong_secret = response.status
            async with stranger.post(url, json={"update_id": 1}) as response:
                no_secret = response.status
        tg.user_sends(ALICE, "still fine")
        [answer] = await tg.wait_for_bot_messages(ALICE.id, 1)
    assert too_big.startswith(b"HTTP/1.1 413")
    assert not sent_all, "a body without length is cut off past the limit"
    # The 413 goes out before the connection closes; a client still writing may see only the
    # reset.
    assert endless.startswith(b"HTTP/1.1 413") or endless == b""
    assert (wrong_secret, no_secret) == (403, 403)
    assert tg.allowed_updates is not None
    assert not [kind for kind in tg.allowed_updates if kind.startswith("business")]
    assert answer.content == "Echo: still fine"
