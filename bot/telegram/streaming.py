"""Answers shown as the model writes them (AnswerStream), paced per chat (bot/telegram/pacing).

Private chats stream into a native draft (`sendMessageDraft`) and end with `sendMessage`;
groups, and private chats where drafts are refused, send the first words as soon as they come
and then edit that message. Every write into a chat waits its turn at a ChatPacer, so Telegram's
per-chat flood limits are never reached; a 429 still makes the chat wait `retry_after` and the
text in between is coalesced, never lost. Answers past one message continue in the next.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable

from telegram import InlineKeyboardMarkup
from telegram.error import TelegramError

from bot.answer_view import AnswerView, LiveText
from bot.errors import BotError
from bot.model_stream import FollowUp
from bot.notices import AnswerFooter, Notice
from bot.records import AnswerStatus
from bot.render import RenderedText
from bot.telegram.answer_bot import AnswerBot
from bot.telegram.answer_buttons import AnswerButtons, answer_keyboard
from bot.telegram.pacing import ChatPacer, Clock, SendBudget, Sleep
from bot.telegram.writers import (
    DraftWriter,
    Formatting,
    MessageWriter,
    Outcome,
    TypingIndicator,
)

log = logging.getLogger(__name__)

DRAFT_NOTICE_REFRESH_S = 20.0  # a draft is "a temporary 30-second preview" (sendMessageDraft)


class AnswerStream:
    """Shows one answer in one chat; implements ChatService's AnswerSink.

    What it shows is AnswerView's; how it is written, the writers' (a draft, or a message
    edited as it grows; messages sent for good); this class decides when: a worker wakes on
    every change, waits for the chat's turn, and shows the newest text then.
    """

    def __init__(
        self,
        bot: AnswerBot,
        chat_id: int,
        *,
        use_drafts: bool,
        pacer: ChatPacer,
        draft_pacer: ChatPacer,
        budget: SendBudget,
        drafts_refused: set[int],
        reply_to: int | None = None,
        topic: int | None = None,
        language: str | None = None,
        heading: str | None = None,
        max_pages: int,
        live_drafts: set[tuple[int, int]] | None = None,
        buttons: AnswerButtons | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._view = AnswerView(
            language=language, max_pages=max_pages, heading=heading, clock=clock
        )
        self._bot = bot
        self._chat_id, self._topic, self._language = chat_id, topic, language
        formatting = Formatting()  # Telegram rejected our entities once: the rest goes plain
        self._drafts = DraftWriter(
            bot,
            chat_id,
            topic=topic,
            pacer=draft_pacer,
            budget=budget,
            refused=drafts_refused,
            formatting=formatting,
            live=live_drafts,
        )
        self._messages = MessageWriter(
            bot, chat_id, topic=topic, pacer=pacer, reply_to=reply_to, formatting=formatting
        )
        self._typing = TypingIndicator(
            bot, chat_id, topic=topic, shown=lambda: self._messages.sent_any, sleep=sleep
        )
        self._buttons = buttons
        self._follow_up: FollowUp | None = None
        self._placeholder = False  # an empty draft ("Thinking…") is to show until words come
        self._use_drafts = use_drafts
        self._budget = budget
        self._sleep = sleep
        self._full = asyncio.Event()  # the answer outgrew its pages: the model may stop
        self._changed = asyncio.Event()
        self._ended = asyncio.Event()  # the answer is complete; wakes a worker waiting to refresh
        self._worker: asyncio.Task[None] | None = None
        self._live_shown: RenderedText | None = None  # what the draft or live message shows
        self._showing_notice = False  # the live text written last only says the answer waits
        self._chat_gone = False  # the user blocked the bot, or the chat is gone: stop trying

    # -- AnswerSink -------------------------------------------------------------------------

    def begin(self) -> None:
        """The answer's turn has come: show "typing…" until the first words are visible, and
        in a draft Telegram's "Thinking…" placeholder at once."""
        self._typing.start()
        if self._drafting and not self._placeholder:
            self._placeholder = True
            self._wake()

    def waiting(self, ahead: int) -> None:
        """Show how many questions go to the model first; 0: this one's turn has come (the
        notice then says the model is at work, until its first words replace it)."""
        self._view.waiting(ahead)
        self._wake()

    def loading(self, model: str, size_bytes: int) -> None:
        """The model is loaded into memory first: say so until its first words replace it."""
        self._view.loading(model, size_bytes)
        self._wake()

    def think(self, delta: str) -> None:
        """Take new reasoning; shown at the next turn, until the answer itself begins."""
        self._view.think(delta)
        self._wake()

    def append(self, delta: str) -> None:
        """Take new words; they are shown at the next turn this chat gets (none once the
        answer was cut at its most pages)."""
        if self._view.append(delta):
            self._wake()

    async def until_full(self) -> None:
        """Return once the answer has outgrown the messages it may fill (MAX_ANSWER_PAGES)."""
        await self._full.wait()

    async def finish(
        self,
        status: AnswerStatus,
        footer: AnswerFooter | None = None,
        *,
        cut_at_length: bool = False,
        follow_up: FollowUp | None = None,
    ) -> None:
        """Send the complete answer for good; its end says why it ended when it was cut short
        (stopped, too many messages, or `cut_at_length`: the model reached the longest answer
        it was allowed), and `follow_up`'s buttons go under it."""
        self._view.end(status, footer, cut_at_length=cut_at_length)
        self._note_full()
        self._follow_up = follow_up if self._buttons is not None else None
        await self._close()
        last = self._messages.last_final_id
        if self._follow_up is not None and self._buttons is not None and last is not None:
            await self._buttons.shown(self._follow_up, self._chat_id, last)

    async def titled(self, title: str) -> None:
        """A conversation in a topic of its own gets the title as the topic's name."""
        if self._topic is None:
            return
        try:
            await self._bot.edit_forum_topic(self._chat_id, self._topic, name=title)
        except TelegramError as err:  # the topic was deleted, or named by the user since
            log.info("could not rename topic in chat %s: %s", self._chat_id, err)

    async def fail(self, error: BotError) -> None:
        """Keep what was written, then say what went wrong in a message of its own (headed
        by the model's name in /compare when nothing else was shown)."""
        await self._close()
        # A queue-position message is replaced by the failure; anything else stays.
        replace = self._showing_notice and self._messages.live_id is not None
        await self._send_final(self._view.failure(error), force_new=not replace)

    async def notice(self, notice: Notice) -> None:
        """A message of its own, before the answer."""
        await self._send_final(self._view.notice(notice), force_new=True)

    # -- when to write ----------------------------------------------------------------------

    @property
    def _final(self) -> bool:
        """The answer is complete: what is left to send is its final text."""
        return self._ended.is_set()

    @property
    def _drafting(self) -> bool:
        return self._use_drafts and self._drafts.usable

    def _wake(self) -> asyncio.Task[None]:
        """Have the worker show what changed; the worker."""
        self._changed.set()
        if self._worker is None:
            self._worker = asyncio.create_task(self._deliver())
        return self._worker

    def _note_full(self) -> None:
        if self._view.full:
            self._full.set()

    async def _close(self) -> None:
        """Deliver everything written so far, for good."""
        self._ended.set()
        worker = self._wake()
        try:
            await worker
        finally:
            self._drafts.end()
            await self._typing.stop()

    async def _deliver(self) -> None:
        while not self._chat_gone:
            if not await self._next_change():  # a draft lasts 30 s on its own: show it again
                self._live_shown = None
            self._changed.clear()
            if self._final:
                await self._flush_final()
                return
            await self._flush_live()

    async def _next_change(self) -> bool:
        """Wait for a change; False if a notice in a draft stood its lifetime first."""
        if (lifetime := self._notice_lifetime()) is None:
            await self._changed.wait()
            return True
        changed = asyncio.ensure_future(self._changed.wait())
        expired = asyncio.ensure_future(self._sleep(lifetime))
        await asyncio.wait({changed, expired}, return_when=asyncio.FIRST_COMPLETED)
        expired.cancel()
        if changed.done():
            return True
        changed.cancel()
        return False

    def _notice_lifetime(self) -> float | None:
        """How long a notice in a draft ("loading", a queue position) may stand unchanged before
        it is sent again; None when nothing needs it."""
        return DRAFT_NOTICE_REFRESH_S if self._drafting and self._showing_notice else None

    async def _before_the_end(self, wait: Awaitable[None]) -> bool:
        """Wait for `wait` (a turn, the budget); False if the answer ended first: its final
        message goes at once rather than after an update nobody needs any more."""
        waiting = asyncio.ensure_future(wait)
        ended = asyncio.ensure_future(self._ended.wait())
        await asyncio.wait({waiting, ended}, return_when=asyncio.FIRST_COMPLETED)
        ended.cancel()
        if waiting.done():
            return True
        waiting.cancel()
        return False

    async def _live_turn(self) -> bool:
        """Wait for the turn to show the live text; False if the answer ended first (a draft:
        its final message goes at once)."""
        urgent = self._showing_notice  # first words, or words replacing a notice
        if self._drafting:
            # More words can wait behind others' first words.
            first = self._live_shown is None or urgent
            return await self._before_the_end(self._drafts.turn(urgent=first))
        if self._messages.live_id is None:  # the first message carries the words come by then
            await self._messages.claim_turn(urgent=True)
            return True
        await self._messages.claim_turn(urgent=urgent)
        # The edit's share of the budget, unless the answer ends first: then the turn in hand
        # shows the final text (as urgent) instead of this refresh.
        paid = await self._before_the_end(self._budget.take(urgent=urgent))
        self._messages.prepaid(paid)
        return True

    async def _flush_live(self) -> None:
        # Nothing to show but that the model is at work, and no waiting notice to replace:
        # "typing…" says that (a draft shows "Thinking…" too), and a turn spent on more
        # would delay the first words.
        if self._placeholder_due():
            if await self._live_turn() and not self._final:
                await self._show_live(LiveText(RenderedText(""), notice=True))
            return
        if self._view.only_working() and not self._showing_notice:
            return
        if not await self._live_turn():
            return
        if self._final:  # the answer ended while we waited: the turn in hand shows the final text
            self._messages.prepaid(False)
            return
        try:
            if (before := self._view.before_the_answer()) is not None:
                await self._show_live(before)
                return
            if self._view.thought_pending:  # the answer began below the reasoning
                await self._send_final(self._view.sealed_thought())
            await self._flush_sealed_pages()
            if (tail := self._view.live_tail()) is not None:
                await self._show_live(LiveText(tail))
        finally:
            self._messages.drop_turn()

    def _placeholder_due(self) -> bool:
        """A draft is to show Telegram's "Thinking…" (an empty draft): nothing else shows yet."""
        return (
            self._placeholder
            and self._drafting
            and self._live_shown is None
            and not self._view.has_answer
            and self._view.before_the_answer() is None
        )

    async def _flush_final(self) -> None:
        markup = None
        if self._follow_up is not None:
            markup = answer_keyboard(self._follow_up, self._language)
        try:
            if self._view.thought_pending:
                await self._send_final(self._view.sealed_thought())
            await self._flush_sealed_pages()
            if (tail := self._view.final_tail()) is not None:
                await self._send_final(tail, markup=markup)
            elif markup is not None and (last := self._messages.last_final_id) is not None:
                # The answer ended with a full page: that page takes the buttons.
                try:
                    await self._bot.edit_message_reply_markup(
                        self._chat_id, last, reply_markup=markup
                    )
                except TelegramError as err:
                    log.info("could not put the buttons under an answer: %s", err)
        finally:
            self._messages.drop_turn()

    async def _flush_sealed_pages(self) -> None:
        if not self._final:  # at the end, finish() did it before adding its own lines
            self._view.keep_within_pages()
            self._note_full()
        self._view.seal_pages()
        while (page := self._view.next_page()) is not None:
            await self._send_final(page)
            self._view.page_delivered()

    # -- writing ----------------------------------------------------------------------------

    async def _show_live(self, live: LiveText) -> None:
        """Show `live` in the draft or the live message."""
        if live.shown == self._live_shown:
            return
        self._showing_notice = live.notice
        if self._drafting:
            outcome = await self._drafts.show(live.shown)
        else:
            outcome = await self._messages.show_live(live.shown, urgent=live.notice)
        if outcome is Outcome.SHOWN:
            self._live_shown = live.shown
            if not live.notice:  # "typing…" goes on under "loading" or a queue position
                await self._typing.stop()
        elif outcome is Outcome.RETRY:  # at the next turn, with whatever text there is then
            self._changed.set()
        elif outcome is Outcome.LOST:
            self._live_shown = None
        elif outcome is Outcome.CHAT_GONE:
            self._chat_gone = True

    async def _send_final(
        self,
        shown: RenderedText,
        *,
        force_new: bool = False,
        markup: InlineKeyboardMarkup | None = None,
    ) -> None:
        """Make `shown` a message of its own that stays (with `markup`'s buttons): edit the
        live one (unless `force_new`) or send a new one."""
        unchanged = (
            not force_new
            and markup is None
            and self._messages.live_id is not None
            and shown == self._live_shown
        )
        if unchanged:
            self._messages.last_final_id = self._messages.live_id
        if not self._chat_gone and not unchanged:
            outcome = await self._messages.write_final(
                shown, edit_live=not force_new, markup=markup
            )
            self._chat_gone = outcome is Outcome.CHAT_GONE
            if outcome is not Outcome.SHOWN:
                self._messages.last_final_id = None
        self._messages.live_id = None
        self._live_shown = None
        self._drafts.start_anew()
        await self._typing.stop()
