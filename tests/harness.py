"""Runs the real bot against FakeTelegram and FakeOllama, over real HTTP."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bot.config import Settings, load_settings
from bot.telegram.app import build_application
from bot.telegram.serving import Webhook, running
from tests.fakes.ollama import FakeOllama
from tests.fakes.telegram import FakeTelegram, FakeUser, StoredMessage

ALICE = FakeUser(id=1001, first_name="Alice", language_code="en")
BOB = FakeUser(id=1002, first_name="Bob", language_code="en")
MALLORY = FakeUser(id=6666, first_name="Mallory", language_code="en")
ADMIN = FakeUser(id=9001, first_name="Admin", language_code="en")
GROUP_ID = -100500
MODEL = "llama3.2:latest"


def settings_for(tg: FakeTelegram, ollama: FakeOllama, db_path: Path, **overrides: Any) -> Settings:
    """Settings pointing at the fakes, paced to the fakes' (scaled) limits."""
    values: dict[str, Any] = {
        "telegram_bot_token": tg.token,
        "telegram_api_url": tg.url,
        "ollama_host": ollama.url,
        "allowed_user_ids": frozenset({ALICE.id, BOB.id}),
        "admin_user_ids": frozenset({ADMIN.id}),
        "allowed_chat_ids": frozenset({GROUP_ID}),
        "database_path": db_path,
        "edit_interval_private": 0.4,
        "edit_interval_group": 0.35,
        "draft_interval": 0.12,
        "shutdown_grace": 0.5,
        # A title is one more /api/generate request after a conversation's first answer: the
        # tests of titles turn it on, the others keep their scripted replies to themselves.
        "auto_titles": False,
    }
    values.update(overrides)
    return load_settings(None, **values)


@asynccontextmanager
async def running_bot(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path, **overrides: Any
) -> AsyncIterator[Settings]:
    """The real bot, polling FakeTelegram, until the block ends."""
    settings = settings_for(tg, ollama, db_path, **overrides)
    app = build_application(settings)
    async with running(app, poll_timeout=1.0, webhook=Webhook.from_settings(settings)):
        yield settings


def stored_messages(db_path: Path, user_id: int) -> list[tuple[str, str, str, str | None]]:
    """(role, content, status, model) of every stored message of a user, read from the file."""
    with sqlite3.connect(db_path) as db:
        rows = db.execute(
            "SELECT m.role, m.content, m.status, m.model FROM messages m"
            " JOIN conversations c ON c.id = m.conversation_id WHERE c.user_id = ? ORDER BY m.id",
            (user_id,),
        ).fetchall()
    return [(str(r[0]), str(r[1]), str(r[2]), r[3]) for r in rows]


def last_answer_figures(db_path: Path, user_id: int) -> tuple[int | None, ...]:
    """(prompt_tokens, completion_tokens, total_ns, eval_ns) of the user's last answer."""
    with sqlite3.connect(db_path) as db:
        row = db.execute(
            "SELECT m.prompt_tokens, m.completion_tokens, m.total_duration_ns, m.eval_duration_ns"
            " FROM messages m JOIN conversations c ON c.id = m.conversation_id"
            " WHERE c.user_id = ? AND m.role = 'assistant' ORDER BY m.id DESC LIMIT 1",
            (user_id,),
        ).fetchone()
    return tuple(row)


async def exchange(
    tg: FakeTelegram, user: FakeUser, text: str, replies: int = 1
) -> list[StoredMessage]:
    """`user` writes `text` in their private chat; the bot's next `replies` messages."""
    count = len(tg.bot_messages(user.id))
    tg.user_sends(user, text)
    messages = await tg.wait_for_bot_messages(user.id, count + replies)
    return messages[count:]


async def reply_to(tg: FakeTelegram, user: FakeUser, text: str) -> StoredMessage:
    """`user` writes `text` in their private chat; the bot's next message."""
    return (await exchange(tg, user, text))[0]


def labels(message: StoredMessage) -> list[str]:
    """The texts of a message's inline buttons, row by row."""
    return [key["text"] for row in message.inline_keyboard for key in row]
