"""Shared fixtures: a clean environment for every test."""

from __future__ import annotations

import pytest

# The variables ollagram reads; a developer's shell must not leak into tests.
OUR_VARIABLES = (
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_API_URL",
    "OLLAMA_HOST",
    "ALLOWED_USER_IDS",
    "ADMIN_USER_IDS",
    "ALLOWED_CHAT_IDS",
    "DATABASE_PATH",
    "DEFAULT_MODEL",
    "VISION_MODEL",
    "DEFAULT_ROLE",
    "LOG_LEVEL",
    "STATE_DIRECTORY",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts without any of our variables set."""
    for name in OUR_VARIABLES:
        monkeypatch.delenv(name, raising=False)
