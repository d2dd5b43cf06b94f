"""Shared fixtures: a clean environment for every test."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from bot.config import Settings
from tests.fakes.ollama import FakeOllama
from tests.fakes.telegram import FakeTelegram
from tests.harness import MODEL

# Property tests try the same examples on every run (CI must not turn up a new one at random);
# HYPOTHESIS_PROFILE=explore searches afresh, and longer.
hypothesis_settings.register_profile(
    "repeatable", max_examples=300, derandomize=True, deadline=None
)
hypothesis_settings.register_profile("explore", max_examples=3000, deadline=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

# Every variable ollagram reads: a developer's shell must not leak into tests.
OUR_VARIABLES = (*(name.upper() for name in Settings.model_fields), "STATE_DIRECTORY")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts without any of our variables set."""
    for name in OUR_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A database file of the test's own."""
    return tmp_path / "ollagram.sqlite3"


# The end-to-end fakes most test files want; a file that needs others defines its own.
@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    """FakeTelegram with group limits scaled 10x down (20 per 6 s): group tests run in seconds
    but the limit still bites."""
    async with FakeTelegram(group_limit=20, group_window=6.0) as fake:
        yield fake


@pytest.fixture
async def ollama() -> AsyncIterator[FakeOllama]:
    """FakeOllama with one chat model, llama3.2:latest, and an 8192-token window."""
    async with FakeOllama() as fake:
        fake.add_model(MODEL, context_length=8192)
        yield fake


# Files whose tests run the bot or another program as a real process.
PROCESS_TESTS = frozenset(
    {
        "test_cli.py",
        "test_config.py",
        "test_deploy.py",
        "test_examples_process.py",
        "test_faults.py",
    }
)
E2E_FIXTURES = frozenset({"tg", "ollama", "llama_server"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the end-to-end tests (`-m "not e2e"` runs the unit tests of the parts alone)."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if (
            item.path.name in PROCESS_TESTS
            or item.path.name.endswith("_e2e.py")
            or (fixtures & E2E_FIXTURES)
        ):
            item.add_marker(pytest.mark.e2e)
