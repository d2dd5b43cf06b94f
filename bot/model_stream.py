"""A model's answer on its way to the user: where it is shown (AnswerSink), streaming the model's
events into it until they end, /stop comes or it is full, saving the text so far every few
seconds, showing how it ended, and the journal line for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from bot.errors import BotError, LLMError
from bot.llm.types import AnswerDone, ChatEvent, TextDelta, ThinkingDelta
from bot.notices import AnswerFooter, Notice
from bot.records import AnswerFigures, AnswerStatus

log = logging.getLogger(__name__)

CHECKPOINT_INTERVAL_S = 2.0  # how much of an answer a crash may lose
LOADED_CHECK_TIMEOUT_S = 0.5  # asking the server what it has loaded must not hold up the answer


class AnswerSink(Protocol):
    """Where an answer is shown while it is written (the Telegram side implements it)."""

    def begin(self) -> None:
        """The answer's turn has come: show that the model is working; must not block."""

    def waiting(self, ahead: int) -> None:
        """The question waits for the model: `ahead` others go first; must not block."""

    def loading(self, model: str, size_bytes: int) -> None:
        """The model is being loaded into memory before it can answer (`size_bytes` on disk,
        0 if unknown): say so until its first words replace it; must not block."""

    def think(self, delta: str) -> None:
        """Add reasoning a thinking model wrote before its answer; must not block."""

    def append(self, delta: str) -> None:
        """Add text the model wrote; must not block."""

    async def until_full(self) -> None:
        """Return once the answer has outgrown what one answer may show (MAX_ANSWER_PAGES): the
        model is then stopped and the answer ends as `stopped`."""

    async def finish(
        self,
        status: AnswerStatus,
        footer: AnswerFooter | None = None,
        *,
        cut_at_length: bool = False,
        follow_up: FollowUp | None = None,
    ) -> None:
        """Show the whole answer for good (`stopped` when the user cut it short,
        `cut_at_length` when the model reached MAX_ANSWER_TOKENS), with the footer line if
        there is one, and the ways to follow it up (`follow_up`) under it."""

    async def fail(self, error: BotError) -> None:
        """Keep what was shown and tell the user what went wrong."""

    async def notice(self, notice: Notice) -> None:
        """Tell the user something worth knowing before the answer (a message of its own)."""

    async def titled(self, title: str) -> None:
        """The answer's conversation got its title (the model wrote it from the first
        question): show it where the conversation lives, e.g. as its topic's name."""


@dataclass(frozen=True, slots=True)
class Streamed:
    """How streaming one answer went."""

    text: str
    done: AnswerDone | None
    status: AnswerStatus
    error: BotError | None

    @property
    def figures(self) -> AnswerFigures:
        """Ollama's counts and durations (none when the answer did not end normally)."""
        return figures_of(self.done)

    @property
    def done_reason(self) -> str | None:
        """Why the model ended ("length": it reached the longest answer it may write)."""
        return None if self.done is None else self.done.done_reason

    @property
    def can_continue(self) -> bool:
        """The model may go on with it: stopped, or cut at the longest answer allowed."""
        return self.status == "stopped" or self.done_reason == "length"


@dataclass(frozen=True, slots=True)
class FollowUp:
    """What may follow an answer in its conversation: writing it again, or going on with it
    (`can_continue`). Offered under the conversation's last answer only."""

    conversation: int
    answer_id: int
    can_continue: bool


async def tell_if_loading(
    size_if_unloaded: Callable[[str], Awaitable[int | None]], model: str, sink: AnswerSink
) -> None:
    """Say so when the model must be loaded into memory first: its first words then take
    seconds, and the user should know why."""
    try:
        async with asyncio.timeout(LOADED_CHECK_TIMEOUT_S):
            size = await size_if_unloaded(model)
    except (LLMError, TimeoutError):
        return  # the request itself says what is wrong, if anything is
    if size is not None:
        sink.loading(model, size)


async def deliver(
    streamed: Streamed,
    sink: AnswerSink,
    footer: AnswerFooter | None = None,
    follow_up: FollowUp | None = None,
) -> None:
    """Show how the answer ended: for good (with what may follow it), or what went wrong."""
    if streamed.error is not None:
        await sink.fail(streamed.error)
    else:
        length = streamed.done_reason == "length"
        await sink.finish(streamed.status, footer, cut_at_length=length, follow_up=follow_up)


async def stream_answer(
    events: AsyncIterator[ChatEvent],
    sink: AnswerSink,
    stop: asyncio.Event,
    *,
    checkpoint: Callable[[str], Awaitable[None]] | None = None,
) -> Streamed:
    """Pump `events` into `sink` until they end, `stop` is set or the sink is full (then the
    answer is `stopped`); `checkpoint` gets the text so far every few seconds."""
    parts: list[str] = []
    done: list[AnswerDone] = []
    writing = asyncio.ensure_future(_pump(events, sink, parts, done))
    stopping = asyncio.ensure_future(stop.wait())
    full = asyncio.ensure_future(sink.until_full())
    saving = asyncio.ensure_future(_checkpoints(parts, checkpoint))
    try:
        await asyncio.wait({writing, stopping, full}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        full.cancel()
        saving.cancel()
        if not writing.done():
            writing.cancel()
        # wait() settles the tasks without raising their errors; the answer's is read below.
        await asyncio.wait({writing, saving})
    error = None if writing.cancelled() else writing.exception()
    status: AnswerStatus = "stopped" if writing.cancelled() else "complete"
    if error is not None:
        status = "error"
        if not isinstance(error, BotError):
            log.error("the answer stream failed", exc_info=error)
            error = BotError("unexpected failure")
    return Streamed("".join(parts), done[0] if done else None, status, error)


async def _pump(
    stream: AsyncIterator[ChatEvent],
    sink: AnswerSink,
    parts: list[str],
    done: list[AnswerDone],
) -> None:
    async for event in stream:
        if isinstance(event, TextDelta):
            if event.content:
                parts.append(event.content)
                sink.append(event.content)
        elif isinstance(event, ThinkingDelta):
            sink.think(event.content)
        else:
            done.append(event)


async def _checkpoints(parts: list[str], save: Callable[[str], Awaitable[None]] | None) -> None:
    """Save the text so far every few seconds, so a crash (kill -9) loses little."""
    if save is None:
        return
    saved = 0
    while True:
        await asyncio.sleep(CHECKPOINT_INTERVAL_S)
        if len(parts) != saved:
            saved = len(parts)
            try:
                await save("".join(parts))
            except Exception:  # the answer goes on; the final save will try again
                log.exception("could not checkpoint an answer")


def log_answer(
    who: tuple[int, int],
    model: str,
    streamed: Streamed,
    seconds: float,
    *,
    kind: Literal["chat", "ask", "compare"] = "chat",
    question: str | None = None,
) -> None:
    """One line per answer, for the journal: who (user and chat ids), which model, how much, how
    it ended; the question and answer themselves only when `question` is given (LOG_CONTENT)."""
    figures = streamed.figures
    fields: dict[str, object] = {
        "user_id": who[0],
        "chat_id": who[1],
        "model": model,
        "status": streamed.status,
        "prompt_tokens": figures.prompt_tokens,
        "answer_tokens": figures.completion_tokens,
        "seconds": round(seconds, 2),
        "kind": kind,
    }
    if question is not None:  # repr keeps each on the one line
        fields["question"] = repr(question)
        fields["answer"] = repr(streamed.text)
    log.info("answer " + " ".join(f"{key}=%s" for key in fields), *fields.values(), extra=fields)


def figures_of(done: AnswerDone | None) -> AnswerFigures:
    """Ollama's figures from the end of an answer (empty without one)."""
    if done is None:
        return AnswerFigures()
    return AnswerFigures(
        prompt_tokens=done.prompt_eval_count,
        completion_tokens=done.eval_count,
        total_duration_ns=done.total_duration_ns,
        eval_duration_ns=done.eval_duration_ns,
    )
