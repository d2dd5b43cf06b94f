"""End to end: /model, /pull, /rm and /status against FakeTelegram and FakeOllama."""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.ollama import FakeOllama
from tests.fakes.telegram import FakeTelegram, StoredMessage
from tests.harness import ADMIN, ALICE, BOB, GROUP_ID, MODEL, running_bot

QWEN = "qwen2.5:7b-instruct-q4_K_M"
LONG_NAME = "hf.co/bartowski/Llama-3.2-3B-Instruct-GGUF:Q4_K_M"


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(group_limit=20, group_window=6.0) as fake:
        yield fake
        assert not fake.unanswered_callbacks, "every button press gets an answer"


@pytest.fixture
async def ollama() -> AsyncIterator[FakeOllama]:
    async with FakeOllama() as fake:
        fake.add_model(
            MODEL, parameter_size="3.2B", quantization_level="Q4_K_M", size=2_019_393_189
        )
        fake.add_model(QWEN, family="qwen2", parameter_size="7.6B", size=4_683_087_332)
        yield fake


def last_bot_message(tg: FakeTelegram, chat_id: int) -> StoredMessage:
    return tg.bot_messages(chat_id)[-1]


def last_text(tg: FakeTelegram, chat_id: int) -> str:
    """The newest bot message's text in that chat, "" before the bot wrote anything."""
    messages = tg.bot_messages(chat_id)
    return messages[-1].content if messages else ""


async def ask_menu(tg: FakeTelegram, user_id: int = ALICE.id) -> StoredMessage:
    count = len(tg.bot_messages(user_id))
    tg.user_sends(ALICE if user_id == ALICE.id else ADMIN, "/model")
    messages = await tg.wait_for_bot_messages(user_id, count + 1)
    return messages[-1]


def button(message: StoredMessage, label_part: str) -> str:
    for row in message.inline_keyboard:
        for key in row:
            if label_part in key["text"]:
                return str(key["callback_data"])
    raise AssertionError(f"no button with {label_part!r} in {message.inline_keyboard}")


async def test_model_keyboard_switches_and_the_choice_survives_a_restart(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path):
        menu = await ask_menu(tg)
        labels = sorted(row[0]["text"] for row in menu.inline_keyboard)
        # Ollama lists the newest model first; with no DEFAULT_MODEL that one is everyone's.
        assert labels == [
            "llama3.2:latest · 3.2B Q4_K_M · 2.0 GB",
            f"✅ {QWEN} · 7.6B Q4_0 · 4.7 GB",
        ]
        tg.user_presses(ALICE, menu.message_id, button(menu, MODEL))
        await tg.wait_for(lambda: any("✅ llama3.2" in r[0]["text"] for r in menu.inline_keyboard))
        assert any(MODEL in (a.text or "") for a in tg.callback_answers)
        tg.user_sends(ALICE, "hello")
        await tg.wait_for(lambda: len(ollama.chat_requests) == 1)
    assert ollama.chat_requests[0]["model"] == MODEL
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, "/start")
        await tg.wait_for(lambda: "Hello Alice" in last_text(tg, ALICE.id))
        assert MODEL in last_bot_message(tg, ALICE.id).content
        tg.user_sends(ALICE, "again")
        await tg.wait_for(lambda: len(ollama.chat_requests) == 2)
    assert ollama.chat_requests[1]["model"] == MODEL


async def test_model_by_name_and_by_the_articles_short_names(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.add_model("mistral:7b-instruct-v0.2-q8_0", family="llama")
    async with running_bot(tg, ollama, db_path):
        for typed, expected in (
            ("mistral", "mistral:7b-instruct-v0.2-q8_0"),
            ("qwen", QWEN),
            ("llama3.2", MODEL),
        ):
            count = len(tg.bot_messages(ALICE.id))
            tg.user_sends(ALICE, f"/model {typed}")
            [*_, reply] = await tg.wait_for_bot_messages(ALICE.id, count + 1)
            assert reply.content == f"Now answering with {expected}."
        tg.user_sends(ALICE, "/model gemma")
        [*_, reply] = await tg.wait_for_bot_messages(ALICE.id, 4)
    assert "gemma is not installed" in reply.content
    assert "Ask an admin" in reply.content
    assert reply.inline_keyboard == [], "only admins are offered a pull"
    assert ollama.pull_requests == []


async def test_long_names_fit_callback_data_and_many_models_page(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.add_model(LONG_NAME)
    for i in range(17):
        ollama.add_model(f"tiny{i:02}:1b", size=700_000_000)
    async with running_bot(tg, ollama, db_path):
        menu = await ask_menu(tg)
        first_page = [row[0]["text"] for row in menu.inline_keyboard[:-1]]
        assert len(first_page) == 8
        assert "page 1 of 3" in menu.content
        for page in (2, 3):
            tg.user_presses(ALICE, menu.message_id, button(menu, "▶"))
            await tg.wait_for(lambda: f"page {page} of 3" in (menu.text or ""))  # noqa: B023
            if any(LONG_NAME in row[0]["text"] for row in menu.inline_keyboard):
                break
        all_data = [key["callback_data"] for row in menu.inline_keyboard for key in row]
        assert all(len(data.encode()) <= 64 for data in all_data)
        tg.user_presses(ALICE, menu.message_id, button(menu, LONG_NAME))
        await tg.wait_for(
            lambda: any(f"✅ {LONG_NAME}" in r[0]["text"] for r in menu.inline_keyboard)
        )
        tg.user_sends(ALICE, "hi")
        await tg.wait_for(lambda: len(ollama.chat_requests) == 1)
    assert ollama.chat_requests[0]["model"] == LONG_NAME


async def test_pull_shows_growing_progress_then_the_model_is_listed(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.pullable["phi3:mini"] = 2_200_000_000
    ollama.pull_step_delay = 0.1
    ollama.pull_progress_steps = 6
    async with running_bot(tg, ollama, db_path, pull_progress_interval=0.6):
        tg.user_sends(ADMIN, "/pull phi3:mini")
        await tg.wait_for(lambda: "is installed" in last_text(tg, ADMIN.id), timeout=15)
        progress = last_bot_message(tg, ADMIN.id)
        menu = await ask_menu(tg, ADMIN.id)
    percents = [int(p) for text in progress.edits for p in re.findall(r"(\d+)%", text)]
    assert len(percents) >= 2, progress.edits
    assert percents == sorted(percents), "percent only grows"
    assert any(re.search(r"\d of 2,200 MB · ", text) for text in progress.edits), progress.edits
    assert progress.content == "phi3:mini is installed. Choose it with /model."
    assert progress.inline_keyboard == [], "the Cancel button is gone"
    edits = [c.time for c in tg.calls_of("editMessageText") if "Pulling" in c.params["text"]]
    assert all(b - a >= 0.59 for a, b in itertools.pairwise(edits)), "edited at most every 0.6 s"
    assert any("phi3:mini" in row[0]["text"] for row in menu.inline_keyboard)
    assert tg.too_many_requests == 0


async def test_pull_error_is_ollamas_own_text(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path, pull_progress_interval=0.3):
        tg.user_sends(ADMIN, "/pull nosuchmodel:7b")
        await tg.wait_for(lambda: "failed" in last_text(tg, ADMIN.id))
    assert last_bot_message(tg, ADMIN.id).content == (
        "Pulling nosuchmodel:7b failed: pull model manifest: file does not exist"
    )


async def test_pull_cancel_and_a_second_pull_of_the_same_model_is_refused(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.pullable["big:70b"] = 40_000_000_000
    ollama.pull_step_delay = 0.3
    ollama.pull_progress_steps = 50
    async with running_bot(tg, ollama, db_path, pull_progress_interval=0.3):
        tg.user_sends(ADMIN, "/pull big:70b")
        [started] = await tg.wait_for_bot_messages(ADMIN.id)
        await tg.wait_for(lambda: len(ollama.pull_requests) == 1)
        tg.user_sends(ADMIN, "/pull big:70b")
        await tg.wait_for(lambda: "already being pulled" in last_text(tg, ADMIN.id))
        tg.user_presses(ADMIN, started.message_id, button(started, "Cancel"))
        await tg.wait_for(lambda: "cancelled" in (started.text or ""))
        await tg.wait_for(lambda: ollama.cancelled_pulls == 1)
    assert started.content == "Pulling big:70b was cancelled."
    assert len(ollama.pull_requests) == 1
    assert not ollama.has_model("big:70b")


async def test_invalid_names_never_reach_ollama(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path):
        for name in ("bad name!", "../../etc/passwd", "a:b:c", "x" * 201):
            count = len(tg.bot_messages(ADMIN.id))
            tg.user_sends(ADMIN, f"/pull {name}")
            [*_, reply] = await tg.wait_for_bot_messages(ADMIN.id, count + 1)
            assert "is not a model name Ollama accepts" in reply.content
    assert ollama.pull_requests == []


async def test_not_installed_model_offers_admins_a_pull_button(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.pullable["gemma:2b"] = 1_600_000_000
    async with running_bot(tg, ollama, db_path, pull_progress_interval=0.3):
        tg.user_sends(ADMIN, "/model gemma:2b")
        [offer] = await tg.wait_for_bot_messages(ADMIN.id)
        assert "Pull it?" in offer.content
        tg.user_presses(ADMIN, offer.message_id, button(offer, "Pull gemma:2b"))
        await tg.wait_for(lambda: "is installed" in last_text(tg, ADMIN.id))
    assert ollama.has_model("gemma:2b")


async def test_rm_confirm_cancel_and_missing(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ADMIN, f"/rm {QWEN}")
        [question] = await tg.wait_for_bot_messages(ADMIN.id)
        assert f"Remove {QWEN}" in question.content
        tg.user_presses(ADMIN, question.message_id, button(question, "Keep it"))
        await tg.wait_for(lambda: (question.text or "").startswith("Kept"))
        assert ollama.has_model(QWEN)

        tg.user_sends(ADMIN, f"/rm {QWEN}")
        [_, question] = await tg.wait_for_bot_messages(ADMIN.id, 2)
        tg.user_presses(ADMIN, question.message_id, button(question, "Remove"))
        await tg.wait_for(lambda: (question.text or "") == f"Removed {QWEN}.")
        assert not ollama.has_model(QWEN)

        tg.user_sends(ADMIN, "/rm ghost:1b")
        [*_, question] = await tg.wait_for_bot_messages(ADMIN.id, 3)
        tg.user_presses(ADMIN, question.message_id, button(question, "Remove"))
        await tg.wait_for(lambda: "There is no model ghost:1b" in (question.text or ""))


async def test_users_of_a_removed_model_fall_back_with_a_notice(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, f"/model {QWEN}")
        await tg.wait_for_bot_messages(ALICE.id)
        tg.user_sends(ADMIN, f"/rm {QWEN}")
        [question] = await tg.wait_for_bot_messages(ADMIN.id)
        tg.user_presses(ADMIN, question.message_id, button(question, "Remove"))
        await tg.wait_for(lambda: (question.text or "").startswith("Removed"))
        tg.user_sends(ALICE, "are you there?")
        _, notice, answer = await tg.wait_for_bot_messages(ALICE.id, 3)
        tg.user_sends(ALICE, "and now?")
        await tg.wait_for_bot_messages(ALICE.id, 4)
    assert f"Your model {QWEN} is no longer installed, so {MODEL} answers" in notice.content
    assert answer.content == "Echo: are you there?"
    assert [r["model"] for r in ollama.chat_requests] == [MODEL, MODEL]
    assert len(tg.bot_messages(ALICE.id)) == 4, "the notice came once"


async def test_non_admins_cannot_pull_or_remove(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.pullable["phi3:mini"] = 1
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(BOB, "/pull phi3:mini")
        tg.user_sends(BOB, f"/rm {QWEN}")
        replies = await tg.wait_for_bot_messages(BOB.id, 2)
    assert all(r.content == "Only admins can install or remove models." for r in replies)
    assert ollama.pull_requests == []
    assert not [r for r in ollama.requests if r.path == "/api/delete"]


async def test_status_with_ollama_up_and_down(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, "warm up")
        await tg.wait_for_bot_messages(ALICE.id)
        tg.user_sends(ALICE, "/status")
        [_, status] = await tg.wait_for_bot_messages(ALICE.id, 2)
        tg.user_sends(ADMIN, "/status")
        [admin_status] = await tg.wait_for_bot_messages(ADMIN.id)
        await ollama.go_down()
        tg.user_sends(ALICE, "/status")
        [*_, down] = await tg.wait_for_bot_messages(ALICE.id, 3)
    assert f"Ollama at {ollama.url}: running, version 0.12.6" in status.content
    assert "Installed models: 2" in status.content
    loaded = rf"Loaded now: {re.escape(QWEN)} \(\d+\.\d GB in memory, \d+\.\d GB on the GPU, "
    assert re.search(loaded + r"unloads in \d:\d\d\)", status.content), "the model that answered"
    assert re.search(r"database \d+\.\d KB", status.content)
    assert "Users:" not in status.content
    assert "Users: 1" in admin_status.content
    assert f"Ollama at {ollama.url}: not reachable" in down.content
    assert "Bot running for" in down.content


async def test_a_double_pull_gets_one_progress_message(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.pullable["phi3:mini"] = 2_200_000_000
    ollama.pull_step_delay = 0.05
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ADMIN, "/pull phi3:mini")
        tg.user_sends(ADMIN, "/pull phi3:mini")
        await tg.wait_for(
            lambda: any("is installed" in m.content for m in tg.bot_messages(ADMIN.id))
        )
    texts = [m.content for m in tg.bot_messages(ADMIN.id)]
    assert sorted(texts) == [
        "phi3:mini is already being pulled.",
        "phi3:mini is installed. Choose it with /model.",
    ]
    assert len(ollama.pull_requests) == 1


async def test_a_prefix_of_an_installed_name_is_not_that_model(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ADMIN, "/model llama3")
        [reply] = await tg.wait_for_bot_messages(ADMIN.id)
    assert reply.content.startswith("llama3 is not installed")
    assert button(reply, "Pull llama3")


async def test_others_cannot_press_an_admins_buttons_in_a_group(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.pullable["big:70b"] = 40_000_000_000
    ollama.pull_step_delay = 0.3
    ollama.pull_progress_steps = 50
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(
            ADMIN, f"/rm@ollagram_test_bot {QWEN}", chat_id=GROUP_ID, chat_type="supergroup"
        )
        tg.user_sends(
            ADMIN, "/model@ollagram_test_bot gemma:2b", chat_id=GROUP_ID, chat_type="supergroup"
        )
        tg.user_sends(
            ADMIN, "/pull@ollagram_test_bot big:70b", chat_id=GROUP_ID, chat_type="supergroup"
        )
        await tg.wait_for(lambda: len(tg.bot_messages(GROUP_ID)) == 3)
        await tg.wait_for(lambda: len(ollama.pull_requests) == 1)
        by_text = {m.content.split()[0]: m for m in tg.bot_messages(GROUP_ID)}
        question, offer, progress = by_text["Remove"], by_text["gemma:2b"], by_text["Pulling"]
        tg.user_presses(ALICE, question.message_id, button(question, "Remove"), GROUP_ID)
        tg.user_presses(ALICE, offer.message_id, button(offer, "Pull gemma"), GROUP_ID)
        tg.user_presses(ALICE, progress.message_id, button(progress, "Cancel"), GROUP_ID)
        await tg.wait_for(lambda: len(tg.callback_answers) == 3)
        tg.user_presses(ADMIN, progress.message_id, button(progress, "Cancel"), GROUP_ID)
        await tg.wait_for(lambda: "cancelled" in (progress.text or ""))
    refusals = tg.callback_answers[:3]
    assert all(
        a.text == "Only admins can install or remove models." and a.show_alert for a in refusals
    )
    assert ollama.has_model(QWEN)
    assert [r["model"] for r in ollama.pull_requests] == ["big:70b"]


async def test_rm_with_an_invalid_name_sends_nothing(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ADMIN, "/rm ../../etc")
        [reply] = await tg.wait_for_bot_messages(ADMIN.id)
    assert reply.content.startswith("Usage: /rm NAME")
    assert not [r for r in ollama.requests if r.path == "/api/delete"]


async def test_page_button_while_ollama_is_down_is_answered_with_the_reason(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    for i in range(10):
        ollama.add_model(f"tiny{i}:1b")
    async with running_bot(tg, ollama, db_path):
        menu = await ask_menu(tg)
        await ollama.go_down()
        tg.user_presses(ALICE, menu.message_id, button(menu, "▶"))
        await tg.wait_for(lambda: bool(tg.callback_answers))
    [reply] = tg.callback_answers
    assert reply.show_alert
    assert "can't reach Ollama" in (reply.text or "")


async def test_ollama_host_written_as_ollama_reads_it(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    bare = ollama.url.removeprefix("http://")  # "127.0.0.1:PORT", as in Ollama's own docs
    async with running_bot(tg, ollama, db_path, ollama_host=bare):
        tg.user_sends(ALICE, "hi")
        await tg.wait_for_bot_messages(ALICE.id)
        tg.user_sends(ALICE, "/status")
        [_, status] = await tg.wait_for_bot_messages(ALICE.id, 2)
    assert "running, version 0.12.6" in status.content
