"""The command line as a user meets it: a real process against the fakes."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.fakes.ollama import FakeOllama, Reply
from tests.fakes.telegram import FakeTelegram, FakeUser


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token="424242:REAL-looking-secret") as fake:
        yield fake


def bot_env(tg: FakeTelegram, ollama: FakeOllama, **settings: str) -> dict[str, str]:
    """The environment of a bot process talking to these fakes."""
    return {
        "TELEGRAM_BOT_TOKEN": tg.token,
        "TELEGRAM_API_URL": tg.url,
        "OLLAMA_HOST": ollama.url,
        **settings,
    }


async def start_bot(env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    """`python -m bot` as `make run` starts it, with only the given environment."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def run_until(
    tg: FakeTelegram, env: dict[str, str], cwd: Path, done: Callable[[], bool]
) -> tuple[int, str]:
    """Start the bot, wait until `done()` holds in FakeTelegram, then SIGTERM it (as systemd
    does); its exit code and output."""
    process = await start_bot(env, cwd)
    try:
        await tg.wait_for(done, timeout=30)
    finally:
        process.terminate()
    return await finish(process)


async def finish(process: asyncio.subprocess.Process) -> tuple[int, str]:
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_rejected_token_is_one_clear_line(tg: FakeTelegram, tmp_path: Path) -> None:
    process = await start_bot(
        {"TELEGRAM_BOT_TOKEN": "999:wrong-secret", "TELEGRAM_API_URL": tg.url}, tmp_path
    )
    code, output = await finish(process)
    assert code == 2
    assert "Telegram rejected TELEGRAM_BOT_TOKEN" in output
    assert "Traceback" not in output
    assert "wrong-secret" not in output


async def test_bot_process_answers_then_stops_on_sigterm_without_leaking(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    user = FakeUser(id=5)
    async with FakeOllama() as ollama:
        ollama.add_model("qwen:7b")
        ollama.add_model("llava:7b")
        (tmp_path / "config.env").write_text("DEFAULT_MODEL=qwen:7b\nALLOWED_USER_IDS=5\n")
        env = bot_env(tg, ollama, LOG_LEVEL="DEBUG")
        tg.user_sends(user, "hello there")
        code, output = await run_until(tg, env, tmp_path, lambda: bool(tg.bot_messages(user.id)))
    assert tg.bot_messages(user.id)[0].content == "Echo: hello there"
    assert ollama.chat_requests[0]["model"] == "qwen:7b", "config.env was read"
    assert code == 0
    assert "Traceback" not in output
    assert tg.token.split(":")[1] not in output
    assert "hello there" not in output
    assert (tmp_path / "data" / "ollagram.sqlite3").exists()


async def test_unusable_database_path_is_one_clear_line(tg: FakeTelegram, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    process = await start_bot(
        {
            "TELEGRAM_BOT_TOKEN": tg.token,
            "TELEGRAM_API_URL": tg.url,
            "DATABASE_PATH": str(blocker / "ollagram.sqlite3"),
        },
        tmp_path,
    )
    code, output = await finish(process)
    assert code == 1
    assert "cannot open the database" in output
    assert "DATABASE_PATH" in output
    assert "Traceback" not in output


@pytest.mark.parametrize(
    ("grace", "status"), [("10", "complete"), ("0.3", "stopped")], ids=["finishes", "cut"]
)
async def test_sigterm_lets_answers_finish_within_the_grace_period(
    tg: FakeTelegram, tmp_path: Path, grace: str, status: str
) -> None:
    user = FakeUser(id=5)
    async with FakeOllama() as ollama:
        ollama.add_model("qwen:7b")
        ending = "the last words."
        ollama.script(Reply(text="word " * 30 + ending, token_delay=0.05))
        env = bot_env(
            tg,
            ollama,
            ALLOWED_USER_IDS="5",
            SHUTDOWN_GRACE=grace,
            STREAM_MODE="edit",
            EDIT_INTERVAL_PRIVATE="0.4",
        )
        tg.user_sends(user, "tell me")
        code, output = await run_until(tg, env, tmp_path, lambda: bool(tg.bot_messages(user.id)))
    assert code == 0, output
    [answer] = tg.bot_messages(user.id)
    stored = (
        sqlite3.connect(tmp_path / "data" / "ollagram.sqlite3")
        .execute("SELECT status, content FROM messages WHERE role = 'assistant'")
        .fetchall()
    )
    assert [row[0] for row in stored] == [status]
    if status == "complete":
        assert answer.content.endswith(ending)
    else:
        assert answer.content.rstrip().endswith("(stopped)")
        assert stored[0][1].startswith("word word")


async def test_kill_9_mid_answer_keeps_the_question_and_the_partial_answer(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    user = FakeUser(id=5)
    db_path = tmp_path / "data" / "ollagram.sqlite3"
    async with FakeOllama() as ollama:
        ollama.add_model("qwen:7b")
        ollama.script(Reply(text="slowly " * 400, token_delay=0.05), "Echo after the crash")
        env = bot_env(tg, ollama, ALLOWED_USER_IDS="5")
        tg.user_sends(user, "tell me everything")
        process = await start_bot(env, tmp_path)
        await tg.wait_for(lambda: ollama.chunks_sent >= 60, timeout=30)  # 3 s of answer
        process.kill()  # SIGKILL: no chance to clean up
        await finish(process)

        with sqlite3.connect(db_path) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            rows = db.execute("SELECT role, status, content FROM messages ORDER BY id").fetchall()
        assert rows[0] == ("user", "complete", "tell me everything")
        role, status, partial = rows[1]
        assert (role, status) == ("assistant", "interrupted")
        assert partial.startswith("slowly slowly"), "a checkpoint saved the text so far"

        tg.user_sends(user, "are you back?")
        code, _ = await run_until(
            tg,
            env,
            tmp_path,
            lambda: any(m.content == "Echo after the crash" for m in tg.bot_messages(user.id)),
        )
    assert code == 0
    context = [m["content"] for m in ollama.chat_requests[-1]["messages"]]
    assert context[-3:] == ["tell me everything", partial, "are you back?"]


async def test_json_logs_one_object_a_line_with_one_line_per_answer(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    user = FakeUser(id=5)
    async with FakeOllama() as ollama:
        ollama.add_model("qwen:7b")
        env = bot_env(tg, ollama, ALLOWED_USER_IDS="5", LOG_FORMAT="json")
        tg.user_sends(user, "a private question")
        code, output = await run_until(tg, env, tmp_path, lambda: bool(tg.bot_messages(user.id)))
    assert code == 0
    entries = [json.loads(line) for line in output.splitlines()]
    [answer] = [e for e in entries if e["message"].startswith("answer ")]
    assert answer["user_id"] == 5
    assert answer["chat_id"] == 5
    assert answer["model"] == "qwen:7b"
    assert answer["status"] == "complete"
    assert answer["answer_tokens"] >= 1
    assert "private question" not in output
