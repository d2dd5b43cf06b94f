"""End to end: /settings (temperature, context, thinking, footer) and thinking models."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.render import utf16_len
from tests.fakes.ollama import FakeOllama, Reply
from tests.fakes.telegram import FakeTelegram, StoredMessage
from tests.harness import (
    ALICE,
    BOB,
    GROUP_ID,
    MODEL,
    exchange,
    labels,
    running_bot,
    stored_messages,
)

THINKER = "qwen3:8b"
THOUGHT = "The user asks for six times seven. Six sevens: 7, 14, 21, 28, 35, 42."


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(group_limit=20, group_window=6.0) as fake:
        yield fake
        assert not fake.unanswered_callbacks, "every button press gets an answer"


@pytest.fixture
async def ollama() -> AsyncIterator[FakeOllama]:
    async with FakeOllama() as fake:
        fake.add_model(THINKER, capabilities=("completion", "thinking"), context_length=40960)
        fake.add_model(MODEL, context_length=8192)  # newest: everyone's default
        yield fake


async def press(tg: FakeTelegram, menu: StoredMessage, data: str) -> None:
    """Press a button of `menu` and wait until the press is answered and the menu redrawn."""
    answered, edits = len(tg.callback_answers), menu.edit_count
    tg.user_presses(ALICE, menu.message_id, data)
    await tg.wait_for(lambda: len(tg.callback_answers) > answered and menu.edit_count > edits)


async def test_settings_buttons_reach_the_request_and_persist(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script("plain", Reply(text="with a footer", token_delay=0.02))
    async with running_bot(tg, ollama, db_path):
        [menu] = await exchange(tg, ALICE, "/settings")
        shown = labels(menu)
        assert "✅ 0.7" in shown
        # Context presets stop at the model's 8192; a model that cannot think gets no switch.
        assert [label for label in shown if label.rstrip("K").lstrip("✅ ").isdigit()] == [
            "2K",
            "4K",
            "✅ 8K",
        ]
        assert not any("Thinking" in label for label in shown)
        assert "Footer: off" in shown
        assert "Temperature: 0.7 (default)" in menu.content
        assert "this model does not think" in menu.content
        await press(tg, menu, f"set:{ALICE.id}:temperature:1.5")
        await press(tg, menu, f"set:{ALICE.id}:context:4096")
        assert "✅ 1.5" in labels(menu)
        assert "✅ 4K" in labels(menu)
        assert "Temperature: 1.5 (0.0 exact" in menu.content
        await exchange(tg, ALICE, "hello")
        await press(tg, menu, f"set:{ALICE.id}:footer:on")
        assert "Footer: on" in labels(menu)
        [answer] = await exchange(tg, ALICE, "hello again")
    # The context setting limits the history sent; the runner's window stays NUM_CTX (8192),
    # so no other user's setting makes Ollama reload the model.
    assert ollama.chat_requests[0]["options"] == {
        "temperature": 1.5,
        "num_ctx": 8192,
        "num_predict": 4096,
    }
    assert "think" not in ollama.chat_requests[0], "never sent to a model that cannot think"
    body, footer = answer.content.split("\n\n")
    assert body == "with a footer"
    assert re.fullmatch(rf"{re.escape(MODEL)} · \d+\.\d tokens/s", footer), footer
    assert {"type": "italic", "offset": len(body) + 2, "length": len(footer)} in answer.entities
    assert stored_messages(db_path, ALICE.id)[-1][1] == "with a footer", "stored without it"
    async with running_bot(tg, ollama, db_path):
        await exchange(tg, ALICE, "after a restart")
        [bob_menu] = await exchange(tg, BOB, "/settings")
    assert ollama.chat_requests[-1]["options"] == {
        "temperature": 1.5,
        "num_ctx": 8192,
        "num_predict": 4096,
    }
    assert "✅ 0.7" in labels(bob_menu), "settings are per user"


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/settings temperature 2.5", "temperature must be between 0.0 and 2.0."),
        ("/settings temperature -0.1", "temperature must be between 0.0 and 2.0."),
        ("/settings temperature warm", "temperature must be between 0.0 and 2.0."),
        ("/settings context 100000", "context must be between 256 and 8192."),
        ("/settings context 100", "context must be between 256 and 8192."),
        ("/settings footer maybe", "footer is on or off."),
        ("/settings thinking on", "Your model does not think"),
        ("/settings colour blue", "There is no setting 'colour'"),
        ("/settings temperature", "Usage: /settings NAME VALUE"),
    ],
)
async def test_out_of_range_values_are_refused_with_the_range(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path, command: str, expected: str
) -> None:
    async with running_bot(tg, ollama, db_path):
        [refusal] = await exchange(tg, ALICE, command)
        await exchange(tg, ALICE, "hi")
    assert refusal.content == expected or expected in refusal.content
    assert ollama.chat_requests[0]["options"] == {
        "temperature": 0.7,
        "num_ctx": 8192,
        "num_predict": 4096,
    }


async def test_typed_values_and_reset(tg: FakeTelegram, ollama: FakeOllama, db_path: Path) -> None:
    async with running_bot(tg, ollama, db_path):
        [saved] = await exchange(tg, ALICE, "/settings temperature 0,25")
        await exchange(tg, ALICE, "/settings context 6k")
        await exchange(tg, ALICE, "one")
        [reset] = await exchange(tg, ALICE, "/settings reset")
        await exchange(tg, ALICE, "two")
    assert saved.content.startswith("Saved.")
    assert "Temperature: 0.2" in saved.content  # 0.25 shown with one decimal
    assert ollama.chat_requests[0]["options"] == {
        "temperature": 0.25,
        "num_ctx": 8192,  # the runner's window; 6k of it is this user's history
        "num_predict": 4096,
    }
    assert reset.content.startswith("All settings are back to the defaults.")
    assert ollama.chat_requests[1]["options"] == {
        "temperature": 0.7,
        "num_ctx": 8192,
        "num_predict": 4096,
    }


async def test_thinking_shows_in_a_collapsed_quote_above_the_answer_and_is_not_history(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script(
        Reply(thinking=THOUGHT, text="**42**", token_delay=0.04),
        Reply(thinking="Again.", text="Still 42."),
        "No thinking this time.",
    )
    async with running_bot(tg, ollama, db_path):
        await exchange(tg, ALICE, f"/model {THINKER}")
        [menu] = await exchange(tg, ALICE, "/settings")
        assert "💭 Thinking: on" in labels(menu), "offered for a model that thinks"
        thought, answer = await exchange(tg, ALICE, "What is 6 x 7?", replies=2)
        await exchange(tg, ALICE, "Sure?", replies=2)
        await press(tg, menu, f"set:{ALICE.id}:thinking:off")
        assert "💭 Thinking: off" in labels(menu)
        [plain] = await exchange(tg, ALICE, "And now?")
        await asyncio.sleep(0.2)
    live = [d.text for d in tg.drafts_of(ALICE.id)]
    assert any(text.startswith("💭 Thinking…\n") for text in live), "visible while it thinks"
    header, quoted = thought.content.split("\n", 1)
    assert re.fullmatch(r"💭 Thought for \d+\.\d s", header), header
    assert quoted == THOUGHT
    assert thought.entities == [
        {"type": "expandable_blockquote", "offset": utf16_len(header) + 1, "length": len(THOUGHT)}
    ]
    assert answer.content == "42"
    assert answer.entities == [{"type": "bold", "offset": 0, "length": 2}]
    first, second, third = ollama.chat_requests
    assert first["think"] is True
    # The second request carries the first answer without its reasoning.
    assert second["messages"][-2] == {"role": "assistant", "content": "**42**"}
    assert third["think"] is False
    assert plain.content == "No thinking this time."
    assert [m[1] for m in stored_messages(db_path, ALICE.id) if m[0] == "assistant"] == [
        "**42**",
        "Still 42.",
        "No thinking this time.",
    ]


async def test_thinking_does_not_count_toward_splitting_and_long_thoughts_are_cut(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    long_thought = " ".join(f"step{n}" for n in range(1500))  # ~11,000 characters
    answer_text = "word " * 780  # 3,900 characters: one message on its own
    ollama.script(Reply(thinking=long_thought, chunks=[answer_text.strip()]))
    async with running_bot(tg, ollama, db_path, default_model=THINKER):
        tg.user_sends(
            ALICE, "@ollagram_test_bot think hard", chat_id=GROUP_ID, chat_type="supergroup"
        )
        await tg.wait_for(lambda: len(tg.bot_messages(GROUP_ID)) == 2, timeout=10)
        await asyncio.sleep(0.5)
    thought, answer = tg.bot_messages(GROUP_ID)
    assert len(tg.bot_messages(GROUP_ID)) == 2, "the answer was not split by the thinking"
    assert utf16_len(thought.content) <= 4096
    header, quoted = thought.content.split("\n", 1)
    assert header.startswith("💭 Thought for")
    assert quoted.startswith("…"), "the start of a long reasoning is cut"
    assert quoted.endswith("step1499"), "the latest reasoning is kept"
    assert answer.content == answer_text.strip()
    assert thought.reply_to_message_id is not None, "in a group the first message replies"
    assert tg.too_many_requests == 0


async def test_only_the_owner_of_a_settings_menu_can_press_it(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, "/settings", chat_id=GROUP_ID, chat_type="supergroup")
        [menu] = await tg.wait_for_bot_messages(GROUP_ID)
        tg.user_presses(BOB, menu.message_id, f"set:{ALICE.id}:temperature:2.0", chat_id=GROUP_ID)
        await tg.wait_for(lambda: len(tg.callback_answers) == 1)
        [bob_menu] = await exchange(tg, BOB, "/settings")
        [alice_menu] = await exchange(tg, ALICE, "/settings")
    assert tg.callback_answers[0].show_alert
    assert "✅ 0.7" in labels(bob_menu), "Bob's press changed nothing of his"
    assert "✅ 0.7" in labels(alice_menu), "nor of Alice's"
    assert menu.edit_count == 0
