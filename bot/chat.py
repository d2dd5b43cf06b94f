"""ChatService: from a user's message to a streamed, stored answer.

It assembles the context (role, history trimmed to the model's window, the new message), keeps
one answer at a time per (chat, user) with later messages waiting in order, streams the model's
words into an AnswerSink, and stores both sides with the answer's status and figures. One-shot
questions (/ask, /compare) take the same turns through `/api/generate` and store nothing.

The parts: turn-taking, /stop and shutting down in bot.threads; what the model is sent in
bot.context; the conversation in the database in bot.history; the user's model, role and
conversations in bot.choices; streaming into the sink in bot.model_stream; what the service
takes and needs from the rest of the bot in bot.chat_ports.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Literal

from bot.chat_ports import (
    ChatModel,
    HistoryStore,
    ModelChooser,
    Question,
    QuestionLoader,
    RoleChooser,
)
from bot.choices import UserChoices
from bot.context import ChatDefaults, Generation, Window, conversation_window, holds_images
from bot.errors import (
    BotError,
    FileProblem,
    LLMError,
    ReadingStopped,
    ShuttingDown,
    StaleAnswer,
    TooFewModels,
)
from bot.history import AskedQuestion, ConversationHistory
from bot.llm.types import ChatEvent, ChatMessage
from bot.model_stream import (
    AnswerSink,
    FollowUp,
    Streamed,
    deliver,
    log_answer,
    stream_answer,
    tell_if_loading,
)
from bot.notices import AnswerFooter
from bot.records import StoredMessage, UserProfile
from bot.roles import Role
from bot.threads import ThreadRegistry
from bot.titles import ConversationTitler

# Question is built by the handlers, so it is offered here with the service that takes it.
__all__ = ["ChatService", "Question", "QuestionLoader"]

log = logging.getLogger(__name__)

COMPARE_MIN_MODELS, COMPARE_MAX_MODELS = 2, 4  # how many models /compare asks


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
        self._defaults = defaults
        self._threads = threads = ThreadRegistry(store, defaults.concurrent_answers)
        self._choices = choices = UserChoices(store, model, catalog, roles, defaults, threads)
        self._history = ConversationHistory(store, threads, defaults)
        self._titles = ConversationTitler(model, store, threads, defaults)
        # What is not answering belongs to the parts; the handlers find it here.
        self.stop, self.close = threads.stop, threads.close
        self.load, self.is_shared = threads.load, threads.is_shared
        self.set_shared = threads.set_shared
        self.compare_models, self.current_choice = choices.compare_models, choices.current_choice
        self.vision_model, self.remember = choices.vision_model, choices.remember
        self.forget, self.warm_up = choices.forget, choices.warm_up
        self.switch_role = choices.switch_role
        self.start_new_conversation = choices.start_new_conversation
        self.follow_up_state = self._history.follow_up_state
        self.switch_conversation = choices.switch_conversation
        self.name_topic = choices.name_topic
        self.delete_conversation = choices.delete_conversation

    async def answer(
        self, question: Question, sink: AnswerSink, *, load: QuestionLoader | None = None
    ) -> None:
        """Answer `question` in the conversation, after any earlier question of its thread.

        `load`, if given, completes the question (downloads its photos or document) once its
        turn has come, so a photo is answered before a message sent after it. Never raises for
        a failure of the model, Telegram or the database: the user is told, and what can be
        stored is stored.
        """
        async with self._threads.turn(question.chat_id, question.user.id, sink) as stop:
            if stop is None:
                return
            if load is not None:
                try:
                    loaded = await self._threads.read(load, stop)
                except (FileProblem, ReadingStopped, ShuttingDown) as err:  # nothing to store
                    await sink.fail(err)
                    return
                if loaded is None:
                    return
                question = loaded
            await self._answer_now(question, sink, stop)

    async def ask(self, question: Question, sink: AnswerSink) -> None:
        """One shot through `/api/generate` with the user's model and role: no history is sent
        and nothing is added to the conversation."""
        async with self._threads.turn(question.chat_id, question.user.id, sink) as stop:
            if stop is None:
                return
            await self._store.remember_user(question.user)
            settings = await self._store.user_settings(question.user.id)
            try:
                model, role, generation = await self._choices.choose(
                    question.user.id, settings, sink
                )
            except LLMError as err:
                await sink.fail(err)
                return
            request = partial(
                self._model.generate, model, role.wrap(question.text), system=role.system_prompt()
            )
            footer: Literal["short"] | None = "short" if settings.footer else None
            await self._stream(
                question, model, request, generation, sink, stop, footer=footer, kind="ask"
            )

    async def compare(
        self, question: Question, open_sink: Callable[[str | None], AnswerSink]
    ) -> None:
        """The same one-shot prompt to each of the user's /compare models, each answer into its
        own sink (`open_sink(model)`), one model after another (or COMPARE_CONCURRENCY at once).
        /stop ends the whole comparison. Problems before any model is asked go to
        `open_sink(None)`: fewer than two models (TooFewModels), Ollama unreachable."""
        status = open_sink(None)
        async with self._threads.turn(question.chat_id, question.user.id, status) as stop:
            if stop is None:
                return
            try:
                models = await self._choices.compare_models(question.user.id)
            except LLMError as err:
                await status.fail(err)
                return
            if len(models) < COMPARE_MIN_MODELS:
                await status.fail(TooFewModels(len(models)))
                return
            await self._store.remember_user(question.user)
            settings = await self._store.user_settings(question.user.id)
            role = await self._choices.role(question.user.id, settings)
            prompt, system = role.wrap(question.text), role.system_prompt()
            at_once = asyncio.Semaphore(self._defaults.compare_concurrency)

            async def one(model: str, sink: AnswerSink) -> None:
                async with at_once:
                    if stop.is_set():
                        return  # /stop ended the comparison before this model's turn
                    sink.begin()
                    try:
                        generation = await self._choices.generation(model, settings)
                    except LLMError as err:
                        await sink.fail(err)
                        return
                    request = partial(self._model.generate, model, prompt, system=system)
                    await self._stream(
                        question,
                        model,
                        request,
                        generation,
                        sink,
                        stop,
                        footer="detailed",
                        kind="compare",
                    )

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

    # -- a question with history: load, store the question, generate, record ----------------

    async def _answer_now(self, question: Question, sink: AnswerSink, stop: asyncio.Event) -> None:
        """Load the conversation, store the question, then generate and record the answer."""
        asked = await self._history.open(question)
        try:
            model, role, generation = await self._choices.choose(
                question.user.id,
                asked.settings,
                sink,
                vision=bool(question.images),
                place=asked.place,
            )
        except LLMError as err:
            await self._history.keep_unanswered(asked, err)
            await self._refused(asked, Streamed("", None, "error", err), sink)
            return
        message, question_id = await self._history.store_question(asked, role, generation, sink)
        try:
            model, generation, window = await self._window(
                asked, role, model, generation, message, question_id
            )
        except LLMError as err:  # earlier photos in the window, and no model can see them
            await self._refused(asked, Streamed("", None, "error", err), sink)
            return
        await self._history.keep_window_start(asked, window, sink)
        request = partial(self._model.chat, model, window.messages)
        footer: Literal["short"] | None = "short" if asked.settings.footer else None
        streamed = await self._stream(
            question, model, request, generation, sink, stop, footer=footer, asked=asked
        )
        self._titles.after_answer(asked, model, generation, streamed, sink)

    # -- the last answer again, or more of it ------------------------------------------------

    async def regenerate(
        self, chat_id: int, user: UserProfile, answer_id: int, sink: AnswerSink
    ) -> None:
        """Ask the question of the answer `answer_id` again: the new answer takes the old
        one's place in the conversation (the old message stays in the chat). StaleAnswer when
        it is no longer the conversation's last answer."""
        await self._again(chat_id, user, answer_id, sink, go_on=False)

    async def continue_answer(
        self, chat_id: int, user: UserProfile, answer_id: int, sink: AnswerSink
    ) -> None:
        """Have the model go on from where the answer `answer_id` ended (it was stopped, or
        reached the longest answer allowed): the rest is added to the stored answer."""
        await self._again(chat_id, user, answer_id, sink, go_on=True)

    async def _again(
        self, chat_id: int, user: UserProfile, answer_id: int, sink: AnswerSink, *, go_on: bool
    ) -> None:
        async with self._threads.turn(chat_id, user.id, sink) as stop:
            if stop is None:
                return
            turn = await self._history.reopen(chat_id, user, answer_id)
            if turn is None or (go_on and not turn.answer.can_continue):
                await sink.fail(StaleAnswer())
                return
            asked = turn.asked
            try:
                model, role, generation = await self._choices.choose(
                    user.id, asked.settings, sink, place=asked.place
                )
                model, generation, window = await self._window(
                    asked, role, model, generation, turn.message, turn.question_id
                )
            except LLMError as err:
                await deliver(Streamed("", None, "error", err), sink)
                return
            await self._history.keep_window_start(asked, window, sink)
            messages = window.messages
            if go_on:  # the model's own words come last: it writes on from them
                messages = [*messages, ChatMessage("assistant", turn.answer.content)]
            request = partial(self._model.chat, model, messages)
            footer: Literal["short"] | None = "short" if asked.settings.footer else None
            await self._stream(
                asked.question,
                model,
                request,
                generation,
                sink,
                stop,
                footer=footer,
                asked=asked,
                goes_on=turn.answer if go_on else None,
                replaces=None if go_on else turn.answer,
            )

    async def _window(
        self,
        asked: AskedQuestion,
        role: Role,
        model: str,
        generation: Generation,
        message: ChatMessage,
        question_id: int,
    ) -> tuple[str, Generation, Window]:
        """The history trimmed to the window, once. When it holds earlier photos the user's
        model cannot see, the model that can answers, and only if its window differs is the
        history trimmed again."""

        def trim(way: Generation) -> Window:
            return conversation_window(
                role,
                asked.earlier,
                message,
                way,
                start_id=asked.start,
                question_id=question_id,
                reaches_start=asked.reaches_start,
            )

        window = trim(generation)
        if asked.question.images or not holds_images(window):
            return model, generation, window
        seeing_model, seeing = await self._choices.seeing(asked.settings, model, generation)
        fits = (seeing.budget_tokens, seeing.image_tokens)
        if fits != (generation.budget_tokens, generation.image_tokens):
            window = trim(seeing)
        return seeing_model, seeing, window

    # -- the model's answer ------------------------------------------------------------------

    async def _stream(
        self,
        question: Question,
        model: str,
        request: Callable[..., AsyncIterator[ChatEvent]],
        generation: Generation,
        sink: AnswerSink,
        stop: asyncio.Event,
        *,
        footer: Literal["short", "detailed"] | None,
        kind: Literal["chat", "ask", "compare"] = "chat",
        asked: AskedQuestion | None = None,
        goes_on: StoredMessage | None = None,
        replaces: StoredMessage | None = None,
    ) -> Streamed:
        """Once the model has a slot, stream its answer to `request` into `sink`, record it in
        the conversation (with `asked`: one-shot answers are not stored; added to `goes_on`,
        or in place of `replaces`), and show how it ended; /stop or shutdown while waiting
        for the slot ends it as `stopped`."""
        async with self._threads.model_slot(stop, sink.waiting) as held:
            if not held:
                streamed = Streamed("", None, "stopped", self._threads.refusal())
                if goes_on is None and replaces is None:
                    await self._refused(asked, streamed, sink)
                else:  # the answer as it was stays
                    await deliver(streamed, sink)
                return streamed
            row, before = None, ""
            if goes_on is not None:
                row, before = goes_on.id, goes_on.content
            elif asked is not None:
                row = await self._history.open_row(asked, model)
            started = time.monotonic()
            await tell_if_loading(self._model.size_if_unloaded, model, sink)
            events = request(
                options=generation.options,
                think=generation.think,
                keep_alive=self._defaults.keep_alive,
            )
            checkpoint = None if row is None else self._history.checkpoint(row, before)
            streamed = await stream_answer(events, sink, stop, checkpoint=checkpoint)
            if goes_on is not None and row is not None:
                await self._history.finish_continued(row, before, streamed)
            elif row is not None:
                await self._history.finish(row, streamed)
                await self._history.replace_answer(row, replaces, streamed)
        content = question.text if self._defaults.log_content else None
        who = (question.user.id, question.chat_id)
        log_answer(who, model, streamed, time.monotonic() - started, kind=kind, question=content)
        shown = None
        if footer is not None and streamed.done is not None:
            shown = AnswerFooter(model, streamed.figures, detailed=footer == "detailed")
        follow_up = None
        if asked is not None and row is not None and asked.offers_follow_up and streamed.text:
            follow_up = FollowUp(asked.conversation, row, streamed.can_continue)
        await deliver(streamed, sink, shown, follow_up)
        return streamed

    async def _refused(
        self, asked: AskedQuestion | None, streamed: Streamed, sink: AnswerSink
    ) -> None:
        """An answer no model wrote: recorded in the conversation (if any), the user told why."""
        if asked is not None:
            await self._history.record(asked, streamed)
        await deliver(streamed, sink)
