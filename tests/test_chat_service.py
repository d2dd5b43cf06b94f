"""ChatService on its own: in-memory fakes through the Protocols it declares (bot.chat_ports,
AnswerSink), no Telegram, no model server, no clock. What a user would see, and what is stored."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from bot.chat import ChatService, Question
from bot.context import ChatDefaults
from bot.errors import BotError, LeftQueue, OllamaUnavailable, StaleAnswer
from bot.llm import AnswerDone, ChatEvent, ChatMessage, InstalledModel, ModelFacts, TextDelta
from bot.model_stream import FollowUp
from bot.models import ModelChoice
from bot.notices import AnswerFooter, ContextTrimmed, Notice
from bot.records import (
    AnswerFigures,
    AnswerStatus,
    ConversationPlace,
    MessageRole,
    SettingName,
    SettingValue,
    StoredImage,
    StoredMessage,
    UserProfile,
    UserSettings,
)
from bot.roles import Role

ALICE = UserProfile(1, "Alice")
BOB = UserProfile(2, "Bob")
HELPFUL = Role("default", "You are helpful.")
PHOTO = StoredImage("sha", b"jpeg", 10, 10)


@dataclass
class Row:
    id: int
    conversation: int
    role: MessageRole
    content: str
    status: AnswerStatus
    model: str | None
    images: tuple[StoredImage, ...] = ()
    figures: AnswerFigures | None = None
    done_reason: str | None = None
    dropped: bool = False


class MemoryStore:
    """HistoryStore in memory: one conversation per (chat, owner)."""

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.settings: dict[int, UserSettings] = {}
        self.starts: dict[int, int] = {}
        self.shared: set[int] = set()
        self.moves = 0  # how often a window's start moved
        self._conversations: dict[tuple[int, int, int | None], int] = {}
        self.titles: dict[int, str] = {}

    def live(self, conversation: int) -> list[Row]:
        return [r for r in self.rows if r.conversation == conversation and not r.dropped]

    def of(self, conversation: int = 1) -> list[tuple[str, str, str]]:
        return [(r.role, r.content, r.status) for r in self.live(conversation)]

    async def remember_user(self, profile: UserProfile) -> None:
        pass

    async def user_settings(self, user_id: int) -> UserSettings:
        return self.settings.get(user_id, UserSettings())

    async def forget_model(self, user_id: int, model: str) -> None:
        pass

    async def set_setting(self, user_id: int, name: SettingName, value: SettingValue) -> None:
        pass

    async def current_conversation(
        self, chat_id: int, user_id: int, topic: int | None = None
    ) -> int:
        key = (chat_id, user_id, topic)
        return self._conversations.setdefault(key, len(self._conversations) + 1)

    async def find_conversation(
        self, chat_id: int, user_id: int, topic: int | None = None
    ) -> int | None:
        return self._conversations.get((chat_id, user_id, topic))

    async def settings_in(
        self, user_id: int, chat_id: int | None = None, topic: int | None = None
    ) -> UserSettings:
        settings = await self.user_settings(user_id)
        conversation = (
            None if chat_id is None else await self.find_conversation(chat_id, user_id, topic)
        )
        place = None if conversation is None else await self.conversation_place(conversation)
        return settings.within(place)

    async def conversation_place(self, conversation_id: int) -> ConversationPlace | None:
        for (chat_id, user_id, topic), number in self._conversations.items():
            if number == conversation_id:
                title = self.titles.get(number)
                return ConversationPlace(number, chat_id, user_id, topic, title, None, None, None)
        return None

    async def conversation_of_message(self, message_id: int) -> int | None:
        row = self.rows[message_id - 1] if 0 < message_id <= len(self.rows) else None
        return None if row is None or row.dropped else row.conversation

    async def rename_conversation(
        self, conversation_id: int, title: str, *, if_untitled: bool = False
    ) -> bool:
        if if_untitled and conversation_id in self.titles:
            return False
        self.titles[conversation_id] = title
        return True

    async def set_conversation_choice(
        self, conversation_id: int, name: Literal["model", "role"], value: str | None
    ) -> None:
        pass

    async def switch_conversation(self, chat_id: int, user_id: int, conversation_id: int) -> bool:
        return True

    async def delete_conversation(self, conversation_id: int) -> None:
        for row in self.rows:
            if row.conversation == conversation_id:
                row.dropped = True

    async def drop_message(self, message_id: int) -> None:
        self.rows[message_id - 1].dropped = True

    async def context_start(self, conversation_id: int) -> int | None:
        return self.starts.get(conversation_id)

    async def set_context_start(self, conversation_id: int, message_id: int) -> None:
        self.starts[conversation_id] = message_id
        self.moves += 1

    async def new_conversation(
        self,
        chat_id: int,
        user_id: int,
        topic: int | None = None,
        *,
        title: str | None = None,
        topic_owned: bool = False,
    ) -> int:
        return 0

    async def new_conversations(self, user_id: int) -> None:
        pass

    async def remember_shared_thread(self, chat_id: int) -> None:
        pass

    async def recent_messages(self, conversation_id: int, limit: int) -> Sequence[StoredMessage]:
        rows = self.live(conversation_id)[-limit:]
        return [
            StoredMessage(r.id, r.role, r.content, r.status, r.model, r.images, r.done_reason)
            for r in rows
        ]

    async def add_message(
        self,
        conversation_id: int,
        role: MessageRole,
        content: str,
        *,
        model: str | None = None,
        status: AnswerStatus = "complete",
        images: Sequence[StoredImage] = (),
        author_id: int | None = None,
    ) -> int:
        row = Row(len(self.rows) + 1, conversation_id, role, content, status, model, tuple(images))
        self.rows.append(row)
        return row.id

    async def save_partial(self, message_id: int, content: str) -> None:
        self.rows[message_id - 1].content = content

    async def finish_answer(
        self,
        message_id: int,
        content: str,
        status: AnswerStatus,
        figures: AnswerFigures,
        done_reason: str | None = None,
        *,
        added: bool = False,
    ) -> None:
        row = self.rows[message_id - 1]
        row.content, row.status, row.figures = content, status, figures
        row.done_reason = done_reason

    async def shared_chats(self) -> set[int]:
        return set(self.shared)

    async def set_shared(self, chat_id: int, shared: bool) -> None:
        pass

    async def forget_user(self, user_id: int) -> None:
        pass


@dataclass
class Request:
    model: str
    messages: list[ChatMessage]
    options: Mapping[str, Any]
    rows_when_asked: list[tuple[str, str, str]]
    moves_when_asked: int


@dataclass
class ScriptedModel:
    """ChatModel whose answers are scripted; `gate`, while set up, holds every answer after
    its first word until the test opens it."""

    store: MemoryStore
    host: str = "http://model"
    reply: str = "Hello there"
    unloaded_size: int | None = None
    gate: asyncio.Event | None = None
    requests: list[Request] = field(default_factory=list)

    async def chat(
        self,
        model: str,
        messages: Sequence[ChatMessage],
        *,
        options: Mapping[str, Any] | None = None,
        think: bool | None = None,
        keep_alive: str | int | None = None,
    ) -> AsyncIterator[ChatEvent]:
        rows = self.store.of()
        asked = Request(model, list(messages), dict(options or {}), rows, self.store.moves)
        self.requests.append(asked)
        first, *rest = self.reply.split(" ")
        yield TextDelta(first)
        if self.gate is not None:
            await self.gate.wait()
        for word in rest:
            yield TextDelta(" " + word)
        yield AnswerDone("stop", prompt_eval_count=12, eval_count=len(rest) + 1)

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
        async for event in self.chat(model, [ChatMessage("user", prompt)], options=options):
            yield event

    async def model_facts(self, model: str) -> ModelFacts:
        return ModelFacts(context_length=None)

    async def size_if_unloaded(self, model: str) -> int | None:
        return self.unloaded_size

    async def preload(
        self,
        model: str,
        *,
        options: Mapping[str, Any] | None = None,
        keep_alive: str | int | None = None,
    ) -> None:
        pass


@dataclass
class Catalog:
    """ModelChooser: `llama` answers unless the user chose; only `llava` can see."""

    down: bool = False

    async def model_for(self, chosen: str | None, *, vision: bool = False) -> ModelChoice:
        if self.down:
            raise OllamaUnavailable("http://model")
        return ModelChoice("llava" if vision else chosen or "llama")

    async def vision_model_for(self, chosen: str | None) -> str:
        return "llava"

    async def chat_models(self, *, fresh: bool = False) -> list[InstalledModel]:
        return [InstalledModel("llama", 1), InstalledModel("llava", 1)]


class Roles:
    async def current(self, user_id: int, chosen: str | None) -> Role:
        return HELPFUL

    async def find(self, user_id: int, name: str) -> Role | None:
        return None


class Sink:
    """AnswerSink that keeps what the user would see."""

    def __init__(self) -> None:
        self.text = ""
        self.status: AnswerStatus | None = None
        self.footer: AnswerFooter | None = None
        self.error: BotError | None = None
        self.notices: list[Notice] = []
        self.places: list[int] = []
        self.loading_shown: tuple[str, int] | None = None
        self.text_when_loading: str | None = None
        self.follow_up: FollowUp | None = None
        self.title: str | None = None

    def begin(self) -> None:
        pass

    def waiting(self, ahead: int) -> None:
        self.places.append(ahead)

    def loading(self, model: str, size_bytes: int) -> None:
        self.loading_shown = (model, size_bytes)
        self.text_when_loading = self.text

    def think(self, delta: str) -> None:
        pass

    def append(self, delta: str) -> None:
        self.text += delta

    async def until_full(self) -> None:
        await asyncio.Event().wait()  # this sink never fills

    async def finish(
        self,
        status: AnswerStatus,
        footer: AnswerFooter | None = None,
        *,
        cut_at_length: bool = False,
        follow_up: FollowUp | None = None,
    ) -> None:
        self.status, self.footer, self.follow_up = status, footer, follow_up

    async def fail(self, error: BotError) -> None:
        self.error = error

    async def notice(self, notice: Notice) -> None:
        self.notices.append(notice)

    async def titled(self, title: str) -> None:
        self.title = title


def service(
    store: MemoryStore | None = None,
    *,
    defaults: ChatDefaults | None = None,
    catalog: Catalog | None = None,
    titles: bool = False,
    **model: Any,
) -> tuple[ChatService, MemoryStore, ScriptedModel]:
    store = store or MemoryStore()
    scripted = ScriptedModel(store, **model)
    # A title is one more request after a conversation's first answer: only its tests want it.
    defaults = replace(defaults or ChatDefaults(), auto_titles=titles)
    chat = ChatService(store, scripted, catalog or Catalog(), Roles(), defaults)
    return chat, store, scripted


async def settle(done: Callable[[], bool]) -> None:
    """Let the other tasks run until `done()` (a few hundred turns of the loop at most)."""
    for _ in range(500):
        if done():
            return
        await asyncio.sleep(0)
    raise AssertionError("the service never got there")


async def test_the_question_is_stored_before_the_model_is_asked_and_the_answer_after() -> None:
    chat, store, model = service()
    sink = Sink()
    await chat.answer(Question(10, ALICE, "Hi"), sink)
    [request] = model.requests
    assert request.rows_when_asked == [("user", "Hi", "complete"), ("assistant", "", "interrupted")]
    assert store.of() == [("user", "Hi", "complete"), ("assistant", "Hello there", "complete")]
    assert store.rows[-1].model == "llama"
    assert store.rows[-1].figures == AnswerFigures(prompt_tokens=12, completion_tokens=2)
    assert (sink.text, sink.status, sink.error) == ("Hello there", "complete", None)


async def test_stop_cuts_the_answer_and_keeps_it_as_stopped() -> None:
    chat, store, _ = service(reply="Once upon a time", gate=asyncio.Event())
    sink = Sink()
    answering = asyncio.create_task(chat.answer(Question(10, ALICE, "A story"), sink))
    await settle(lambda: sink.text == "Once")
    assert chat.stop(10, ALICE.id)
    await answering
    assert sink.status == "stopped"
    assert store.of()[-1] == ("assistant", "Once", "stopped")
    assert not chat.stop(10, ALICE.id), "nothing of hers is left to stop"


async def test_questions_of_one_thread_are_answered_in_the_order_sent() -> None:
    gate = asyncio.Event()
    chat, _, model = service(gate=gate)
    first, second = Sink(), Sink()
    answering = [
        asyncio.create_task(chat.answer(Question(10, ALICE, "first"), first)),
        asyncio.create_task(chat.answer(Question(10, ALICE, "second"), second)),
    ]
    await settle(lambda: first.text == "Hello")
    for _ in range(50):
        await asyncio.sleep(0)
    assert [r.messages[-1].content for r in model.requests] == ["first"], "the second waits"
    gate.set()
    await asyncio.gather(*answering)
    assert [r.messages[-1].content for r in model.requests] == ["first", "second"]
    assert model.requests[1].messages[1:3] == [
        ChatMessage("user", "first"),
        ChatMessage("assistant", "Hello there"),
    ], "the second question is asked with the first answer in its history"
    assert first.status == second.status == "complete"


async def test_the_windows_start_is_kept_and_the_user_told_once() -> None:
    store = MemoryStore()
    for n in range(8):  # far more than a 512-token window holds
        await store.add_message(1, "user" if n % 2 == 0 else "assistant", f"turn {n} " + "x" * 300)
    chat, store, model = service(store, defaults=ChatDefaults(num_ctx=512))
    sinks = [Sink() for _ in range(8)]
    for n, sink in enumerate(sinks):
        await chat.answer(Question(10, ALICE, f"question {n} " + "y" * 100), sink)
    assert store.moves >= 2, "the window filled again and its start moved on"
    assert [n for s in sinks for n in s.notices] == [ContextTrimmed()], "told the first time"
    assert model.requests[0].messages[1].content.startswith("turn 6"), "the newest that fit"
    fronts = [(r.moves_when_asked, r.messages[1]) for r in model.requests]
    unmoved = [(a, b) for a, b in itertools.pairwise(fronts) if a[0] == b[0]]
    assert unmoved, "some questions went by on one start"
    assert all(a[1] == b[1] for a, b in unmoved), "the front stays put until the window is full"


async def test_a_model_that_is_not_loaded_is_shown_loading_before_its_words() -> None:
    chat, _, _ = service(unloaded_size=4_000_000_000)
    sink = Sink()
    await chat.answer(Question(10, ALICE, "Hi"), sink)
    assert sink.loading_shown == ("llama", 4_000_000_000)
    assert sink.text_when_loading == ""
    assert sink.text == "Hello there"


async def test_runner_options_are_the_same_for_users_with_different_settings() -> None:
    chat, store, model = service()
    store.settings[ALICE.id] = UserSettings(temperature=0.1, num_ctx=2048)
    await chat.answer(Question(10, ALICE, "Hi"), Sink())
    await chat.answer(Question(20, BOB, "Hi"), Sink())
    alice, bob = (request.options for request in model.requests)
    assert alice["num_ctx"] == bob["num_ctx"] == 8192, "one runner window: no reload between them"
    assert (alice["temperature"], bob["temperature"]) == (0.1, 0.7)


async def test_earlier_photos_in_the_window_are_answered_by_a_model_that_can_see() -> None:
    chat, _, model = service()
    await chat.answer(Question(10, ALICE, "What is this?", images=(PHOTO,)), Sink())
    await chat.answer(Question(10, ALICE, "And its colour?"), Sink())
    await chat.answer(Question(20, ALICE, "Plain text"), Sink())
    assert [r.model for r in model.requests] == ["llava", "llava", "llama"]
    assert model.requests[1].messages[1].images == (b"jpeg",), "the photo stays with its message"


async def test_a_model_that_cannot_be_had_keeps_the_question_and_records_the_failure() -> None:
    chat, store, model = service(catalog=Catalog(down=True))
    sink = Sink()
    await chat.answer(Question(10, ALICE, "Hi"), sink)
    assert isinstance(sink.error, OllamaUnavailable)
    assert store.of() == [("user", "Hi", "complete"), ("assistant", "", "error")]
    assert store.rows[-1].model is None
    assert not model.requests


async def test_stop_while_waiting_for_the_model_leaves_the_line_and_is_kept_stopped() -> None:
    gate = asyncio.Event()
    chat, store, model = service(gate=gate)
    alice, bob = Sink(), Sink()
    answering = asyncio.create_task(chat.answer(Question(10, ALICE, "first"), alice))
    waiting = asyncio.create_task(chat.answer(Question(20, BOB, "second"), bob))
    await settle(lambda: bob.places == [1])
    assert chat.stop(20, BOB.id)
    await waiting
    assert isinstance(bob.error, LeftQueue)
    assert store.of(2) == [("user", "second", "complete"), ("assistant", "", "stopped")]
    gate.set()
    await answering
    assert [r.messages[-1].content for r in model.requests] == ["first"]


async def test_a_one_shot_question_stores_nothing_and_sends_no_history() -> None:
    chat, store, model = service()
    await chat.answer(Question(10, ALICE, "Remember this"), Sink())
    sink = Sink()
    await chat.ask(Question(10, ALICE, "Quick one"), sink)
    assert sink.text == "Hello there"
    assert model.requests[-1].messages == [ChatMessage("user", "Quick one")]
    assert len(store.rows) == 2, "only the conversation's own question and answer"


async def test_a_new_conversation_is_titled_once_after_its_first_answer() -> None:
    chat, store, model = service(titles=True, reply="Lisbon weekend")
    first = Sink()
    await chat.answer(Question(ALICE.id, ALICE, "Plan a weekend in Lisbon"), first)
    await settle(lambda: bool(store.titles))
    assert store.titles == {1: "Lisbon weekend"}
    assert first.title is None, "no topic of the bot's own to rename"
    title_request = model.requests[-1]
    assert "Plan a weekend in Lisbon" in title_request.messages[-1].content
    assert title_request.options["num_ctx"] == model.requests[0].options["num_ctx"]
    second = Sink()
    await chat.answer(Question(ALICE.id, ALICE, "And food?"), second)
    await asyncio.sleep(0.05)
    assert len(model.requests) == 3, "two answers and one title"
    group = Sink()
    await chat.answer(Question(-5, ALICE, "In a group"), group)
    await asyncio.sleep(0.05)
    assert len(model.requests) == 4, "a group's conversation is not titled: no /chats there"


async def test_regenerate_replaces_the_answer_and_continue_adds_to_it() -> None:
    chat, store, model = service(reply="first try")
    sink = Sink()
    await chat.answer(Question(10, ALICE, "Name a colour"), sink)
    assert sink.follow_up is not None
    assert sink.follow_up.can_continue is False
    answer_id = sink.follow_up.answer_id

    model.reply = "a better one"
    again = Sink()
    await chat.regenerate(10, ALICE, answer_id, again)
    assert store.of() == [
        ("user", "Name a colour", "complete"),
        ("assistant", "a better one", "complete"),
    ]
    assert [m.role for m in model.requests[-1].messages] == ["system", "user"]
    assert again.follow_up is not None
    assert await chat.follow_up_state(10, ALICE.id, answer_id, False) == "stale", "it is gone"

    stale = Sink()
    await chat.regenerate(10, ALICE, answer_id, stale)
    assert isinstance(stale.error, StaleAnswer)
    refused = Sink()
    await chat.continue_answer(10, ALICE, again.follow_up.answer_id, refused)
    assert isinstance(refused.error, StaleAnswer), "a complete answer has nothing to continue"


async def test_regenerate_stopped_before_its_first_word_keeps_the_old_answer() -> None:
    chat, store, model = service(reply="first try")
    sink = Sink()
    await chat.answer(Question(10, ALICE, "Name a colour"), sink)
    assert sink.follow_up is not None
    model.reply, model.gate = "", asyncio.Event()  # thinks long, no word yet
    again = Sink()
    task = asyncio.create_task(chat.regenerate(10, ALICE, sink.follow_up.answer_id, again))
    await settle(lambda: len(model.requests) == 2)
    assert chat.stop(10, ALICE.id)  # Telegram's Stop on "Thinking…", or /stop
    await task
    assert ("assistant", "first try", "complete") in store.of(), store.of()


class FailingModel:
    """Words, then the server goes away."""


async def _failing_chat(
    self: Any,
    model: str,
    messages: Sequence[ChatMessage],
    *,
    options: Mapping[str, Any] | None = None,
    think: bool | None = None,
    keep_alive: str | int | None = None,
) -> AsyncIterator[ChatEvent]:
    yield TextDelta(" and")
    raise OllamaUnavailable("http://model")


async def test_continue_that_fails_keeps_the_answer_in_the_context() -> None:
    chat, store, model = service(reply="Once upon a time", gate=asyncio.Event())
    sink = Sink()
    answering = asyncio.create_task(chat.answer(Question(10, ALICE, "A story"), sink))
    await settle(lambda: sink.text == "Once")
    chat.stop(10, ALICE.id)
    await answering
    assert sink.follow_up is not None
    assert sink.follow_up.can_continue
    original = type(model).chat
    type(model).chat = _failing_chat  # type: ignore[method-assign]
    try:
        more = Sink()
        await chat.continue_answer(10, ALICE, sink.follow_up.answer_id, more)
    finally:
        type(model).chat = original  # type: ignore[method-assign]
    model.gate = None
    await chat.answer(Question(10, ALICE, "Go on?"), Sink())
    sent = model.requests[-1].messages
    assert any(m.role == "assistant" and m.content.startswith("Once") for m in sent), (
        store.of(),
        sent,
    )


async def test_regenerate_that_fails_midway_keeps_the_old_answer_in_the_context() -> None:
    chat, store, model = service(reply="a good answer")
    sink = Sink()
    await chat.answer(Question(10, ALICE, "Q"), sink)
    assert sink.follow_up is not None
    original = type(model).chat
    type(model).chat = _failing_chat  # type: ignore[method-assign]
    try:
        await chat.regenerate(10, ALICE, sink.follow_up.answer_id, Sink())
    finally:
        type(model).chat = original  # type: ignore[method-assign]
    await chat.answer(Question(10, ALICE, "next"), Sink())
    sent = model.requests[-1].messages
    assert any(m.role == "assistant" for m in sent), (store.of(), sent)


async def test_a_title_does_not_overwrite_a_name_the_user_gave_meanwhile() -> None:
    chat, store, model = service(titles=True, reply="Lisbon weekend")
    await chat.answer(Question(ALICE.id, ALICE, "Plan a weekend in Lisbon"), Sink())
    await store.rename_conversation(1, "My trip")  # /rename while the title is being written
    await settle(lambda: len(model.requests) == 2)
    for _ in range(20):
        await asyncio.sleep(0)
    assert store.titles[1] == "My trip"


async def test_a_crash_during_regenerate_leaves_one_answer() -> None:
    chat, store, model = service(reply="old answer")
    sink = Sink()
    await chat.answer(Question(10, ALICE, "Q"), sink)
    assert sink.follow_up is not None
    # The process dies while the regenerated answer streams: its row stays `interrupted`.
    crashed = await store.add_message(1, "assistant", "new par", status="interrupted")
    assert await chat.follow_up_state(10, ALICE.id, crashed, False) == "usable"
    model.reply = "written again"
    await chat.regenerate(10, ALICE, crashed, Sink())
    assert store.of() == [("user", "Q", "complete"), ("assistant", "written again", "complete")]


async def test_after_a_crash_mid_regenerate_the_old_answers_buttons_still_work() -> None:
    chat, store, model = service(reply="old answer")
    sink = Sink()
    await chat.answer(Question(10, ALICE, "Q"), sink)
    assert sink.follow_up is not None
    # The new answer never reached the chat: the only buttons are the old answer's.
    await store.add_message(1, "assistant", "new par", status="interrupted")
    old = sink.follow_up.answer_id
    assert await chat.follow_up_state(10, ALICE.id, old, False) == "usable"
    model.reply = "written again"
    await chat.regenerate(10, ALICE, old, Sink())
    assert store.of() == [("user", "Q", "complete"), ("assistant", "written again", "complete")]


async def test_after_a_crash_mid_regenerate_the_next_question_carries_one_answer() -> None:
    chat, store, model = service(reply="old answer")
    await chat.answer(Question(10, ALICE, "Q"), Sink())
    await store.add_message(1, "assistant", "new par", status="interrupted")
    await chat.answer(Question(10, ALICE, "next"), Sink())
    roles = [m.role for m in model.requests[-1].messages]
    assert roles == ["system", "user", "assistant", "user"]
    assert model.requests[-1].messages[2].content == "old answer"
