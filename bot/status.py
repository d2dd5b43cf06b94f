"""What /status reports: the Ollama server, its models, and the bot itself."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from bot.errors import BotError, LLMError
from bot.llm import BackendReport, InstalledModel, LoadedModel

STATUS_TIMEOUT_S = 10.0  # /status answers promptly even when Ollama hangs

T = TypeVar("T")


async def _asked(question: Awaitable[T]) -> T | None:
    """The answer, or None when Ollama cannot give it (down, or too slow)."""
    try:
        async with asyncio.timeout(STATUS_TIMEOUT_S):
            return await question
    except (LLMError, TimeoutError):
        return None


class StatusServer(Protocol):
    """What /status asks the model server."""

    host: str

    async def version(self) -> str: ...
    async def loaded_models(self) -> list[LoadedModel]: ...
    async def installed_models(self) -> list[InstalledModel]: ...
    async def reports(self) -> list[BackendReport]: ...
    def versions(self, reports: Sequence[BackendReport]) -> str: ...


class StatusStore(Protocol):
    """What /status asks the database."""

    async def users_count(self) -> int: ...
    def size_bytes(self) -> int: ...


@dataclass(frozen=True, slots=True)
class StatusReport:
    """Everything /status shows; `version` is None when Ollama is unreachable."""

    host: str
    version: str | None
    loaded: Sequence[LoadedModel]
    installed_count: int | None
    uptime_s: float
    database_bytes: int
    users: int | None
    servers: Sequence[BackendReport] = ()  # each server, when there are several


async def gather_status(
    server: StatusServer,
    store: StatusStore,
    *,
    started_at: float,
    with_users: bool,
) -> StatusReport:
    """Ask everything /status shows; an unreachable Ollama is a fact to report, not an error."""
    servers = await _asked(server.reports()) or []
    try:
        version: str | None = server.versions(servers)
    except BotError:
        version = None
    loaded = await _asked(server.loaded_models()) if version is not None else None
    installed = await _asked(server.installed_models()) if version is not None else None
    return StatusReport(
        host=server.host,
        version=version,
        loaded=loaded or [],
        installed_count=len(installed) if installed is not None else None,
        uptime_s=time.monotonic() - started_at,
        database_bytes=store.size_bytes(),
        users=await store.users_count() if with_users else None,
        servers=servers if len(servers) > 1 else (),
    )
