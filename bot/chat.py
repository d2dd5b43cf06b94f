"""ChatService: from a user's message to a streamed, stored answer.

It assembles the context (role, history trimmed to the model's window, the new message), keeps
one answer at a time per (chat, user) with later messages waiting in order, streams the model's
words into an AnswerSink, and stores both sides with the answer's status and figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.errors import BotError, LLMError, ShuttingDown
from bot.llm import AnswerDone, ChatEvent, ChatMessage, ModelFacts, TextDelta
from bot.models import ModelChoice
from bot.notices import ModelReplaced, Notice
from bot.roles import find_role
from bot.store import (
    AnswerFigures,
    AnswerStatus,
    MessageRole,
    StoredMessage,
    UserProfile,
    UserSettings,
)

log = logging.getLogger(__name__)

HISTORY_LOAD_LIMIT = 400  # turns read from the store before trimming to the window
CHECKPOINT_INTERVAL_S = 2.0  # how much of an answer a crash may lose
STOP_DELIVERY_S = 10.0  # after the grace: time to deliver and store the cut answers


class HistoryStore(Protocol):
    """What ChatService needs from the database."""

    async def remember_user(self, profile: UserProfile) -> None: ...
    async def user_settings(self, user_id: int) -> UserSettings: ...
    async def forget_model(self, user_id: int, model: str) -> None: ...
    async def current_conversation(self, chat_id: int, user_id: int) -> int: ...
    async def new_conversation(self, chat_id: int, user_id: int) -> int: ...
    async def recent_messages(
        self, conversation_id: int, limit: int
    ) -> Sequence[StoredMessage]: ...
    async def add_message(
        self,
        conversation_id: int,
        role: MessageRole,
        content: str,
        *,
        model: str | None = None,
        status: AnswerStatus = "complete",
        figures: AnswerFigures | None = None,
    ) -> int: ...
    async def start_answer(self, conversation_id: int, model: str) -> int: ...
    async def save_partial(self, message_id: int, content: str) -> None: ...
    async def finish_answer(
        self, message_id: int, content: str, status: AnswerStatus, figures: AnswerFigures
    ) -> None: ...


class ChatModel(Protocol):
    """What ChatService needs from the model server."""

    host: str

    def chat(
        self,
        model: str,
        messages: Sequence[ChatMessage],
        *,
        options: Mapping[str, Any] | None = None,
        keep_alive: str | int | None = None,
    ) -> AsyncIterator[ChatEvent]: ...
    async def model_facts(self, model: str) -> ModelFacts: ...


class ModelChooser(Protocol):
    """Which model answers a user (bot.models.ModelCatalog)."""

    async def model_for(self, chosen: str | None) -> ModelChoice: ...


class AnswerSink(Protocol):
    """Where an answer is shown while it is written (the Telegram side implements it)."""

    def begin(self) -> None:
        """The answer's turn has come: show that the model is working; must not block."""

    def append(self, delta: str) -> None:
        """Add text the model wrote; must not block."""

    async def finish(self, status: AnswerStatus) -> None:
        """Show the whole answer for good; `stopped` when the user cut it short."""

    async def fail(self, error: BotError) -> None:
        """Keep what was shown and tell the user what went wrong."""

    async def notice(self, notice: Notice) -> None:
        """Tell the user something worth knowing before the answer (a message of its own)."""


@dataclass(frozen=True, slots=True)
class Question:
    """A message to answer: who asked, where, and what."""

    chat_id: int
    user: UserProfile
    text: str


@dataclass(frozen=True, slots=True)
class ChatDefaults:
    """Configured defaults for users who chose nothing."""

    role: str = "assistant"
    temperature: float = 0.7
    num_ctx: int = 8192
    keep_alive: str | int | None = None


def estimate_tokens(text: str) -> int:
    """A deliberately high token estimate: English runs ~4 bytes a token, CJK ~3."""
    return len(text.encode("utf-8")) // 3 + 4


def trim_to_context(
    system: ChatMessage | None,
    history: Sequence[ChatMessage],
    question: ChatMessage,
    budget_tokens: int,
) -> list[ChatMessage]:
    """System prompt + the newest turns that fit `budget_tokens` + the question.

    The oldest turns go first; the system prompt and the question are always kept, since Ollama
    itself would silently cut the front of an over-long context, system prompt included.
    """
    used = estimate_tokens(question.content) + (estimate_tokens(system.content) if system else 0)
    kept: list[ChatMessage] = []
    for message in reversed(history):
        used += estimate_tokens(message.content)
        if used > budget_tokens:
            break
        kept.append(message)
    kept.reverse()
    # A context that starts with the model's own words reads as if it had spoken unprompted.
    while kept and kept[0].role == "assistant":
        kept.pop(0)
    return [*([system] if system else []), *kept, question]


@dataclass(slots=True)
class _Thread:
    """One (chat, user) pair's turn-taking: the lock orders answers, `stop` cuts the current."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    stop: asyncio.Event | None = None


class ChatService:
    """Answers questions with history, one at a time per (chat, user)."""

    def __init__(
        self,
        store: HistoryStore,
        model: ChatModel,
        catalog: ModelChooser,
        defaults: ChatDefaults,
    ) -> None:
        self._store = store
        self._model = model
        self._catalog = catalog
        self._defaults = defaults
        self._threads: dict[tuple[int, int], _Thread] = {}
        self._closing = False
        self._writing = 0  # answers being written now
        self._idle = asyncio.Event()
        self._idle.set()

    async def answer(self, question: Question, sink: AnswerSink) -> None:
        """Answer `question` into `sink` after any earlier question of the same thread.

        Never raises for a failure of the model, Telegram or the database: the user is told,
        and what can be stored is stored.
        """
        thread = self._threads.setdefault((question.chat_id, question.user.id), _Thread())
        # Acquired before any await, so questions are answered in the order they arrived.
        async with thread.lock:
            if self._closing:
                await sink.fail(ShuttingDown())
                return
            thread.stop = asyncio.Event()
            self._writing += 1
            self._idle.clear()
            sink.begin()
            try:
                await self._answer_now(question, sink, thread.stop)
            except Exception:  # the boundary: a bug or a broken database must not go silent
                log.exception("answering failed in chat %s", question.chat_id)
                await sink.fail(BotError("unexpected failure"))
            finally:
                thread.stop = None
                self._writing -= 1
                if not self._writing:
                    self._idle.set()

    def stop(self, chat_id: int, user_id: int) -> bool:
        """Cut the answer being written for this user in this chat; False if there is none."""
        thread = self._threads.get((chat_id, user_id))
        if thread is None or thread.stop is None or thread.stop.is_set():
            return False
        thread.stop.set()
        return True

    async def close(self, grace_s: float) -> None:
        """Shutting down: start no new answer, give the running ones `grace_s` to finish, then
        cut them (the text so far is delivered and kept as `stopped`)."""
        self._closing = True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace_s):
                await self._idle.wait()
        self.stop_all()
        with contextlib.suppress(TimeoutError):  # stored already; only delivery may be lost
            async with asyncio.timeout(STOP_DELIVERY_S):
                await self._idle.wait()

    def stop_all(self) -> None:
        """Cut every running answer (kept as `stopped`) and start no new one."""
        self._closing = True
        for thread in self._threads.values():
            if thread.stop is not None:
                thread.stop.set()

    async def start_new_conversation(self, chat_id: int, user: UserProfile) -> None:
        """Begin a fresh context for this user in this chat; old messages stay stored.

        It waits for the answers to earlier questions, so it takes effect in the order sent.
        """
        thread = self._threads.setdefault((chat_id, user.id), _Thread())
        async with thread.lock:
            await self._store.remember_user(user)
            await self._store.new_conversation(chat_id, user.id)

    async def current_choice(self, user_id: int) -> tuple[str | None, str]:
        """The model (None while it cannot be known) and role this user's next answer uses."""
        settings = await self._store.user_settings(user_id)
        role = find_role(settings.role, self._defaults.role).name
        try:
            return (await self._catalog.model_for(settings.model)).model, role
        except LLMError:
            return None, role

    async def _answer_now(self, question: Question, sink: AnswerSink, stop: asyncio.Event) -> None:
        user_id = question.user.id
        await self._store.remember_user(question.user)
        settings = await self._store.user_settings(user_id)
        conversation = await self._store.current_conversation(question.chat_id, user_id)
        earlier = await self._store.recent_messages(conversation, HISTORY_LOAD_LIMIT)
        # Saved before the model is asked: whatever happens next, the question is not lost.
        await self._store.add_message(conversation, "user", question.text)

        model: str | None = None
        try:
            choice = await self._catalog.model_for(settings.model)
            model = choice.model
            if choice.replaced is not None:
                await self._store.forget_model(user_id, choice.replaced)
                await sink.notice(ModelReplaced(removed=choice.replaced, now=model))
            messages, options = await self._context(model, settings, earlier, question.text)
        except LLMError as err:
            await self._store.add_message(
                conversation, "assistant", "", model=model, status="error"
            )
            await sink.fail(err)
            return

        parts: list[str] = []
        done: list[AnswerDone] = []
        answer_id = await self._store.start_answer(conversation, model)
        started = time.monotonic()
        stream = self._model.chat(
            model, messages, options=options, keep_alive=self._defaults.keep_alive
        )
        writing = asyncio.ensure_future(self._pump(stream, sink, parts, done))
        stopping = asyncio.ensure_future(stop.wait())
        saving = asyncio.ensure_future(self._checkpoints(answer_id, parts))
        try:
            await asyncio.wait({writing, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            saving.cancel()
            if not writing.done():
                writing.cancel()
            # wait() settles the tasks without raising their errors; the answer's is read below.
            await asyncio.wait({writing, saving})
        text = "".join(parts)
        figures = _figures(done[0]) if done else AnswerFigures()
        error = None if writing.cancelled() else writing.exception()
        status: AnswerStatus = "stopped" if writing.cancelled() else "complete"
        if error is not None:
            status = "error"
            if not isinstance(error, BotError):
                log.error("the answer stream failed", exc_info=error)
                error = BotError("unexpected failure")
        try:
            # Stored before it is delivered: a crash while sending does not lose the answer.
            await self._store.finish_answer(answer_id, text, status, figures)
        except Exception:  # the user still gets the answer, which is all they asked for
            log.exception("could not store the answer in chat %s", question.chat_id)
        log_answer(question, model, status, figures, time.monotonic() - started)
        if isinstance(error, BotError):
            await sink.fail(error)
        else:
            await sink.finish(status)

    async def _context(
        self, model: str, settings: UserSettings, earlier: Sequence[StoredMessage], text: str
    ) -> tuple[list[ChatMessage], dict[str, Any]]:
        facts = await self._model.model_facts(model)
        num_ctx = settings.num_ctx or self._defaults.num_ctx
        if facts.context_length:
            num_ctx = min(num_ctx, facts.context_length)
        role = find_role(settings.role, self._defaults.role)
        system_prompt = role.system_prompt()
        history = [
            ChatMessage(role=m.role, content=m.content)
            for m in earlier
            if m.content and not (m.role == "assistant" and m.status == "error")
        ]
        # Room for the answer: a quarter of the window, as Ollama needs it in the same context.
        messages = trim_to_context(
            ChatMessage("system", system_prompt) if system_prompt else None,
            history,
            ChatMessage("user", role.wrap(text)),
            budget_tokens=num_ctx - num_ctx // 4,
        )
        temperature = (
            settings.temperature if settings.temperature is not None else self._defaults.temperature
        )
        return messages, {"temperature": temperature, "num_ctx": num_ctx}

    async def _checkpoints(self, answer_id: int, parts: list[str]) -> None:
        """Save the text so far every few seconds, so a crash (kill -9) loses little."""
        saved = 0
        while True:
            await asyncio.sleep(CHECKPOINT_INTERVAL_S)
            if len(parts) != saved:
                saved = len(parts)
                try:
                    await self._store.save_partial(answer_id, "".join(parts))
                except Exception:  # the answer goes on; the final save will try again
                    log.exception("could not checkpoint an answer")

    @staticmethod
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
            else:
                done.append(event)


def log_answer(
    question: Question, model: str, status: AnswerStatus, figures: AnswerFigures, seconds: float
) -> None:
    """One line per answer, for the journal: who, where, which model, how much, how it ended."""
    fields = {
        "user_id": question.user.id,
        "chat_id": question.chat_id,
        "model": model,
        "status": status,
        "prompt_tokens": figures.prompt_tokens,
        "answer_tokens": figures.completion_tokens,
        "seconds": round(seconds, 2),
    }
    log.info("answer " + " ".join(f"{key}=%s" for key in fields), *fields.values(), extra=fields)


def _figures(done: AnswerDone) -> AnswerFigures:
    return AnswerFigures(
        prompt_tokens=done.prompt_eval_count,
        completion_tokens=done.eval_count,
        total_duration_ns=done.total_duration_ns,
        eval_duration_ns=done.eval_duration_ns,
    )
