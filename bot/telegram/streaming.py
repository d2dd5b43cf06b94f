"""Messages that change while something runs: answers as the model writes them (AnswerStream)
and the progress of a model pull (PullMessage), paced per chat (ChatPacer, ChatRateLimiter).

Private chats stream into a native draft (`sendMessageDraft`) and end with `sendMessage`;
groups, and private chats where drafts are refused, send the first words as soon as they come
and then edit that message. Every write into a chat waits its turn at a ChatPacer, so Telegram's
per-chat flood limits are never reached; a 429 still makes the chat wait `retry_after` and the
text in between is coalesced, never lost. Answers past one message continue in the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dtm
import itertools
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Literal, TypeVar

from telegram import InlineKeyboardMarkup, LinkPreviewOptions, MessageEntity, ReplyParameters
from telegram.constants import ChatAction
from telegram.error import (
    BadRequest,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import BaseRateLimiter, ExtBot

from bot.budget import SendBudget
from bot.errors import BotError
from bot.installer import PullOutcome, PullProgress
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
from bot.texts import describe_error, describe_notice, say
from bot.texts.views import (
    footer_text,
    loading_text,
    pull_outcome_text,
    pull_progress_text,
    thought_header,
)

log = logging.getLogger(__name__)

# Groups: Telegram allows 20 messages a minute (GROUP_TURNS per 20 group intervals); first words
# and final messages may come a third of an interval after the previous write; routine
# refreshes leave GROUP_RESERVE of the 20 to them.
GROUP_TURNS = 20
GROUP_RESERVE = 4
URGENT_SHARE_OF_INTERVAL = 3
TYPING_REFRESH_S = 4.5  # Telegram shows a chat action for about 5 s
DRAFT_NOTICE_REFRESH_S = 20.0  # a draft is "a temporary 30-second preview" (sendMessageDraft)
FINAL_SEND_ATTEMPTS = 6
# Telegram's overall limit for one bot: 30 messages a second. The window is a little longer than
# a second: a call is counted when it leaves, Telegram counts it when it arrives.
OVERALL_CALLS = 30
OVERALL_WINDOW_S = 1.1
SELF_PACED = "self-paced"  # the caller takes the chat's turns; the call itself is urgent
ROUTINE_REFRESH = "routine-refresh"  # self-paced too: more words of an answer already shown
PREPAID = "prepaid"  # self-paced, and the caller took its share of the overall budget as well
# A command reply may wait out this many 429s; then it gives up (a flood ban can last long, and
# the handler waiting for it holds an update slot).
COMMAND_REPLY_429S = 3
# New messages: one that timed out may have arrived, so it is not sent again (edits are).
SENDING_METHODS = frozenset({"sendMessage", "sendPhoto", "sendDocument", "sendMediaGroup"})
# Calls that count against the overall limit: messages and drafts (chat actions, answers to
# button presses and reads do not).
BUDGETED_METHODS = frozenset({"sendMessageDraft"})
# The calls Telegram counts against a chat's flood limit (chat actions and drafts are not).
WRITE_METHODS = frozenset(
    {
        "sendMessage",
        "editMessageText",
        "editMessageReplyMarkup",
        "editMessageCaption",
        "deleteMessage",
        "sendPhoto",
        "sendDocument",
        "sendMediaGroup",
    }
)
# A preview card under an answer that is still growing jumps around; models cite many links.
NO_LINK_PREVIEW = LinkPreviewOptions(is_disabled=True)
_draft_ids = itertools.count(1)
JSONDict = dict[str, Any]
T = TypeVar("T")


def retry_seconds(err: RetryAfter) -> float:
    """`retry_after` as seconds, whichever type this PTB version hands out."""
    value = err.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


async def write_until_done(
    call: Callable[[], Awaitable[T]],
    *,
    take_turn: Callable[[], Awaitable[None]],
    hold: Callable[[float], None],
    retry_timeouts: bool = True,
    most_429s: int | None = None,
) -> T:
    """`call` at the chat's next turn until Telegram takes it: 429s are waited out (`hold`; at
    most `most_429s` of them if given), network errors retried with a growing pause (a timeout
    only if `retry_timeouts`: a send that timed out may have arrived, and its retry doubles it);
    other errors, a refusal (BadRequest) among them, are the caller's."""
    network_failures = 0
    refusals = 0
    while True:
        await take_turn()
        try:
            return await call()
        except RetryAfter as err:
            refusals += 1
            if most_429s is not None and refusals > most_429s:
                raise
            hold(retry_seconds(err))
        except BadRequest:  # PTB makes it a NetworkError; Telegram answered, and said no
            raise
        except NetworkError as err:
            network_failures += 1
            if network_failures >= FINAL_SEND_ATTEMPTS:
                raise
            if isinstance(err, TimedOut) and not retry_timeouts:
                raise
            log.warning("writing to Telegram failed (%s), attempt %d", err, network_failures)
            await asyncio.sleep(min(2.0**network_failures / 4, 5.0))


class ChatPacer:
    """Hands out turns to write into each chat, first come first served.

    Private chats: never closer together than their interval. Groups: Telegram allows 20
    messages a minute, so the group interval (3 s) spaces routine refreshes of a growing answer,
    while urgent writes (an answer's first words, its final text, a command's reply) may follow
    a third of that after the previous one (Telegram tolerates short bursts, about one message a
    second); no window of 20 intervals ever holds more than 20 turns, and routine ones leave
    GROUP_RESERVE of them to urgent ones. Five answers starting at once in a group show their
    first words within seconds instead of one every 3 s.

    One for the whole bot, so two answers streaming into one group share its budget, and a
    command reply waits its turn behind them.
    """

    def __init__(self, *, private_interval: float, group_interval: float) -> None:
        self._private_interval = private_interval
        self._group_interval = group_interval
        self._last_turn: dict[int, float] = {}
        self._group_turns: dict[int, deque[float]] = {}
        self._blocked_until: dict[int, float] = {}

    async def turn(self, chat_id: int, interval: float = 0.0, *, urgent: bool = False) -> None:
        """Wait until this chat may be written to again, and claim that moment; a caller may
        ask for a longer `interval` after the turn before it (never a shorter one)."""
        spacing = self._spacing(chat_id, interval, urgent=urgent)
        while True:
            now = time.monotonic()
            blocked = self._blocked_until.get(chat_id, 0.0)
            start = max(now, self._last_turn.get(chat_id, -math.inf) + spacing, blocked)
            start = self._within_group_window(chat_id, start, urgent=urgent)
            # Claimed before sleeping, so callers queue up instead of all waking at once.
            self._last_turn[chat_id] = start
            if start > now:
                await asyncio.sleep(start - now)
            # A 429 that came while we slept outranks the turn we claimed: queue again.
            if self._blocked_until.get(chat_id, 0.0) <= blocked:
                return

    def hold(self, chat_id: int, seconds: float) -> None:
        """Telegram asked this chat to wait: no turn before `seconds` from now."""
        log.info("Telegram asked chat %s to wait %.1f s", chat_id, seconds)
        until = time.monotonic() + seconds
        self._blocked_until[chat_id] = max(self._blocked_until.get(chat_id, 0.0), until)

    def _spacing(self, chat_id: int, interval: float, *, urgent: bool) -> float:
        if chat_id > 0:
            return max(interval, self._private_interval)
        routine = max(interval, self._group_interval)
        return routine / URGENT_SHARE_OF_INTERVAL if urgent else routine

    def _within_group_window(self, chat_id: int, start: float, *, urgent: bool) -> float:
        """The first moment from `start` at which a turn keeps the group's window, recorded."""
        if chat_id > 0:
            return start
        # A turn is claimed before its call reaches Telegram, which counts it on arrival: the
        # window is kept a third of an interval longer than Telegram's.
        window = GROUP_TURNS * self._group_interval * (1 + 1 / (3 * GROUP_TURNS))
        most = GROUP_TURNS if urgent else GROUP_TURNS - GROUP_RESERVE
        turns = self._group_turns.setdefault(chat_id, deque())
        while turns and turns[0] <= start - window:  # claims only grow: safe to drop
            turns.popleft()
        if len(turns) >= most:
            start = max(start, turns[len(turns) - most] + window)
        turns.append(start)
        return start


class ChatRateLimiter(BaseRateLimiter[str]):
    """PTB's rate limiter for this bot: every message written into a chat takes a ChatPacer turn,
    and every message and draft a share of Telegram's overall budget (SendBudget).

    Command replies, menus and button edits are paced here and retried after a 429 or a network
    failure. Callers that pace themselves so they can send the newest text at their turn
    (AnswerStream, pull progress) pass `rate_limit_args=SELF_PACED` (ROUTINE_REFRESH for a
    refresh that may wait behind urgent calls, PREPAID when they took the budget themselves)
    and handle failures on their own.
    """

    def __init__(self, pacer: ChatPacer, budget: SendBudget) -> None:
        self._pacer = pacer
        self._budget = budget

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: str | None,
    ) -> bool | JSONDict | list[JSONDict]:
        """Wait for the chat's turn (unless self-paced) and the budget, then call; wait out
        429s and retry network failures (a reply to a command is not dropped because Telegram
        hiccuped)."""
        budgeted = rate_limit_args != PREPAID and (
            endpoint in WRITE_METHODS or endpoint in BUDGETED_METHODS
        )
        urgent = rate_limit_args != ROUTINE_REFRESH

        async def call() -> bool | JSONDict | list[JSONDict]:
            if budgeted:
                await self._budget.take(urgent=urgent)
            return await callback(*args, **kwargs)

        chat_id = _int_or_none(data.get("chat_id"))
        if (
            endpoint not in WRITE_METHODS
            or chat_id is None
            or rate_limit_args in (SELF_PACED, ROUTINE_REFRESH, PREPAID)
        ):
            return await call()
        chat: int = chat_id
        return await write_until_done(
            call,
            take_turn=lambda: self._pacer.turn(chat, urgent=True),
            hold=lambda seconds: self._pacer.hold(chat, seconds),
            retry_timeouts=endpoint not in SENDING_METHODS,
            most_429s=COMMAND_REPLY_429S,
        )


def _int_or_none(value: object) -> int | None:
    """A chat id as sent (PTB may pass it as text); None for a channel's @username."""
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return None


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
                    rate_limit_args=PREPAID,
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
                rate = PREPAID if self._edit_prepaid else SELF_PACED
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
                    lambda: self._edit(live_id, shown, rate=SELF_PACED),
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

    async def _edit(self, message_id: int, shown: RenderedText, *, rate: str) -> None:
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
                rate_limit_args=SELF_PACED,
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


class PullMessage:
    """One message that shows a pull's progress (edited at most once per interval), then how it
    ended; implements the installer's PullView."""

    def __init__(
        self,
        bot: ExtBot[Any],
        chat_id: int,
        message_id: int,
        *,
        keyboard: InlineKeyboardMarkup,
        pacer: ChatPacer,
        interval: float,
        language: str | None,
    ) -> None:
        self._bot = bot
        self._chat_id = chat_id
        self._message_id = message_id
        self._keyboard = keyboard
        self._pacer = pacer
        self._interval = interval
        self._lang = language
        self._latest: PullProgress | None = None
        self._shown = ""
        self._last_edit = 0.0
        self._changed = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None

    def show(self, progress: PullProgress) -> None:
        """Take the latest progress; it is shown at the next edit."""
        self._latest = progress
        self._changed.set()
        if self._worker is None:
            self._worker = asyncio.create_task(self._keep_showing())

    async def finish(self, outcome: PullOutcome) -> None:
        """Replace the progress with how the pull ended, and drop the Cancel button."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        text = pull_outcome_text(outcome, self._lang)
        try:
            await write_until_done(
                lambda: self._edit(text, None, routine=False),
                take_turn=lambda: self._pacer.turn(self._chat_id, urgent=True),
                hold=lambda seconds: self._pacer.hold(self._chat_id, seconds),
            )
        except BadRequest as err:  # the progress message was deleted: say it anew
            log.info("pull message in chat %s gone (%s); sending anew", self._chat_id, err)
            await self._bot.send_message(self._chat_id, text)

    async def _keep_showing(self) -> None:
        while True:
            await self._changed.wait()
            self._changed.clear()
            # Our own pace (PULL_PROGRESS_INTERVAL) from our last edit, then the chat's turn:
            # answers streaming into the same chat are not slowed down to our pace.
            await asyncio.sleep(max(0.0, self._last_edit + self._interval - time.monotonic()))
            await self._pacer.turn(self._chat_id)
            if self._latest is None:
                continue
            try:
                progress = pull_progress_text(self._latest, self._lang)
                await self._edit(progress, self._keyboard, routine=True)
            except RetryAfter as err:
                self._pacer.hold(self._chat_id, retry_seconds(err))
            except TelegramError as err:  # a missed progress update is no loss
                log.warning("pull progress in chat %s not shown: %s", self._chat_id, err)

    async def _edit(
        self, text: str, keyboard: InlineKeyboardMarkup | None, *, routine: bool
    ) -> None:
        if text == self._shown and keyboard is self._keyboard:
            return
        try:
            await self._bot.edit_message_text(
                text,
                self._chat_id,
                self._message_id,
                reply_markup=keyboard,
                rate_limit_args=ROUTINE_REFRESH if routine else SELF_PACED,
            )
        except BadRequest as err:
            if not _is_not_modified(err):
                raise
        self._shown = text
        self._last_edit = time.monotonic()
