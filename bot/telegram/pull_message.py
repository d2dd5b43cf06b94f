"""The progress of a model pull in one message (PullMessage), edited at our own pace and at the
chat's turn, then replaced by how the pull ended."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from telegram import InlineKeyboardMarkup
from telegram.error import BadRequest, RetryAfter, TelegramError
from telegram.ext import ExtBot

from bot.installer import PullOutcome, PullProgress
from bot.telegram.pacing import ChatPacer, Clock, Pace, Sleep, retry_seconds, write_until_done
from bot.telegram.writers import is_not_modified
from bot.texts.views import pull_outcome_text, pull_progress_text

log = logging.getLogger(__name__)


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
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._bot = bot
        self._chat_id = chat_id
        self._message_id = message_id
        self._keyboard = keyboard
        self._pacer = pacer
        self._interval = interval
        self._lang = language
        self._clock = clock
        self._sleep = sleep
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
            await self._sleep(max(0.0, self._last_edit + self._interval - self._clock()))
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
                rate_limit_args=Pace.ROUTINE_REFRESH if routine else Pace.SELF_PACED,
            )
        except BadRequest as err:
            if not is_not_modified(err):
                raise
        self._shown = text
        self._last_edit = self._clock()
