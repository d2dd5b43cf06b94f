"""Shared fixtures: a clean environment for every test."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Settings

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
