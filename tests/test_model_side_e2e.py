"""The model's side of speed, end to end: a prompt whose front stays put, one runner per model
(no reloads caused by the bot), and a model being loaded is shown, or loaded ahead of use."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.ollama import FakeOllama, Reply
from tests.fakes.telegram import FakeTelegram, FakeUser
from tests.harness import ALICE, BOB, GROUP_ID, MODEL, exchange, running_bot, stored_messages

# Ollama's runner options (api.Runner): a change in any of them reloads the model.
RUNNER_OPTIONS = ("num_ctx", "num_batch", "num_gpu", "main_gpu", "use_mmap", "num_thread")
TRIMMED = "no longer fit your model's context window"


def prompt_text(messages: list[dict[str, Any]]) -> str:
    """The prompt as a model server sees it: the messages in order (roles and contents)."""
    return "".join(f"\x00{m['role']}\x01{m['content']}" for m in messages)


def common_prefix(a: str, b: str) -> int:
    size = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        size += 1
    return size


def answer_to(question: str) -> str:
    return f"About {question} " + "here are some words of the answer " * 8


async def ask_and_wait(tg: FakeTelegram, user: FakeUser, question: str) -> None:
    """`user` asks; returns once the answer is shown (a notice may come before it)."""
    answered = sum(t.startswith("About") for t in tg.bot_texts(user.id))
    tg.user_sends(user, question)
    await tg.wait_for(
        lambda: sum(t.startswith("About") for t in tg.bot_texts(user.id)) > answered, timeout=10
    )


async def test_a_long_conversation_keeps_the_front_of_its_prompt_across_turns_and_restarts(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.reply_for = lambda question: Reply(text=answer_to(question))
    questions = [f"question {n}: tell me about topic number {n}, please." for n in range(30)]
    # A small window, so the conversation outgrows it several times; a restart in between.
    for block in (questions[:18], questions[18:]):
        async with running_bot(tg, ollama, db_path, num_ctx=2048):
            for question in block:
                await ask_and_wait(tg, ALICE, question)
    prompts = [prompt_text(r["messages"]) for r in ollama.chat_requests]
    assert len(prompts) == 30
    # What the server has computed after a request: its prompt and the answer it wrote.
    shares = []
    for n in range(1, 30):
        before = prompt_text([{"role": "assistant", "content": answer_to(questions[n - 1])}])
        cached = prompts[n - 1] + before
        shares.append(1 - common_prefix(prompts[n], cached) / len(prompts[n]))
    first_cut = next(n for n, share in enumerate(shares) if share > 0.5)
    at_the_limit = shares[first_cut:]
    assert len(at_the_limit) >= 15, "most of the conversation ran at the window's limit"
    mean = sum(at_the_limit) / len(at_the_limit)
    assert mean <= 0.35, f"share of each prompt the server must evaluate again: {mean:.0%}"
    cuts = sum(share > 0.5 for share in at_the_limit)
    assert 2 <= cuts <= len(at_the_limit) // 4, f"the front moved {cuts} times, in blocks"
    notices = [t for t in tg.bot_texts(ALICE.id) if TRIMMED in t]
    assert len(notices) == 1, "told once that older messages left the context"
    assert len(stored_messages(db_path, ALICE.id)) == 60, "nothing is deleted from the history"


async def test_two_users_with_different_context_sizes_never_make_the_model_reload(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path):
        [set_small] = await exchange(tg, ALICE, "/settings context 2048")
        [set_default] = await exchange(tg, BOB, "/settings temperature 1.5")
        for n in range(3):
            await exchange(tg, ALICE, f"Alice's question {n}")
            await exchange(tg, BOB, f"Bob's question {n}")
    assert "2048" in set_small.content
    assert "1.5" in set_default.content
    requests = ollama.chat_requests
    assert len(requests) == 6
    runners = {
        json.dumps({k: r["options"].get(k) for k in RUNNER_OPTIONS}, sort_keys=True)
        for r in requests
    }
    assert len(runners) == 1, f"one set of runner options for the model: {runners}"
    assert requests[0]["options"]["num_ctx"] == 8192, "NUM_CTX, within the model's window"
    assert {r["options"]["temperature"] for r in requests} == {0.7, 1.5}, "sampling stays theirs"
    assert ollama.loads == [(MODEL, 8192)], "loaded once, never reloaded"


async def test_users_choose_a_context_size_up_to_num_ctx_and_no_further(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.add_model("qwen2.5:7b", context_length=131072)
    async with running_bot(tg, ollama, db_path, default_model="qwen2.5:7b"):
        [refused] = await exchange(tg, ALICE, "/settings context 128k")
        [accepted] = await exchange(tg, ALICE, "/settings context 4k")
    assert refused.content == "context must be between 256 and 8192."
    assert "4096" in accepted.content
    async with running_bot(tg, ollama, db_path, default_model="qwen2.5:7b", num_ctx=32768):
        [raised] = await exchange(tg, BOB, "/settings context 32k")
    assert "32768" in raised.content, "the owner raises the ceiling with NUM_CTX"


async def test_a_model_not_in_memory_is_shown_loading_until_its_first_words(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script(
        Reply(text="Loaded and answering.", first_token_delay=1.0),
        Reply(text="Already warm.", first_token_delay=1.0),
    )
    async with running_bot(tg, ollama, db_path):
        await exchange(tg, ALICE, "hello")
        await exchange(tg, ALICE, "again")
    loading = "⏳ Loading llama3.2:latest (3.8 GB)…"
    drafts = [d.text for d in tg.drafts_of(ALICE.id)]
    assert drafts.count(loading) == 1, f"shown while the model loaded, and only then: {drafts}"
    assert drafts.index(loading) < drafts.index("Loaded and answering.")
    assert tg.bot_texts(ALICE.id) == ["Loaded and answering.", "Already warm."]


async def test_in_a_group_the_loading_message_becomes_the_answer(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script(Reply(text="The answer, after the load.", first_token_delay=1.5))
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, "@ollagram_test_bot hello", chat_id=GROUP_ID, chat_type="supergroup")
        await tg.wait_for(
            lambda: tg.bot_texts(GROUP_ID) == ["The answer, after the load."], timeout=10
        )
    [answer] = tg.bot_messages(GROUP_ID)
    assert answer.edits[0] == "⏳ Loading llama3.2:latest (3.8 GB)…"


async def test_switching_model_loads_it_ahead_with_the_options_questions_bring(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.add_model("qwen2.5:7b", context_length=32768, size=4_700_000_000)
    ollama.script(Reply(text="Warm already.", first_token_delay=0.5))
    async with running_bot(tg, ollama, db_path):
        await exchange(tg, ALICE, "/model qwen2.5:7b")
        await ollama.wait_for(lambda: ollama.loads == [("qwen2.5:7b", 8192)])
        await exchange(tg, ALICE, "hello")
    [preload] = ollama.load_requests
    [question] = ollama.chat_requests
    assert preload["model"] == question["model"] == "qwen2.5:7b"
    assert not preload.get("messages"), "an empty request loads the model without generating"
    assert preload["options"]["num_ctx"] == question["options"]["num_ctx"] == 8192
    assert ollama.loads == [("qwen2.5:7b", 8192)], "the question found it loaded"
    assert not any("Loading" in d.text for d in tg.drafts_of(ALICE.id))


async def test_a_conversation_longer_than_what_is_read_keeps_its_front(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The bot reads the newest 400 messages; here 8, so a short conversation outgrows them.
    monkeypatch.setattr("bot.history.HISTORY_LOAD_LIMIT", 8)
    ollama.reply_for = lambda question: Reply(text=answer_to(question))
    async with running_bot(tg, ollama, db_path):
        for n in range(14):
            await ask_and_wait(tg, ALICE, f"word{n}")
    fronts = [r["messages"][1]["content"] for r in ollama.chat_requests[4:]]
    runs = [len(list(run)) for _, run in itertools.groupby(fronts)]
    assert all(length >= 3 for length in runs[:-1]), f"it stays for questions at a time: {fronts}"
    assert len(runs) <= 4
    notices = [t for t in tg.bot_texts(ALICE.id) if TRIMMED in t]
    assert len(notices) == 1
