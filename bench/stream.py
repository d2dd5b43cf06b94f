"""Streaming benchmark: the real bot, in its own process, against FakeTelegram (Telegram's limits
on) and FakeOllama (a set token rate), with many users asking at once.

    .venv/bin/python -m bench.stream [--tokens 200] [--users 1,10,50] [--group 5] [--rates 30,0]

For every run it prints, over all answers: p50/p95 from Ollama's first token to the first text
the user sees, p50/p95 from Ollama's last token to the whole answer being on screen (in a draft or
in the message, whichever shows it first), visible updates
and Telegram calls per answer, the 429s Telegram answered, the bot process's CPU seconds per
1,000 tokens (from /proc, so the fakes' own work is not counted) and its peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench import p50_p95
from bot.config import Settings
from bot.render import TELEGRAM_TEXT_LIMIT, render
from tests.fakes.ollama import FakeOllama, Reply, StreamRecord
from tests.fakes.telegram import BOT_USERNAME, Call, FakeTelegram, FakeUser

MODEL = "llama3.2:latest"
GROUP_ID = -100777
VISIBLE = frozenset({"sendMessageDraft", "sendMessage", "editMessageText"})
WORDS = [
    "the", "model", "writes", "a", "steady", "answer", "with", "**bold**", "words,", "`code`,",
    "numbers", "like", "42", "and", "sentences", "that", "run", "on", "until", "the", "end",
]  # fmt: skip
DEFAULTS = Settings.model_fields
TARGET_FIRST_MS = 150
TARGET_FINAL_SLACK_MS = 100
TARGET_CPU_US_PER_TOKEN = 50
TARGET_RSS_MB = 120


@dataclass(frozen=True, slots=True)
class Run:
    users: int
    group: bool
    tokens_per_s: float  # 0: as fast as the fake can write

    @property
    def name(self) -> str:
        where = "in one group" if self.group else "private chats"
        rate = f"{self.tokens_per_s:g} tok/s" if self.tokens_per_s else "max speed"
        return f"{self.users} users, {where}, {rate}"


@dataclass(frozen=True, slots=True)
class Figures:
    run: Run
    first_ms: tuple[float, float]
    final_ms: tuple[float, float]
    interval_ms: float
    updates: float
    calls: float
    too_many: int
    cpu_s_per_1000: float
    rss_mb: float
    seconds: float
    tokens: int


def answer_text(number: int, tokens: int) -> str:
    words = [WORDS[(number + i) % len(WORDS)] for i in range(tokens - 2)]
    return f"Answer-{number}: " + " ".join(words)


def question_of(text: str) -> str:
    """The question as asked, without the mention that asked it in the group."""
    return text.removeprefix(f"@{BOT_USERNAME}").strip()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc")


def bot_environment(
    tg: FakeTelegram, ollama: FakeOllama, users: int, folder: Path
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH")}
    env.update(
        TELEGRAM_BOT_TOKEN=tg.token,
        TELEGRAM_API_URL=tg.url,
        OLLAMA_HOST=ollama.url,
        ALLOWED_USER_IDS=",".join(str(5000 + i) for i in range(users)),
        ALLOWED_CHAT_IDS=str(GROUP_ID),
        DATABASE_PATH=str(folder / "bench.sqlite3"),
        DEFAULT_MODEL=MODEL,
        MAX_CONCURRENT_ANSWERS=str(users),
        LOG_LEVEL="WARNING",
    )
    return env


def visible_calls(tg: FakeTelegram, chat_id: int, marker: str) -> list[Call]:
    return [
        c
        for c in tg.calls
        if c.ok
        and c.method in VISIBLE
        and c.params.get("chat_id") == chat_id
        and marker in str(c.params.get("text", ""))
    ]


async def measure(run: Run, tokens: int) -> Figures:
    users = [FakeUser(id=5000 + i, first_name=f"U{i}") for i in range(run.users)]
    answers = {f"Question {i}": answer_text(i, tokens) for i in range(run.users)}
    texts = {question: render(answer).text for question, answer in answers.items()}
    delay = 1 / run.tokens_per_s if run.tokens_per_s else 0.0
    async with FakeTelegram() as tg, FakeOllama() as ollama:
        ollama.add_model(MODEL, context_length=8192)
        ollama.reply_for = lambda question: Reply(
            text=answers[question_of(question)], token_delay=delay
        )
        with tempfile.TemporaryDirectory() as folder:
            env = bot_environment(tg, ollama, run.users, Path(folder))
            log = open(Path(folder) / "bot.log", "w")  # noqa: SIM115
            command = [sys.executable, "-m", "bot", "run"]
            if profile := os.environ.get("BENCH_PROFILE"):  # where to write the bot's profile
                command[1:1] = ["-m", "cProfile", "-o", profile]
            bot = subprocess.Popen(command, env=env, cwd=folder, stdout=log, stderr=log)
            try:
                await tg.wait_for(lambda: bool(tg.calls_of("getUpdates")), timeout=30)
                await asyncio.sleep(0.5)  # start-up work (command menus, model list) settles
                cpu_before, started = cpu_seconds(bot.pid), time.monotonic()
                for i, user in enumerate(users):
                    if run.group:
                        tg.user_sends(
                            user,
                            f"@{BOT_USERNAME} Question {i}",
                            chat_id=GROUP_ID,
                            chat_type="supergroup",
                        )
                    else:
                        tg.user_sends(user, f"Question {i}")

                def all_final() -> bool:
                    return all(
                        any(m.content == texts[f"Question {i}"] for m in tg.bot_messages(chat))
                        for i, chat in enumerate(chat_ids)
                    )

                chat_ids = [GROUP_ID if run.group else u.id for u in users]
                await tg.wait_for(all_final, timeout=60 + 3 * tokens)
                elapsed = time.monotonic() - started
                cpu = cpu_seconds(bot.pid) - cpu_before
                rss = peak_rss_mb(bot.pid)
            finally:
                bot.terminate()
                bot.wait(timeout=30)
                log.close()
        records = {question_of(r.question): r for r in ollama.stream_log}
        return summarize(run, tg, records, texts, chat_ids, cpu, rss, elapsed)


def summarize(
    run: Run,
    tg: FakeTelegram,
    records: dict[str, StreamRecord],
    texts: dict[str, str],
    chat_ids: list[int],
    cpu: float,
    rss: float,
    elapsed: float,
) -> Figures:
    first, final, updates = [], [], []
    for i, chat in enumerate(chat_ids):
        question = f"Question {i}"
        record = records[question]
        assert record.first_token_at is not None and record.last_token_at is not None
        shown = visible_calls(tg, chat, f"Answer-{i}:")
        first.append((shown[0].time - record.first_token_at) * 1000)
        done = next(c for c in shown if c.params.get("text") == texts[question])
        final.append((done.time - record.last_token_at) * 1000)
        updates.append(len(shown))
    chats = set(chat_ids)
    calls = sum(1 for c in tg.calls if c.params.get("chat_id") in chats)
    tokens = sum(r.tokens for r in records.values())
    # The bot runs with the defaults: drafts in private chats, edits in the group.
    interval = DEFAULTS["edit_interval_group" if run.group else "draft_interval"].default
    return Figures(
        run=run,
        first_ms=p50_p95(first),
        final_ms=p50_p95(final),
        interval_ms=interval * 1000,
        updates=statistics.mean(updates),
        calls=calls / len(chat_ids),
        too_many=tg.too_many_requests,
        cpu_s_per_1000=cpu / tokens * 1000,
        rss_mb=rss,
        seconds=elapsed,
        tokens=tokens,
    )


def report(figures: Figures) -> str:
    f = figures
    misses = []
    if f.first_ms[1] > TARGET_FIRST_MS:
        misses.append(f"first text p95 > {TARGET_FIRST_MS} ms")
    if f.final_ms[1] > f.interval_ms + TARGET_FINAL_SLACK_MS:
        misses.append(f"final p95 > interval {f.interval_ms:.0f} + {TARGET_FINAL_SLACK_MS} ms")
    if f.too_many:
        misses.append("429s")
    if f.cpu_s_per_1000 * 1000 > TARGET_CPU_US_PER_TOKEN:
        misses.append(f"CPU > {TARGET_CPU_US_PER_TOKEN} µs/token")
    if f.run.users >= 50 and f.rss_mb > TARGET_RSS_MB:
        misses.append(f"RSS > {TARGET_RSS_MB} MB")
    verdict = "all targets met" if not misses else "MISSED: " + "; ".join(misses)
    return (
        f"{f.run.name}: {f.tokens} tokens in {f.seconds:.1f} s\n"
        f"  first token -> first visible text  p50 {f.first_ms[0]:7.0f} ms"
        f"   p95 {f.first_ms[1]:7.0f} ms\n"
        f"  last token  -> final text visible  p50 {f.final_ms[0]:7.0f} ms"
        f"   p95 {f.final_ms[1]:7.0f} ms"
        f"   (update interval {f.interval_ms:.0f} ms)\n"
        f"  visible updates/answer {f.updates:.1f}   Telegram calls/answer {f.calls:.1f}   "
        f"429s {f.too_many}\n"
        f"  bot CPU {f.cpu_s_per_1000:.3f} s per 1000 tokens "
        f"({f.cpu_s_per_1000 * 1000:.0f} µs/token)   peak RSS {f.rss_mb:.0f} MB\n"
        f"  {verdict}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=200, help="tokens per answer")
    parser.add_argument("--users", default="1,10,50", help="private-chat users per run")
    parser.add_argument("--group", type=int, default=5, help="users in one group (0: none)")
    parser.add_argument("--rates", default="30,0", help="tokens/s per answer; 0 = max speed")
    args = parser.parse_args(argv)
    if len(render(answer_text(0, args.tokens)).text) > TELEGRAM_TEXT_LIMIT:
        parser.error("--tokens: an answer must fit one message (at most about 600 tokens)")
    rates = [float(r) for r in args.rates.split(",")]
    runs = [Run(int(n), False, rate) for rate in rates for n in args.users.split(",")]
    if args.group:
        runs += [Run(args.group, True, rate) for rate in rates]
    print(
        f"bench/stream.py: {args.tokens} tokens per answer, Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs"
    )
    for run in runs:
        print(report(asyncio.run(measure(run, args.tokens))), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
