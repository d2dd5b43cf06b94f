"""Self-test of the fake Telegram server, driven by python-telegram-bot's real HTTP layer."""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from telegram import (
    Bot,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
)
from telegram.error import BadRequest, InvalidToken, NetworkError, RetryAfter, TimedOut

from tests.fakes.telegram import (
    BOT_ID,
    NOT_MODIFIED,
    FakeTelegram,
    FakeUser,
    utf16_len,
)

ALICE = FakeUser(id=1001, first_name="Alice", username="alice")
BOB = FakeUser(id=1002, first_name="Bob")
GROUP = -100500


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without it, reading RetryAfter.retry_after emits a PTBDeprecationWarning (an error here).
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(private_limit=3, private_window=0.5, draft_limit=2) as server:
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(
        fake.token, base_url=f"{fake.url}/bot", base_file_url=f"{fake.url}/file/bot"
    ) as client:
        yield client


async def test_get_me(bot: Bot, fake: FakeTelegram) -> None:
    me = await bot.get_me()
    assert me.id == BOT_ID
    assert me.username == "ollagram_test_bot"
    assert me.is_bot
    assert fake.calls_of("getme")[-1].ok


async def test_send_message_with_utf16_entities(bot: Bot, fake: FakeTelegram) -> None:
    fake.user_sends(ALICE, "/start")
    text = "😀 bold tail"
    assert utf16_len(text) == len(text) + 1
    sent = await bot.send_message(
        ALICE.id, text, entities=[MessageEntity(MessageEntity.BOLD, offset=3, length=4)]
    )
    assert sent.chat.id == ALICE.id
    assert sent.from_user is not None
    assert sent.from_user.id == BOT_ID
    assert sent.parse_entities() == {sent.entities[0]: "bold"}
    stored = fake.bot_messages(ALICE.id)[-1]
    assert stored.entities == [{"type": "bold", "offset": 3, "length": 4}]
    assert [m.message_id for m in fake.messages(ALICE.id)] == [1, 2]

    # "tail" ends at UTF-16 offset 12: one more is out of range (code points would say fine).
    with pytest.raises(BadRequest) as caught:
        await bot.send_message(
            ALICE.id, text, entities=[MessageEntity(MessageEntity.ITALIC, offset=8, length=5)]
        )
    assert "can't parse entities" in caught.value.message.lower()
    assert fake.calls[-1].status == 400
    assert len(fake.bot_messages(ALICE.id)) == 1


async def test_text_limits(bot: Bot, fake: FakeTelegram) -> None:
    fake.user_sends(ALICE, "hi")
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(ALICE.id, "a" * 4097)
    # 2049 emoji are 4098 UTF-16 code units.
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(ALICE.id, "😀" * 2049)
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(ALICE.id, " \n ")
    assert (await bot.send_message(ALICE.id, "a" * 4096)).text == "a" * 4096
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(424242, "nobody here")


async def test_edit_message_text(bot: Bot, fake: FakeTelegram) -> None:
    fake.private_limit = 100
    fake.user_sends(ALICE, "hi")
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Stop", callback_data="stop")]])
    sent = await bot.send_message(ALICE.id, "Thinking", reply_markup=keyboard)
    await bot.edit_message_text("Thinking.", ALICE.id, sent.message_id, reply_markup=keyboard)
    with pytest.raises(BadRequest, match="not modified") as caught:
        await bot.edit_message_text("Thinking.", ALICE.id, sent.message_id, reply_markup=keyboard)
    assert fake.calls[-1].response["description"] == NOT_MODIFIED
    assert "specified new message content" in caught.value.message
    # Same text without the keyboard is a change: the keyboard goes away.
    edited = await bot.edit_message_text("Thinking.", ALICE.id, sent.message_id)
    assert isinstance(edited, Message)
    assert edited.reply_markup is None
    stored = fake.message(ALICE.id, sent.message_id)
    assert stored.edits == ["Thinking", "Thinking."]
    assert stored.edit_count == 2
    assert stored.text == "Thinking."
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", ALICE.id, 999)
    with pytest.raises(BadRequest, match="Message can't be edited"):
        await bot.edit_message_text("x", ALICE.id, 1)


async def test_private_rate_limit(bot: Bot, fake: FakeTelegram) -> None:
    fake.user_sends(ALICE, "hi")
    for n in range(3):
        await bot.send_message(ALICE.id, f"part {n}")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(ALICE.id, "part 3")
    retry_after = caught.value.retry_after
    assert isinstance(retry_after, dtm.timedelta)
    assert retry_after >= dtm.timedelta(seconds=1)
    assert fake.calls[-1].response["parameters"] == {"retry_after": 1}
    assert fake.calls[-1].response["description"] == "Too Many Requests: retry after 1"
    # Blocked for the writing methods until retry_after has passed, but not for chat actions.
    with pytest.raises(RetryAfter):
        await bot.edit_message_text("edited", ALICE.id, 2)
    assert await bot.send_chat_action(ALICE.id, "typing")
    assert fake.chat_actions == [(ALICE.id, "typing")]
    assert fake.too_many_requests == 2
    assert fake.too_many_requests_by_chat == {ALICE.id: 2}
    # Another chat has its own window.
    fake.user_sends(BOB, "hi")
    await bot.send_message(BOB.id, "hello Bob")


async def test_get_updates_long_poll_and_offset(bot: Bot, fake: FakeTelegram) -> None:
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.1)
    fake.user_sends(ALICE, "/ask@ollagram_test_bot why?")
    updates = await asyncio.wait_for(poll, 2)
    assert time.monotonic() - started < 1
    assert len(updates) == 1
    message = updates[0].message
    assert message is not None
    assert message.text == "/ask@ollagram_test_bot why?"
    assert message.from_user is not None
    assert message.from_user.id == ALICE.id
    assert message.chat.type == "private"
    assert message.parse_entities([MessageEntity.BOT_COMMAND]) == {
        message.entities[0]: "/ask@ollagram_test_bot"
    }
    # Not confirmed yet: comes again.
    again = await bot.get_updates(timeout=0)
    assert [u.update_id for u in again] == [updates[0].update_id]
    # Confirmed by the offset: gone.
    assert await bot.get_updates(offset=updates[0].update_id + 1, timeout=0) == ()
    assert fake.pending_updates == []


async def test_reply_and_group_privacy(bot: Bot, fake: FakeTelegram) -> None:
    fake.user_sends(ALICE, "hi")
    answer = await bot.send_message(ALICE.id, "hello")
    fake.user_sends(ALICE, "more please", reply_to=answer.message_id)
    group_plain = fake.user_sends(ALICE, "chatting", chat_id=GROUP, chat_type="group")
    group_command = fake.user_sends(BOB, "/ask hi", chat_id=GROUP, chat_type="group")
    assert group_plain.update_id is None
    assert group_command.update_id is not None
    updates = await bot.get_updates(timeout=0)
    assert len(updates) == 3
    reply = updates[1].message
    assert reply is not None
    assert reply.reply_to_message is not None
    assert reply.reply_to_message.text == "hello"
    group_message = updates[2].message
    assert group_message is not None
    assert group_message.chat.type == "group"
    assert group_message.chat.title == "Test Group"
    assert group_message.message_id == 2  # ids are per chat and shared with stored messages
    sent = await bot.send_message(GROUP, "answer", reply_to_message_id=group_message.message_id)
    assert sent.reply_to_message is not None
    assert sent.reply_to_message.message_id == group_message.message_id
    with pytest.raises(BadRequest, match="Message to be replied not found"):
        await bot.send_message(GROUP, "answer", reply_to_message_id=99)


async def test_drafts(bot: Bot, fake: FakeTelegram) -> None:
    fake.user_sends(ALICE, "hi")
    fake.user_sends(BOB, "hi", chat_id=GROUP, chat_type="group")
    assert await bot.send_message_draft(ALICE.id, draft_id=7, text="") is True
    bold = [MessageEntity(MessageEntity.BOLD, offset=4, length=2)]
    assert await bot.send_message_draft(ALICE.id, draft_id=7, text="Hel lo", entities=bold)
    assert [(d.chat_id, d.draft_id, d.text) for d in fake.drafts] == [
        (ALICE.id, 7, ""),
        (ALICE.id, 7, "Hel lo"),
    ]
    assert fake.drafts[1].entities == [{"type": "bold", "offset": 4, "length": 2}]
    # Drafts have their own limit (2 per window in this fixture).
    with pytest.raises(RetryAfter):
        await bot.send_message_draft(ALICE.id, draft_id=7, text="Hello")
    assert fake.too_many_requests == 1
    with pytest.raises(BadRequest, match=r"(?i)textdraft_peer_invalid"):
        await bot.send_message_draft(GROUP, draft_id=1, text="nope")
    fake.user_sends(BOB, "hi")
    with pytest.raises(BadRequest, match="Draft_id is empty"):
        await bot.send_message_draft(BOB.id, draft_id=0, text="x")
    fake.drafts_supported = False
    with pytest.raises(BadRequest, match="Method sendmessagedraft can't be used"):
        await bot.send_message_draft(BOB.id, draft_id=1, text="x")
    assert len(fake.drafts) == 2


async def test_fail_next_and_delay(bot: Bot, fake: FakeTelegram) -> None:
    fake.user_sends(ALICE, "hi")
    fake.fail_next("sendMessage", 502, "Bad Gateway")
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(ALICE.id, "x")
    assert (await bot.send_message(ALICE.id, "x")).text == "x"
    fake.fail_next("editMessageText", 429, "Too Many Requests: retry after 3", retry_after=3)
    with pytest.raises(RetryAfter) as caught:
        await bot.edit_message_text("y", ALICE.id, 2)
    assert caught.value.retry_after == dtm.timedelta(seconds=3)
    fake.delay["sendChatAction"] = 2.0
    with pytest.raises(TimedOut):
        await bot.send_chat_action(ALICE.id, "typing", read_timeout=0.2)


async def test_reject_formatting_switch(bot: Bot, fake: FakeTelegram) -> None:
    fake.user_sends(ALICE, "hi")
    fake.reject_formatting_times = 1
    bold = [MessageEntity(MessageEntity.BOLD, offset=0, length=1)]
    with pytest.raises(BadRequest, match="Can't parse entities"):
        await bot.send_message(ALICE.id, "x", entities=bold)
    assert (await bot.send_message(ALICE.id, "x", entities=bold)).text == "x"
    assert (await bot.send_message(ALICE.id, "plain")).text == "plain"
    fake.reject_formatting = True
    with pytest.raises(BadRequest, match="Can't parse entities"):
        await bot.send_message(
            ALICE.id, "x", entities=[MessageEntity(MessageEntity.BOLD, offset=0, length=1)]
        )


async def test_get_file_and_download(bot: Bot, fake: FakeTelegram) -> None:
    file_id = fake.add_file(b"hello bytes")
    tg_file = await bot.get_file(file_id)
    assert tg_file.file_size == 11
    assert bytes(await tg_file.download_as_bytearray()) == b"hello bytes"
    with pytest.raises(BadRequest, match="File is too big"):
        await bot.get_file(fake.add_file(size=21 * 1024 * 1024))
    with pytest.raises(BadRequest, match="Invalid file_id"):
        await bot.get_file("nope")


async def test_media(bot: Bot, fake: FakeTelegram) -> None:
    small, big = fake.add_file(b"small"), fake.add_file(b"bigger")
    fake.user_sends_photo(ALICE, [small, big], caption="look", media_group_id="g1")
    (update,) = await bot.get_updates(timeout=0)
    assert update.message is not None
    assert update.message.photo[-1].file_id == big
    assert update.message.caption == "look"
    assert update.message.media_group_id == "g1"
    sent = await bot.send_document(
        ALICE.id,
        b"long answer",
        filename="answer.md",
        caption="full",
        caption_entities=[MessageEntity(MessageEntity.BOLD, offset=0, length=4)],
    )
    assert sent.document is not None
    assert sent.document.file_name == "answer.md"
    assert sent.caption == "full"
    stored = fake.bot_messages(ALICE.id)[-1]
    assert stored.document is not None
    assert fake.file(stored.document["file_id"]).data == b"long answer"


async def test_callback_query(bot: Bot, fake: FakeTelegram) -> None:
    fake.user_sends(ALICE, "hi")
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Stop", callback_data="stop:1")]])
    sent = await bot.send_message(ALICE.id, "Generating", reply_markup=keyboard)
    await bot.get_updates(offset=10_000, timeout=0)  # confirm everything so far
    pressed = fake.user_presses(ALICE, sent.message_id, "stop:1")
    (update,) = await bot.get_updates(timeout=1)
    query = update.callback_query
    assert isinstance(query, CallbackQuery)
    assert query.data == "stop:1"
    assert query.id == pressed.callback_query_id
    assert query.message is not None
    assert query.message.message_id == sent.message_id
    assert await query.answer("Stopped")
    assert fake.callback_answers[0].text == "Stopped"
    with pytest.raises(BadRequest, match="Query is too old"):
        await query.answer()
    too_long = InlineKeyboardButton("x", callback_data="d" * 65)
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(ALICE.id, "x", reply_markup=InlineKeyboardMarkup([[too_long]]))


async def test_commands_and_webhook(bot: Bot, fake: FakeTelegram) -> None:
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.set_my_commands([("ask", "Ask the model"), ("model", "Pick a model")])
    assert fake.commands == [
        {"command": "ask", "description": "Ask the model"},
        {"command": "model", "description": "Pick a model"},
    ]
    assert [c.command for c in await bot.get_my_commands()] == ["ask", "model"]
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([("Bad-Name", "x")])


async def test_raw_http(fake: FakeTelegram) -> None:
    fake.private_limit = 100
    fake.user_sends(ALICE, "hi")
    async with aiohttp.ClientSession() as session:
        api = f"{fake.url}/bot{fake.token}"
        async with session.get(f"{api}/nosuchmethod") as response:
            assert response.status == 404
            assert await response.json() == {
                "ok": False,
                "error_code": 404,
                "description": "Not Found",
            }
        body = {"chat_id": ALICE.id, "text": "via json"}
        async with session.post(f"{api}/SENDMESSAGE", json=body) as response:
            assert response.status == 200
            assert (await response.json())["result"]["text"] == "via json"
        query = {"chat_id": str(ALICE.id), "text": "via query"}
        async with session.get(f"{api}/sendMessage", params=query) as response:
            assert response.status == 200
        form = aiohttp.FormData()
        form.add_field("chat_id", str(ALICE.id))
        form.add_field("text", "via multipart")
        form.add_field("entities", json.dumps([{"type": "bold", "offset": 4, "length": 9}]))
        async with session.post(f"{api}/sendMessage", data=form) as response:
            assert (await response.json())["result"]["entities"][0]["type"] == "bold"
        async with session.post(f"{api}/sendMessage", data={"chat_id": "1001"}) as response:
            assert response.status == 400
            assert (await response.json())["description"] == "Bad Request: message text is empty"
        async with session.get(f"{fake.url}/bot1:bad/getMe") as response:
            assert response.status == 401
            assert (await response.json())["description"] == "Unauthorized"
    assert fake.bot_texts(ALICE.id) == ["via json", "via query", "via multipart"]


async def test_wrong_token_raises_invalid_token(fake: FakeTelegram) -> None:
    with pytest.raises(InvalidToken):
        async with Bot("999:wrong", base_url=f"{fake.url}/bot"):
            pass


async def test_wait_for(fake: FakeTelegram, bot: Bot) -> None:
    fake.user_sends(ALICE, "hi")

    async def answer_later() -> None:
        await asyncio.sleep(0.05)
        await bot.send_message(ALICE.id, "done")

    task = asyncio.create_task(answer_later())
    await fake.wait_for(lambda: fake.bot_texts(ALICE.id) == ["done"], timeout=2)
    await task
    with pytest.raises(AssertionError, match="'done'"):
        await fake.wait_for(lambda: False, timeout=0.05)


async def test_stop_during_long_poll_does_not_hang() -> None:
    server = FakeTelegram()
    await server.start()
    async with Bot(server.token, base_url=f"{server.url}/bot") as client:
        poll = asyncio.create_task(client.get_updates(timeout=30))
        await asyncio.sleep(0.1)
        started = time.monotonic()
        await server.stop()
        assert await asyncio.wait_for(poll, 3) == ()
        assert time.monotonic() - started < 2


async def test_parse_mode_refused(bot: Bot, fake: FakeTelegram) -> None:
    """The bot sends entities, never parse_mode: a parse_mode is a bug the fake reports."""
    fake.user_sends(ALICE, "hi")
    with pytest.raises(BadRequest, match="parse_mode"):
        await bot.send_message(ALICE.id, "*x*", parse_mode="MarkdownV2")
