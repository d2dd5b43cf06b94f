"""A conversation's title, as chat apps give one: a few words the model writes from the first
question, tidied; the question's own first words when the model gives nothing usable."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

from bot.errors import LLMError
from bot.llm.types import ChatEvent, TextDelta

TITLE_MAX_CHARS = 48  # fits a topic's name (128) and one /chats button
TITLE_TOKENS = 24  # enough for a few words; a title is no essay
TITLE_TIMEOUT_S = 60.0  # a busy server answers questions first; a title can do without
QUESTION_SHOWN_CHARS = 600  # the model needs the gist of the question, not all of it

TITLE_INSTRUCTION = (
    "Write a title of at most six words for a conversation that begins with the message below. "
    "Use the message's language. Reply with the title only: no quotes, no punctuation at the "
    "end, no explanation.\n\nMessage:\n"
)


def title_prompt(question: str) -> str:
    """What the model is asked for a title."""
    return TITLE_INSTRUCTION + question[:QUESTION_SHOWN_CHARS]


def clean_title(written: str, question: str) -> str:
    """The model's title, tidied (its first line, without quotes, markup or a "Title:"
    prefix, shortened at a word); the question's first words when nothing usable is left."""
    lines = [line.strip() for line in written.strip().splitlines() if line.strip()]
    title = lines[0] if lines else ""
    title = re.sub(r"^(title|titre|titel|标题)\s*[:：]\s*", "", title, flags=re.IGNORECASE)
    title = title.strip(" \t\"'`*#_“”‘’«»「」.。:")
    if not title:
        title = " ".join(question.split())
    return shorten(title) or "…"


def shorten(text: str, limit: int = TITLE_MAX_CHARS) -> str:
    """`text` within `limit` characters, cut at a word when it can be."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:-") + "…"


async def write_title(
    ask: Callable[..., AsyncIterator[ChatEvent]], question: str, **how: Any
) -> str:
    """A title for a conversation beginning with `question`: `ask(prompt, **how)` is the
    model's one-shot request. Falls back to the question's own words when the model fails or
    takes too long."""
    parts: list[str] = []
    try:
        async with asyncio.timeout(TITLE_TIMEOUT_S):
            async for event in ask(title_prompt(question), **how):
                if isinstance(event, TextDelta):
                    parts.append(event.content)
    except (LLMError, TimeoutError):
        parts.clear()
    return clean_title("".join(parts), question)
