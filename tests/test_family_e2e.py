"""End to end: groups, the fair queue, privacy (/forget, /export, retention), /stats, languages."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.documents import image_bytes
from tests.fakes.ollama import FakeOllama, Reply
from tests.fakes.telegram import FakeTelegram, FakeUser
from tests.harness import (
    ADMIN,
    ALICE,
    BOB,
    GROUP_ID,
    MODEL,
    labels,
    reply_to,
    running_bot,
    stored_messages,
)

CAROL = FakeUser(id=1003, first_name="Carol", language_code="en")
WEI = FakeUser(id=1004, first_name="Wei", language_code="zh-hans")
DAVE = FakeUser(id=1005, first_name="Dave", language_code="en")
GROUP: dict[str, Any] = {"chat_id": GROUP_ID, "chat_type": "supergroup"}
BOT = "@ollagram_test_bot"


@pytest.fixture
async def ollama() -> AsyncIterator[FakeOllama]:
    async with FakeOllama() as fake:
        fake.add_model("llava:latest", capabilities=("completion", "vision"), context_length=32768)
        fake.add_model(MODEL, context_length=8192)
        yield fake


def family(**overrides: Any) -> dict[str, Any]:
    users = frozenset({ALICE.id, BOB.id, CAROL.id, WEI.id, DAVE.id})
    return {"allowed_user_ids": users, **overrides}


def shows(tg: FakeTelegram, user: FakeUser, part: str) -> Callable[[], bool]:
    """A check that the bot's messages to `user` contain `part`."""
    return lambda: part in "".join(tg.bot_texts(user.id))


def group_texts(tg: FakeTelegram) -> list[str]:
    return [m.content for m in tg.bot_messages(GROUP_ID)]


async def test_in_a_group_only_mentions_replies_and_commands_for_the_bot_are_answered(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script("first answer", "second answer", "third answer")
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, f"what do you think, {BOT}?", **GROUP)
        [first] = await tg.wait_for_bot_messages(GROUP_ID)
        tg.user_sends(BOB, "and why?", reply_to=first.message_id, **GROUP)
        await tg.wait_for_bot_messages(GROUP_ID, 2)
        tg.user_sends(ALICE, f"/ask{BOT} a haiku", **GROUP)
        await tg.wait_for_bot_messages(GROUP_ID, 3)
        tg.user_sends(ALICE, "just chatting among ourselves", **GROUP)
        tg.user_sends(ALICE, f"hello {BOT}", chat_id=-100999, chat_type="supergroup")
        await asyncio.sleep(0.5)
    assert group_texts(tg) == ["first answer", "second answer", "third answer"]
    # The mention is taken out of what the model reads.
    assert ollama.chat_requests[0]["messages"][-1]["content"] == "what do you think?"
    assert ollama.generate_requests[0]["prompt"] == "a haiku"
    assert len(ollama.chat_requests) == 2, "the unaddressed and the unlisted group are ignored"
    assert tg.messages(-100999)[-1].from_bot is False
    assert all(m.reply_to_message_id for m in tg.bot_messages(GROUP_ID)), "answers reply"


async def test_personal_threads_by_default_and_one_shared_thread_when_an_admin_says_so(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, f"{BOT} my name is Alice", **GROUP)
        await tg.wait_for_bot_messages(GROUP_ID)
        tg.user_sends(BOB, f"{BOT} what is my name?", **GROUP)
        await tg.wait_for_bot_messages(GROUP_ID, 2)
        tg.user_sends(BOB, "/groupmode shared", **GROUP)
        await tg.wait_for_bot_messages(GROUP_ID, 3)
        tg.user_sends(ADMIN, "/groupmode shared", **GROUP)
        await tg.wait_for_bot_messages(GROUP_ID, 4)
        tg.user_sends(ALICE, f"{BOT} I like tea", **GROUP)
        await tg.wait_for_bot_messages(GROUP_ID, 5)
        tg.user_sends(BOB, f"{BOT} what does Alice like?", **GROUP)
        await tg.wait_for_bot_messages(GROUP_ID, 6)
        tg.user_sends(BOB, "/groupmode", **GROUP)
        await tg.wait_for_bot_messages(GROUP_ID, 7)
    personal_bob = ollama.chat_requests[1]["messages"]
    assert [m["content"] for m in personal_bob if m["role"] == "user"] == ["what is my name?"]
    texts = group_texts(tg)
    assert "Only admins" in texts[2]
    assert "one shared conversation" in texts[3]
    shared_bob = [m["content"] for m in ollama.chat_requests[3]["messages"] if m["role"] == "user"]
    assert shared_bob == ["Alice: I like tea", "Bob: what does Alice like?"]
    assert "one shared conversation" in texts[6]


async def test_the_queue_tells_each_user_their_place_keeps_the_order_and_stop_leaves_it(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script(
        Reply(text="Alice's long answer " * 8, token_delay=0.08),
        Reply(text="Bob's answer", token_delay=0.02),
        Reply(text="Dave's answer", token_delay=0.02),
    )
    async with running_bot(tg, ollama, db_path, **family(stream_mode="edit")):
        tg.user_sends(ALICE, "first")
        await ollama.wait_for(lambda: len(ollama.chat_requests) == 1)
        for user, text, ahead in ((BOB, "second", 1), (CAROL, "third", 2), (DAVE, "fourth", 3)):
            tg.user_sends(user, text)
            await tg.wait_for(shows(tg, user, f"{ahead} ahead"))
        [carol_waiting] = tg.bot_messages(CAROL.id)
        tg.user_sends(CAROL, "/stop")
        await tg.wait_for(lambda: "still waiting" in carol_waiting.content)
        [bob_message] = tg.bot_messages(BOB.id)
        [dave_message] = tg.bot_messages(DAVE.id)
        await tg.wait_for(lambda: dave_message.content == "Dave's answer", timeout=15)
    # First come, first served across users; Carol left the line and was never asked.
    asked = [r["messages"][-1]["content"] for r in ollama.chat_requests]
    assert asked == ["first", "second", "fourth"]
    assert bob_message.edits[0] == "⏳ Waiting for the model: 1 ahead of you…"
    assert bob_message.content == "Bob's answer", "the waiting message became the answer"
    assert carol_waiting.edits[0] == "⏳ Waiting for the model: 2 ahead of you…"
    assert carol_waiting.content == (
        "Stopped: it was still waiting for the model, so nothing was written."
    )
    # Dave's place was updated as the line moved: Carol left, then Alice was done.
    waited = [text for text in dave_message.edits if text.startswith("⏳")]
    assert [text.split(": ")[1].split(" ahead")[0] for text in waited] == ["3", "2", "1"]
    assert stored_messages(db_path, CAROL.id) == [
        ("user", "third", "complete", None),
        ("assistant", "", "stopped", None),
    ]


async def test_three_answers_at_once_in_a_group_never_hit_telegrams_limit(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script(*(Reply(text=f"answer {n} " + "word " * 60, token_delay=0.03) for n in range(3)))
    async with running_bot(tg, ollama, db_path, **family(max_concurrent_answers=3)):
        for user in (ALICE, BOB, CAROL):
            tg.user_sends(user, f"{BOT} tell me something", **GROUP)
        await ollama.wait_for(lambda: ollama.completed_streams == 3, timeout=10)
        await tg.wait_for(lambda: all("word word" in t for t in group_texts(tg)[-3:]), timeout=15)
    assert len(tg.bot_messages(GROUP_ID)) == 3
    assert sum(m.edit_count for m in tg.bot_messages(GROUP_ID)) >= 3, "they streamed"
    assert tg.too_many_requests == 0


def rows_mentioning(db_path: Path, user_id: int) -> list[str]:
    """Every table.column holding `user_id` in any row."""
    found = []
    with sqlite3.connect(db_path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for column in [r[1] for r in db.execute(f"PRAGMA table_info({table})")]:
                query = f"SELECT COUNT(*) FROM {table} WHERE {column} = ?"  # noqa: S608
                if db.execute(query, (user_id,)).fetchone()[0]:
                    found.append(f"{table}.{column}")
    return found


async def test_forget_deletes_every_row_of_the_user_and_nothing_of_others(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    photo = tg.add_file(image_bytes(64, 64, color="purple"))
    async with running_bot(tg, ollama, db_path):
        await reply_to(tg, ALICE, "my secret is 42")
        tg.user_sends_photo(ALICE, [photo], caption="my cat")
        await tg.wait_for_bot_messages(ALICE.id, 2)
        await reply_to(tg, ALICE, "/settings temperature 1.1")
        await reply_to(tg, ALICE, "/role add diary Keep my secrets.")
        await reply_to(tg, ALICE, "/lang zh")
        tg.user_sends(ADMIN, "/groupmode shared", **GROUP)
        await tg.wait_for_bot_messages(GROUP_ID)
        tg.user_sends(ALICE, f"{BOT} in the group too", **GROUP)
        tg.user_sends(BOB, f"{BOT} Bob stays", **GROUP)
        await tg.wait_for_bot_messages(GROUP_ID, 3)
        await reply_to(tg, BOB, "Bob's own question")
        assert rows_mentioning(db_path, ALICE.id)
        confirm = await reply_to(tg, ALICE, "/forget")
        assert labels(confirm) == ["全部删除", "保留"], "asked in the language she chose"
        tg.user_presses(ALICE, confirm.message_id, f"forget:yes:{ALICE.id}")
        await tg.wait_for(lambda: confirm.content.startswith("完成"))
        start = await reply_to(tg, ALICE, "/start")
    assert rows_mentioning(db_path, ALICE.id) == []
    with sqlite3.connect(db_path) as db:
        assert db.execute("SELECT COUNT(*) FROM images").fetchone() == (0,)
        assert db.execute("SELECT COUNT(*) FROM roles").fetchone() == (0,)
        everything = " ".join(r[0] for r in db.execute("SELECT content FROM messages"))
    assert "42" not in everything
    assert "in the group too" not in everything, "her messages in the shared thread went too"
    assert "Bob stays" in everything
    assert "Bob's own question" in everything
    for path in (db_path, db_path.with_name(db_path.name + "-wal")):
        if path.exists():  # secure_delete and the checkpoint: no bytes of it left in the files
            assert b"my secret is 42" not in path.read_bytes()
    assert "Hello Alice" in start.content, "back to English, the Telegram language"


async def test_export_sends_the_conversations_as_markdown(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script("Paris.", "About 2.1 million.")
    async with running_bot(tg, ollama, db_path):
        empty = await reply_to(tg, ALICE, "/export")
        await reply_to(tg, ALICE, "capital of France?")
        await reply_to(tg, ALICE, "how many people live there?")
        export = await reply_to(tg, ALICE, "/export")
    assert empty.content == "I keep no conversation of yours."
    assert export.document is not None
    assert export.document["file_name"].endswith(".md")
    assert export.caption == "Your conversations with me: 4 messages."
    data = tg.file(export.document["file_id"]).data
    assert data is not None
    text = data.decode()
    assert text.startswith("# Conversations of Alice with ollagram\n")
    assert "## Private chat, from " in text
    order = [text.index(part) for part in ("capital of France?", "Paris.", "2.1 million")]
    assert order == sorted(order)
    assert f"**{MODEL}** · " in text
    assert "**You** · " in text


async def test_retention_purges_old_messages_at_start(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path):
        await reply_to(tg, ALICE, "an old question")
    with sqlite3.connect(db_path) as db:
        db.execute("UPDATE messages SET created_at = ?", (time.time() - 40 * 86_400,))
    async with running_bot(tg, ollama, db_path, history_retention_days=30):
        await asyncio.sleep(0.2)
        await reply_to(tg, ALICE, "a new question")
    assert [m[1] for m in stored_messages(db_path, ALICE.id) if m[0] == "user"] == [
        "a new question"
    ]
    assert [m["content"] for m in ollama.chat_requests[-1]["messages"] if m["role"] == "user"] == [
        "a new question"
    ]


async def test_stats_for_the_user_and_everyone_for_admins(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path):
        none = await reply_to(tg, BOB, "/stats")
        await reply_to(tg, ALICE, "one")
        await reply_to(tg, ALICE, "two")
        await reply_to(tg, BOB, "three")
        mine = await reply_to(tg, ALICE, "/stats")
        admin = await reply_to(tg, ADMIN, "/stats")
    assert none.content == "You have no answers yet."
    assert mine.content.startswith("Your use: answers: 2; tokens in: ")
    assert "tokens/s on average" in mine.content
    assert "Everyone" not in mine.content
    assert "Everyone (2 users):" in admin.content
    assert "Alice: answers: 2;" in admin.content
    assert "Bob: answers: 1;" in admin.content
    assert "Total: answers: 3;" in admin.content


async def test_chinese_for_zh_users_and_lang_overrides(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path, **family()):
        start = await reply_to(tg, WEI, "/start")
        menu = await reply_to(tg, WEI, "/lang")
        menu_labels = labels(menu)
        tg.user_presses(WEI, menu.message_id, "lang:en")
        await tg.wait_for(lambda: "English" in menu.content)
        english = await reply_to(tg, WEI, "/help")
        unknown = await reply_to(tg, WEI, "/lang fr")
        back = await reply_to(tg, WEI, "/lang auto")
        again = await reply_to(tg, WEI, "/stop")
        alice = await reply_to(tg, ALICE, "/lang zh")
    assert start.content.startswith("你好，Wei！")
    assert menu_labels == ["English", "简体中文", "✅ 自动（Telegram）"]
    assert english.content.startswith("Write any message")
    assert "en (English), zh (简体中文)" in unknown.content
    assert back.content == "从现在起，我跟随你的 Telegram 应用的语言。"
    assert again.content == "现在没有正在为你写的回答。"
    assert alice.content == "从现在起，我用简体中文和你交流。"


async def test_log_content_puts_questions_in_the_log_only_when_asked(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    ollama.script("the answer text")
    async with running_bot(tg, ollama, db_path, log_content=True):
        await reply_to(tg, ALICE, "the question text")
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("answer ")]
    assert "question='the question text'" in line
    assert "answer='the answer text'" in line


async def test_export_asked_in_a_group_goes_to_the_private_chat(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script("A private answer.")
    async with running_bot(tg, ollama, db_path):
        await reply_to(tg, ALICE, "my private question")
        tg.user_sends(ALICE, f"/export{BOT}", **GROUP)
        [notice] = await tg.wait_for_bot_messages(GROUP_ID)
        export = (await tg.wait_for_bot_messages(ALICE.id, 2))[-1]
        tg.user_sends(ADMIN, "/stats", **GROUP)
        [_, stats] = await tg.wait_for_bot_messages(GROUP_ID, 2)
    assert notice.content == "Sent to you in our private chat."
    assert notice.document is None, "nothing of it in the group"
    assert export.document is not None
    assert "Everyone" not in stats.content, "the totals are for a private chat only"


async def test_shutdown_turns_away_questions_still_waiting_for_the_model(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script(Reply(text="slow " * 40, token_delay=0.05), "never")
    async with running_bot(tg, ollama, db_path, shutdown_grace=0.3, stream_mode="edit"):
        tg.user_sends(ALICE, "first")
        await ollama.wait_for(lambda: len(ollama.chat_requests) == 1)
        tg.user_sends(BOB, "second")
        await tg.wait_for(shows(tg, BOB, "1 ahead"))
    [bob] = tg.bot_messages(BOB.id)
    assert bob.content.startswith("I'm restarting right now"), "the waiting notice says so"
    assert len(ollama.chat_requests) == 1, "nothing new starts during the grace period"


async def test_forget_cuts_the_running_answer_and_drops_the_waiting_question(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script(Reply(text="long " * 60, token_delay=0.05), "never written")
    async with running_bot(tg, ollama, db_path):
        await reply_to(tg, ALICE, "/id")
        confirm = await reply_to(tg, ALICE, "/forget")
        tg.user_sends(ALICE, "a question being answered")
        await ollama.wait_for(lambda: len(ollama.chat_requests) == 1)
        tg.user_sends(ALICE, "a question waiting its turn")
        await asyncio.sleep(0.2)
        tg.user_presses(ALICE, confirm.message_id, f"forget:yes:{ALICE.id}")
        await tg.wait_for(lambda: confirm.content.startswith("Done"), timeout=10)
        await asyncio.sleep(0.3)
    assert rows_mentioning(db_path, ALICE.id) == []
    assert len(ollama.chat_requests) == 1, "the waiting question was never asked"


async def test_in_a_shared_thread_a_waiting_member_sees_the_line_and_can_leave_it(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script(Reply(text="Alice's answer " * 10, token_delay=0.05), "Carol's answer")
    async with running_bot(tg, ollama, db_path, **family()):
        tg.user_sends(ADMIN, "/groupmode shared", **GROUP)
        await tg.wait_for_bot_messages(GROUP_ID)
        tg.user_sends(ALICE, f"{BOT} first", **GROUP)
        await ollama.wait_for(lambda: len(ollama.chat_requests) == 1)
        tg.user_sends(BOB, f"{BOT} second", **GROUP)
        tg.user_sends(CAROL, f"{BOT} third", **GROUP)
        await tg.wait_for(lambda: any("2 ahead" in t for t in group_texts(tg)))
        tg.user_sends(BOB, "/stop", **GROUP)
        await tg.wait_for(lambda: any("still waiting" in t for t in group_texts(tg)))
        await ollama.wait_for(lambda: len(ollama.chat_requests) == 2, timeout=10)
        await tg.wait_for(lambda: "Carol's answer" in group_texts(tg), timeout=10)
    asked = [r["messages"][-1]["content"] for r in ollama.chat_requests]
    assert asked == ["Alice: first", "Carol: third"], "Bob left the line; Carol moved up"
    carol = next(m for m in tg.bot_messages(GROUP_ID) if m.content == "Carol's answer")
    assert any("2 ahead" in text for text in carol.edits)
    assert any("1 ahead" in text for text in carol.edits)


async def test_in_a_shared_thread_the_place_shown_gives_way_when_the_turn_comes(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script(
        Reply(text="Alice's answer " * 10, token_delay=0.05),
        Reply(text="Bob's answer", first_token_delay=1.5),
    )
    async with running_bot(tg, ollama, db_path, **family()):
        tg.user_sends(ADMIN, "/groupmode shared", **GROUP)
        await tg.wait_for_bot_messages(GROUP_ID)
        tg.user_sends(ALICE, f"{BOT} first", **GROUP)
        await ollama.wait_for(lambda: len(ollama.chat_requests) == 1)
        tg.user_sends(BOB, f"{BOT} second", **GROUP)
        await tg.wait_for(lambda: any("1 ahead" in t for t in group_texts(tg)))
        await tg.wait_for(lambda: "Bob's answer" in group_texts(tg), timeout=15)
    bob = next(m for m in tg.bot_messages(GROUP_ID) if m.content == "Bob's answer")
    shown = [text for text in bob.edits if text.startswith(("⏳", "✍️"))]
    assert shown == [
        "⏳ Waiting for the model: 1 ahead of you…",
        "✍️ The model is working on your question…",
    ], "while the model reads Bob's question, it no longer says someone is ahead"
