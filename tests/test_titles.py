"""A conversation's title: what the model wrote, tidied; the question's words when the model
gives nothing usable."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot import titles
from bot.errors import OllamaUnavailable
from bot.llm import ChatEvent, TextDelta
from bot.titles import TITLE_MAX_CHARS, clean_title, shorten, write_title


@pytest.mark.parametrize(
    ("written", "title"),
    [
        ("Trip to Lisbon", "Trip to Lisbon"),
        ('"Trip to Lisbon".', "Trip to Lisbon"),
        ("**Trip to Lisbon**\n\nThis title reflects…", "Trip to Lisbon"),
        ("Title: Baking bread", "Baking bread"),
        ("标题：里斯本之旅。", "里斯本之旅"),
        ("  \n « Planning » \n", "Planning"),
    ],
)
def test_the_models_title_is_tidied(written: str, title: str) -> None:
    assert clean_title(written, "the question") == title


def test_an_echoed_instruction_or_a_ramble_is_no_title() -> None:
    echoed = "\n\n[INST]Write a title of at most six words for a conversation that begins with"
    assert clean_title(echoed, "Plan a trip to Lisbon") == "Plan a trip to Lisbon"
    ramble = "This conversation is about planning a trip and many other things besides those"
    assert clean_title(ramble, "Plan a trip") == "Plan a trip"
    assert clean_title("<start_of_turn>Lisbon trip<end_of_turn>", "q") == "Lisbon trip"


def test_nothing_usable_gives_the_questions_own_words() -> None:
    assert clean_title('""', "How   do I\nbake bread?") == "How do I bake bread?"
    assert clean_title("", "") == "…"


def test_long_titles_are_cut_at_a_word() -> None:
    long = "A very long title about many different things that goes on and on forever"
    cut = shorten(long)
    assert len(cut) <= TITLE_MAX_CHARS
    assert cut.endswith("…")
    assert long.startswith(cut[:-1])
    assert cut[-2] != " "
    assert shorten("short") == "short"


async def test_a_failing_or_silent_model_leaves_the_question_as_title(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def down(prompt: str, **how: Any) -> AsyncIterator[ChatEvent]:
        raise OllamaUnavailable("http://model")
        yield TextDelta("")  # pragma: no cover - makes this a generator

    async def slow(prompt: str, **how: Any) -> AsyncIterator[ChatEvent]:
        await asyncio.sleep(5)
        yield TextDelta("Too late")

    assert await write_title(down, "Why is the sky blue?") == "Why is the sky blue?"
    monkeypatch.setattr(titles, "TITLE_TIMEOUT_S", 0.01)
    assert await write_title(slow, "Why is the sky blue?") == "Why is the sky blue?"


async def test_the_model_is_asked_about_the_question_with_the_callers_options() -> None:
    asked: list[tuple[str, dict[str, Any]]] = []

    async def model(prompt: str, **how: Any) -> AsyncIterator[ChatEvent]:
        asked.append((prompt, how))
        for word in ("Sky ", "colour"):
            yield TextDelta(word)

    title = await write_title(model, "Why is the sky blue?", options={"num_ctx": 8192})
    assert title == "Sky colour"
    [(prompt, how)] = asked
    assert prompt.endswith("Why is the sky blue?")
    assert how == {"options": {"num_ctx": 8192}}
