"""Answers shown as the model writes them (AnswerStream), paced per chat (bot/telegram/pacing).

Private chats stream into a native draft (`sendMessageDraft`) and end with `sendMessage`;
groups, and private chats where drafts are refused, send the first words as soon as they come
and then edit that message. Every write into a chat waits its turn at a ChatPacer, so Telegram's
per-chat flood limits are never reached; a 429 still makes the chat wait `retry_after` and the
text in between is coalesced, never lost. Answers past one message continue in the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

from telegram import LinkPreviewOptions, MessageEntity, ReplyParameters
from telegram.constants import ChatAction
from telegram.error import (
    BadRequest,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import ExtBot

from bot.errors import BotError
from bot.notices import AnswerFooter, Notice
from bot.records import AnswerStatus
from bot.render import (
    Entity,
    MarkdownPager,
    RenderedText,
    close_open_fence,
    markdown_literal,
    render,
    render_final,
    render_thought,
    split_page,
    utf16_len,
)
from bot.telegram.pacing import ChatPacer, Pace, SendBudget, retry_seconds, write_until_done
from bot.texts import describe_error, describe_notice, say
from bot.texts.views import (
    footer_text,
    loading_text,
    thought_header,
)

log = logging.getLogger(__name__)

TYPING_REFRESH_S = 4.5  # Telegram shows a chat action for about 5 s
DRAFT_NOTICE_REFRESH_S = 20.0  # a draft is "a temporary 30-second preview" (sendMessageDraft)
# A preview card under an answer that is still growing jumps around; models cite many links.
NO_LINK_PREVIEW = LinkPreviewOptions(is_disabled=True)
_draft_ids = itertools.count(1)
JSONDict = dict[str, Any]
T = TypeVar("T")


def to_telegram_entities(rendered: RenderedText) -> list[MessageEntity]:
    """Our entities as PTB objects."""
    return [
        MessageEntity(type=e.type, offset=e.offset, length=e.length, url=e.url, language=e.language)
        for e in rendered.entities
    ]


def _is_formatting_error(err: BadRequest) -> bool:
    return "can't parse entities" in err.message.lower() or "entity" in err.message.lower()


def _is_not_modified(err: BadRequest) -> bool:
    return "not modified" in err.message.lower()


class AnswerStream:
    """Shows one answer in one chat; implements ChatService's AnswerSink.

    A thinking model's reasoning gets a message of its own above the answer (a collapsed quote),
    so it never moves where the answer is cut into pages. `heading` (the model's name, in
    /compare) starts the answer's first message.
    """

    def __init__(
        self,
        bot: ExtBot[Any],
        chat_id: int,
        *,
        use_drafts: bool,
        pacer: ChatPacer,
        draft_pacer: ChatPacer,
        budget: SendBudget,
        drafts_refused: set[int],
        reply_to: int | None = None,
        language: str | None = None,
        heading: str | None = None,
        max_pages: int,
    ) -> None:
        self._bot = bot
        self._chat_id = chat_id
        self._max_pages = max_pages  # MAX_ANSWER_PAGES: messages one answer may fill
        self._cut_at_pages = False  # it would have needed more: the rest is not shown
        self._full = asyncio.Event()  # set with _cut_at_pages: the model may stop writing
        self._use_drafts = use_drafts
        self._pacer = pacer
        self._draft_pacer = draft_pacer
        self._budget = budget
        self._drafts_refused = drafts_refused
        self._reply_to = reply_to
        self._lang = language

        self._pager = MarkdownPager()
        self._changed = asyncio.Event()
        self._ended = asyncio.Event()  # the answer is complete; wakes a worker waiting to refresh
        self._edit_prepaid = False  # the live edit's budget was taken in _flush_live
        self._plain = False  # Telegram rejected our entities once: the rest goes out plain
        self._delivered_pages = 0
        self._live_id: int | None = None  # the message being edited, in edit mode
        self._live_shown: RenderedText | None = None
        self._turn_in_hand = False  # a pacer turn claimed by the live loop, not used yet
        self._draft_id = next(_draft_ids)
        self._anything_visible = False
        self._chat_gone = False  # the user blocked the bot, or the chat is gone: stop trying
        self._worker: asyncio.Task[None] | None = None
        self._typing: asyncio.Task[None] | None = None
        self._replied = False  # in a group the first message replies to the question
        self._heading = heading  # in /compare: the model's name, bold above its answer
        self._heading_due = heading is not None  # not yet put at the top of the answer
        self._thinking = ""
        self._thinking_since: float | None = None
        self._thought_for: float | None = None  # seconds, once the answer itself began
        self._thought_shown = False  # the reasoning's own message is final
        self._ahead: int | None = None  # questions before this one in the queue for the model
        self._live_is_notice = False  # the live message only says the question waits
        self._loading: tuple[str, int] | None = None  # (model, bytes) while it is loaded first

    # -- AnswerSink -------------------------------------------------------------------------

    def begin(self) -> None:
        """The answer's turn has come: show "typing…" until the first words are visible."""
        if self._typing is None:
            self._typing = asyncio.create_task(self._keep_typing())

    def waiting(self, ahead: int) -> None:
        """Show how many questions go to the model first; 0: this one's turn has come (the
        notice then says the model is at work, until its first words replace it)."""
        self._ahead = ahead
        self._wake()

    def loading(self, model: str, size_bytes: int) -> None:
        """The model is loaded into memory first: say so until its first words replace it."""
        self._loading = (model, size_bytes)
        self._wake()

    def think(self, delta: str) -> None:
        """Take new reasoning; shown at the next turn, until the answer itself begins."""
        if self._thinking_since is None:
            self._thinking_since = time.monotonic()
        self._thinking += delta
        self._wake()

    def append(self, delta: str) -> None:
        """Take new words; they are shown at the next turn this chat gets (none once the
        answer was cut at its most pages)."""
        if self._cut_at_pages:
            return
        if self._thinking_since is not None and self._thought_for is None:
            self._thought_for = time.monotonic() - self._thinking_since
        self._add_heading()
        self._pager.append(delta)
        self._wake()

    def _add_heading(self) -> None:
        """Start the answer with the heading, once."""
        if self._heading is not None and self._heading_due:
            self._pager.append(f"**{markdown_literal(self._heading)}**\n\n")
            self._heading_due = False

    def _wake(self) -> None:
        self._changed.set()
        if self._worker is None:
            self._worker = asyncio.create_task(self._deliver())

    async def until_full(self) -> None:
        """Return once the answer has outgrown the messages it may fill (MAX_ANSWER_PAGES)."""
        await self._full.wait()

    async def finish(
        self,
        status: AnswerStatus,
        footer: AnswerFooter | None = None,
        *,
        cut_at_length: bool = False,
    ) -> None:
        """Send the complete answer for good; its end says why it ended when it was cut short
        (stopped, too many messages, or `cut_at_length`: the model reached the longest answer
        it was allowed)."""
        answered = self._has_answer()
        self._add_heading()
        self._keep_within_pages()
        self._pager.tail = close_open_fence(self._pager.tail)
        if self._cut_at_pages:
            self._pager.append(f"\n\n_{markdown_literal(self._pages_marker())}_")
        elif status == "stopped":
            self._pager.append(f"\n\n_{say('stopped_marker', self._lang)}_")
        elif cut_at_length:
            marker = say("cut_at_length_marker", self._lang)
            self._pager.append(f"\n\n_{markdown_literal(marker)}_")
        elif not answered:
            self._pager.append(markdown_literal(say("empty_answer", self._lang)))
        if footer is not None and answered:
            self._pager.append(f"\n\n_{markdown_literal(footer_text(footer, self._lang))}_")
        await self._close()

    async def fail(self, error: BotError) -> None:
        """Keep what was written, then say what went wrong in a message of its own (headed
        by the model's name in /compare when nothing else was shown)."""
        await self._close()
        # Plain text with a hand-made bold heading: error texts quote commands in backticks and
        # parentheses, which Markdown would turn into formatting.
        problem = describe_error(error, self._lang)
        shown = RenderedText(problem)
        if self._heading is not None and self._heading_due:  # nothing of it was shown yet
            head = self._heading
            shown = RenderedText(f"{head}\n\n{problem}", (Entity("bold", 0, utf16_len(head)),))
        # A queue-position message is replaced by the failure; anything else stays.
        replace = self._live_is_notice and self._live_id is not None
        await self._send_final(shown, force_new=not replace)

    async def notice(self, notice: Notice) -> None:
        """A message of its own, before the answer."""
        await self._send_final(RenderedText(describe_notice(notice, self._lang)), force_new=True)

    # -- delivery ---------------------------------------------------------------------------

    @property
    def _final(self) -> bool:
        """The answer is complete: what is left to send is its final text."""
        return self._ended.is_set()

    async def _close(self) -> None:
        """Deliver everything written so far, for good."""
        self._ended.set()
        self._changed.set()
        if self._worker is None:
            self._worker = asyncio.create_task(self._deliver())
        try:
            await self._worker
        finally:
            await self._stop_typing()

    async def _deliver(self) -> None:
        while not self._chat_gone:
            try:
                async with asyncio.timeout(self._notice_lifetime()):
                    await self._changed.wait()
            except TimeoutError:  # a draft lasts 30 s on its own: show the notice again
                self._live_shown = None
            self._changed.clear()
            if self._final:
                await self._flush_final()
                return
            await self._flush_live()

    def _notice_lifetime(self) -> float | None:
        """How long a notice in a draft ("loading", a queue position) may stand unchanged before
        it is sent again; None when nothing needs it."""
        return DRAFT_NOTICE_REFRESH_S if self._drafting and self._live_is_notice else None

    @property
    def _drafting(self) -> bool:
        return self._use_drafts and self._chat_id not in self._drafts_refused

    def _pages_marker(self) -> str:
        return say("cut_at_pages_marker", self._lang, pages=self._max_pages)

    def _keep_within_pages(self) -> None:
        """Once the answer needs more than its most pages, cut it: the last page allowed is
        the tail again (shortened to leave room for the marker), the rest is dropped, and
        until_full() returns so the model is stopped."""
        if self._cut_at_pages:
            return
        self._pager.paginate()
        sealed, most = self._pager.sealed, self._max_pages
        if len(sealed) < most or (len(sealed) == most and not self._pager.tail.strip()):
            return
        self._cut_at_pages = True
        self._full.set()
        if self._delivered_pages >= most:  # the last page went out already: the marker follows
            del sealed[most:]
            self._pager.tail = ""
            return
        last = sealed[most - 1]
        del sealed[most - 1 :]
        room = self._pager.limit - utf16_len(self._pages_marker()) - 2
        shortened = split_page(last, room)
        self._pager.tail = last if shortened is None else shortened[0]

    async def _flush_sealed_pages(self) -> None:
        if not self._final:  # at the end, finish() did it before adding its own lines
            self._keep_within_pages()
        self._pager.paginate()
        while self._delivered_pages < len(self._pager.sealed):
            page = render_final(self._pager.sealed[self._delivered_pages])
            await self._send_final(page)
            self._delivered_pages += 1

    def _only_working(self) -> bool:
        """Nothing to show but that the model is at work, and no waiting notice to replace:
        "typing…" says that, and a turn spent on it would delay the first words."""
        return (
            self._ahead == 0
            and self._loading is None
            and not self._live_is_notice
            and not self._thinking
            and not self._has_answer()
        )

    async def _flush_live(self) -> None:
        if self._only_working():
            return
        if self._drafting:
            if not await self._before_the_end(self._draft_turn()):
                return
        elif self._live_id is not None:
            await self._take_turn(urgent=self._live_is_notice)
            self._turn_in_hand = True
            # The edit's share of the budget, unless the answer ends first: then the turn in
            # hand shows the final text (as urgent) instead of this refresh.
            self._edit_prepaid = await self._before_the_end(
                self._budget.take(urgent=self._live_is_notice)
            )
        else:  # the first message: its turn first, so it carries the words come by then
            await self._take_turn()
            self._turn_in_hand = True
        if self._final:  # the answer ended while we waited: the turn in hand shows the final text
            self._edit_prepaid = False
            return
        try:
            if self._loading is not None and not self._thinking and not self._has_answer():
                notice = RenderedText(loading_text(*self._loading, self._lang))
                await self._show_live(notice, self._live_shown, notice=True)
                return
            if self._ahead is not None and not self._thinking and not self._has_answer():
                key = "waiting" if self._ahead else "working"
                notice = RenderedText(say(key, self._lang, ahead=self._ahead))
                await self._show_live(notice, self._live_shown, notice=True)
                return
            if self._thinking and not self._thought_shown:
                if not self._has_answer():
                    await self._show_live(self._thought(), self._live_shown)
                    return
                await self._seal_thought()
            await self._flush_sealed_pages()
            shown = render(self._pager.tail)
            if shown.text.strip():
                await self._show_live(shown, self._live_shown)
        finally:
            # A turn is used at once or not at all: kept for later, it would crowd the next one.
            self._turn_in_hand = False
            self._edit_prepaid = False

    async def _show_live(
        self, shown: RenderedText, showing: RenderedText | None, *, notice: bool = False
    ) -> None:
        """Show `shown` in the draft or the live message; `notice` marks a placeholder (the
        queue position) that the answer, or a failure, replaces."""
        if shown == showing:
            return
        self._live_is_notice = notice
        if self._drafting:
            await self._show_draft(shown)
        else:
            await self._show_edit(shown)

    def _has_answer(self) -> bool:
        return bool(self._pager.sealed or self._pager.tail.strip())

    def _thought(self) -> RenderedText:
        """The reasoning's message: "Thinking…" while it grows, "Thought for N s" after."""
        if self._thought_for is None and not self._final:
            header = thought_header(None, self._lang)
        else:
            seconds = self._thought_for
            if seconds is None and self._thinking_since is not None:
                seconds = time.monotonic() - self._thinking_since
            header = thought_header(seconds, self._lang)
        if self._heading:  # in /compare: whose reasoning it is
            header = f"{header} · {self._heading}"
        return render_thought(header, self._thinking)

    async def _seal_thought(self) -> None:
        """The reasoning is complete: make its message final; the answer starts below it."""
        self._thought_shown = True
        await self._send_final(self._thought())

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

    async def _draft_turn(self) -> None:
        await self._draft_pacer.turn(self._chat_id)
        # The first words are urgent (also when they replace the queue notice); more of them
        # can wait behind others' first words.
        await self._budget.take(urgent=self._live_shown is None or self._live_is_notice)

    async def _take_turn(self, *, urgent: bool = True) -> None:
        """Wait for this chat's next turn to write, unless one was claimed just before;
        `urgent`: first words or a final message, not a refresh of words already shown."""
        if self._turn_in_hand:
            self._turn_in_hand = False
            return
        await self._pacer.turn(self._chat_id, urgent=urgent)

    async def _flush_final(self) -> None:
        try:
            if self._thinking and not self._thought_shown:
                await self._seal_thought()
            await self._flush_sealed_pages()
            # Blank only when the tail is: finish() gave an answer without words the empty-answer
            # note, so a blank tail here means every word went out in sealed pages.
            shown = render_final(self._pager.tail)
            if not shown.text.strip():
                return
            await self._send_final(shown)
        finally:
            self._turn_in_hand = False

    async def _show_draft(self, shown: RenderedText) -> None:
        try:
            await self._with_entities(
                shown,
                lambda text, entities: self._bot.send_message_draft(
                    self._chat_id,
                    self._draft_id,
                    text,
                    entities=entities,
                    rate_limit_args=Pace.PREPAID,
                ),
            )
        except RetryAfter as err:
            self._draft_pacer.hold(self._chat_id, retry_seconds(err))
            self._changed.set()
            return
        except Forbidden as err:
            self._give_up_on_chat(err)
            return
        except BadRequest as err:
            log.info("drafts refused in chat %s (%s); streaming by edits", self._chat_id, err)
            self._drafts_refused.add(self._chat_id)
            self._changed.set()
            return
        except TelegramError as err:  # a network hiccup or anything new: the next turn retries
            log.warning("draft update failed: %s", err)
            return
        self._live_shown = shown
        if not self._live_is_notice:  # "typing…" goes on under "loading" or a queue position
            await self._stop_typing()

    async def _show_edit(self, shown: RenderedText) -> None:
        try:
            if self._live_id is None:
                await self._take_turn()
                self._live_id = await self._send(shown)
            else:
                await self._take_turn(urgent=self._live_is_notice)
                rate = Pace.PREPAID if self._edit_prepaid else Pace.SELF_PACED
                self._edit_prepaid = False
                await self._edit(self._live_id, shown, rate=rate)
        except RetryAfter as err:
            self._pacer.hold(self._chat_id, retry_seconds(err))
            self._changed.set()  # try again at the next turn, with whatever text there is then
            return
        except Forbidden as err:
            self._give_up_on_chat(err)
            return
        except BadRequest as err:
            # The live message is gone (deleted by the user?): the next turn starts a new one.
            log.warning("live update refused in chat %s: %s", self._chat_id, err)
            self._live_id = None
            self._live_shown = None
            return
        except TelegramError as err:  # a network hiccup or anything new: the next turn retries
            log.warning("live update failed: %s", err)
            return
        self._live_shown = shown
        if not self._live_is_notice:
            await self._stop_typing()

    async def _send_final(self, shown: RenderedText, *, force_new: bool = False) -> None:
        """Make `shown` a message of its own that stays: edit the live one or send a new one.

        Waits out every 429 and retries network errors; what the model wrote is not dropped.
        """
        if not self._chat_gone:
            try:
                await self._make_final(shown, force_new=force_new)
            except Forbidden as err:
                self._give_up_on_chat(err)
            except NetworkError as err:
                log.error("giving up on a message to chat %s: %s", self._chat_id, err)  # noqa: TRY400
            except TelegramError as err:  # e.g. the group became a supergroup
                log.warning("Telegram refused a message to chat %s: %s", self._chat_id, err)
        self._live_id = None
        self._live_shown = None
        self._draft_id = next(_draft_ids)
        await self._stop_typing()

    async def _make_final(self, shown: RenderedText, *, force_new: bool) -> None:
        def hold(seconds: float) -> None:
            self._pacer.hold(self._chat_id, seconds)

        if (live_id := self._live_id) is not None and not force_new:
            if shown == self._live_shown:
                return
            try:
                await write_until_done(
                    lambda: self._edit(live_id, shown, rate=Pace.SELF_PACED),
                    take_turn=self._take_turn,
                    hold=hold,
                )
            except BadRequest as err:  # the live message is gone (deleted?): send it anew
                log.info("live message in chat %s gone (%s); sending anew", self._chat_id, err)
            else:
                return
        await write_until_done(lambda: self._send(shown), take_turn=self._take_turn, hold=hold)

    def _give_up_on_chat(self, err: Forbidden) -> None:
        log.warning(
            "chat %s cannot be written to (%s); the answer stays stored", self._chat_id, err
        )
        self._chat_gone = True

    async def _edit(self, message_id: int, shown: RenderedText, *, rate: Pace) -> None:
        """Change a message's text; `rate`: SELF_PACED (urgent) or PREPAID (budget taken)."""
        await self._with_entities(
            shown,
            lambda text, entities: self._bot.edit_message_text(
                text,
                self._chat_id,
                message_id,
                entities=entities,
                link_preview_options=NO_LINK_PREVIEW,
                rate_limit_args=rate,
            ),
        )

    async def _send(self, shown: RenderedText) -> int:
        """Send a new message (the caller took the turn); the first one replies to the question."""
        reply = (
            ReplyParameters(self._reply_to, allow_sending_without_reply=True)
            if self._reply_to and not self._replied
            else None
        )
        message = await self._with_entities(
            shown,
            lambda text, entities: self._bot.send_message(
                self._chat_id,
                text,
                entities=entities,
                reply_parameters=reply,
                link_preview_options=NO_LINK_PREVIEW,
                rate_limit_args=Pace.SELF_PACED,
            ),
        )
        if message is None:  # "not modified" cannot answer a new message
            raise BadRequest("no message was sent")
        self._replied = True
        self._anything_visible = True
        return message.message_id

    async def _with_entities(
        self,
        shown: RenderedText,
        call: Callable[[str, list[MessageEntity] | None], Awaitable[T]],
    ) -> T | None:
        """Run `call` with formatting, plain if Telegram rejects that; None for "not modified"."""
        entities = None if self._plain else to_telegram_entities(shown) or None
        try:
            return await call(shown.text, entities)
        except BadRequest as err:
            if _is_not_modified(err):
                return None
            if entities is None or not _is_formatting_error(err):
                raise
            log.warning("Telegram rejected the formatting (%s); sending plain text", err)
            self._plain = True
        try:
            return await call(shown.text, None)
        except BadRequest as err:
            if _is_not_modified(err):
                return None
            raise

    async def _keep_typing(self) -> None:
        while not self._anything_visible:
            with contextlib.suppress(TelegramError):
                await self._bot.send_chat_action(self._chat_id, ChatAction.TYPING)
            await asyncio.sleep(TYPING_REFRESH_S)

    async def _stop_typing(self) -> None:
        self._anything_visible = True
        if self._typing is not None and not self._typing.done():
            self._typing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._typing


class AnswerStreams:
    """Opens AnswerStreams that share the bot's pacers and what it learned about drafts."""

    def __init__(
        self,
        bot: ExtBot[Any],
        *,
        pacer: ChatPacer,
        budget: SendBudget,
        mode: Literal["auto", "edit"],
        draft_interval: float,
        max_pages: int,
    ) -> None:
        self._bot = bot
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
    ) -> AnswerStream:
        """A stream for one answer into `chat_id`, headed by `heading` if given."""
        return AnswerStream(
            self._bot,
            chat_id,
            use_drafts=private and self._mode != "edit",
            pacer=self._pacer,
            draft_pacer=self._draft_pacer,
            budget=self._budget,
            drafts_refused=self._drafts_refused,
            reply_to=reply_to,
            language=language,
            heading=heading,
            max_pages=self._max_pages,
        )
