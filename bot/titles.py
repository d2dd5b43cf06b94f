"""A conversation's title, as chat apps give one: a few words the model writes from the first
question, tidied; the question's own first words when the model gives nothing usable.

Private conversations only (a group has no /chats to show them in), once each, after their
first answer, in a model slot of their own like any answer, and never over a name the user
gave meanwhile; a topic the bot opened takes the title as its name.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any, Protocol

from bot.chat_ports import ChatModel
from bot.context import ChatDefaults, Generation
from bot.errors import LLMError
from bot.history import AskedQuestion
from bot.llm.types import ChatEvent, TextDelta
from bot.model_stream import AnswerSink, Streamed
from bot.threads import ThreadRegistry

log = logging.getLogger(__name__)

TITLE_MOST_WORDS = 12  # "at most six" was asked; more than twice that is no title
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
    written = re.sub(r"\[/?[A-Z_]+\]|<[^>\n]{1,40}>", " ", written)  # template tokens, tags
    lines = [line.strip() for line in written.strip().splitlines() if line.strip()]
    title = lines[0] if lines else ""
    title = re.sub(r"^(title|titre|titel|标题)\s*[:：]\s*", "", title, flags=re.IGNORECASE)
    title = title.strip(" \t\"'`*#_“”‘’«»「」.。:")
    if not title or _not_a_title(title):
        title = " ".join(question.split())
    return shorten(title) or "…"


def _not_a_title(text: str) -> bool:
    """A small or base model may echo the instruction, or ramble on: no title then."""
    return "write a title" in text.lower() or len(text.split()) > TITLE_MOST_WORDS


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


class TitleStore(Protocol):
    """Where titles are kept."""

    async def rename_conversation(
        self, conversation_id: int, title: str, *, if_untitled: bool = False
    ) -> bool: ...


class ConversationTitler:
    """Titles new private conversations after their first answer, in the background."""

    def __init__(
        self,
        model: ChatModel,
        store: TitleStore,
        threads: ThreadRegistry,
        defaults: ChatDefaults,
    ) -> None:
        self._model = model
        self._store = store
        self._threads = threads
        self._defaults = defaults
        self._writing: set[int] = set()  # conversations whose title is being written

    def after_answer(
        self,
        asked: AskedQuestion,
        model: str,
        generation: Generation,
        streamed: Streamed,
        sink: AnswerSink,
    ) -> None:
        """Title the question's conversation if it has no title yet (and is private, and the
        answer came whole)."""
        place = asked.place
        wanted = (
            self._defaults.auto_titles
            and place.title is None
            and place.chat_id == place.user_id  # a private chat's id is its user's
            and streamed.status == "complete"
            and bool(asked.question.text.strip())
            and place.id not in self._writing
            and not self._threads.closing
        )
        if wanted:
            self._writing.add(place.id)
            task = asyncio.create_task(self._title(asked, model, generation, sink))
            self._threads.in_background(task)

    async def _title(
        self, asked: AskedQuestion, model: str, generation: Generation, sink: AnswerSink
    ) -> None:
        place = asked.place
        try:
            async with self._threads.model_slot(asyncio.Event(), _unseen) as held:
                if not held:  # shutting down
                    return
                options = {**generation.options, "num_predict": TITLE_TOKENS}  # no reload
                title = await write_title(
                    partial(self._model.generate, model),
                    asked.question.text,
                    options=options,
                    think=False if generation.think is not None else None,
                    keep_alive=self._defaults.keep_alive,
                )
            named = await self._store.rename_conversation(place.id, title, if_untitled=True)
            if named and place.topic is not None and place.topic_owned:
                await sink.titled(title)
        except Exception:  # a title is a nicety: the conversation goes on without one
            log.exception("could not title a conversation")
        finally:
            self._writing.discard(place.id)


def _unseen(ahead: int) -> None:
    """A title's place in the line for the model is nobody's concern."""
