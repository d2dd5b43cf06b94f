"""A question's conversation in the database: read when the question's turn has come, the
question stored as it fits the window (before the model is asked, so it is never lost), the
window's start kept, and the answer's row, opened `interrupted` and finished one way.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

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
from bot.records import ConversationPlace, StoredMessage, UserProfile, UserSettings
from bot.roles import Role
from bot.threads import ThreadRegistry

log = logging.getLogger(__name__)

HISTORY_LOAD_LIMIT = 400  # turns read from the store before trimming to the window


@dataclass(frozen=True, slots=True)
class AnsweredTurn:
    """A conversation's last exchange, to be answered again or continued."""

    asked: AskedQuestion  # the question, with the conversation before it
    message: ChatMessage  # the question as the model gets it
    question_id: int
    answer: StoredMessage


@dataclass(frozen=True, slots=True)
class AskedQuestion:
    """A question with its conversation, as it is when the question's turn has come."""

    question: Question
    conversation: int
    earlier: Sequence[StoredMessage]
    start: int | None  # where the conversation's window starts (None: at its beginning)
    reaches_start: bool  # `earlier` goes back to the start (else only the newest were read)
    settings: UserSettings  # the asker's, with the conversation's own model and role
    said: str  # the question as the model is told it (in a shared thread: who speaks)
    place: ConversationPlace  # where the conversation lives, its title

    @property
    def offers_follow_up(self) -> bool:
        """Its answer may be written again or continued: the asker's own conversation (not a
        group's shared thread)."""
        return self.place.user_id == self.question.user.id

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
        conversation = await self._store.current_conversation(
            question.chat_id, owner, question.topic
        )
        said = question.text
        if owner != user.id:  # a shared thread: the model is told who speaks
            said = f"{user.first_name or user.username or user.id}: {said}"
        return await self._asked(question, conversation, said, hold_back=0)

    async def reopen(
        self, chat_id: int, user: UserProfile, answer_id: int, *, repair: bool = True
    ) -> AnsweredTurn | None:
        """The exchange the answer `answer_id` ends, to answer it again or go on with it; None
        when that answer is no longer its conversation's last, or not this user's. `repair`
        (in the thread's turn): what a crash left behind is tidied."""
        conversation = await self._store.conversation_of_message(answer_id)
        if conversation is None:
            return None
        place = await self._store.conversation_place(conversation)
        if place is None or (place.chat_id, place.user_id) != (chat_id, user.id):
            return None
        last = await self._store.recent_messages(conversation, 3)
        if [m.role for m in last] == ["user", "assistant", "assistant"]:
            # The process died while an answer was being written again: both are stored. The
            # one whose button was pressed stays, the other goes.
            if answer_id not in (last[1].id, last[2].id):
                return None
            kept, gone = (last[2], last[1]) if answer_id == last[2].id else (last[1], last[2])
            if repair:
                await self._store.drop_message(gone.id)
            last = [last[0], kept]
        elif last and last[-1].id != answer_id:
            return None
        last = last[-2:]
        if [m.role for m in last] != ["user", "assistant"]:
            return None
        question, answer = last
        asked = await self._asked(Question(chat_id, user, ""), conversation, "", hold_back=2)
        asked = replace(
            asked,
            question=Question(chat_id, user, question.content, topic=place.topic),
            said=question.content,
        )
        message = ChatMessage("user", question.content, tuple(i.data for i in question.images))
        return AnsweredTurn(asked, message, question.id, answer)

    async def follow_up_state(
        self, chat_id: int, user_id: int, answer_id: int, go_on: bool
    ) -> Literal["usable", "stale", "not_yours"]:
        """Whether the buttons under the answer `answer_id` still do something for this user:
        `not_yours` in someone else's conversation, `stale` when it is no longer its
        conversation's last answer (or, `go_on`, one the model may not continue)."""
        conversation = await self._store.conversation_of_message(answer_id)
        place = None if conversation is None else await self._store.conversation_place(conversation)
        if place is not None and place.chat_id == chat_id and place.user_id != user_id:
            return "not_yours"
        turn = await self.reopen(chat_id, UserProfile(user_id), answer_id, repair=False)
        if turn is None or (go_on and not turn.answer.can_continue):
            return "stale"
        return "usable"

    async def _asked(
        self, question: Question, conversation: int, said: str, *, hold_back: int
    ) -> AskedQuestion:
        """The conversation before the question (without its last `hold_back` messages)."""
        earlier = await self._store.recent_messages(conversation, HISTORY_LOAD_LIMIT + hold_back)
        earlier = earlier[: len(earlier) - hold_back]
        if hold_back == 0 and _rewrite_left_behind(earlier):
            # A crash while an answer was written again: the old one stays, the cut one goes.
            await self._store.drop_message(earlier[-1].id)
            earlier = earlier[:-1]
        start = await self._store.context_start(conversation)
        reaches_start = len(earlier) < HISTORY_LOAD_LIMIT or (
            start is not None and earlier[0].id <= start
        )
        if not reaches_start:  # the new start goes where the next questions' reads reach
            earlier = earlier[len(earlier) // 2 :]
        place = await self._store.conversation_place(conversation)
        assert place is not None  # noqa: S101 - read within the thread's turn, which owns it
        settings = (await self._store.user_settings(question.user.id)).within(place)
        return AskedQuestion(
            question, conversation, earlier, start, reaches_start, settings, said, place
        )

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
            await self._store.finish_answer(
                row, streamed.text, streamed.status, streamed.figures, streamed.done_reason
            )
        except Exception:  # the user still gets the answer, which is all they asked for
            log.exception("could not store an answer")

    def checkpoint(self, row: int, before: str = "") -> Callable[[str], Awaitable[None]]:
        """Saves the text of the answer in `row` so far, after `before` (the answer it goes
        on with), so it is kept if the process dies."""

        async def save(text: str) -> None:
            await self._store.save_partial(row, before + text)

        return save

    async def replace_answer(
        self, row: int, replaced: StoredMessage | None, streamed: Streamed
    ) -> None:
        """An answer written again takes the old one's place in the conversation only when it
        holds words and did not fail: otherwise the old one stays and the new one goes."""
        if replaced is None:
            return
        written = streamed.status != "error" and streamed.text.strip()
        await self._store.drop_message(replaced.id if written else row)

    async def finish_continued(self, row: int, before: str, streamed: Streamed) -> None:
        """An answer the model went on with: the new words added to it (and the figures to
        its figures). A failure keeps what was written, as `stopped`, so the model may be
        asked to go on again; without new words the answer stays as it was."""
        if not streamed.text:
            return
        status = "stopped" if streamed.status == "error" else streamed.status
        try:
            await self._store.finish_answer(
                row,
                before + streamed.text,
                status,
                streamed.figures,
                streamed.done_reason,
                added=True,
            )
        except Exception:  # the user still sees the words, which is all they asked for
            log.exception("could not store an answer")

    async def keep_window_start(
        self, asked: AskedQuestion, window: Window, sink: AnswerSink
    ) -> None:
        """A window whose start moved keeps it for the next questions; the user hears of it
        the first time older messages leave the conversation."""
        if window.moved and window.start_id is not None:
            await self._store.set_context_start(asked.conversation, window.start_id)
            if asked.start is None:
                await sink.notice(ContextTrimmed())


def _rewrite_left_behind(earlier: Sequence[StoredMessage]) -> bool:
    """The conversation ends with an answer and, after it, the cut start of the same answer
    written again (the process died meanwhile)."""
    return (
        len(earlier) >= 3
        and [m.role for m in earlier[-3:]] == ["user", "assistant", "assistant"]
        and earlier[-1].status == "interrupted"
    )
