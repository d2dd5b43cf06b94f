"""Store: migrations, pragmas, and what it keeps of a conversation."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.errors import StoreUnavailable
from bot.records import AnswerFigures, UserProfile, UserSettings
from bot.store import MIGRATIONS, Store


async def test_fresh_database_is_migrated_in_wal_with_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "db.sqlite3"
    async with await Store.open(path) as store:
        assert await store.schema_version() == len(MIGRATIONS)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"schema_version", "users", "user_settings", "conversations", "messages"} <= tables


async def test_reopening_applies_nothing_twice(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    async with await Store.open(path):
        pass
    async with await Store.open(path) as store:
        assert await store.schema_version() == len(MIGRATIONS)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM schema_version").fetchone() == (len(MIGRATIONS),)


async def test_answer_keeps_status_model_and_ollamas_figures(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    async with await Store.open(path) as store:
        await store.remember_user(UserProfile(id=7, first_name="Ann", language_code="zh-hans"))
        conversation = await store.current_conversation(chat_id=7, user_id=7)
        await store.add_message(conversation, "user", "你好")
        await store.add_message(
            conversation,
            "assistant",
            "Hello!",
            model="qwen:7b",
            status="stopped",
            figures=AnswerFigures(
                prompt_tokens=12, completion_tokens=3, total_duration_ns=9, eval_duration_ns=5
            ),
        )
        recent = await store.recent_messages(conversation, limit=10)
        assert [(m.role, m.content, m.status) for m in recent] == [
            ("user", "你好", "complete"),
            ("assistant", "Hello!", "stopped"),
        ]
        assert await store.current_conversation(7, 7) == conversation
        fresh = await store.new_conversation(7, 7)
        assert fresh != conversation
        assert await store.current_conversation(7, 7) == fresh
        assert await store.recent_messages(fresh, limit=10) == []
    with sqlite3.connect(path) as db:
        row = db.execute(
            "SELECT model, prompt_tokens, completion_tokens, total_duration_ns, eval_duration_ns"
            " FROM messages WHERE role = 'assistant'"
        ).fetchone()
    assert row == ("qwen:7b", 12, 3, 9, 5)


async def test_recent_messages_are_the_newest_in_order(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "db.sqlite3") as store:
        await store.remember_user(UserProfile(id=1))
        conversation = await store.current_conversation(1, 1)
        for i in range(10):
            await store.add_message(conversation, "user", f"m{i}")
        recent = await store.recent_messages(conversation, limit=3)
    assert [m.content for m in recent] == ["m7", "m8", "m9"]


async def test_a_path_that_cannot_be_a_database_is_a_clear_error(tmp_path: Path) -> None:
    not_a_db = tmp_path / "garbage.sqlite3"
    not_a_db.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreUnavailable, match=r"garbage\.sqlite3"):
        await Store.open(not_a_db)


async def test_a_version_1_database_is_upgraded_keeping_its_messages(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(MIGRATIONS[0])
        db.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at REAL)")
        db.execute("INSERT INTO schema_version VALUES (1, 0)")
        db.execute("INSERT INTO users (id, first_seen, last_seen) VALUES (1, 0, 0)")
        db.execute("INSERT INTO conversations (chat_id, user_id, started_at) VALUES (1, 1, 0)")
        db.execute(
            "INSERT INTO messages (conversation_id, role, content, created_at)"
            " VALUES (1, 'user', 'kept across the upgrade', 0)"
        )
    async with await Store.open(path) as store:
        assert await store.schema_version() == len(MIGRATIONS)
        [old] = await store.recent_messages(1, limit=5)
        assert old.content == "kept across the upgrade"
        answer = await store.start_answer(1, "qwen:7b")
        await store.save_partial(answer, "half an ans")
        recent = await store.recent_messages(1, limit=5)
    assert [(m.content, m.status) for m in recent][-1] == ("half an ans", "interrupted")
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


async def test_roles_are_unique_per_owner_and_shared_ones_are_seen_by_all(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "db.sqlite3") as store:
        for user_id in (1, 2):
            await store.remember_user(UserProfile(id=user_id))
        assert await store.add_role("critic", "Shared critic", None, created_by=9)
        assert not await store.add_role("critic", "Again", None, created_by=9)
        assert await store.add_role("critic", "Alice's own", 1, created_by=1)
        assert not await store.add_role("critic", "Alice twice", 1, created_by=1)
        assert await store.add_role("poet", "Bob's own", 2, created_by=2)
        alice = [(r.name, r.prompt, r.owner_id) for r in await store.roles_for(1)]
        bob = [(r.name, r.owner_id) for r in await store.roles_for(2)]
        assert alice == [("critic", "Shared critic", None), ("critic", "Alice's own", 1)]
        assert bob == [("critic", None), ("poet", 2)]
        assert not await store.delete_role("poet", 1), "not Alice's to delete"
        assert await store.delete_role("critic", None)
        assert [r.prompt for r in await store.roles_for(1)] == ["Alice's own"]


async def test_settings_are_changed_one_at_a_time_and_reset(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "db.sqlite3") as store:
        await store.remember_user(UserProfile(id=1))
        assert await store.user_settings(1) == UserSettings()
        await store.set_model(1, "qwen3:8b")
        await store.set_setting(1, "temperature", 1.2)
        await store.set_setting(1, "think", False)
        await store.set_setting(1, "footer", True)
        await store.set_compare_models(1, ["a:1b", "b:2b"])
        assert await store.user_settings(1) == UserSettings(
            model="qwen3:8b",
            temperature=1.2,
            think=False,
            footer=True,
            compare_models=("a:1b", "b:2b"),
        )
        await store.reset_generation_settings(1)
        assert await store.user_settings(1) == UserSettings(
            model="qwen3:8b", compare_models=("a:1b", "b:2b")
        )
