"""End to end: /role (keyboard, switching, custom and file roles) against the fakes."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.roles import BUILTIN_ROLES
from tests.fakes.ollama import FakeOllama
from tests.fakes.telegram import FakeTelegram
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

ASSISTANT_PROMPT = BUILTIN_ROLES["assistant"].prompt


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake
        assert not fake.unanswered_callbacks, "every button press gets an answer"


@pytest.fixture
async def ollama() -> AsyncIterator[FakeOllama]:
    async with FakeOllama() as fake:
        fake.add_model(MODEL, context_length=8192)
        yield fake


def stored_roles(db_path: Path) -> list[tuple[str, int | None]]:
    with sqlite3.connect(db_path) as db:
        return [(str(r[0]), r[1]) for r in db.execute("SELECT name, owner_id FROM roles")]


async def test_role_keyboard_switches_wraps_and_starts_a_fresh_conversation(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path):
        await reply_to(tg, ALICE, "remember the word banana")
        menu = await reply_to(tg, ALICE, "/role")
        assert labels(menu) == ["✅ assistant", *list(BUILTIN_ROLES)[1:]]
        assert "Your role: assistant" in menu.content
        tg.user_presses(ALICE, menu.message_id, f"role:{ALICE.id}:use:supervisor")
        await tg.wait_for(lambda: "✅ supervisor" in labels(tg.message(ALICE.id, menu.message_id)))
        edited = tg.message(ALICE.id, menu.message_id)
        assert "Now answering as supervisor" in edited.content
        assert "fresh conversation" in edited.content
        assert "Explain `%s` like I'm a 5 year old." in edited.content, "the prompt is shown"
        assert any("supervisor" in (a.text or "") for a in tg.callback_answers)
        await reply_to(tg, ALICE, "photosynthesis")
    # The template wraps the message, no system prompt, and the old conversation is not sent.
    assert ollama.chat_requests[-1]["messages"] == [
        {"role": "user", "content": "Explain `photosynthesis` like I'm a 5 year old."}
    ]
    async with running_bot(tg, ollama, db_path):
        start = await reply_to(tg, ALICE, "/start")
        assert "Role: supervisor" in start.content, "the choice survives a restart"
        await reply_to(tg, ALICE, "gravity")
    # The template wraps every message of its conversation, the earlier ones too.
    assert ollama.chat_requests[-1]["messages"][0]["content"] == (
        "Explain `photosynthesis` like I'm a 5 year old."
    )
    assert stored_messages(db_path, ALICE.id)[-2][1] == "gravity", "stored as written"
    assert ollama.chat_requests[-1]["messages"][-1]["content"] == (
        "Explain `gravity` like I'm a 5 year old."
    )


async def test_private_roles_are_invisible_to_others_and_system_prompts_lead(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path):
        added = await reply_to(tg, ALICE, "/role add pirate Answer like a pirate.\nBe brief.")
        assert "only you see it" in added.content
        switched = await reply_to(tg, ALICE, "/role Pirate")
        assert "Now answering as pirate" in switched.content
        await reply_to(tg, ALICE, "hello")
        bob_menu = await reply_to(tg, BOB, "/role")
        bob_try = await reply_to(tg, BOB, "/role pirate")
        bob_delete = await reply_to(tg, BOB, "/role del pirate")
        alice_menu = await reply_to(tg, ALICE, "/role")
        deleted = await reply_to(tg, ALICE, "/role del pirate")
        count = len(tg.bot_messages(ALICE.id))
        tg.user_sends(ALICE, "hello again")
        notice, _ = (await tg.wait_for_bot_messages(ALICE.id, count + 2))[count:]
    assert ollama.chat_requests[0]["messages"] == [
        {"role": "system", "content": "Answer like a pirate.\nBe brief."},
        {"role": "user", "content": "hello"},
    ]
    assert "🔒 pirate" not in labels(bob_menu)
    assert not any("pirate" in label for label in labels(bob_menu))
    assert "There is no role called pirate" in bob_try.content
    assert "You have no role called pirate" in bob_delete.content
    assert "✅ 🔒 pirate" in labels(alice_menu)
    assert "Deleted your role pirate" in deleted.content
    assert notice.content == "Your role pirate was deleted, so you are back to assistant. " + (
        "/role lists the roles."
    )
    # Its user falls back to the default role once it is gone.
    assert ollama.chat_requests[-1]["messages"][0] == {
        "role": "system",
        "content": ASSISTANT_PROMPT,
    }
    assert stored_roles(db_path) == []


async def test_only_admins_manage_shared_roles(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path):
        added = await reply_to(tg, ADMIN, "/role add reviewer You review code. Be strict.")
        alice_menu = await reply_to(tg, ALICE, "/role")
        alice_labels = labels(alice_menu)
        alice_delete = await reply_to(tg, ALICE, "/role del reviewer")
        alice_same_name = await reply_to(tg, ALICE, "/role add reviewer Mine now")
        builtin = await reply_to(tg, ADMIN, "/role add supervisor Something else")
        builtin_delete = await reply_to(tg, ADMIN, "/role del supervisor")
        tg.user_presses(ALICE, alice_menu.message_id, f"role:{ALICE.id}:use:reviewer")
        await tg.wait_for(lambda: len(tg.callback_answers) == 1)
        await reply_to(tg, ALICE, "def f(): pass")
        admin_delete = await reply_to(tg, ADMIN, "/role del reviewer")
        gone = await reply_to(tg, BOB, "/role reviewer")
    assert "everyone can choose it" in added.content
    assert "👥 reviewer" in alice_labels
    assert "Shared roles can only be deleted by admins" in alice_delete.content
    assert "already a role called reviewer" in alice_same_name.content
    assert "built-in role" in builtin.content
    assert "built-in role" in builtin_delete.content
    assert ollama.chat_requests[-1]["messages"][0] == {
        "role": "system",
        "content": "You review code. Be strict.",
    }
    assert "Deleted the shared role reviewer" in admin_delete.content
    assert "There is no role called reviewer" in gone.content


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/role add Bad!name Be nice.", "can't be a role name"),
        ("/role add " + "n" * 33 + " Be nice.", "can't be a role name"),
        ("/role add -dash Be nice.", "can't be a role name"),
        ("/role add long " + "x" * 2001, "at most 2000 characters"),
        ("/role add lonely", "Usage: /role add NAME PROMPT"),
        ("/role del", "Usage: /role del NAME"),
        ("/role nosuchrole", "There is no role called nosuchrole"),
    ],
)
async def test_invalid_role_commands_are_refused_and_store_nothing(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path, command: str, expected: str
) -> None:
    async with running_bot(tg, ollama, db_path):
        reply = await reply_to(tg, ALICE, command)
    assert expected in reply.content
    assert stored_roles(db_path) == []
    assert ollama.chat_requests == []


async def test_roles_file_is_loaded_at_start_and_can_be_the_default(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path, tmp_path: Path
) -> None:
    roles_file = tmp_path / "roles.toml"
    roles_file.write_text(
        '[roles]\nfrench = "Translate `%s` to French."\n\n'
        '[roles.haiku]\nprompt = """You answer in haiku.\nNever explain."""\n',
        encoding="utf-8",
    )
    async with running_bot(tg, ollama, db_path, roles_file=roles_file, default_role="haiku"):
        await reply_to(tg, ALICE, "the sea")
        menu = await reply_to(tg, ALICE, "/role")
        delete = await reply_to(tg, ADMIN, "/role del french")
        await reply_to(tg, ALICE, "/role french")
        await reply_to(tg, ALICE, "good morning")
    assert ollama.chat_requests[0]["messages"][0] == {
        "role": "system",
        "content": "You answer in haiku.\nNever explain.",
    }
    assert {"french", "✅ haiku"} <= set(labels(menu))
    assert "can't be changed here" in delete.content
    assert ollama.chat_requests[-1]["messages"] == [
        {"role": "user", "content": "Translate `good morning` to French."}
    ]


async def test_a_switch_is_ordered_before_a_message_sent_right_after_it(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path):
        menu = await reply_to(tg, ALICE, "/role")
        tg.user_sends(ALICE, "/role supervisor")
        tg.user_sends(ALICE, "gravity")  # not waiting for the switch to be confirmed
        tg.user_presses(ALICE, menu.message_id, f"role:{ALICE.id}:use:english_translator")
        tg.user_sends(ALICE, "bonjour")
        await ollama.wait_for(lambda: len(ollama.chat_requests) == 2)
        await tg.wait_for(lambda: len(tg.bot_messages(ALICE.id)) == 4)
    first, second = ollama.chat_requests
    assert first["messages"] == [
        {"role": "user", "content": "Explain `gravity` like I'm a 5 year old."}
    ]
    assert second["messages"] == [{"role": "user", "content": "Translate `bonjour` to English."}]
    confirmation = next(m for m in tg.bot_messages(ALICE.id) if "supervisor." in m.content)
    answer = tg.bot_messages(ALICE.id)[-2:]
    assert confirmation.message_id < min(m.message_id for m in answer), "confirmed first"


async def test_in_a_group_the_menu_hides_private_roles_and_answers_only_its_owner(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path):
        await reply_to(tg, ALICE, "/role add diary Keep my secrets: be discreet.")
        await reply_to(tg, ALICE, "/role diary")
        tg.user_sends(ALICE, "/role", chat_id=GROUP_ID, chat_type="supergroup")
        [menu] = await tg.wait_for_bot_messages(GROUP_ID)
        menu_text, menu_labels = menu.content, labels(menu)
        tg.user_presses(BOB, menu.message_id, f"role:{ALICE.id}:use:supervisor", chat_id=GROUP_ID)
        await tg.wait_for(lambda: len(tg.callback_answers) == 1)
        [refusal] = tg.callback_answers
        await reply_to(tg, BOB, "/start")
    assert "Your role: diary" in menu_text
    assert "be discreet" not in menu_text, "a private prompt is not shown to the group"
    assert not any("diary" in label for label in menu_labels)
    assert refusal.show_alert
    assert "belongs to someone else" in (refusal.text or "")
    assert "Role: assistant" in tg.bot_messages(BOB.id)[-1].content, "Bob's role is unchanged"


async def test_long_unknown_names_are_quoted_back_short(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path):
        reply = await reply_to(tg, ALICE, "/role " + "x" * 3000)
    assert reply.content.startswith("There is no role called " + "x" * 63 + "…")
    assert len(reply.content) < 200
