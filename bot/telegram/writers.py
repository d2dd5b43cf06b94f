"""How an answer is written into its chat: a native draft that grows (DraftWriter), a message
sent and then edited as it grows, and messages sent for good (MessageWriter), and "typing…"
until the first words show (TypingIndicator).

The writers speak to Telegram through AnswerBot (bot.telegram.answer_bot), the Bot methods
they call, so a test can
hand them a bot of its own. Formatting that Telegram rejects is sent again as plain text (and
the rest of the answer goes plain); "message is not modified" counts as written.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable
from enum import Enum, auto
from typing import TypeVar

from telegram import InlineKeyboardMarkup, LinkPreviewOptions, MessageEntity, ReplyParameters
from telegram.constants import ChatAction
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.render import RenderedText
from bot.telegram.answer_bot import AnswerBot
from bot.telegram.pacing import ChatPacer, Pace, SendBudget, Sleep, retry_seconds, write_until_done

log = logging.getLogger(__name__)

TYPING_REFRESH_S = 4.5  # Telegram shows a chat action for about 5 s
# A preview card under an answer that is still growing jumps around; models cite many links.
NO_LINK_PREVIEW = LinkPreviewOptions(is_disabled=True)
_draft_ids = itertools.count(1)
T = TypeVar("T")


class Outcome(Enum):
    """How a write of the live text went."""

    SHOWN = auto()  # Telegram shows it
    RETRY = auto()  # not shown: try again at the next turn (Telegram asked to wait; no drafts)
    LOST = auto()  # the live message is gone (deleted?): the next turn starts a new one
    FAILED = auto()  # not shown (a network hiccup): the next change tries again
    CHAT_GONE = auto()  # the user blocked the bot, or the chat is gone: stop trying


def to_telegram_entities(rendered: RenderedText) -> list[MessageEntity]:
    """Our entities as PTB objects."""
    return [
        MessageEntity(type=e.type, offset=e.offset, length=e.length, url=e.url, language=e.language)
        for e in rendered.entities
    ]


def is_not_modified(err: BadRequest) -> bool:
    """Telegram refused an edit that changes nothing: what it shows is what we meant."""
    return "not modified" in err.message.lower()


def _is_formatting_error(err: BadRequest) -> bool:
    return "can't parse entities" in err.message.lower() or "entity" in err.message.lower()


def _chat_gone(chat_id: int, err: Forbidden) -> Outcome:
    log.warning("chat %s cannot be written to (%s); the answer stays stored", chat_id, err)
    return Outcome.CHAT_GONE


class Formatting:
    """Formatting for one answer: entities, until Telegram rejects them once."""

    def __init__(self) -> None:
        self._plain = False

    async def write(
        self,
        shown: RenderedText,
        call: Callable[[str, list[MessageEntity] | None], Awaitable[T]],
    ) -> T | None:
        """Run `call` with formatting, plain if Telegram rejects that; None for "not modified"."""
        entities = None if self._plain else to_telegram_entities(shown) or None
        try:
            return await call(shown.text, entities)
        except BadRequest as err:
            if is_not_modified(err):
                return None
            if entities is None or not _is_formatting_error(err):
                raise
            log.warning("Telegram rejected the formatting (%s); sending plain text", err)
            self._plain = True
        try:
            return await call(shown.text, None)
        except BadRequest as err:
            if is_not_modified(err):
                return None
            raise


# Telegram's own Stop button on a draft (Bot API 10.3); the user's press arrives as a
# `stopped_message_generation` update, and what the draft showed stays until the answer comes.
STOPPABLE = {"can_stop": True, "keep_on_stop": True}


class DraftWriter:
    """The answer as a native draft (`sendMessageDraft`, private chats): shown at the drafts'
    own pace, a share of the overall budget each; a chat that refuses drafts is remembered.
    While it is shown, its (chat, draft id) is in `live`: the Stop button under it stops
    this answer."""

    def __init__(
        self,
        bot: AnswerBot,
        chat_id: int,
        *,
        topic: int | None = None,
        pacer: ChatPacer,
        budget: SendBudget,
        refused: set[int],
        formatting: Formatting,
        live: set[tuple[int, int]] | None = None,
    ) -> None:
        self._bot = bot
        self._chat_id = chat_id
        self._topic = topic
        self._pacer = pacer
        self._budget = budget
        self._refused = refused
        self._formatting = formatting
        self._live = set() if live is None else live
        self._draft_id = next(_draft_ids)

    @property
    def usable(self) -> bool:
        """This chat has not refused drafts."""
        return self._chat_id not in self._refused

    async def turn(self, *, urgent: bool) -> None:
        """Wait for the drafts' next turn in this chat, and the budget's."""
        await self._pacer.turn(self._chat_id)
        await self._budget.take(urgent=urgent)

    def start_anew(self) -> None:
        """The text shown went out as a message for good: what comes next is a new draft."""
        self.end()
        self._draft_id = next(_draft_ids)

    def end(self) -> None:
        """The draft is no longer shown: its Stop button stops nothing any more."""
        self._live.discard((self._chat_id, self._draft_id))

    async def show(self, shown: RenderedText) -> Outcome:
        """Show `shown` in the draft (the caller took the turn and the budget); an empty text
        shows Telegram's own "Thinking…" placeholder."""
        self._live.add((self._chat_id, self._draft_id))
        try:
            await self._formatting.write(
                shown,
                lambda text, entities: self._bot.send_message_draft(
                    self._chat_id,
                    self._draft_id,
                    text,
                    self._topic,
                    entities=entities,
                    rate_limit_args=Pace.PREPAID,
                    api_kwargs=STOPPABLE,
                ),
            )
        except RetryAfter as err:
            self._pacer.hold(self._chat_id, retry_seconds(err))
            return Outcome.RETRY
        except Forbidden as err:
            return _chat_gone(self._chat_id, err)
        except BadRequest as err:
            log.info("drafts refused in chat %s (%s); streaming by edits", self._chat_id, err)
            self._refused.add(self._chat_id)
            return Outcome.RETRY
        except TelegramError as err:  # a network hiccup or anything new: the next turn retries
            log.warning("draft update failed: %s", err)
            return Outcome.FAILED
        return Outcome.SHOWN


class MessageWriter:
    """The answer's messages: the live one, sent with the first words and edited as they grow,
    and messages sent for good. Each write waits for the chat's turn at the pacer; a turn may
    be claimed ahead (`claim_turn`), so the write at it carries the words come by then."""

    def __init__(
        self,
        bot: AnswerBot,
        chat_id: int,
        *,
        topic: int | None = None,
        pacer: ChatPacer,
        reply_to: int | None,
        formatting: Formatting,
    ) -> None:
        self._bot = bot
        self._chat_id = chat_id
        self._topic = topic
        self._pacer = pacer
        self._reply_to = reply_to
        self._formatting = formatting
        self.live_id: int | None = None  # the message edited as the answer grows
        self.sent_any = False  # the first message replies to the question; later ones do not
        self.last_final_id: int | None = None  # the newest message made final
        self._in_hand: Pace | None = None  # a claimed turn not used yet; PREPAID: budget too

    async def claim_turn(self, *, urgent: bool) -> None:
        """Wait for the chat's next turn and keep it for the next write."""
        await self._pacer.turn(self._chat_id, urgent=urgent)
        self._in_hand = Pace.SELF_PACED

    def prepaid(self, paid: bool) -> None:
        """The turn in hand has (`paid`) or has not its share of the overall budget."""
        if self._in_hand is not None:
            self._in_hand = Pace.PREPAID if paid else Pace.SELF_PACED

    def drop_turn(self) -> None:
        """A turn is used at once or not at all: kept for later, it would crowd the next one."""
        self._in_hand = None

    async def show_live(self, shown: RenderedText, *, urgent: bool) -> Outcome:
        """Send `shown` as the live message, or edit the live message to it; `urgent`: not a
        refresh of words already shown."""
        try:
            if self.live_id is None:
                await self._take_turn()
                self.live_id = await self._send(shown)
            else:
                pace = await self._take_turn(urgent=urgent)
                await self._edit(self.live_id, shown, pace)
        except RetryAfter as err:
            self._pacer.hold(self._chat_id, retry_seconds(err))
            return Outcome.RETRY
        except Forbidden as err:
            return _chat_gone(self._chat_id, err)
        except BadRequest as err:
            log.warning("live update refused in chat %s: %s", self._chat_id, err)
            self.live_id = None
            return Outcome.LOST
        except TelegramError as err:  # a network hiccup or anything new: the next turn retries
            log.warning("live update failed: %s", err)
            return Outcome.FAILED
        return Outcome.SHOWN

    async def write_final(
        self,
        shown: RenderedText,
        *,
        edit_live: bool,
        markup: InlineKeyboardMarkup | None = None,
    ) -> Outcome:
        """Make `shown` a message that stays (with `markup`'s buttons under it): the live one
        edited (if `edit_live`) or a new one. Waits out every 429 and retries network errors;
        what the model wrote is not dropped."""
        outcome = Outcome.SHOWN
        try:
            self.last_final_id = await self._make_final(shown, edit_live=edit_live, markup=markup)
        except Forbidden as err:
            outcome = _chat_gone(self._chat_id, err)
        except NetworkError as err:
            log.error("giving up on a message to chat %s: %s", self._chat_id, err)  # noqa: TRY400
            outcome = Outcome.FAILED
        except TelegramError as err:  # e.g. the group became a supergroup
            log.warning("Telegram refused a message to chat %s: %s", self._chat_id, err)
            outcome = Outcome.FAILED
        self.live_id = None
        return outcome

    async def _make_final(
        self, shown: RenderedText, *, edit_live: bool, markup: InlineKeyboardMarkup | None
    ) -> int:
        def hold(seconds: float) -> None:
            self._pacer.hold(self._chat_id, seconds)

        if (live_id := self.live_id) is not None and edit_live:
            try:
                await write_until_done(
                    lambda: self._edit(live_id, shown, Pace.SELF_PACED, markup),
                    take_turn=self._take_turn,
                    hold=hold,
                )
            except BadRequest as err:  # the live message is gone (deleted?): send it anew
                log.info("live message in chat %s gone (%s); sending anew", self._chat_id, err)
            else:
                return live_id
        return await write_until_done(
            lambda: self._send(shown, markup), take_turn=self._take_turn, hold=hold
        )

    async def _take_turn(self, *, urgent: bool = True) -> Pace:
        """The turn in hand, or the chat's next one; how the write at it is paced."""
        if (pace := self._in_hand) is not None:
            self._in_hand = None
            return pace
        await self._pacer.turn(self._chat_id, urgent=urgent)
        return Pace.SELF_PACED

    async def _edit(
        self,
        message_id: int,
        shown: RenderedText,
        pace: Pace,
        markup: InlineKeyboardMarkup | None = None,
    ) -> None:
        await self._formatting.write(
            shown,
            lambda text, entities: self._bot.edit_message_text(
                text,
                self._chat_id,
                message_id,
                entities=entities,
                link_preview_options=NO_LINK_PREVIEW,
                reply_markup=markup,
                rate_limit_args=pace,
            ),
        )

    async def _send(self, shown: RenderedText, markup: InlineKeyboardMarkup | None = None) -> int:
        """Send a new message; the first one replies to the question."""
        reply = (
            ReplyParameters(self._reply_to, allow_sending_without_reply=True)
            if self._reply_to and not self.sent_any
            else None
        )
        message = await self._formatting.write(
            shown,
            lambda text, entities: self._bot.send_message(
                self._chat_id,
                text,
                message_thread_id=self._topic,
                entities=entities,
                reply_parameters=reply,
                link_preview_options=NO_LINK_PREVIEW,
                reply_markup=markup,
                rate_limit_args=Pace.SELF_PACED,
            ),
        )
        if message is None:  # "not modified" cannot answer a new message
            raise BadRequest("no message was sent")
        self.sent_any = True
        return message.message_id


class TypingIndicator:
    """ "typing…" in the chat, refreshed until `stop`, or until `shown()` says words are visible."""

    def __init__(
        self,
        bot: AnswerBot,
        chat_id: int,
        *,
        topic: int | None = None,
        shown: Callable[[], bool],
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._bot = bot
        self._chat_id = chat_id
        self._topic = topic
        self._shown = shown
        self._sleep = sleep
        self._stopped = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Show "typing…" (once: a second start changes nothing)."""
        if self._task is None:
            self._task = asyncio.create_task(self._keep_typing())

    async def stop(self) -> None:
        """No more "typing…": the words are visible."""
        self._stopped = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _keep_typing(self) -> None:
        while not (self._stopped or self._shown()):
            with contextlib.suppress(TelegramError):
                await self._bot.send_chat_action(self._chat_id, ChatAction.TYPING, self._topic)
            await self._sleep(TYPING_REFRESH_S)
