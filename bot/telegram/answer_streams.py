"""Opens AnswerStreams that share the bot's pacers, what it learned about drafts, the answer
buttons, and the drafts being shown now (which Telegram's Stop button names)."""

from __future__ import annotations

from typing import Literal

from bot.telegram.answer_bot import AnswerBot
from bot.telegram.answer_buttons import AnswerButtons
from bot.telegram.pacing import ChatPacer, SendBudget
from bot.telegram.streaming import AnswerStream


class AnswerStreams:
    """Opens AnswerStreams that share the bot's pacers and what it learned about drafts."""

    def __init__(
        self,
        bot: AnswerBot,
        *,
        pacer: ChatPacer,
        budget: SendBudget,
        mode: Literal["auto", "edit"],
        draft_interval: float,
        max_pages: int,
        buttons: AnswerButtons | None = None,
    ) -> None:
        self._bot = bot
        self._buttons = buttons
        # The drafts being shown now, as (chat, draft id): Telegram's Stop button names one.
        self.live_drafts: set[tuple[int, int]] = set()
        self._mode = mode
        self._max_pages = max_pages
        self._pacer = pacer
        self._budget = budget
        # Telegram publishes no rate for drafts: they get a pacer (and a pace) of their own.
        self._draft_pacer = ChatPacer(
            private_interval=draft_interval, group_interval=draft_interval
        )
        self._drafts_refused: set[int] = set()

    def open(
        self,
        chat_id: int,
        *,
        private: bool,
        reply_to: int | None,
        language: str | None,
        heading: str | None = None,
        topic: int | None = None,
        follow_ups: bool = False,
    ) -> AnswerStream:
        """A stream for one answer into `chat_id` (in the private chat's `topic`), headed by
        `heading` if given; with `follow_ups`, its conversation's buttons go under it."""
        return AnswerStream(
            self._bot,
            chat_id,
            use_drafts=private and self._mode != "edit",
            pacer=self._pacer,
            draft_pacer=self._draft_pacer,
            budget=self._budget,
            drafts_refused=self._drafts_refused,
            reply_to=reply_to,
            topic=topic,
            language=language,
            heading=heading,
            max_pages=self._max_pages,
            live_drafts=self.live_drafts,
            buttons=self._buttons if follow_ups else None,
        )

    def shows_draft(self, chat_id: int, draft_id: int) -> bool:
        """Whether an answer is being written into this draft now (its Stop button counts)."""
        return (chat_id, draft_id) in self.live_drafts
