"""History benchmark: the real Store on a database of many messages.

    .venv/bin/python -m bench.history [--messages 100000] [--users 100] [--samples 1000]

Builds a database in the first schema version (as an early install left it), filled with
`--messages` messages across `--users` users (conversations of 100 messages), then prints: the
time to migrate it to the current schema, the start-up time once migrated, and p50/p95 of
loading a 50-turn context (the user's open conversation and its last 100 messages, as every
question does) and of appending a message (one committed INSERT).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench import p50_p95
from bot.store import MIGRATIONS, Store

MESSAGES_PER_CONVERSATION = 100
CONTEXT_MESSAGES = 100  # 50 turns: a question and its answer each
TARGET_LOAD_MS = 5.0
TARGET_APPEND_MS = 2.0
SENTENCE = (
    "Here is a paragraph of a typical answer, with `code`, **bold** words and a list: one, two, "
    "three. It is about as long as what a model writes in a few seconds on a home GPU. "
)


def build_version_1(path: Path, messages: int, users: int) -> None:
    """A database as the first schema version left it, filled quickly with plain sqlite3."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    db.executescript(MIGRATIONS[0])
    db.execute(
        "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)"
    )
    db.execute("INSERT INTO schema_version VALUES (1, ?)", (time.time(),))
    now = time.time() - 365 * 86400
    db.executemany(
        "INSERT INTO users (id, first_name, first_seen, last_seen) VALUES (?, ?, ?, ?)",
        ((10_000 + u, f"User {u}", now, now) for u in range(users)),
    )
    conversations = max(1, messages // MESSAGES_PER_CONVERSATION)
    db.executemany(
        "INSERT INTO conversations (id, chat_id, user_id, started_at) VALUES (?, ?, ?, ?)",
        ((c + 1, 10_000 + c % users, 10_000 + c % users, now + c) for c in range(conversations)),
    )

    def rows() -> object:
        for m in range(messages):
            conversation = m // MESSAGES_PER_CONVERSATION + 1
            role = "user" if m % 2 == 0 else "assistant"
            text = SENTENCE * (1 if role == "user" else 4)
            model = None if role == "user" else "llama3.2:latest"
            yield (conversation, role, f"{m}: {text}", model, now + m * 0.01)

    db.executemany(
        "INSERT INTO messages (conversation_id, role, content, model, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        rows(),  # type: ignore[arg-type]
    )
    db.commit()
    db.close()


async def measure(path: Path, users: int, samples: int) -> dict[str, float]:
    started = time.perf_counter()
    store = await Store.open(path)  # migrates to the current version
    migration = time.perf_counter() - started
    await store.close()

    started = time.perf_counter()
    store = await Store.open(path)
    startup = time.perf_counter() - started
    rng = random.Random(8)
    loads, appends = [], []
    try:
        for _ in range(samples):
            user = 10_000 + rng.randrange(users)
            started = time.perf_counter()
            conversation = await store.current_conversation(user, user)
            context = await store.recent_messages(conversation, CONTEXT_MESSAGES)
            loads.append((time.perf_counter() - started) * 1000)
            assert len(context) == CONTEXT_MESSAGES
        for _ in range(samples):
            user = 10_000 + rng.randrange(users)
            conversation = await store.current_conversation(user, user)
            started = time.perf_counter()
            await store.add_message(conversation, "user", SENTENCE, author_id=user)
            appends.append((time.perf_counter() - started) * 1000)
    finally:
        await store.close()
    load_p50, load_p95 = p50_p95(loads)
    append_p50, append_p95 = p50_p95(appends)
    return {
        "migration_s": migration,
        "startup_ms": startup * 1000,
        "load_p50": load_p50,
        "load_p95": load_p95,
        "append_p50": append_p50,
        "append_p95": append_p95,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--samples", type=int, default=1000)
    args = parser.parse_args(argv)
    if args.messages < args.users * MESSAGES_PER_CONVERSATION:
        parser.error(f"--messages must be at least {MESSAGES_PER_CONVERSATION} per user")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "history.sqlite3"
        started = time.perf_counter()
        build_version_1(path, args.messages, args.users)
        built = time.perf_counter() - started
        figures = asyncio.run(measure(path, args.users, args.samples))
        size_mb = sum(f.stat().st_size for f in Path(folder).iterdir()) / 1e6
    misses = []
    if figures["load_p95"] > TARGET_LOAD_MS:
        misses.append(f"load p95 > {TARGET_LOAD_MS} ms")
    if figures["append_p95"] > TARGET_APPEND_MS:
        misses.append(f"append p95 > {TARGET_APPEND_MS} ms")
    print(
        f"bench/history.py: {args.messages:,} messages, {args.users:,} users, "
        f"{size_mb:.0f} MB database (built in {built:.1f} s), Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs\n"
        f"  migration from schema 1 to {len(MIGRATIONS)}: {figures['migration_s']:.1f} s\n"
        f"  start-up (open, check schema): {figures['startup_ms']:.1f} ms\n"
        f"  load a 50-turn context   p50 {figures['load_p50']:.2f} ms   "
        f"p95 {figures['load_p95']:.2f} ms\n"
        f"  append a message         p50 {figures['append_p50']:.2f} ms   "
        f"p95 {figures['append_p95']:.2f} ms\n"
        f"  {'all targets met' if not misses else 'MISSED: ' + '; '.join(misses)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
