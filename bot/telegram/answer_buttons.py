"""Regenerate and Continue under a conversation's last answer, and only there: a new answer's
buttons take the place of the previous answer's, which are taken off."""

from __future__ import annotations

import contextlib
import logging
from typing import Protocol

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import TelegramError

from bot.model_stream import FollowUp
from bot.telegram.buttons import AnswerButton
from bot.texts import say

log = logging.getLogger(__name__)


class ButtonsStore(Protocol):
    """Where the message carrying a conversation's buttons is kept."""

    async def swap_buttons_message(self, conversation_id: int, message_id: int) -> int | None: ...


class MarkupBot(Protocol):
    """The Bot method that takes buttons off a message."""

    async def edit_message_reply_markup(
        self,
        chat_id: str | int | None = None,
        message_id: int | None = None,
        *,
        reply_markup: InlineKeyboardMarkup | None = None,
    ) -> object: ...


def answer_keyboard(follow_up: FollowUp, language: str | None) -> InlineKeyboardMarkup:
    """🔄 Regenerate, and ➡️ Continue when the answer was cut short."""
    row = [
        InlineKeyboardButton(
            say("button_regenerate", language),
            callback_data=AnswerButton("again", follow_up.answer_id).build(),
        )
    ]
    if follow_up.can_continue:
        row.append(
            InlineKeyboardButton(
                say("button_continue", language),
                callback_data=AnswerButton("more", follow_up.answer_id).build(),
            )
        )
    return InlineKeyboardMarkup([row])


class AnswerButtons:
    """Keeps the buttons on each conversation's last answer only."""

    def __init__(self, bot: MarkupBot, store: ButtonsStore) -> None:
        self._bot = bot
        self._store = store

    async def shown(self, follow_up: FollowUp, chat_id: int, message_id: int) -> None:
        """The answer's buttons are on `message_id` now: the previous answer's go (kept across
        restarts, so they go after one too)."""
        try:
            previous = await self._store.swap_buttons_message(follow_up.conversation, message_id)
        except Exception:  # the answer is delivered; stale buttons are refused when pressed
            log.exception("could not record an answer's buttons")
            return
        if previous is not None and previous != message_id:
            with contextlib.suppress(TelegramError):  # deleted by the user, or too old to edit
                await self._bot.edit_message_reply_markup(chat_id, previous, reply_markup=None)
