"""`ollagram doctor` against the fakes: every check, and its exit code."""

from __future__ import annotations

import asyncio
import contextlib
import io
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.cli import diagnose
from bot.store import MIGRATIONS, Store
from bot.telegram.serving import check_token
from tests.fakes.ollama import FakeOllama
from tests.fakes.telegram import FakeTelegram
from tests.harness import settings_for


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def ollama() -> AsyncIterator[FakeOllama]:
    async with FakeOllama() as fake:
        fake.add_model("llama3.2:latest")
        fake.add_model("llava:latest", capabilities=("completion", "vision"))
        yield fake


async def run_doctor(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path, **overrides: Any
) -> tuple[int, list[str]]:
    """The doctor as `ollagram doctor` runs it (in its own event loop), with its printed lines."""
    settings = settings_for(tg, ollama, db_path, **overrides)

    def diagnose_capturing() -> tuple[int, str]:
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            code = diagnose(settings, check_token)
        return code, buffer.getvalue()

    code, out = await asyncio.to_thread(diagnose_capturing)
    return code, out.splitlines()


async def test_all_good(tg: FakeTelegram, ollama: FakeOllama, db_path: Path) -> None:
    async with await Store.open(db_path):  # the bot ran here before
        pass
    code, lines = await run_doctor(tg, ollama, db_path, default_model="llama3.2")
    assert code == 0, lines
    assert all(line.startswith("✓ ") for line in lines)
    assert "✓ Telegram accepts the token: the bot is @ollagram_test_bot" in lines
    assert any(line.startswith("✓ Ollama 0.12.6 at") for line in lines)
    assert "✓ DEFAULT_MODEL llama3.2 is installed (llama3.2:latest)" in lines
    assert "✓ VISION_MODEL llava is installed (llava:latest)" in lines
    schema = f"schema {len(MIGRATIONS)} of {len(MIGRATIONS)}"
    assert f"✓ database {db_path}: writable, {schema}" in lines


async def test_ollama_down(tg: FakeTelegram, ollama: FakeOllama, db_path: Path) -> None:
    await ollama.go_down()
    code, lines = await run_doctor(tg, ollama, db_path)
    assert code == 1
    [line] = [line for line in lines if "Ollama" in line]
    assert line == (
        f"✗ Ollama at {ollama.url} is not reachable — start it (`ollama serve` or "
        "`systemctl start ollama`) or fix OLLAMA_HOST"
    )


async def test_token_rejected(tg: FakeTelegram, ollama: FakeOllama, db_path: Path) -> None:
    code, lines = await run_doctor(tg, ollama, db_path, telegram_bot_token="1:a-wrong-token")
    assert code == 1
    assert "✗ Telegram rejected TELEGRAM_BOT_TOKEN — copy the token from @BotFather again" in lines
    assert "a-wrong-token" not in "\n".join(lines)


async def test_model_missing(tg: FakeTelegram, ollama: FakeOllama, db_path: Path) -> None:
    ollama.remove_model("llava:latest")
    code, lines = await run_doctor(tg, ollama, db_path, default_model="mistral:7b")
    assert code == 1
    assert "✗ DEFAULT_MODEL mistral:7b is not installed — ollama pull mistral:7b" in lines
    assert (
        "✗ VISION_MODEL llava is not installed — ollama pull llava"
        " (until then photos are answered only by models that can see)"
    ) in lines


async def test_a_database_not_created_yet_is_left_alone(
    tg: FakeTelegram, ollama: FakeOllama, tmp_path: Path
) -> None:
    db_path = tmp_path / "state" / "ollagram.sqlite3"
    code, lines = await run_doctor(tg, ollama, db_path)
    assert code == 0
    assert f"✓ database {db_path}: not created yet; its folder is writable" in lines
    assert not db_path.parent.exists(), "the doctor creates nothing"


async def test_doctor_command_line(tg: FakeTelegram, ollama: FakeOllama, tmp_path: Path) -> None:
    (tmp_path / "config.env").write_text(
        f"TELEGRAM_BOT_TOKEN={tg.token}\nTELEGRAM_API_URL={tg.url}\nOLLAMA_HOST={ollama.url}\n"
        "ALLOWED_USER_IDS=5\n"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "doctor",
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    text = output.decode()
    assert process.returncode == 0, text
    assert text.count("✓ ") == 7
    assert tg.token.split(":")[1] not in text


async def test_every_server_gets_its_line(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    dead = "http://127.0.0.1:9"  # nothing listens on the discard port
    code, lines = await run_doctor(tg, ollama, db_path, ollama_host=f"{ollama.url},{dead}")
    assert code == 1
    assert any(line.startswith("✓ Ollama 0.") and ollama.url in line for line in lines)
    assert f"✗ Ollama at {dead} is not reachable" in " ".join(lines)
    assert any(line.startswith("✓ VISION_MODEL llava is installed") for line in lines)
