"""ModelRouter: several model servers behind the one gateway interface.

A household may run Ollama on two machines and LM Studio on a third. The router lists the
models of every reachable server, sends each request to a server that has the model, and when a
server does not answer before the first word, tries the next one that has it. A server that did
not answer is left alone for a while (5 s, doubling up to a minute) and then asked again, so one
that comes back is used again without a restart. Above this module nothing knows there is more
than one server.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from bot.errors import LLMError, ManagedElsewhere, ModelNotFound, OllamaUnavailable
from bot.llm.backend import Backend
from bot.llm.health import ServerHealth
from bot.llm.types import (
    ChatEvent,
    ChatMessage,
    InstalledModel,
    LoadedModel,
    ModelFacts,
    PullStatus,
)

BACKOFF_START_S = 5.0
BACKOFF_MAX_S = 60.0
LISTING_TIMEOUT_S = 10.0  # a server that takes longer to list its models counts as down


@dataclass(slots=True)
class _Reached:
    """Whether a server answered (set while its events are passed on)."""

    yes: bool = False


@dataclass(frozen=True, slots=True)
class BackendReport:
    """One server as /status and doctor show it."""

    name: str
    kind: str
    host: str
    version: str | None  # None: not reachable
    models: int | None


def _same(a: str, b: str) -> bool:
    """Model names as servers compare them (`name` means `name:latest` to Ollama)."""

    def norm(name: str) -> str:
        name = name.lower()
        return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"

    return a == b or norm(a) == norm(b)


class ModelRouter:
    """Every configured server behind one gateway; the first one is the default for /pull."""

    def __init__(
        self, backends: Sequence[Backend], *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """`clock` (monotonic seconds) times the rest of a server that did not answer."""
        if not backends:
            raise ValueError("a router needs at least one backend")
        self.backends = list(backends)
        # Where the servers are, for messages: one address, or all of them.
        self.host = ", ".join(b.host for b in self.backends)
        self._health = ServerHealth(
            (b.name for b in self.backends),
            first_rest_s=BACKOFF_START_S,  # read now: tests shorten it
            longest_rest_s=BACKOFF_MAX_S,
            clock=clock,
        )
        self._models: dict[str, list[str]] = {}  # server name → its models, as last listed
        self._last: dict[str, list[InstalledModel]] = {}

    # -- listing ------------------------------------------------------------------------------

    async def installed_models(self) -> list[InstalledModel]:
        """The models of every server, each once, `location` naming where it lives when there
        is more than one server. A server that is down shows its last list, marked "(down)":
        its models are still the users' choices, not removed ones."""
        found: dict[str, InstalledModel] = {}
        listings = await self._listings(force=False)
        if all(models is None for _, models in listings):
            # Every server is resting after a failure: ask them anyway rather than fail
            # without asking (the one that is back answers).
            listings = await self._listings(force=True)
        if all(models is None for _, models in listings):
            raise OllamaUnavailable(self.host)
        for backend, models in listings:
            where = backend.name
            if models is None:
                models = self._last.get(backend.name, [])
                where = f"{backend.name} (down)"
            for model in models:
                key = model.name.lower()
                if key in found:
                    found[key] = replace(found[key], location=f"{found[key].location}, {where}")
                else:
                    found[key] = replace(model, location=where if len(self.backends) > 1 else "")
        return list(found.values())

    async def _listings(self, *, force: bool) -> list[tuple[Backend, list[InstalledModel] | None]]:
        """Every server's list at once (one slow server does not hold up the others)."""
        lists = await asyncio.gather(*(self._listing(b, force=force) for b in self.backends))
        return list(zip(self.backends, lists, strict=True))

    async def _listing(
        self, backend: Backend, *, force: bool = False
    ) -> list[InstalledModel] | None:
        """The server's models, or None when it is down (it is then left alone a while, unless
        `force`)."""
        if not force and not self._health.is_up(backend.name):
            return None
        try:
            async with asyncio.timeout(LISTING_TIMEOUT_S):
                models = await backend.installed_models()
        except (OllamaUnavailable, TimeoutError):
            self._health.failed(backend.name)
            return None
        self._health.answered(backend.name)
        self._models[backend.name] = [m.name for m in models]
        self._last[backend.name] = models
        return models

    async def _servers_for(self, model: str) -> list[Backend]:
        """The servers to try for `model`: those that listed exactly that name first, then
        those that listed it under another spelling (`name` / `name:latest`), reachable ones
        first in each; if none did, the lists are asked again."""
        having = [b for b in self.backends if self._has(b, model)]
        if not having:
            await self._listings(force=True)
            having = [b for b in self.backends if self._has(b, model)]
        if not having and len(self.backends) == 1:
            return list(self.backends)  # one server: let it say what is wrong itself
        exact = model.lower()
        return sorted(
            having,
            key=lambda b: (
                exact not in (name.lower() for name in self._models.get(b.name, ())),
                not self._health.is_up(b.name),
            ),
        )

    def _name_on(self, backend: Backend, model: str) -> str:
        """`model` as `backend` listed it (servers spell the same model differently)."""
        listed = self._models.get(backend.name, ())
        return next((n for n in listed if n.lower() == model.lower()), None) or next(
            (n for n in listed if _same(n, model)), model
        )

    def _has(self, backend: Backend, model: str) -> bool:
        return any(_same(name, model) for name in self._models.get(backend.name, ()))

    # -- answers ------------------------------------------------------------------------------

    async def chat(
        self,
        model: str,
        messages: Sequence[ChatMessage],
        *,
        options: Mapping[str, Any] | None = None,
        think: bool | None = None,
        keep_alive: str | int | None = None,
    ) -> AsyncIterator[ChatEvent]:
        """`/api/chat` (or its OpenAI equivalent) on a server that has `model`."""

        def ask(backend: Backend, name: str) -> AsyncIterator[ChatEvent]:
            return backend.chat(name, messages, options=options, think=think, keep_alive=keep_alive)

        async for event in self._routed(model, ask):
            yield event

    async def generate(
        self,
        model: str,
        prompt: str,
        *,
        system: str | None = None,
        options: Mapping[str, Any] | None = None,
        think: bool | None = None,
        keep_alive: str | int | None = None,
    ) -> AsyncIterator[ChatEvent]:
        """A one-shot answer on a server that has `model`."""

        def ask(backend: Backend, name: str) -> AsyncIterator[ChatEvent]:
            return backend.generate(
                name, prompt, system=system, options=options, think=think, keep_alive=keep_alive
            )

        async for event in self._routed(model, ask):
            yield event

    async def _routed(
        self, model: str, ask: Callable[[Backend, str], AsyncIterator[ChatEvent]]
    ) -> AsyncIterator[ChatEvent]:
        """`ask` the servers that have `model` in turn (each with its own spelling of the name)
        until one answers; ModelNotFound if none has it."""
        servers = await self._servers_for(model)
        for index, backend in enumerate(servers):
            reached = _Reached()
            events = ask(backend, self._name_on(backend, model))
            last = index == len(servers) - 1
            async for event in self._until_it_answers(backend, events, last, reached):
                yield event
            if reached.yes:
                return
        raise ModelNotFound(model, self.host)

    async def _until_it_answers(
        self,
        backend: Backend,
        events: AsyncIterator[ChatEvent],
        last: bool,
        reached: _Reached,
    ) -> AsyncIterator[ChatEvent]:
        """The server's events; a failure to connect before the first one leaves `reached`
        unset, so the caller tries the next server (on the last it is raised); a failure after
        it is the answer's own."""
        started = False
        try:
            async for event in events:
                started = True
                yield event
        except OllamaUnavailable:
            self._health.failed(backend.name)
            if started or last:
                raise
            return
        reached.yes = True
        self._health.answered(backend.name)

    async def size_if_unloaded(self, model: str) -> int | None:
        """`model`'s size on disk (0 if unknown) when the server that will answer it has not
        loaded it, so a load comes first; None when it is loaded, or the server does not say
        what it has loaded (OpenAI-compatible servers)."""
        servers = await self._servers_for(model)
        if not servers or not servers[0].manages_models:
            return None
        backend = servers[0]
        name = self._name_on(backend, model)
        try:
            loaded = await backend.loaded_models()
        except OllamaUnavailable:
            return None
        if any(_same(entry.name, name) for entry in loaded):
            return None
        listed = (m for m in self._last.get(backend.name, ()) if _same(m.name, name))
        return next((m.size_bytes for m in listed), 0)

    async def preload(
        self,
        model: str,
        *,
        options: Mapping[str, Any] | None = None,
        keep_alive: str | int | None = None,
    ) -> None:
        """Load `model` into memory on the server that will answer it, without generating."""
        servers = await self._servers_for(model)
        if servers:
            backend = servers[0]
            await backend.preload(
                self._name_on(backend, model), options=options, keep_alive=keep_alive
            )

    async def model_facts(self, model: str) -> ModelFacts:
        """What the first server that has `model` says about it."""
        servers = await self._servers_for(model)
        error: LLMError = ModelNotFound(model, self.host)
        for backend in servers:
            try:
                return await backend.model_facts(self._name_on(backend, model))
            except OllamaUnavailable as err:
                self._health.failed(backend.name)
                error = err
        raise error

    def forget(self, model: str) -> None:
        """Drop what every server's gateway cached about `model`."""
        for backend in self.backends:
            backend.forget(model)

    # -- management ---------------------------------------------------------------------------

    def managers(self) -> list[Backend]:
        """The servers that install and remove models (Ollama's)."""
        return [b for b in self.backends if b.manages_models]

    def manager_names(self) -> list[str]:
        """The names of the servers that install and remove models, in configured order."""
        return [b.name for b in self.managers()]

    def where(self, model: str) -> list[str]:
        """The names of the servers that listed `model`."""
        return [b.name for b in self.backends if self._has(b, model)]

    def _manager(self, location: str | None) -> Backend:
        managers = self.managers()
        if location is not None:
            managers = [b for b in managers if b.name == location]
        if not managers:
            raise OllamaUnavailable(location or self.host)
        return managers[0]

    def pull(self, model: str, location: str | None = None) -> AsyncIterator[PullStatus]:
        """Install `model` on the server called `location` (default: the first Ollama)."""
        return self._manager(location).pull(model)

    async def delete(self, model: str, location: str | None = None) -> None:
        """Remove `model` from the server called `location` (default: the first that has it)."""
        if location is None:
            having = [b for b in self.managers() if self._has(b, model)]
            elsewhere = [b for b in self.backends if not b.manages_models and self._has(b, model)]
            if not having and elsewhere:
                raise ManagedElsewhere(elsewhere[0].name)
            location = having[0].name if having else None
        await self._manager(location).delete(model)

    # -- status -------------------------------------------------------------------------------

    async def loaded_models(self) -> list[LoadedModel]:
        """Models in memory on every reachable server."""
        loaded: list[LoadedModel] = []
        for backend in self.backends:
            try:
                loaded += await backend.loaded_models()
            except OllamaUnavailable:
                continue
        return loaded

    async def version(self) -> str:
        """Each reachable server's version ("a:11434 0.12.6, b:11434 0.11.4"), one server's
        alone."""
        return self.versions(await self.reports())

    def versions(self, reports: Sequence[BackendReport]) -> str:
        """The version line of `reports` (OllamaUnavailable when none answered)."""
        up = [r for r in reports if r.version is not None]
        if not up:
            raise OllamaUnavailable(self.host)
        if len(self.backends) == 1:
            return str(up[0].version)
        return ", ".join(f"{r.name} {r.version}" for r in up)

    async def reports(self) -> list[BackendReport]:
        """Every server, asked at once: reachable or not, version, how many models."""
        return list(await asyncio.gather(*(self._report(b) for b in self.backends)))

    async def _report(self, backend: Backend) -> BackendReport:
        try:
            async with asyncio.timeout(LISTING_TIMEOUT_S):
                version: str | None = await backend.version()
                models: int | None = len(await backend.installed_models())
            self._health.answered(backend.name)
        except (LLMError, TimeoutError):
            self._health.failed(backend.name)
            version, models = None, None
        return BackendReport(backend.name, backend.kind, backend.host, version, models)

    async def close(self) -> None:
        """Close every server's connections."""
        for backend in self.backends:
            await backend.close()
