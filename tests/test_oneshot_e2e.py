"""End to end: /ask and /compare, one-shot answers through /api/generate, against the fakes."""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.roles import BUILTIN_ROLES
from tests.fakes.ollama import FakeOllama, Reply
from tests.fakes.telegram import FakeTelegram
from tests.harness import ALICE, GROUP_ID, MODEL, exchange, running_bot, stored_messages

QWEN = "qwen2.5:7b-instruct-q4_K_M"
MISTRAL = "mistral:7b-instruct-v0.2-q8_0"
EMBEDDER = "nomic-embed-text:latest"
# "N tokens · X.X tokens/s · Y.Y s" (or m:ss past a minute)
FIGURES = re.compile(r"\d+ tokens · \d+\.\d tokens/s · (\d+\.\d s|\d+:\d\d)$")


@pytest.fixture
async def ollama() -> AsyncIterator[FakeOllama]:
    async with FakeOllama() as fake:
        # Ollama lists the newest first: the last added is the default model.
        fake.add_model(EMBEDDER, capabilities=("embedding",))
        fake.add_model(MISTRAL)
        fake.add_model(QWEN, family="qwen2")
        fake.add_model(MODEL, context_length=8192)
        yield fake


async def test_ask_uses_generate_with_the_role_and_leaves_history_alone(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script("Bananas are yellow.", Reply(text="Tea steams softly", token_delay=0.03))
    async with running_bot(tg, ollama, db_path):
        await exchange(tg, ALICE, "remember: bananas")
        before = stored_messages(db_path, ALICE.id)
        [answer] = await exchange(tg, ALICE, "/ask Write a haiku\nabout tea")
        await exchange(tg, ALICE, "/role supervisor")
        await exchange(tg, ALICE, "/ask gravity")
    assert answer.content == "Tea steams softly"
    assert [d.text for d in tg.drafts_of(ALICE.id)], "streamed like chat"
    assert len(ollama.chat_requests) == 1, "only the chat message went to /api/chat"
    first, second = ollama.generate_requests
    assert first["model"] == MODEL
    assert first["prompt"] == "Write a haiku\nabout tea"
    assert first["system"] == BUILTIN_ROLES["assistant"].prompt
    assert first["options"] == {"temperature": 0.7, "num_ctx": 8192, "num_predict": 4096}
    assert "context" not in first, "nothing of the conversation goes along"
    assert second["prompt"] == "Explain `gravity` like I'm a 5 year old."
    assert not second.get("system"), "a template role wraps the prompt instead"
    assert stored_messages(db_path, ALICE.id) == before, "the conversation is untouched"


async def test_ask_without_a_prompt_explains_and_in_reply_asks_about_that_message(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path):
        [usage] = await exchange(tg, ALICE, "/ask")
        tg.user_sends(
            ALICE,
            "The mitochondria is the powerhouse of the cell.",
            chat_id=GROUP_ID,
            chat_type="supergroup",
        )
        await tg.wait_for(lambda: len(tg.messages(GROUP_ID)) == 1)
        quoted = tg.messages(GROUP_ID)[0]
        tg.user_sends(
            ALICE, "/ask", chat_id=GROUP_ID, chat_type="supergroup", reply_to=quoted.message_id
        )
        await tg.wait_for(lambda: len(ollama.generate_requests) == 1)
        await tg.wait_for_bot_messages(GROUP_ID)
    assert "Usage: /ask PROMPT" in usage.content
    assert ollama.generate_requests[0]["prompt"] == (
        "The mitochondria is the powerhouse of the cell."
    )
    assert tg.bot_messages(GROUP_ID)[0].reply_to_message_id is not None


async def test_compare_streams_one_message_per_model_in_turn_with_figures(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script(
        *(Reply(text=f"Answer {n}: the sky scatters blue light.", token_delay=0.04) for n in "abc")
    )
    async with running_bot(tg, ollama, db_path):
        answers = await exchange(tg, ALICE, "/compare Why is the sky blue?", replies=3)
    # The user's model first, then the newest other models that can chat (not the embedder).
    models = [r["model"] for r in ollama.generate_requests]
    assert models == [MODEL, QWEN, MISTRAL]
    for model, message, letter in zip(models, answers, "abc", strict=True):
        heading, body, footer = message.content.split("\n\n")
        assert heading == model
        assert {"type": "bold", "offset": 0, "length": len(model)} in message.entities
        assert body == f"Answer {letter}: the sky scatters blue light."
        assert FIGURES.fullmatch(footer), footer
        assert any(e["type"] == "italic" for e in message.entities), "figures in italics"
    requests = [r for r in ollama.requests if r.path == "/api/generate"]
    gaps = [b.at - a.at for a, b in itertools.pairwise(requests)]
    # One model after another: each reply streams for ~0.3 s before the next is asked.
    assert min(gaps) >= 0.25, gaps
    assert all(r["prompt"] == "Why is the sky blue?" for r in ollama.generate_requests)
    assert stored_messages(db_path, ALICE.id) == [], "comparisons stay out of the history"
    assert tg.too_many_requests == 0


async def test_compare_model_set_is_chosen_checked_and_kept(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path):
        [missing] = await exchange(tg, ALICE, "/compare models llama3.2, nope:1b")
        [one] = await exchange(tg, ALICE, "/compare models llama3.2,")
        [twice] = await exchange(tg, ALICE, "/compare models llama3.2,llama3.2:latest")
        [five] = await exchange(tg, ALICE, "/compare models a,b,c,d,e")
        [chosen] = await exchange(tg, ALICE, f"/compare models mistral, {QWEN}")
        [shown] = await exchange(tg, ALICE, "/compare models")
    async with running_bot(tg, ollama, db_path):
        await exchange(tg, ALICE, "/compare hello", replies=2)
        [reset] = await exchange(tg, ALICE, "/compare models reset")
        [default] = await exchange(tg, ALICE, "/compare models")
    assert "Not installed: nope:1b" in missing.content
    assert "Choose 2 to 4 different models" in one.content
    assert "Choose 2 to 4 different models" in twice.content
    assert "Choose 2 to 4 different models" in five.content
    assert chosen.content == f"/compare will ask: {MISTRAL}, {QWEN}"
    assert shown.content == f"/compare asks: {MISTRAL}, {QWEN}"
    assert [r["model"] for r in ollama.generate_requests] == [MISTRAL, QWEN], "kept on restart"
    assert "newest installed ones again" in reset.content
    assert default.content == f"/compare asks: {MODEL}, {QWEN}, {MISTRAL}"


async def test_compare_needs_two_models_and_reports_a_removed_one_in_its_place(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path):
        await exchange(tg, ALICE, f"/compare models {MODEL},{QWEN}")
        ollama.remove_model(QWEN)
        first, second = await exchange(tg, ALICE, "/compare hi", replies=2)
        ollama.remove_model(MISTRAL)
        await exchange(tg, ALICE, "/compare models reset")
        [too_few] = await exchange(tg, ALICE, "/compare hi")
    assert first.content.startswith(MODEL + "\n\n")
    assert second.content.startswith(QWEN + "\n\n")
    assert f"The model {QWEN} is not installed" in second.content
    assert "at least two installed models" in too_few.content


async def test_stop_ends_the_whole_comparison(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script(Reply(text="word " * 200, token_delay=0.05), "never asked")
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, "/compare Tell me a long story")
        await tg.wait_for(lambda: len(tg.drafts_of(ALICE.id)) >= 2)
        tg.user_sends(ALICE, "/stop")
        [stopped] = await tg.wait_for_bot_messages(ALICE.id)
        await ollama.wait_for(lambda: ollama.cancelled_streams == 1)
    assert stopped.content.startswith(MODEL + "\n\n")
    assert stopped.content.endswith("(stopped)")
    assert len(ollama.generate_requests) == 1, "the other models are not asked after /stop"
    assert len(tg.bot_messages(ALICE.id)) == 1


async def test_compare_concurrency_asks_models_at_once(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script(*(Reply(text="same speed answer", token_delay=0.1) for _ in range(2)))
    async with running_bot(tg, ollama, db_path, compare_concurrency=2, max_concurrent_answers=2):
        await exchange(tg, ALICE, f"/compare models {MODEL},{QWEN}")
        await exchange(tg, ALICE, "/compare hi", replies=2)
    first, second = [r for r in ollama.requests if r.path == "/api/generate"]
    assert second.at - first.at < 0.15, "both asked before either finished"


async def test_a_prompt_that_starts_with_models_is_a_prompt(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path):
        await exchange(tg, ALICE, "/compare models of the universe", replies=3)
    assert [r["prompt"] for r in ollama.generate_requests] == ["models of the universe"] * 3
