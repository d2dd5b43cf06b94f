"""ModelRouter on its own: in-memory model servers through its Backend protocol (no HTTP), and a
clock of the test's own for the rest of a server that did not answer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from bot.errors import ManagedElsewhere, ModelNotFound, OllamaUnavailable, ServerUnavailable
from bot.llm.health import ServerHealth
from bot.llm.router import BACKOFF_START_S, ModelRouter
from bot.llm.types import (
    AnswerDone,
    ChatEvent,
    ChatMessage,
    InstalledModel,
    LoadedModel,
    ModelFacts,
    PullStatus,
    TextDelta,
)

QUESTION = [ChatMessage("user", "hello")]


class ManualClock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeServer:
    """One model server in memory: it answers "<model> on <name>", or fails as told."""

    name: str
    models: dict[str, int]  # name → size on disk
    kind: str = "Ollama"
    manages_models: bool = True
    loaded: list[str] = field(default_factory=list)
    up: bool = True
    breaks_after_first_word: bool = False
    asked: list[str] = field(default_factory=list)  # the model names chat was asked for
    preloaded: list[str] = field(default_factory=list)
    host: str = field(init=False)

    def __post_init__(self) -> None:
        self.host = f"{self.name}:11434"

    def _reachable(self) -> None:
        if not self.up:
            raise ServerUnavailable(self.host)

    async def chat(
        self,
        model: str,
        messages: Sequence[ChatMessage],
        *,
        options: Mapping[str, Any] | None = None,
        think: bool | None = None,
        keep_alive: str | int | None = None,
    ) -> AsyncIterator[ChatEvent]:
        self.asked.append(model)
        self._reachable()
        if model not in self.models:
            raise ModelNotFound(model, self.host)
        yield TextDelta(f"{model} on {self.name}")
        if self.breaks_after_first_word:
            raise ServerUnavailable(self.host)
        yield AnswerDone(done_reason="stop")

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
        async for event in self.chat(model, [ChatMessage("user", prompt)]):
            yield event

    async def installed_models(self) -> list[InstalledModel]:
        self._reachable()
        return [InstalledModel(name, size) for name, size in self.models.items()]

    async def model_facts(self, model: str) -> ModelFacts:
        self._reachable()
        return ModelFacts(context_length=4096)

    async def pull(self, model: str) -> AsyncIterator[PullStatus]:
        yield PullStatus("success")

    async def delete(self, model: str) -> None:
        self.models.pop(model)

    async def loaded_models(self) -> list[LoadedModel]:
        self._reachable()
        return [LoadedModel(name, self.models[name], 0, None) for name in self.loaded]

    async def preload(
        self,
        model: str,
        *,
        options: Mapping[str, Any] | None = None,
        keep_alive: str | int | None = None,
    ) -> None:
        self.preloaded.append(model)

    async def version(self) -> str:
        self._reachable()
        return "0.12.6"

    def forget(self, model: str) -> None:
        """Nothing is cached."""

    async def close(self) -> None:
        """Nothing to close."""


def lm_studio(models: dict[str, int]) -> FakeServer:
    """An OpenAI-compatible server: it cannot say what it has loaded, nor manage models."""
    return FakeServer("studio", models, kind="OpenAI-compatible", manages_models=False)


async def answer(router: ModelRouter, model: str) -> str:
    return "".join(
        [e.content async for e in router.chat(model, QUESTION) if isinstance(e, TextDelta)]
    )


async def test_a_model_is_asked_on_the_server_that_listed_it() -> None:
    desktop = FakeServer("desktop", {"qwen2.5:14b": 9})
    laptop = FakeServer("laptop", {"llama3.2:latest": 2})
    router = ModelRouter([desktop, laptop])

    assert await answer(router, "llama3.2:latest") == "llama3.2:latest on laptop"
    assert await answer(router, "qwen2.5:14b") == "qwen2.5:14b on desktop"
    assert desktop.asked == ["qwen2.5:14b"]
    assert laptop.asked == ["llama3.2:latest"]


async def test_each_server_is_asked_with_its_own_spelling_of_the_name() -> None:
    laptop = FakeServer("laptop", {"llama3.2:latest": 2})
    router = ModelRouter([FakeServer("desktop", {}), laptop])

    assert await answer(router, "llama3.2") == "llama3.2:latest on laptop"
    assert laptop.asked == ["llama3.2:latest"]


async def test_a_server_down_before_the_first_word_hands_over_and_then_rests() -> None:
    clock = ManualClock()
    desktop = FakeServer("desktop", {"gemma3:4b": 3})
    laptop = FakeServer("laptop", {"gemma3:4b": 3})
    router = ModelRouter([desktop, laptop], clock=clock)
    await router.installed_models()
    desktop.up = False

    assert await answer(router, "gemma3:4b") == "gemma3:4b on laptop"
    assert await answer(router, "gemma3:4b") == "gemma3:4b on laptop"
    assert len(desktop.asked) == 1, "a resting server is not asked"

    desktop.up = True
    clock.now += BACKOFF_START_S
    assert await answer(router, "gemma3:4b") == "gemma3:4b on desktop"


async def test_the_last_server_down_is_the_answers_failure() -> None:
    desktop = FakeServer("desktop", {"gemma3:4b": 3})
    laptop = FakeServer("laptop", {"gemma3:4b": 3})
    router = ModelRouter([desktop, laptop], clock=ManualClock())
    await router.installed_models()
    desktop.up = laptop.up = False

    with pytest.raises(OllamaUnavailable):
        await answer(router, "gemma3:4b")
    assert desktop.asked == laptop.asked == ["gemma3:4b"]


async def test_a_failure_after_the_first_word_is_the_answers_own() -> None:
    desktop = FakeServer("desktop", {"gemma3:4b": 3}, breaks_after_first_word=True)
    laptop = FakeServer("laptop", {"gemma3:4b": 3})
    router = ModelRouter([desktop, laptop])
    words: list[str] = []

    async def read() -> None:
        async for event in router.chat("gemma3:4b", QUESTION):
            assert isinstance(event, TextDelta)
            words.append(event.content)

    with pytest.raises(OllamaUnavailable):
        await read()
    assert words == ["gemma3:4b on desktop"]
    assert laptop.asked == [], "half an answer is not started again elsewhere"


async def test_a_model_on_no_server_is_not_found() -> None:
    router = ModelRouter([FakeServer("desktop", {"qwen2.5:14b": 9}), lm_studio({"phi-4": 0})])

    with pytest.raises(ModelNotFound):
        await answer(router, "mistral:7b")


async def test_size_if_unloaded_is_the_answering_servers_size_when_it_has_not_loaded_it() -> None:
    clock = ManualClock()
    desktop = FakeServer("desktop", {"gemma3:4b": 3_300}, loaded=["gemma3:4b"])
    laptop = FakeServer("laptop", {"gemma3:4b": 3_400})
    router = ModelRouter([desktop, laptop], clock=clock)
    await router.installed_models()

    assert await router.size_if_unloaded("gemma3:4b") is None, "loaded where it will answer"
    desktop.up = False
    await answer(router, "gemma3:4b")  # the desktop rests: the laptop answers next
    assert await router.size_if_unloaded("gemma3:4b") == 3_400


async def test_size_if_unloaded_is_none_on_a_server_that_cannot_tell() -> None:
    router = ModelRouter([FakeServer("desktop", {"qwen2.5:14b": 9}), lm_studio({"phi-4": 0})])

    assert await router.size_if_unloaded("phi-4") is None
    assert await router.size_if_unloaded("qwen2.5:14b") == 9


async def test_preload_goes_to_the_server_that_will_answer() -> None:
    desktop = FakeServer("desktop", {"llama3.2": 2, "gemma3:4b": 3})
    laptop = FakeServer("laptop", {"llama3.2:latest": 2, "gemma3:4b": 3, "qwen2.5:14b": 9})
    router = ModelRouter([desktop, laptop], clock=ManualClock())

    await router.preload("qwen2.5:14b")
    await router.preload("llama3.2")
    await router.preload("llama3.2:latest")
    assert desktop.preloaded == ["llama3.2"], "the server that listed the name as asked"
    assert laptop.preloaded == ["qwen2.5:14b", "llama3.2:latest"]

    desktop.up = False
    assert await answer(router, "gemma3:4b") == "gemma3:4b on laptop"
    await router.preload("gemma3:4b")
    assert desktop.preloaded == ["llama3.2"], "not to a resting server"
    assert laptop.preloaded[-1] == "gemma3:4b"


async def test_removing_a_model_that_only_an_openai_server_has_is_refused() -> None:
    router = ModelRouter([FakeServer("desktop", {}), lm_studio({"phi-4": 0})])
    await router.installed_models()

    with pytest.raises(ManagedElsewhere):
        await router.delete("phi-4")


def test_a_servers_rest_doubles_up_to_the_longest_and_one_answer_ends_it() -> None:
    clock = ManualClock()
    health = ServerHealth(["desktop"], first_rest_s=5, longest_rest_s=60, clock=clock)
    rests: list[float] = []
    for _ in range(6):
        health.failed("desktop")
        start = clock.now
        while not health.is_up("desktop"):
            clock.now += 1
        rests.append(clock.now - start)
    assert rests == [5, 10, 20, 40, 60, 60]

    health.failed("desktop")
    health.answered("desktop")
    assert health.is_up("desktop")
    health.failed("desktop")
    clock.now += 5
    assert health.is_up("desktop"), "after an answer the rest starts short again"
