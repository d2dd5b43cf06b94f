"""`ollagram doctor`'s voice line: who hears voice messages, and what fails when a way that is
set does not work (voice is optional: with none set the line says how to have one)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.ollama import FakeOllama
from tests.fakes.telegram import FakeTelegram
from tests.fakes.transcription import FakeTranscriber
from tests.test_doctor import run_doctor

HEARS = "gemma4:e2b"


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


def voice_line(lines: list[str]) -> str:
    words = ("voice messages", "AUDIO_MODEL", "transcription server")
    [line] = [line for line in lines if any(w in line for w in words)]
    return line


async def test_without_a_way_to_hear_the_doctor_says_how_and_passes(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    code, lines = await run_doctor(tg, ollama, db_path)
    assert code == 0, lines
    assert voice_line(lines) == (
        "✓ voice messages are not heard: nothing here transcribes (ollama pull gemma4:e2b, or "
        "set TRANSCRIBE_BASE_URL to a transcription server)"
    )


async def test_an_installed_model_that_hears_is_named(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.add_model(HEARS, capabilities=("completion", "audio"))
    code, lines = await run_doctor(tg, ollama, db_path)
    assert code == 0, lines
    assert voice_line(lines) == f"✓ voice messages are heard by {HEARS} (it hears audio)"


async def test_an_audio_model_that_is_missing_or_deaf_fails(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    code, lines = await run_doctor(tg, ollama, db_path, audio_model=HEARS)
    assert code == 1
    assert voice_line(lines) == f"✗ AUDIO_MODEL {HEARS} is not installed — ollama pull {HEARS}"
    code, lines = await run_doctor(tg, ollama, db_path, audio_model="llava")
    assert code == 1
    assert voice_line(lines).startswith("✗ AUDIO_MODEL llava cannot hear audio — set AUDIO_MODEL")


async def test_a_transcription_server_is_asked(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with FakeTranscriber() as server:
        code, lines = await run_doctor(tg, ollama, db_path, transcribe_base_url=server.url)
        assert code == 0, lines
        assert voice_line(lines) == (
            f"✓ voice messages are heard by the transcription server {server.url} "
            "(Systran/faster-whisper-small)"
        )
        code, lines = await run_doctor(
            tg, ollama, db_path, transcribe_base_url=server.url, transcribe_model="whisper-9"
        )
        assert code == 1
        assert voice_line(lines) == (
            f"✗ transcription server {server.url} has no model whisper-9 — fix TRANSCRIBE_MODEL "
            "(the name the server lists)"
        )
        server.down = True
        code, lines = await run_doctor(tg, ollama, db_path, transcribe_base_url=server.url)
    assert code == 1
    assert voice_line(lines) == (
        f"✗ transcription server {server.url} is not reachable — start it or fix "
        "TRANSCRIBE_BASE_URL"
    )


async def test_the_transcription_server_is_checked_even_with_ollama_down(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    await ollama.go_down()
    async with FakeTranscriber() as server:
        code, lines = await run_doctor(tg, ollama, db_path, transcribe_base_url=server.url)
    assert code == 1, "Ollama is down"
    assert voice_line(lines) == (
        f"✓ voice messages are heard by the transcription server {server.url} "
        "(Systran/faster-whisper-small)"
    )
