"""Self-test of the fake Telegram server, driven by python-telegram-bot's real HTTP layer."""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import time
from collections.abc import AsyncIterator
from typing import Any

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
    NOT_A_FORUM,
    NOT_MODIFIED,
    THREAD_NOT_FOUND,
    TOPIC_ID_INVALID,
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


# -- topics in private chats (Bot API 9.3/9.4) and the Stop button (10.3) ------------------------


async def raw(fake: FakeTelegram, method: str, **params: object) -> tuple[int, dict[str, Any]]:
    """Call the fake over plain HTTP with a JSON body; return (status, body)."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{fake.url}/bot{fake.token}/{method}", json=params) as response,
    ):
        body: dict[str, Any] = await response.json()
        return response.status, body


async def test_get_me_reports_topics(bot: Bot, fake: FakeTelegram) -> None:
    me = await bot.get_me()
    assert me.has_topics_enabled is False
    assert me.allows_users_to_create_topics is False
    fake.topics_enabled = True
    me = await bot.get_me()
    assert me.has_topics_enabled is True
    assert me.allows_users_to_create_topics is True
    fake.users_create_topics = False
    _, body = await raw(fake, "getMe")
    assert body["result"]["has_topics_enabled"] is True
    assert body["result"]["allows_users_to_create_topics"] is False


async def test_create_forum_topic_in_a_private_chat(bot: Bot, fake: FakeTelegram) -> None:
    fake.user_sends(ALICE, "hi")
    fake.user_sends(BOB, "hi", chat_id=GROUP, chat_type="group")
    # Without Threaded Mode a private chat is not a forum; nor is a plain group.
    with pytest.raises(BadRequest, match="The chat is not a forum"):
        await bot.create_forum_topic(ALICE.id, "Recipes")
    fake.topics_enabled = True
    status, body = await raw(fake, "createForumTopic", chat_id=GROUP, name="x")
    assert (status, body["description"]) == (400, NOT_A_FORUM)

    topic = await bot.create_forum_topic(ALICE.id, "Recipes")
    assert topic.name == "Recipes"
    assert topic.icon_color == 7322096
    thread = topic.message_thread_id
    assert fake.topics_of(ALICE.id) == {thread: "Recipes"}
    # The topic's id is that of its forum_topic_created service message, posted in the topic.
    [created] = fake.messages_in(ALICE.id, thread)
    assert created.message_id == thread
    assert created.from_bot
    assert created.is_service
    rendered = fake.render(created)
    assert rendered["forum_topic_created"] == {"name": "Recipes", "icon_color": 7322096}
    assert rendered["message_thread_id"] == thread
    assert rendered["is_topic_message"] is True
    assert fake.bot_messages(ALICE.id) == [], "service messages are not the bot's messages"
    assert fake.pending_updates[-1]["message"]["text"] == "hi", "no update for the bot's own"

    status, body = await raw(
        fake,
        "createForumTopic",
        chat_id=ALICE.id,
        name="  " + "n" * 200,
        icon_color=16478047,
        icon_custom_emoji_id="5312536423851630001",
    )
    assert status == 200
    assert body["result"]["name"] == "n" * 128, "trimmed and cut to 128 characters"
    assert body["result"]["icon_color"] == 16478047
    assert body["result"]["icon_custom_emoji_id"] == "5312536423851630001"
    with pytest.raises(BadRequest, match="Title must be non-empty"):
        await bot.create_forum_topic(ALICE.id, "   ")
    with pytest.raises(BadRequest, match="Invalid icon color specified"):
        await bot.create_forum_topic(ALICE.id, "Blue", icon_color=0x0000FF)
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.create_forum_topic(4242, "Nobody")


async def test_edit_and_delete_forum_topic(bot: Bot, fake: FakeTelegram) -> None:
    fake.topics_enabled = True
    fake.user_sends(ALICE, "hi")
    thread = (await bot.create_forum_topic(ALICE.id, "New chat")).message_thread_id
    assert await bot.edit_forum_topic(ALICE.id, thread, name="Sourdough starter")
    assert fake.topics_of(ALICE.id) == {thread: "Sourdough starter"}
    assert [
        (r.chat_id, r.message_thread_id, r.old_name, r.new_name) for r in fake.topic_renames
    ] == [(ALICE.id, thread, "New chat", "Sourdough starter")]
    edited = fake.messages_in(ALICE.id, thread)[-1]
    assert fake.render(edited)["forum_topic_edited"] == {"name": "Sourdough starter"}
    with pytest.raises(BadRequest, match="Topic_not_modified"):
        await bot.edit_forum_topic(ALICE.id, thread, name="Sourdough starter")
    status, body = await raw(
        fake, "editForumTopic", chat_id=ALICE.id, message_thread_id=thread, name=""
    )
    assert (status, body["result"]) == (200, True), "an empty name keeps the current one"
    with pytest.raises(BadRequest, match="Topic_id_invalid"):
        await bot.edit_forum_topic(ALICE.id, 999, name="x")

    await bot.send_message(ALICE.id, "in the topic", message_thread_id=thread)
    assert await bot.delete_forum_topic(ALICE.id, thread)
    assert fake.topics_of(ALICE.id) == {}
    assert fake.messages_in(ALICE.id, thread) == [], "the topic's messages go with it"
    assert fake.topic(ALICE.id, thread).deleted
    assert [(chat, t.name) for chat, t in fake.deleted_topics] == [(ALICE.id, "Sourdough starter")]
    status, body = await raw(fake, "deleteForumTopic", chat_id=ALICE.id, message_thread_id=thread)
    assert (status, body["description"]) == (400, TOPIC_ID_INVALID)
    with pytest.raises(BadRequest, match="Topic_id_invalid"):
        await bot.edit_forum_topic(ALICE.id, thread, name="back?")
    fake.topics_enabled = False
    with pytest.raises(BadRequest, match="The chat is not a forum"):
        await bot.delete_forum_topic(ALICE.id, thread)


async def test_users_create_and_delete_topics(bot: Bot, fake: FakeTelegram) -> None:
    with pytest.raises(AssertionError):
        fake.user_creates_topic(ALICE, "Trip")
    fake.topics_enabled = True
    fake.users_create_topics = False
    with pytest.raises(AssertionError):
        fake.user_creates_topic(ALICE, "Trip")
    fake.users_create_topics = True
    thread = fake.user_creates_topic(ALICE, "Trip")
    assert fake.topics_of(ALICE.id) == {thread: "Trip"}
    [update] = await bot.get_updates(timeout=0)
    assert update.message is not None
    assert update.message.message_thread_id == thread
    assert update.message.is_topic_message
    assert update.message.forum_topic_created is not None
    assert update.message.forum_topic_created.name == "Trip"
    assert update.message.from_user is not None
    assert update.message.from_user.id == ALICE.id

    sent = fake.user_sends(ALICE, "packing list?", message_thread_id=thread)
    [update] = await bot.get_updates(offset=update.update_id + 1, timeout=0)
    assert update.update_id == sent.update_id
    assert update.message is not None
    assert update.message.message_thread_id == thread
    assert update.message.is_topic_message
    plain = fake.render(fake.user_sends(ALICE, "outside").message)
    assert "message_thread_id" not in plain
    assert "is_topic_message" not in plain
    with pytest.raises(AssertionError):
        fake.user_sends(ALICE, "nowhere", message_thread_id=thread + 100)

    fake.user_deletes_topic(ALICE, thread)
    assert fake.topics_of(ALICE.id) == {}
    with pytest.raises(BadRequest, match="Message thread not found"):
        await bot.send_message(ALICE.id, "late answer", message_thread_id=thread)
    with pytest.raises(AssertionError):
        fake.user_deletes_topic(ALICE, thread)


async def test_sends_into_topics(bot: Bot, fake: FakeTelegram) -> None:
    fake.private_limit = 100
    fake.draft_limit = 100
    fake.user_sends(ALICE, "hi")
    # Without topics no thread exists in a private chat.
    with pytest.raises(BadRequest, match="Message thread not found"):
        await bot.send_message(ALICE.id, "x", message_thread_id=5)
    fake.topics_enabled = True
    one = (await bot.create_forum_topic(ALICE.id, "One")).message_thread_id
    two = (await bot.create_forum_topic(ALICE.id, "Two")).message_thread_id
    sent = await bot.send_message(ALICE.id, "first", message_thread_id=one)
    assert sent.message_thread_id == one
    assert sent.is_topic_message
    await bot.send_message(ALICE.id, "second", message_thread_id=two)
    await bot.send_message(ALICE.id, "main")
    photo = fake.add_file(b"\x89PNG", file_path="photos/p.png")
    await bot.send_photo(ALICE.id, photo, caption="a photo", message_thread_id=one)
    await bot.send_document(ALICE.id, b"data", filename="a.txt", message_thread_id=two)
    assert fake.bot_texts_in(ALICE.id, one) == ["first", "a photo"]
    assert fake.bot_texts_in(ALICE.id, two) == ["second", ""]
    assert fake.bot_texts_in(ALICE.id, None) == ["main"]
    assert [m.content for m in fake.messages_in(ALICE.id, one)] == ["", "first", "a photo"]

    # Editing keeps the thread.
    edited = await bot.edit_message_text("first, edited", ALICE.id, sent.message_id)
    assert isinstance(edited, Message)
    assert edited.message_thread_id == one
    assert fake.bot_texts_in(ALICE.id, one) == ["first, edited", "a photo"]

    assert await bot.send_chat_action(ALICE.id, "typing", message_thread_id=two)
    assert fake.chat_actions_by_thread[-1] == (ALICE.id, two, "typing")
    assert await bot.send_message_draft(ALICE.id, 3, "dra", message_thread_id=one)
    assert fake.drafts_in(ALICE.id, one)[-1].text == "dra"

    await bot.delete_forum_topic(ALICE.id, two)
    for method, params in (
        ("sendMessage", {"text": "x"}),
        ("sendMessageDraft", {"draft_id": 1, "text": "x"}),
        ("sendChatAction", {"action": "typing"}),
        ("sendPhoto", {"photo": photo}),
        ("sendDocument", {"document": photo}),
    ):
        for thread in (two, 12345):
            status, body = await raw(
                fake, method, chat_id=ALICE.id, message_thread_id=thread, **params
            )
            assert (status, body["description"]) == (400, THREAD_NOT_FOUND), method
    # message_thread_id 0 means no thread.
    status, _ = await raw(fake, "sendMessage", chat_id=ALICE.id, message_thread_id=0, text="y")
    assert status == 200
    assert fake.bot_texts_in(ALICE.id, None) == ["main", "y"]


async def test_stop_button(bot: Bot, fake: FakeTelegram) -> None:
    fake.draft_limit = 100
    fake.topics_enabled = True
    fake.user_sends(ALICE, "hi")
    await bot.get_updates(timeout=0)  # no allowed_updates: the default set
    status, _ = await raw(
        fake, "sendMessageDraft", chat_id=ALICE.id, draft_id=5, text="Thinking", can_stop=True
    )
    assert status == 200
    assert fake.drafts[-1].can_stop
    assert not fake.drafts[-1].keep_on_stop
    assert fake.shown_draft(ALICE.id) is fake.drafts[-1]
    with pytest.raises(AssertionError, match="shown is 5"):
        fake.user_presses_stop(ALICE, draft_id=6)

    press = fake.user_presses_stop(ALICE)
    assert (press.chat_id, press.draft_id, press.text, press.kept) == (
        ALICE.id,
        5,
        "Thinking",
        False,
    )
    assert fake.shown_draft(ALICE.id) is None, "without keep_on_stop the draft disappears"
    [update] = [u for u in fake.pending_updates if u["update_id"] == press.update_id]
    assert update == {
        "update_id": press.update_id,
        "stopped_message_generation": {
            "chat": {"id": ALICE.id, "type": "private", "first_name": "Alice", "username": "alice"},
            "draft_id": 5,
        },
    }
    [got] = [u for u in await bot.get_updates(timeout=0) if u.update_id == press.update_id]
    assert got.api_kwargs["stopped_message_generation"]["draft_id"] == 5
    # The bot goes on a little before it cancels: accepted, not shown.
    assert await bot.send_message_draft(ALICE.id, 5, "Thinking more", api_kwargs={"can_stop": True})
    assert fake.drafts[-1].after_stop
    assert fake.shown_draft(ALICE.id) is None
    with pytest.raises(AssertionError, match="no draft is shown"):
        fake.user_presses_stop(ALICE)

    # keep_on_stop, in a topic: the draft stays until the bot's message replaces it.
    thread = (await bot.create_forum_topic(ALICE.id, "Long one")).message_thread_id
    await bot.send_message_draft(
        ALICE.id,
        9,
        "half an answer",
        message_thread_id=thread,
        api_kwargs={"can_stop": True, "keep_on_stop": True},
    )
    with pytest.raises(AssertionError, match="no draft is shown"):
        fake.user_presses_stop(ALICE)  # not in the main chat
    press = fake.user_presses_stop(ALICE, message_thread_id=thread, draft_id=9)
    assert press.kept
    assert fake.stop_presses[-1] is press
    shown = fake.shown_draft(ALICE.id, thread)
    assert shown is not None
    assert shown.text == "half an answer"
    stopped = fake.pending_updates[-1]["stopped_message_generation"]
    assert stopped["message_thread_id"] == thread
    assert stopped["draft_id"] == 9
    await bot.send_message(ALICE.id, "half an answer (stopped)", message_thread_id=thread)
    assert fake.shown_draft(ALICE.id, thread) is None

    # No can_stop: no button.
    await bot.send_message_draft(ALICE.id, 11, "plain")
    with pytest.raises(AssertionError, match="without can_stop"):
        fake.user_presses_stop(ALICE)


async def test_stop_update_respects_allowed_updates(bot: Bot, fake: FakeTelegram) -> None:
    fake.draft_limit = 100
    fake.user_sends(ALICE, "hi")
    assert fake.wants("stopped_message_generation"), "in the default set"
    assert not fake.wants("message_reaction")
    # The bot lists what it wants, without the new type: Telegram drops the update.
    await bot.get_updates(timeout=0, allowed_updates=["message", "callback_query"])
    await bot.send_message_draft(ALICE.id, 1, "x", api_kwargs={"can_stop": True})
    before = len(fake.pending_updates)
    press = fake.user_presses_stop(ALICE)
    assert press.update_id is None
    assert len(fake.pending_updates) == before
    assert fake.dropped_updates == [
        {"stopped_message_generation": {"chat": fake.chats[ALICE.id].to_api(), "draft_id": 1}}
    ]
    assert fake.shown_draft(ALICE.id) is None, "the user's press works all the same"
    # Listed: delivered. An empty list means the default set again.
    await bot.get_updates(timeout=0, allowed_updates=["message", "stopped_message_generation"])
    await bot.send_message_draft(ALICE.id, 2, "y", api_kwargs={"can_stop": True})
    assert fake.user_presses_stop(ALICE).update_id is not None
    await bot.get_updates(timeout=0, allowed_updates=[])
    await bot.send_message_draft(ALICE.id, 3, "z", api_kwargs={"can_stop": True})
    assert fake.user_presses_stop(ALICE).update_id is not None
    # setWebhook's allowed_updates count the same way.
    fake.allow_http_webhooks = True
    await bot.set_webhook("http://127.0.0.1:9/hook", allowed_updates=["message"])
    assert not fake.wants("stopped_message_generation")
    await bot.delete_webhook()


async def test_drafts_expire_and_give_way_to_messages(bot: Bot, fake: FakeTelegram) -> None:
    now = [100.0]
    fake.clock = lambda: now[0]
    fake.user_sends(ALICE, "hi")
    await bot.send_message_draft(ALICE.id, 1, "partial", api_kwargs={"can_stop": True})
    now[0] += 29
    assert fake.shown_draft(ALICE.id) is not None
    now[0] += 2
    assert fake.shown_draft(ALICE.id) is None, "a 30-second preview"
    with pytest.raises(AssertionError, match="no draft is shown"):
        fake.user_presses_stop(ALICE)
    await bot.send_message_draft(ALICE.id, 1, "partial again", api_kwargs={"can_stop": True})
    await bot.send_message(ALICE.id, "final")
    assert fake.shown_draft(ALICE.id) is None, "the message takes the draft's place"
