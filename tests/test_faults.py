"""Faults: Ollama dying or failing mid-answer, a model slow to start, Telegram failing, slow or
flooded, the database locked by another program. Whatever breaks, nothing the user wrote or the
model answered is lost, and the user is told what happened."""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.store import BUSY_TIMEOUT_MS
from tests.fakes.ollama import DEFAULT_ERROR_MESSAGE, FakeOllama, Reply
from tests.fakes.telegram import FakeTelegram, FakeUser
from tests.harness import ALICE, BOB, GROUP_ID, exchange, running_bot, stored_messages

WORDS = "one two three four five six seven eight nine ten eleven twelve"


async def test_ollama_killed_mid_stream_keeps_the_words_and_answers_again_once_back(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script(Reply(text=WORDS, token_delay=0.1))
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, "count for me")
        await ollama.wait_for(lambda: ollama.chunks_sent >= 4)
        await ollama.go_down()  # the process dies: every connection dropped
        shown, problem = await tg.wait_for_bot_messages(ALICE.id, 2)
        await ollama.come_up()
        ollama.script("Back.")
        tg.user_sends(ALICE, "are you back?")
        await tg.wait_for(lambda: "Back." in tg.bot_texts(ALICE.id), timeout=10)
    assert shown.content.startswith("one two three four")
    assert "broke in the middle of the answer" in problem.content
    # The half answer is kept; the question goes to the model again as context once it is back
    # (a broken answer does not: the model would take it for something it meant to say).
    question, partial = stored_messages(db_path, ALICE.id)[:2]
    assert question[:3] == ("user", "count for me", "complete")
    assert (partial[0], partial[2]) == ("assistant", "error")
    assert partial[1].startswith("one two three four")
    history = [m["content"] for m in ollama.chat_requests[-1]["messages"]][1:]  # system first
    assert history == ["count for me", "are you back?"]


@pytest.mark.parametrize(
    ("error_after", "shown_before"),
    [(0, ""), (5, "one two three four five")],
    ids=["http-500-before-the-first-word", "error-line-mid-stream"],
)
async def test_an_ollama_error_is_told_with_its_text_and_the_words_before_it_are_kept(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path, error_after: int, shown_before: str
) -> None:
    ollama.script(
        Reply(text=WORDS, token_delay=0.05, error_after=error_after, error_message="CUDA error")
    )
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, "count")
        await tg.wait_for(lambda: any("CUDA error" in t for t in tg.bot_texts(ALICE.id)))
        tg.user_sends(ALICE, "again")
        await tg.wait_for(lambda: "Echo: again" in tg.bot_texts(ALICE.id))
    if shown_before:
        first, problem, _ = tg.bot_texts(ALICE.id)
        assert first.strip() == shown_before
    else:
        problem, _ = tg.bot_texts(ALICE.id)
    assert "CUDA error" in problem
    assert DEFAULT_ERROR_MESSAGE not in problem
    rows = stored_messages(db_path, ALICE.id)
    assert [(r[0], r[2]) for r in rows] == [
        ("user", "complete"),
        ("assistant", "error"),
        ("user", "complete"),
        ("assistant", "complete"),
    ]
    assert rows[1][1].strip() == shown_before


async def test_a_first_word_after_60_s_keeps_typing_alive_and_arrives(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    # A big model loading from disk: a minute before the first word. The default OLLAMA_TIMEOUT
    # (300 s) applies; nothing may give up sooner.
    ollama.script(Reply(text="Loaded at last.", first_token_delay=60.0))
    async with running_bot(tg, ollama, db_path, draft_interval=0.3):
        asked = time.monotonic()
        tg.user_sends(ALICE, "wake up")
        [answer] = await tg.wait_for_bot_messages(ALICE.id, timeout=75)
    assert answer.content == "Loaded at last."
    assert time.monotonic() - asked >= 60
    typing = [c.time for c in tg.calls_of("sendChatAction") if c.ok]
    assert typing[0] - asked < 1.0, "typing… shows at once"
    assert len(typing) >= 13, "refreshed all minute long"
    gaps = [later - earlier for earlier, later in itertools.pairwise(typing)]
    assert max(gaps) < 5.0, "Telegram shows an action for 5 s: refreshed before it fades"
    shown = [d.time for d in tg.drafts_of(ALICE.id) if d.text.startswith("⏳ Loading")]
    assert shown[0] - asked < 1.0, "the user is told at once that the model is loading"
    assert len(shown) >= 3, "a draft lasts 30 s: the notice is shown again while it loads"
    assert max(later - earlier for earlier, later in itertools.pairwise(shown)) < 30
    assert stored_messages(db_path, ALICE.id)[-1][:3] == (
        "assistant",
        "Loaded at last.",
        "complete",
    )


@pytest.mark.parametrize("status", [500, 502])
async def test_telegram_5xx_on_the_final_message_is_retried_and_it_arrives_once(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path, status: int
) -> None:
    ollama.script(Reply(text=WORDS, token_delay=0.02))
    description = "Internal Server Error" if status == 500 else "Bad Gateway"
    async with running_bot(tg, ollama, db_path):
        tg.fail_next("sendMessage", status, description, times=2)
        tg.user_sends(ALICE, "count")
        [answer] = await tg.wait_for_bot_messages(ALICE.id, timeout=10)
        await asyncio.sleep(0.5)
    assert answer.content == WORDS
    assert tg.bot_texts(ALICE.id) == [WORDS], "delivered once"
    assert [c.status for c in tg.calls_of("sendMessage")] == [status, status, 200]


async def test_telegram_5xx_on_edits_in_a_group_loses_no_words(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    text = " ".join(f"word{i}" for i in range(60))
    ollama.script(Reply(text=text, token_delay=0.02))
    async with running_bot(tg, ollama, db_path):
        tg.fail_next("editMessageText", 500, "Internal Server Error", times=3)
        tg.user_sends(ALICE, "@ollagram_test_bot count", chat_id=GROUP_ID, chat_type="supergroup")
        await tg.wait_for(lambda: text in tg.bot_texts(GROUP_ID), timeout=15)
    assert tg.bot_texts(GROUP_ID) == [text]
    assert [c.status for c in tg.calls_of("editMessageText")][:3] == [500, 500, 500]


async def test_a_command_reply_survives_telegram_5xx(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path):
        tg.fail_next("sendMessage", 502, "Bad Gateway")
        tg.user_sends(ALICE, "/help")
        [reply] = await tg.wait_for_bot_messages(ALICE.id, timeout=10)
    assert "/model" in reply.content
    assert [c.status for c in tg.calls_of("sendMessage")] == [502, 200]


async def test_a_telegram_timeout_is_retried_and_the_answer_arrives(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script(Reply(text=WORDS, token_delay=0.02))
    async with running_bot(tg, ollama, db_path, telegram_timeout=1.0):
        tg.stall_next("sendMessage", 2.0)  # the bot gives up after 1 s and sends again
        tg.user_sends(ALICE, "count")
        await tg.wait_for(lambda: len(tg.calls_of("sendMessage")) >= 2, timeout=10)
        await asyncio.sleep(1.5)  # the stalled call lands too
    # Telegram carried out the call the bot stopped waiting for: the answer is there, and (as
    # with any client that retries a timed-out send) may be there twice; it is never missing.
    assert tg.bot_texts(ALICE.id) in ([WORDS], [WORDS, WORDS])
    assert stored_messages(db_path, ALICE.id)[-1][:3] == ("assistant", WORDS, "complete")


async def test_a_429_storm_across_many_chats_delays_every_answer_and_loses_none(
    ollama: FakeOllama, db_path: Path
) -> None:
    users = [FakeUser(id=2000 + i, first_name=f"User{i}", language_code="en") for i in range(8)]
    answers = {user.id: f"Answer for {user.first_name}: " + WORDS for user in users}
    by_question = {f"hello from {user.first_name}": answers[user.id] for user in users}
    ollama.reply_for = lambda question: Reply(text=by_question[question], token_delay=0.03)
    async with FakeTelegram() as tg:
        async with running_bot(
            tg,
            ollama,
            db_path,
            allowed_user_ids=frozenset(u.id for u in users),
            max_concurrent_answers=8,
            stream_mode="edit",
        ):
            # Every kind of write refused with retry_after, whichever chat comes next.
            for method in ("sendMessage", "editMessageText"):
                tg.fail_next(method, 429, "Too Many Requests: retry after 1", 1, times=6)
            for user in users:
                tg.user_sends(user, f"hello from {user.first_name}")
            await tg.wait_for(
                lambda: all(answers[u.id] in tg.bot_texts(u.id) for u in users), timeout=30
            )
        refused = [c for c in tg.calls if c.status == 429]
        assert len(refused) == 12, "only the injected 429s: the bot caused none of its own"
        for call in refused:  # that chat waited its retry_after before writing again
            chat = call.params["chat_id"]
            later = [c for c in tg.calls if c.params.get("chat_id") == chat and c.time > call.time]
            writes = [c for c in later if c.method in ("sendMessage", "editMessageText")]
            assert writes, "the chat was written to again"
            assert writes[0].time - call.time >= 0.95
    for user in users:
        assert tg.bot_texts(user.id) == [answers[user.id]]
        assert stored_messages(db_path, user.id)[-1][2] == "complete"


LOCKER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("COMMIT")
"""


async def test_the_database_locked_by_another_program_delays_but_loses_nothing(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    held_s = BUSY_TIMEOUT_MS / 1000 + 2  # longer than SQLite's own busy timeout
    async with running_bot(tg, ollama, db_path):
        await exchange(tg, ALICE, "before")
        with subprocess.Popen(
            [sys.executable, "-c", LOCKER, str(db_path), str(held_s)],
            stdout=subprocess.PIPE,
            text=True,
        ) as locker:
            assert locker.stdout is not None
            assert await asyncio.to_thread(locker.stdout.readline) == "locked\n"
            locked_at = time.monotonic()
            tg.user_sends(ALICE, "during")
            tg.user_sends(BOB, "me too")
            await tg.wait_for(lambda: "Echo: during" in tg.bot_texts(ALICE.id), timeout=held_s + 10)
            await tg.wait_for(lambda: "Echo: me too" in tg.bot_texts(BOB.id), timeout=10)
            assert time.monotonic() - locked_at >= held_s - 0.5, "answered after the lock went"
    assert [r[1] for r in stored_messages(db_path, ALICE.id)] == [
        "before",
        "Echo: before",
        "during",
        "Echo: during",
    ]
    assert [r[1] for r in stored_messages(db_path, BOB.id)] == ["me too", "Echo: me too"]


async def test_a_refused_menu_edit_is_not_retried_as_if_the_network_failed(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path):
        [menu] = await exchange(tg, ALICE, "/settings")
        data = f"set:{ALICE.id}:temperature:1.5"
        tg.user_presses(ALICE, menu.message_id, data)
        await tg.wait_for(lambda: len(tg.callback_answers) == 1)
        pressed = time.monotonic()
        tg.user_presses(ALICE, menu.message_id, data)  # again: the menu stays as it is
        await tg.wait_for(lambda: len(tg.callback_answers) == 2)
        await asyncio.sleep(1.0)
    edits = tg.calls_of("editMessageText")
    assert [c.status for c in edits] == [200, 400], "'not modified' is an answer, not a failure"
    assert "not modified" in edits[1].response["description"]
    assert tg.callback_answers[1].time - pressed < 1.0, "the press was answered at once"


async def test_a_command_reply_that_timed_out_is_not_sent_twice(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path, telegram_timeout=1.0):
        tg.stall_next("sendMessage", 1.5)  # Telegram is slow, but does deliver it
        tg.user_sends(ALICE, "/help")
        await tg.wait_for_bot_messages(ALICE.id, timeout=10)
        await asyncio.sleep(2.0)
    # The note comes first: the slow reply lands after the bot stopped waiting for it.
    note, reply = tg.bot_messages(ALICE.id)
    assert note.content.startswith("Telegram is slow to take my reply.")
    assert "/model" in reply.content
    assert len(tg.calls_of("sendMessage")) == 2, "the reply was not sent again"
