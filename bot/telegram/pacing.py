"""Pacing every write into Telegram: per chat (ChatPacer), for the whole bot (SendBudget), and
for the calls PTB makes on our behalf (ChatRateLimiter); `write_until_done` retries a write
until Telegram takes it.

Telegram's limits: about one message a second in a private chat, 20 a minute in a group, 30 a
second for the whole bot. A 429 makes a chat wait `retry_after`. Every clock and sleep here can
be handed in, so tests run the pacing on a clock of their own instead of the wall clock.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import heapq
import itertools
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from enum import Enum
from typing import Any, TypeVar

from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

# Groups: Telegram allows 20 messages a minute (GROUP_TURNS per 20 group intervals); first words
# and final messages may come a third of an interval after the previous write; routine
# refreshes leave GROUP_RESERVE of the 20 to them.
GROUP_TURNS = 20
GROUP_RESERVE = 4
URGENT_SHARE_OF_INTERVAL = 3
FINAL_SEND_ATTEMPTS = 6
# Telegram's overall limit for one bot: 30 messages a second. The window is a little longer than
# a second: a call is counted when it leaves, Telegram counts it when it arrives.
OVERALL_CALLS = 30
OVERALL_WINDOW_S = 1.1
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
JSONDict = dict[str, Any]
T = TypeVar("T")


class Pace(Enum):
    """How a caller that paces itself asks ChatRateLimiter to treat its call (PTB's
    `rate_limit_args`); a call without one is paced and retried by the limiter."""

    SELF_PACED = "self-paced"  # the caller took the chat's turn; the call itself is urgent
    ROUTINE_REFRESH = "routine-refresh"  # self-paced too: more words of an answer already shown
    PREPAID = "prepaid"  # self-paced, and the caller took its share of the overall budget too

    @property
    def urgent(self) -> bool:
        """Its share of the overall budget goes before routine refreshes."""
        return self is not Pace.ROUTINE_REFRESH


def retry_seconds(err: RetryAfter) -> float:
    """`retry_after` as seconds, whichever type this PTB version hands out."""
    value = err.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


async def write_until_done(
    call: Callable[[], Awaitable[T]],
    *,
    take_turn: Callable[[], Awaitable[object]],
    hold: Callable[[float], None],
    retry_timeouts: bool = True,
    most_429s: int | None = None,
    sleep: Sleep = asyncio.sleep,
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
            await sleep(min(2.0**network_failures / 4, 5.0))


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

    def __init__(
        self,
        *,
        private_interval: float,
        group_interval: float,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._private_interval = private_interval
        self._group_interval = group_interval
        self._clock = clock
        self._sleep = sleep
        self._last_turn: dict[int, float] = {}
        self._group_turns: dict[int, deque[float]] = {}
        self._blocked_until: dict[int, float] = {}

    async def turn(self, chat_id: int, interval: float = 0.0, *, urgent: bool = False) -> None:
        """Wait until this chat may be written to again, and claim that moment; a caller may
        ask for a longer `interval` after the turn before it (never a shorter one)."""
        spacing = self._spacing(chat_id, interval, urgent=urgent)
        while True:
            now = self._clock()
            blocked = self._blocked_until.get(chat_id, 0.0)
            start = max(now, self._last_turn.get(chat_id, -math.inf) + spacing, blocked)
            start = self._within_group_window(chat_id, start, urgent=urgent)
            # Claimed before sleeping, so callers queue up instead of all waking at once.
            self._last_turn[chat_id] = start
            if start > now:
                await self._sleep(start - now)
            # A 429 that came while we slept outranks the turn we claimed: queue again.
            if self._blocked_until.get(chat_id, 0.0) <= blocked:
                return

    def hold(self, chat_id: int, seconds: float) -> None:
        """Telegram asked this chat to wait: no turn before `seconds` from now."""
        log.info("Telegram asked chat %s to wait %.1f s", chat_id, seconds)
        until = self._clock() + seconds
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


_URGENT = 0
_ROUTINE = 1


class SendBudget:
    """Telegram's overall limit for one bot (about 30 messages a second, across all chats),
    shared so that what users wait for goes first: at most `calls` grants in any `window`
    seconds, urgent ones first.

    A sliding window, not a token bucket: a bucket that is full lets 30 calls out at once and
    then 30 more within the same second, which is the flood Telegram answers with 429. Urgent
    calls (an answer's first words, its final message, a reply to a command) are granted before
    routine ones (a growing answer shown again with more words); routine ones are first come,
    first served, so every streaming answer gets its share. A routine refresh that waits loses
    nothing: it shows the newest text when its turn comes.
    """

    def __init__(
        self,
        calls: int,
        window: float,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._calls = calls
        self._window = window
        self._clock = clock
        self._sleep = sleep
        self._granted: deque[float] = deque()  # times of the grants still in the window
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._arrivals = itertools.count()
        self._timer: asyncio.Task[None] | None = None

    async def take(self, *, urgent: bool) -> None:
        """Wait until a call may be made now, and count it."""
        if not self._waiting and self._room(self._clock()):
            self._granted.append(self._clock())
            return
        grant: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(
            self._waiting, (_URGENT if urgent else _ROUTINE, next(self._arrivals), grant)
        )
        self._schedule()
        await grant  # a caller cancelled while waiting is skipped when its turn comes

    def try_take(self, *, spare: int = 0) -> bool:
        """Count a call that may be made now without waiting behind anyone and still leaves
        `spare` calls of the window to others; False (nothing counted) otherwise."""
        now = self._clock()
        if self._waiting or not self._room(now) or len(self._granted) + spare >= self._calls:
            return False
        self._granted.append(now)
        return True

    def _room(self, now: float) -> bool:
        while self._granted and self._granted[0] <= now - self._window:
            self._granted.popleft()
        return len(self._granted) < self._calls

    def _grant_waiting(self) -> None:
        self._timer = None
        while self._waiting and self._room(self._clock()):
            _, _, grant = heapq.heappop(self._waiting)
            if not grant.done():
                self._granted.append(self._clock())
                grant.set_result(None)
        self._schedule()

    def _schedule(self) -> None:
        """Wake when the oldest grant leaves the window, if anyone waits for room."""
        if self._timer is not None or not self._waiting:
            return
        now = self._clock()
        delay = 0.0 if self._room(now) else self._granted[0] + self._window - now
        self._timer = asyncio.create_task(self._grant_after(delay))

    async def _grant_after(self, delay: float) -> None:
        await self._sleep(delay)
        self._grant_waiting()


class ChatRateLimiter(BaseRateLimiter[Pace]):
    """PTB's rate limiter for this bot: every message written into a chat takes a ChatPacer turn,
    and every message and draft a share of Telegram's overall budget (SendBudget).

    Command replies, menus and button edits are paced here and retried after a 429 or a network
    failure. Callers that pace themselves so they can send the newest text at their turn
    (AnswerStream, pull progress) pass a `Pace` as `rate_limit_args` and handle failures on
    their own.
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
        rate_limit_args: Pace | None,
    ) -> bool | JSONDict | list[JSONDict]:
        """Wait for the chat's turn (unless self-paced) and the budget, then call; wait out
        429s and retry network failures (a reply to a command is not dropped because Telegram
        hiccuped)."""
        pace = rate_limit_args
        budgeted = pace is not Pace.PREPAID and (
            endpoint in WRITE_METHODS or endpoint in BUDGETED_METHODS
        )
        urgent = pace is None or pace.urgent

        async def call() -> bool | JSONDict | list[JSONDict]:
            if budgeted:
                await self._budget.take(urgent=urgent)
            return await callback(*args, **kwargs)

        chat_id = _int_or_none(data.get("chat_id"))
        if endpoint not in WRITE_METHODS or chat_id is None or pace is not None:
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
