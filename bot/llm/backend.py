"""Backend: what one model server offers the bot, whatever its kind (Ollama, or an
OpenAI-compatible one). The gateways (bot.llm.ollama, bot.llm.openai_compat) are Backends, and
the router puts several of them behind the same calls."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Protocol

from bot.llm.types import (
    ChatEvent,
    ChatMessage,
    InstalledModel,
    LoadedModel,
    ModelFacts,
    PullStatus,
)


class Backend(Protocol):
    """One model server: Ollama, or an OpenAI-compatible one."""

    host: str  # its address
    name: str  # how users see it
    kind: str  # "Ollama" or "OpenAI-compatible"
    manages_models: bool  # /pull and /rm work here

    def chat(
        self,
        model: str,
        messages: Sequence[ChatMessage],
        *,
        options: Mapping[str, Any] | None = None,
        think: bool | None = None,
        keep_alive: str | int | None = None,
    ) -> AsyncIterator[ChatEvent]: ...
    def generate(
        self,
        model: str,
        prompt: str,
        *,
        system: str | None = None,
        options: Mapping[str, Any] | None = None,
        think: bool | None = None,
        keep_alive: str | int | None = None,
    ) -> AsyncIterator[ChatEvent]: ...
    async def installed_models(self) -> list[InstalledModel]: ...
    async def model_facts(self, model: str) -> ModelFacts: ...
    def pull(self, model: str) -> AsyncIterator[PullStatus]: ...
    async def delete(self, model: str) -> None: ...
    async def loaded_models(self) -> list[LoadedModel]: ...
    async def preload(
        self,
        model: str,
        *,
        options: Mapping[str, Any] | None = None,
        keep_alive: str | int | None = None,
    ) -> None: ...
    async def version(self) -> str: ...
    def forget(self, model: str) -> None: ...
    async def close(self) -> None: ...
