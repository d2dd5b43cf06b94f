"""A question's conversation in the database: read when the question's turn has come, the
question stored as it fits the window (before the model is asked, so it is never lost), the
window's start kept, and the answer's row, opened `interrupted` and finished one way.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial

from bot.chat_ports import HistoryStore, Question
from bot.context import (
    ChatDefaults,
    Generation,
    Window,
    default_generation,
    document_room,
    fit_question,
    with_document,
)
from bot.errors import LLMError, NoVisionModel
from bot.llm.types import ChatMessage
from bot.model_stream import AnswerSink, Streamed
from bot.notices import ContextTrimmed, DocumentCut, ImagesCut
from bot.records import StoredMessage, UserSettings
from bot.roles import Role
from bot.threads import ThreadRegistry

log = logging.getLogger(__name__)

HISTORY_LOAD_LIMIT = 400  # turns read from the store before trimming to the window


@dataclass(frozen=True, slots=True)
class AskedQuestion:
    """A question with its conversation, as it is when the question's turn has come."""

    question: Question
    conversation: int
    earlier: Sequence[StoredMessage]
    start: int | None  # where the conversation's window starts (None: at its beginning)
    reaches_start: bool  # `earlier` goes back to the start (else only the newest were read)
    settings: UserSettings  # the asker's
    said: str  # the question as the model is told it (in a shared thread: who speaks)

    @property
    def user_id(self) -> int:
        """Who asked."""
        return self.question.user.id


class ConversationHistory:
    """Reads and writes the conversations questions are answered in."""

    def __init__(
        self, store: HistoryStore, threads: ThreadRegistry, defaults: ChatDefaults
    ) -> None:
        self._store = store
        self._threads = threads
        self._defaults = defaults

    async def open(self, question: Question) -> AskedQuestion:
        """The question's conversation, as it is now that the question's turn has come."""
        user = question.user
        await self._store.remember_user(user)
        owner = self._threads.owner(question.chat_id, user.id)
        if owner != user.id:
            await self._store.remember_shared_thread(question.chat_id)
        conversation = await self._store.current_conversation(question.chat_id, owner)
        earlier = await self._store.recent_messages(conversation, HISTORY_LOAD_LIMIT)
        start = await self._store.context_start(conversation)
        reaches_start = len(earlier) < HISTORY_LOAD_LIMIT or (
            start is not None and earlier[0].id <= start
        )
        if not reaches_start:  # the new start goes where the next questions' reads reach
            earlier = earlier[len(earlier) // 2 :]
        settings = await self._store.user_settings(user.id)
        said = question.text
        if owner != user.id:  # a shared thread: the model is told who speaks
            said = f"{user.first_name or user.username or user.id}: {said}"
        return AskedQuestion(question, conversation, earlier, start, reaches_start, settings, said)

    async def store_question(
        self, asked: AskedQuestion, role: Role, generation: Generation, sink: AnswerSink
    ) -> tuple[ChatMessage, int]:
        """The question as it fits the window, stored (the user is told of a cut): the message
        as the model gets it, and its id."""
        question = asked.question
        fitted = fit_question(asked.said, question.images, question.document, role, generation)
        if fitted.images_cut:
            await sink.notice(ImagesCut(kept=len(fitted.images), sent=len(question.images)))
        if fitted.document_cut and question.document is not None:
            await sink.notice(DocumentCut(question.document.name))
        # Saved before the model is asked: whatever happens next, the question is not lost.
        question_id = await self._store.add_message(
            asked.conversation, "user", fitted.text, images=fitted.images, author_id=asked.user_id
        )
        return ChatMessage("user", fitted.text, tuple(i.data for i in fitted.images)), question_id

    async def keep_unanswered(self, asked: AskedQuestion, err: LLMError) -> None:
        """The model cannot be had: the question is kept whole, so the conversation goes on
        from it once it can; but photos no model can see would only block every later one."""
        question, text = asked.question, asked.said
        if question.document is not None:  # cut as for the default window
            room = document_room(text, question.images, default_generation(self._defaults), None)
            text, _ = with_document(text, question.document, room)
        images = () if isinstance(err, NoVisionModel) else question.images
        await self._store.add_message(
            asked.conversation, "user", text, images=images, author_id=asked.user_id
        )

    async def record(self, asked: AskedQuestion, streamed: Streamed) -> None:
        """An answer no model wrote (it could not be had, or the question left the line)."""
        await self.finish(await self.open_row(asked, None), streamed)

    async def open_row(self, asked: AskedQuestion, model: str | None) -> int:
        """The answer's row, `interrupted` until `finish` writes how it ended (so is what a
        crash leaves): every answer, written or not, is recorded this one way."""
        return await self._store.add_message(
            asked.conversation,
            "assistant",
            "",
            model=model,
            status="interrupted",
            author_id=asked.user_id,
        )

    async def finish(self, row: int, streamed: Streamed) -> None:
        """The answer row's final text, status and figures. Stored before the answer is
        delivered: a crash while sending does not lose it."""
        try:
            await self._store.finish_answer(row, streamed.text, streamed.status, streamed.figures)
        except Exception:  # the user still gets the answer, which is all they asked for
            log.exception("could not store an answer")

    def checkpoint(self, row: int) -> Callable[[str], Awaitable[None]]:
        """Saves the text of the answer in `row` so far (kept if the process dies)."""
        return partial(self._store.save_partial, row)

    async def keep_window_start(
        self, asked: AskedQuestion, window: Window, sink: AnswerSink
    ) -> None:
        """A window whose start moved keeps it for the next questions; the user hears of it
        the first time older messages leave the conversation."""
        if window.moved and window.start_id is not None:
            await self._store.set_context_start(asked.conversation, window.start_id)
            if asked.start is None:
                await sink.notice(ContextTrimmed())
