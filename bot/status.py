"""What /status reports: the Ollama server, its models, and the bot itself."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.errors import LLMError
from bot.llm import InstalledModel, LoadedModel


class StatusServer(Protocol):
    """What /status asks the model server."""

    host: str

    async def version(self) -> str: ...
    async def loaded_models(self) -> list[LoadedModel]: ...
    async def installed_models(self) -> list[InstalledModel]: ...


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


async def gather_status(
    server: StatusServer,
    store: StatusStore,
    *,
    started_at: float,
    with_users: bool,
) -> StatusReport:
    """Ask everything /status shows; an unreachable Ollama is a fact to report, not an error."""
    version: str | None = None
    loaded: list[LoadedModel] = []
    installed: int | None = None
    with contextlib.suppress(LLMError):  # what could be asked before a failure is still shown
        version = await server.version()
        loaded = await server.loaded_models()
        installed = len(await server.installed_models())
    return StatusReport(
        host=server.host,
        version=version,
        loaded=loaded,
        installed_count=installed,
        uptime_s=time.monotonic() - started_at,
        database_bytes=store.size_bytes(),
        users=await store.users_count() if with_users else None,
    )
