"""ChatService: from a user's message to a streamed, stored answer.

It assembles the context (role, history trimmed to the model's window, the new message), keeps
one answer at a time per (chat, user) with later messages waiting in order, streams the model's
words into an AnswerSink, and stores both sides with the answer's status and figures. One-shot
questions (/ask, /compare) take the same turns through `/api/generate` and store nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

from bot.context import (
    IMAGE_TOKENS,
    HistoryEntry,
    Window,
    estimate_tokens,
    stable_window,
)
from bot.errors import (
    BotError,
    FileProblem,
    LeftQueue,
    LLMError,
    NoVisionModel,
    ReadingStopped,
    ShuttingDown,
    TooFewModels,
)
from bot.llm import (
    AnswerDone,
    ChatEvent,
    ChatMessage,
    InstalledModel,
    ModelFacts,
    TextDelta,
    ThinkingDelta,
)
from bot.models import ModelChoice
from bot.notices import (
    AnswerFooter,
    ContextTrimmed,
    DocumentCut,
    ImagesCut,
    ModelReplaced,
    Notice,
    RoleReplaced,
)
from bot.queueing import SlotQueue
from bot.records import (
    AnswerFigures,
    AnswerStatus,
    MessageRole,
    SettingName,
    SettingValue,
    StoredImage,
    StoredMessage,
    UserProfile,
    UserSettings,
)
from bot.roles import Role
from bot.turns import Turn, TurnQueue

log = logging.getLogger(__name__)

HISTORY_LOAD_LIMIT = 400  # turns read from the store before trimming to the window
# What one image costs models whose architecture says otherwise than IMAGE_TOKENS.
IMAGE_TOKENS_BY_ARCHITECTURE = {"gemma3": 256, "gemma3n": 256, "mllama": 1601, "qwen25vl": 2304}
COMPARE_MIN_MODELS = 2
DOCUMENT_MARGIN_TOKENS = 64  # the delimiters around a document's text, and rounding
CHECKPOINT_INTERVAL_S = 2.0  # how much of an answer a crash may lose
LOADED_CHECK_TIMEOUT_S = 2.0  # asking the server what it has loaded must not hold up the answer
STOP_DELIVERY_S = 10.0  # after the grace: time to deliver and store the cut answers


class HistoryStore(Protocol):
    """What ChatService needs from the database."""

    async def remember_user(self, profile: UserProfile) -> None: ...
    async def user_settings(self, user_id: int) -> UserSettings: ...
    async def forget_model(self, user_id: int, model: str) -> None: ...
    async def set_setting(self, user_id: int, name: SettingName, value: SettingValue) -> None: ...
    async def current_conversation(self, chat_id: int, user_id: int) -> int: ...
    async def context_start(self, conversation_id: int) -> int | None: ...
    async def set_context_start(self, conversation_id: int, message_id: int) -> None: ...
    async def forget_user(self, user_id: int) -> None: ...
    async def new_conversation(self, chat_id: int, user_id: int) -> int: ...
    async def new_conversations(self, user_id: int) -> None: ...
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
        images: Sequence[StoredImage] = (),
        author_id: int | None = None,
    ) -> int: ...
    async def start_answer(
        self, conversation_id: int, model: str, author_id: int | None = None
    ) -> int: ...
    async def shared_chats(self) -> set[int]: ...
    async def set_shared(self, chat_id: int, shared: bool) -> None: ...
    async def remember_shared_thread(self, chat_id: int) -> None: ...
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
    async def model_facts(self, model: str) -> ModelFacts: ...
    async def size_if_unloaded(self, model: str) -> int | None: ...
    async def preload(
        self,
        model: str,
        *,
        options: Mapping[str, Any] | None = None,
        keep_alive: str | int | None = None,
    ) -> None: ...


class ModelChooser(Protocol):
    """Which model answers a user (bot.models.ModelCatalog)."""

    async def model_for(self, chosen: str | None, *, vision: bool = False) -> ModelChoice: ...
    async def vision_model_for(self, chosen: str | None) -> str: ...
    async def chat_models(self, *, fresh: bool = False) -> list[InstalledModel]: ...


class RoleChooser(Protocol):
    """Which role a user's answers use (bot.roles.RoleBook)."""

    async def current(self, user_id: int, chosen: str | None) -> Role: ...
    async def find(self, user_id: int, name: str) -> Role | None: ...


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
    ) -> None:
        """Show the whole answer for good (`stopped` when the user cut it short,
        `cut_at_length` when the model reached MAX_ANSWER_TOKENS), with the footer line if
        there is one."""

    async def fail(self, error: BotError) -> None:
        """Keep what was shown and tell the user what went wrong."""

    async def notice(self, notice: Notice) -> None:
        """Tell the user something worth knowing before the answer (a message of its own)."""


@dataclass(frozen=True, slots=True)
class AttachedText:
    """A document's text, sent along with the question."""

    name: str
    text: str


@dataclass(frozen=True, slots=True)
class Question:
    """A message to answer: who asked, where, and what (with photos or a document's text)."""

    chat_id: int
    user: UserProfile
    text: str
    images: tuple[StoredImage, ...] = ()
    document: AttachedText | None = None


# Fetches what a message carries (downloads, decodes) once its turn has come; None when there
# is nothing to answer after all (the loader told the user why).
QuestionLoader = Callable[[], Awaitable[Question | None]]


@dataclass(frozen=True, slots=True)
class ChatDefaults:
    """Configured defaults for users who chose nothing."""

    temperature: float = 0.7
    num_ctx: int = 8192
    think: bool = True  # for models that can think: Ollama's own default
    keep_alive: str | int | None = None
    compare_models: int = 3  # how many models /compare asks when the user chose none
    compare_concurrency: int = 1
    concurrent_answers: int = 1  # generations at once, for everyone (MAX_CONCURRENT_ANSWERS)
    log_content: bool = False  # LOG_CONTENT: questions and answers in the log
    max_answer_tokens: int | None = None  # MAX_ANSWER_TOKENS


@dataclass(frozen=True, slots=True)
class Generation:
    """How one request asks the model: Ollama's `options` and `think`, and the window the
    user's history is trimmed to (`context_tokens`: their context setting, never more than the
    model's runner window, `options["num_ctx"]`)."""

    options: dict[str, Any]
    think: bool | None  # None for models that cannot think: Ollama refuses `think` for them
    context_tokens: int
    image_tokens: int = IMAGE_TOKENS  # what one image costs this model

    @property
    def budget_tokens(self) -> int:
        """What the prompt may take: the window less a quarter for the answer, which Ollama
        needs in the same context."""
        return self.context_tokens - self.context_tokens // 4


@dataclass(frozen=True, slots=True)
class _Streamed:
    """How streaming one answer went."""

    text: str
    done: AnswerDone | None
    status: AnswerStatus
    error: BotError | None


def with_document(
    question: str, document: AttachedText, room_tokens: int | None
) -> tuple[str, bool]:
    """The question followed by the document's text, cut to `room_tokens` (None: whole);
    True when the text was cut."""
    text = document.text.strip()
    cut = False
    if room_tokens is not None and estimate_tokens(text) > room_tokens:
        keep_bytes = max(room_tokens - 4, 0) * 3
        text = text.encode("utf-8")[:keep_bytes].decode("utf-8", errors="ignore").rstrip()
        cut = True
    name = document.name
    return f"{question}\n\n--- {name} ---\n{text}\n--- end of {name} ---", cut


@dataclass(slots=True)
class _Pending:
    """A question waiting for its thread's turn."""

    asker: int
    sink: AnswerSink
    epoch: int  # the asker's /forget count when it was asked
    cancel: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(slots=True)
class _Thread:
    """One (chat, user) pair's turn-taking: `turns` orders answers, `stop` cuts the current,
    `pending` are the questions waiting for their turn."""

    turns: TurnQueue = field(default_factory=TurnQueue)
    stop: asyncio.Event | None = None
    asker: int | None = None  # whose question is being answered (a shared thread has many)
    pending: list[_Pending] = field(default_factory=list)


class ChatService:
    """Answers questions with history (answer), one-shot (ask) or by several models (compare),
    one at a time per (chat, user)."""

    def __init__(
        self,
        store: HistoryStore,
        model: ChatModel,
        catalog: ModelChooser,
        roles: RoleChooser,
        defaults: ChatDefaults,
    ) -> None:
        self._store = store
        self._model = model
        self._catalog = catalog
        self._roles = roles
        self._defaults = defaults
        self._threads: dict[tuple[int, int], _Thread] = {}
        self._slots = SlotQueue(defaults.concurrent_answers)
        self._shared: set[int] = set()  # chats with one thread for all their members
        self._epochs: dict[int, int] = {}  # user id → how often they used /forget
        self._closing = False
        self._writing = 0  # answers being written now
        self._idle = asyncio.Event()
        self._idle.set()
        self._warming: set[asyncio.Task[None]] = set()  # models being loaded ahead of use
        self._reading: set[asyncio.Task[Question | None]] = set()  # files of questions in turn

    # -- the three ways to ask ---------------------------------------------------------------

    async def answer(
        self, question: Question, sink: AnswerSink, *, load: QuestionLoader | None = None
    ) -> None:
        """Answer `question` in the conversation, after any earlier question of its thread.

        `load`, if given, completes the question (downloads its photos or document) once its
        turn has come, so a photo is answered before a message sent after it. Never raises for
        a failure of the model, Telegram or the database: the user is told, and what can be
        stored is stored.
        """
        async with self._turn(question, sink) as stop:
            if stop is None:
                return
            if load is not None:
                try:
                    loaded = await self._load(load, sink, stop)
                except FileProblem as err:  # nothing to store: the user is told what to send
                    await sink.fail(err)
                    return
                if loaded is None:
                    return
                question = loaded
            await self._answer_now(question, sink, stop)

    async def _load(
        self, load: QuestionLoader, sink: AnswerSink, stop: asyncio.Event
    ) -> Question | None:
        """What `load` fetches, unless /stop or shutdown comes first: then loading is cancelled
        (which ends a file being read in a worker process at once), the user is told, and the
        answer is None."""
        loading = asyncio.ensure_future(load())
        self._reading.add(loading)
        stopped = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait((loading, stopped), return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._reading.discard(loading)
            stopped.cancel()
            if not loading.done():
                loading.cancel()
                await asyncio.wait((loading,))  # until its worker is gone
        if not loading.cancelled():
            return loading.result()
        await sink.fail(ShuttingDown() if self._closing else ReadingStopped())
        return None

    async def ask(self, question: Question, sink: AnswerSink) -> None:
        """One shot through `/api/generate` with the user's model and role: no history is sent
        and nothing is added to the conversation."""
        async with self._turn(question, sink) as stop:
            if stop is None:
                return
            await self._store.remember_user(question.user)
            settings = await self._store.user_settings(question.user.id)
            try:
                model, role, generation = await self._prepare(question, sink, settings)
            except LLMError as err:
                await sink.fail(err)
                return
            footer: Literal["short"] | None = "short" if settings.footer else None
            await self._one_shot(
                question, model, role, generation, sink, stop, kind="ask", footer=footer
            )

    async def compare(
        self, question: Question, open_sink: Callable[[str | None], AnswerSink]
    ) -> None:
        """The same one-shot prompt to each of the user's /compare models, each answer into its
        own sink (`open_sink(model)`), one model after another (or COMPARE_CONCURRENCY at once).
        /stop ends the whole comparison. Problems before any model is asked go to
        `open_sink(None)`: fewer than two models (TooFewModels), Ollama unreachable."""
        status = open_sink(None)
        async with self._turn(question, status) as stop:
            if stop is None:
                return
            try:
                models = await self.compare_models(question.user.id)
            except LLMError as err:
                await status.fail(err)
                return
            if len(models) < COMPARE_MIN_MODELS:
                await status.fail(TooFewModels(len(models)))
                return
            await self._store.remember_user(question.user)
            settings = await self._store.user_settings(question.user.id)
            role = await self._roles.current(question.user.id, settings.role)
            at_once = asyncio.Semaphore(self._defaults.compare_concurrency)

            async def one(model: str, sink: AnswerSink) -> None:
                async with at_once:
                    if stop.is_set():
                        return  # /stop ended the comparison before this model's turn
                    await self._compare_one(question, model, role, settings, sink, stop)

            sinks = [open_sink(model) for model in models]
            # Each model's failure stays its own: the others go on, and this turn lasts until
            # every one has ended (so /stop and shutdown reach them all).
            results = await asyncio.gather(
                *(one(model, sink) for model, sink in zip(models, sinks, strict=True)),
                return_exceptions=True,
            )
            for sink, result in zip(sinks, results, strict=True):
                if isinstance(result, Exception):
                    log.error("comparing failed in chat %s", question.chat_id, exc_info=result)
                    await sink.fail(BotError("unexpected failure"))

    async def _compare_one(
        self,
        question: Question,
        model: str,
        role: Role,
        settings: UserSettings,
        sink: AnswerSink,
        stop: asyncio.Event,
    ) -> None:
        sink.begin()
        try:
            generation = await self._generation(model, settings)
        except LLMError as err:
            await sink.fail(err)
            return
        await self._one_shot(
            question, model, role, generation, sink, stop, kind="compare", footer="detailed"
        )

    async def _one_shot(
        self,
        question: Question,
        model: str,
        role: Role,
        generation: Generation,
        sink: AnswerSink,
        stop: asyncio.Event,
        *,
        kind: Literal["ask", "compare"],
        footer: Literal["short", "detailed"] | None,
    ) -> None:
        """Stream one `/api/generate` answer into `sink`; nothing is stored."""
        async with self._slots.slot(stop, sink.waiting) as held:
            if not held:
                await sink.fail(ShuttingDown() if self._closing else LeftQueue())
                return
            started = time.monotonic()
            await self._tell_if_loading(model, sink)
            events = self._model.generate(
                model,
                role.wrap(question.text),
                system=role.system_prompt(),
                options=generation.options,
                think=generation.think,
                keep_alive=self._defaults.keep_alive,
            )
            streamed = await self._stream(events, sink, stop)
        log_answer(
            question,
            model,
            streamed,
            time.monotonic() - started,
            kind=kind,
            with_content=self._defaults.log_content,
        )
        shown = None
        if footer is not None and streamed.done is not None:
            shown = AnswerFooter(model, _figures(streamed.done), detailed=footer == "detailed")
        await self._deliver(streamed, sink, shown)

    async def compare_models(self, user_id: int) -> list[str]:
        """The models /compare asks for this user: their own set, else their current model and
        the newest other installed ones, up to three."""
        settings = await self._store.user_settings(user_id)
        if settings.compare_models:
            return list(settings.compare_models)
        current = (await self._catalog.model_for(settings.model)).model
        others = [m.name for m in await self._catalog.chat_models(fresh=True) if m.name != current]
        return [current, *others][: self._defaults.compare_models]

    # -- turns, stopping, shutting down -------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _turn(
        self, question: Question, sink: AnswerSink
    ) -> AsyncIterator[asyncio.Event | None]:
        """This thread's turn: the event /stop sets, or None when there is nothing to answer
        (shutting down, taken out of the line by /stop, or the asker used /forget; the user is
        told what applies). Unexpected failures inside are logged and the user is told."""
        asker = question.user.id
        thread = self._thread(question.chat_id, asker)
        # Joined before any await, so questions are answered in the order they arrived.
        turn = thread.turns.join()
        waiting = _Pending(asker, sink, self._epochs.get(asker, 0))
        thread.pending.append(waiting)
        if self.is_shared(question.chat_id) and (
            thread.asker is not None or len(thread.pending) > 1
        ):
            sink.waiting(len(thread.pending) - (0 if thread.asker is not None else 1))
        try:
            async with turn:
                thread.pending.remove(waiting)
                self._tell_places(question.chat_id, thread)
                forgotten = waiting.epoch != self._epochs.get(asker, 0)  # nothing may be kept
                if self._closing or waiting.cancel.is_set() or forgotten:
                    await sink.fail(ShuttingDown() if self._closing else LeftQueue())
                    yield None
                    return
                thread.stop = asyncio.Event()
                thread.asker = asker
                self._writing += 1
                self._idle.clear()
                try:
                    yield thread.stop
                except Exception:  # the boundary: a bug or a broken database must not go silent
                    log.exception("answering failed in chat %s", question.chat_id)
                    await sink.fail(BotError("unexpected failure"))
                finally:
                    thread.stop = None
                    thread.asker = None
                    self._writing -= 1
                    if not self._writing:
                        self._idle.set()
        finally:
            if waiting in thread.pending:  # cancelled while waiting
                thread.pending.remove(waiting)

    def _tell_places(self, chat_id: int, thread: _Thread) -> None:
        """In a shared thread, everyone still waiting hears their new place."""
        if self.is_shared(chat_id):
            for ahead, waiting in enumerate(thread.pending, start=1):
                waiting.sink.waiting(ahead)

    def _owner(self, chat_id: int, user_id: int) -> int:
        """Whose thread a message belongs to: the user's, or in a shared chat the chat's."""
        return chat_id if chat_id in self._shared else user_id

    def _thread(self, chat_id: int, user_id: int) -> _Thread:
        key = (chat_id, self._owner(chat_id, user_id))
        return self._threads.setdefault(key, _Thread())

    def stop(self, chat_id: int, user_id: int) -> bool:
        """Cut the answer being written (or waiting for the model) for this user in this chat;
        in a shared thread, where others' answers go first, take the user's waiting questions
        out of the line instead. False if there is nothing of theirs."""
        thread = self._threads.get((chat_id, self._owner(chat_id, user_id)))
        if thread is None:
            return False
        if thread.asker == user_id and thread.stop is not None and not thread.stop.is_set():
            thread.stop.set()
            return True
        if thread.asker == user_id or not self.is_shared(chat_id):
            return False
        mine = [p for p in thread.pending if p.asker == user_id and not p.cancel.is_set()]
        for waiting in mine:
            waiting.cancel.set()
        return bool(mine)

    async def forget(self, user: UserProfile) -> None:
        """/forget: cut the user's answers, drop their questions still waiting (silently), and
        once nothing of theirs runs, delete everything kept about them."""
        self._epochs[user.id] = self._epochs.get(user.id, 0) + 1
        involved = [
            thread
            for thread in self._threads.values()
            if thread.asker == user.id or any(p.asker == user.id for p in thread.pending)
        ]
        for thread in involved:
            if thread.asker == user.id and thread.stop is not None:
                thread.stop.set()
        for thread in involved:
            async with thread.turns.join():  # after every turn taken before this
                pass
        await self._store.forget_user(user.id)

    # -- groups ------------------------------------------------------------------------------

    async def load(self) -> None:
        """Read what is kept about chats (which share one thread)."""
        self._shared = await self._store.shared_chats()

    def is_shared(self, chat_id: int) -> bool:
        """Whether the chat's members share one thread."""
        return chat_id in self._shared

    async def set_shared(self, chat_id: int, shared: bool) -> None:
        """One thread for the whole chat, or one per member, from the next message on."""
        await self._store.set_shared(chat_id, shared)
        if shared:
            self._shared.add(chat_id)
        else:
            self._shared.discard(chat_id)

    async def close(self, grace_s: float) -> None:
        """Shutting down: start no new answer, give the running ones `grace_s` to finish, then
        cut them (the text so far is delivered and kept as `stopped`)."""
        self._closing = True
        self._slots.close()  # questions still waiting for the model are told to ask again
        for loading in self._warming:
            loading.cancel()
        for reading in self._reading:  # nothing is written yet: no grace to give
            reading.cancel()
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
        self._slots.close()
        for thread in self._threads.values():
            if thread.stop is not None:
                thread.stop.set()

    # -- conversations and choices -----------------------------------------------------------

    async def start_new_conversation(self, chat_id: int, user: UserProfile) -> None:
        """Begin a fresh context for this user in this chat; old messages stay stored.

        It waits for the answers to earlier questions, so it takes effect in the order sent.
        """
        async with self._thread(chat_id, user.id).turns.join():
            await self._store.remember_user(user)
            owner = self._owner(chat_id, user.id)
            if owner != user.id:
                await self._store.remember_shared_thread(chat_id)
            await self._store.new_conversation(chat_id, owner)

    def warm_up(self, user_id: int) -> None:
        """Have the user's model loaded now, in the background, with the runner options their
        questions will bring (other options would load it again): after a /model switch the
        next question starts without the wait."""
        if self._closing:
            return
        task = asyncio.create_task(self._warm_up(user_id))
        self._warming.add(task)
        task.add_done_callback(self._warming.discard)

    async def _warm_up(self, user_id: int) -> None:
        settings = await self._store.user_settings(user_id)
        try:
            model = (await self._catalog.model_for(settings.model)).model
            generation = await self._generation(model, settings)
            await self._model.preload(
                model, options=generation.options, keep_alive=self._defaults.keep_alive
            )
        except LLMError as err:  # the next question meets the problem and explains it
            log.info("could not load a model ahead of use: %s", type(err).__name__)

    async def remember(self, user: UserProfile) -> None:
        """Keep the user's profile (settings and private roles belong to a known user)."""
        await self._store.remember_user(user)

    def switch_role(self, chat_id: int, user: UserProfile, name: str) -> asyncio.Task[Role | None]:
        """Answer as the role called `name` from now on, in fresh conversations (the old ones
        were written for another role); None if there is no such role.

        Its place comes after the questions sent before it, and is taken now, before the
        caller awaits anything (it may answer a button press first).
        """
        turn = self._thread(chat_id, user.id).turns.join()
        return asyncio.create_task(self._switch_role(turn, user, name))

    async def _switch_role(self, turn: Turn, user: UserProfile, name: str) -> Role | None:
        async with turn:
            role = await self._roles.find(user.id, name)
            if role is None:
                return None
            await self._store.remember_user(user)
            await self._store.set_setting(user.id, "role", role.name)
            # The role is the user's everywhere: every chat's conversation starts afresh.
            await self._store.new_conversations(user.id)
            return role

    async def vision_model(self, user_id: int) -> str:
        """The model that would answer this user's photo; NoVisionModel when none can see."""
        settings = await self._store.user_settings(user_id)
        return await self._catalog.vision_model_for(settings.model)

    async def current_choice(self, user_id: int) -> tuple[str | None, Role]:
        """The model (None while it cannot be known) and role this user's next answer uses."""
        settings = await self._store.user_settings(user_id)
        role = await self._roles.current(user_id, settings.role)
        try:
            return (await self._catalog.model_for(settings.model)).model, role
        except LLMError:
            return None, role

    # -- inside a turn ------------------------------------------------------------------------

    async def _prepare(
        self, question: Question, sink: AnswerSink, settings: UserSettings, *, vision: bool = False
    ) -> tuple[str, Role, Generation]:
        """The model (one that can see, for `vision`), role and request options for a question
        of a user with these `settings`; LLMError when the model cannot be had."""
        user_id = question.user.id
        role = await self._roles.current(user_id, settings.role)
        sink.begin()
        if settings.role is not None and role.name != settings.role:  # deleted since
            await self._store.set_setting(user_id, "role", None)
            await sink.notice(RoleReplaced(removed=settings.role, now=role.name))
        choice = await self._catalog.model_for(settings.model, vision=vision)
        if choice.replaced is not None:
            await self._store.forget_model(user_id, choice.replaced)
            await sink.notice(ModelReplaced(removed=choice.replaced, now=choice.model))
        return choice.model, role, await self._generation(choice.model, settings)

    async def _generation(self, model: str, settings: UserSettings) -> Generation:
        """The user's temperature, context size and thinking.

        The runner's window (`num_ctx`) is NUM_CTX capped at the model's own, the same for every
        request to that model whoever asks: Ollama reloads a loaded model when a request's
        runner options differ, so one family member's setting would cost the other seconds.
        The user's context size only limits how much history is sent.
        """
        facts = await self._model.model_facts(model)
        runner_ctx = self._defaults.num_ctx
        if facts.context_length:
            runner_ctx = min(runner_ctx, facts.context_length)
        num_ctx = min(settings.num_ctx or runner_ctx, runner_ctx)
        temperature = (
            settings.temperature if settings.temperature is not None else self._defaults.temperature
        )
        think = None
        if "thinking" in facts.capabilities:
            think = settings.think if settings.think is not None else self._defaults.think
        image_tokens = IMAGE_TOKENS_BY_ARCHITECTURE.get(facts.architecture, IMAGE_TOKENS)
        options: dict[str, Any] = {"temperature": temperature, "num_ctx": runner_ctx}
        if self._defaults.max_answer_tokens:
            options["num_predict"] = self._defaults.max_answer_tokens
        return Generation(options, think, num_ctx, image_tokens)

    async def _answer_now(self, question: Question, sink: AnswerSink, stop: asyncio.Event) -> None:
        user = question.user
        await self._store.remember_user(user)
        owner = self._owner(question.chat_id, user.id)
        if owner != user.id:
            await self._store.remember_shared_thread(question.chat_id)
        conversation = await self._store.current_conversation(question.chat_id, owner)
        earlier = await self._store.recent_messages(conversation, HISTORY_LOAD_LIMIT)
        start = await self._store.context_start(conversation)
        settings = await self._store.user_settings(user.id)
        vision = self._needs_vision(question, earlier, settings, start)
        said = question.text
        if owner != user.id:  # a shared thread: the model is told who speaks
            said = f"{user.first_name or user.username or user.id}: {said}"
        try:
            model, role, generation = await self._prepare(question, sink, settings, vision=vision)
        except LLMError as err:
            # Kept whole, so the conversation goes on from it once the model can be had; but
            # photos no model can see would only block every later message.
            text = said
            if question.document is not None:  # cut as for the default window
                default = Generation({}, None, self._defaults.num_ctx)
                room = _document_room(said, question.images, default, None)
                text, _ = with_document(said, question.document, room)
            images = () if isinstance(err, NoVisionModel) else question.images
            await self._store.add_message(
                conversation, "user", text, images=images, author_id=user.id
            )
            await self._store.add_message(
                conversation, "assistant", "", status="error", author_id=user.id
            )
            await sink.fail(err)
            return
        images = question.images
        fitting = _images_that_fit(said, role, generation)
        if len(images) > fitting:  # an album larger than the window: the first ones go
            images = images[:fitting]
            await sink.notice(ImagesCut(kept=fitting, sent=len(question.images)))
        text = said
        if question.document is not None:
            room = _document_room(said, images, generation, role)
            text, cut = with_document(said, question.document, room)
            if cut:
                await sink.notice(DocumentCut(question.document.name))
        # Saved before the model is asked: whatever happens next, the question is not lost.
        asked = await self._store.add_message(
            conversation, "user", text, images=images, author_id=user.id
        )
        window = _context(role, earlier, text, images, generation, start, asked)
        if window.moved and window.start_id is not None:
            await self._store.set_context_start(conversation, window.start_id)
            if start is None:  # the first time older messages leave this conversation
                await sink.notice(ContextTrimmed())

        async with self._slots.slot(stop, sink.waiting) as held:
            if not held:  # /stop (or shutdown) while waiting for the model
                await self._store.add_message(
                    conversation, "assistant", "", status="stopped", author_id=user.id
                )
                await sink.fail(ShuttingDown() if self._closing else LeftQueue())
                return
            answer_id = await self._store.start_answer(conversation, model, user.id)
            started = time.monotonic()
            await self._tell_if_loading(model, sink)
            events = self._model.chat(
                model,
                window.messages,
                options=generation.options,
                think=generation.think,
                keep_alive=self._defaults.keep_alive,
            )

            async def checkpoint(text: str) -> None:
                await self._store.save_partial(answer_id, text)

            streamed = await self._stream(events, sink, stop, checkpoint=checkpoint)
            try:
                # Stored before it is delivered: a crash while sending does not lose it.
                await self._store.finish_answer(
                    answer_id, streamed.text, streamed.status, _figures(streamed.done)
                )
            except Exception:  # the user still gets the answer, which is all they asked for
                log.exception("could not store the answer in chat %s", question.chat_id)
        log_answer(
            question,
            model,
            streamed,
            time.monotonic() - started,
            with_content=self._defaults.log_content,
        )
        footer = settings.footer and streamed.done is not None
        await self._deliver(
            streamed, sink, AnswerFooter(model, _figures(streamed.done)) if footer else None
        )

    def _needs_vision(
        self,
        question: Question,
        earlier: Sequence[StoredMessage],
        settings: UserSettings,
        start: int | None,
    ) -> bool:
        """Whether images will be in the context (this message's, or earlier ones' that still
        fit the window): then a model that can see must answer."""
        if question.images:
            return True
        num_ctx = min(settings.num_ctx or self._defaults.num_ctx, self._defaults.num_ctx)
        window = stable_window(
            None,
            _history(earlier),
            ChatMessage("user", question.text),
            budget_tokens=num_ctx - num_ctx // 4,
            start_id=start,
            question_id=earlier[-1].id + 1 if earlier else 0,  # not kept: only images matter
        )
        return any(message.images for message in window.messages)

    async def _tell_if_loading(self, model: str, sink: AnswerSink) -> None:
        """Say so when the model must be loaded into memory first: its first words then take
        seconds, and the user should know why."""
        try:
            async with asyncio.timeout(LOADED_CHECK_TIMEOUT_S):
                size = await self._model.size_if_unloaded(model)
        except (LLMError, TimeoutError):
            return  # the request itself says what is wrong, if anything is
        if size is not None:
            sink.loading(model, size)

    @staticmethod
    async def _deliver(streamed: _Streamed, sink: AnswerSink, footer: AnswerFooter | None) -> None:
        if streamed.error is not None:
            await sink.fail(streamed.error)
        else:
            length = streamed.done is not None and streamed.done.done_reason == "length"
            await sink.finish(streamed.status, footer, cut_at_length=length)

    async def _stream(
        self,
        events: AsyncIterator[ChatEvent],
        sink: AnswerSink,
        stop: asyncio.Event,
        *,
        checkpoint: Callable[[str], Awaitable[None]] | None = None,
    ) -> _Streamed:
        """Pump `events` into `sink` until they end, `stop` is set or the sink is full."""
        parts: list[str] = []
        done: list[AnswerDone] = []
        writing = asyncio.ensure_future(self._pump(events, sink, parts, done))
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
        return _Streamed("".join(parts), done[0] if done else None, status, error)

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
            elif isinstance(event, ThinkingDelta):
                sink.think(event.content)
            else:
                done.append(event)


def _history(earlier: Sequence[StoredMessage]) -> list[HistoryEntry]:
    """The stored turns as the model gets them: failed answers left out, images kept with the
    message they came with."""
    return [
        HistoryEntry(m.id, ChatMessage(m.role, m.content, tuple(i.data for i in m.images)))
        for m in earlier
        if (m.content or m.images) and not (m.role == "assistant" and m.status == "error")
    ]


def _document_room(
    question: str, images: Sequence[StoredImage], generation: Generation, role: Role | None
) -> int:
    """Tokens a document may take: half of what the prompt may hold less the role, the question
    and its images, so the next question still has the document and its answer in context."""
    used = estimate_tokens(question) + generation.image_tokens * len(images)
    used += estimate_tokens(role.prompt) if role else 0
    return max(generation.budget_tokens // 2 - used - DOCUMENT_MARGIN_TOKENS, 0)


def _images_that_fit(question: str, role: Role, generation: Generation) -> int:
    """How many images one message can carry in this window (at least one)."""
    room = generation.budget_tokens - estimate_tokens(question) - estimate_tokens(role.prompt)
    return max(room // generation.image_tokens, 1)


def _context(
    role: Role,
    earlier: Sequence[StoredMessage],
    text: str,
    images: Sequence[StoredImage],
    generation: Generation,
    start: int | None,
    question_id: int,
) -> Window:
    """The messages for `/api/chat`: the role, the history since the window's start, the
    question. Each image goes with the message it came with, and only there."""
    system_prompt = role.system_prompt()
    history = [
        # A template role wraps every message of its conversation, not only the newest.
        HistoryEntry(e.id, replace(e.message, content=role.wrap(e.message.content)))
        if e.message.role == "user"
        else e
        for e in _history(earlier)
    ]
    return stable_window(
        ChatMessage("system", system_prompt) if system_prompt else None,
        history,
        ChatMessage("user", role.wrap(text), tuple(i.data for i in images)),
        budget_tokens=generation.budget_tokens,
        start_id=start,
        question_id=question_id,
        image_tokens=generation.image_tokens,
    )


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
    question: Question,
    model: str,
    streamed: _Streamed,
    seconds: float,
    *,
    kind: Literal["chat", "ask", "compare"] = "chat",
    with_content: bool = False,
) -> None:
    """One line per answer, for the journal: who, where, which model, how much, how it ended;
    the question and answer themselves only `with_content` (LOG_CONTENT)."""
    figures = _figures(streamed.done)
    fields: dict[str, object] = {
        "user_id": question.user.id,
        "chat_id": question.chat_id,
        "model": model,
        "status": streamed.status,
        "prompt_tokens": figures.prompt_tokens,
        "answer_tokens": figures.completion_tokens,
        "seconds": round(seconds, 2),
        "kind": kind,
    }
    if with_content:  # repr keeps each on the one line
        fields["question"] = repr(question.text)
        fields["answer"] = repr(streamed.text)
    log.info("answer " + " ".join(f"{key}=%s" for key in fields), *fields.values(), extra=fields)


def _figures(done: AnswerDone | None) -> AnswerFigures:
    if done is None:
        return AnswerFigures()
    return AnswerFigures(
        prompt_tokens=done.prompt_eval_count,
        completion_tokens=done.eval_count,
        total_duration_ns=done.total_duration_ns,
        eval_duration_ns=done.eval_duration_ns,
    )
