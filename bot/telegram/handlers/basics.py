"""/start, /help, /id, other messages in private, and the report of an unexpected failure."""

from __future__ import annotations

import contextlib
import logging

from telegram import Update
from telegram.error import TelegramError, TimedOut
from telegram.ext import ContextTypes

from bot.chat import ChatService
from bot.languages import LanguageChoices
from bot.telegram.handlers.common import Speaking, where_of
from bot.texts import say

log = logging.getLogger(__name__)


class BasicHandlers(Speaking):
    """Callbacks that explain the bot."""

    def __init__(self, chat: ChatService, langs: LanguageChoices) -> None:
        super().__init__(langs)
        self._chat = chat

    async def on_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/start: greeting with the current model and role."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        lang = self._lang(user)
        model, role = await self._chat.current_choice(user.id, where_of(message))
        await message.reply_text(
            say(
                "start",
                lang,
                name=user.first_name,
                model=model or say("unknown_model", lang),
                role=role.name,
            )
        )

    async def on_help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/help: every command."""
        if (message := update.effective_message) is not None:
            lang = self._lang(update.effective_user)
            await message.reply_text(say("help", lang))

    async def on_id(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/id: the user's and the chat's numeric ids."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        await message.reply_text(
            say("ids", self._lang(user), user_id=user.id, chat_id=message.chat_id)
        )

    async def on_other(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Anything but text in a private chat: say what the bot can read."""
        if (message := update.effective_message) is not None:
            lang = self._lang(update.effective_user)
            await message.reply_text(say("text_only", lang))


class ErrorReporter(Speaking):
    """Logs any unexpected failure with its traceback and tells the user, in their language,
    that something went wrong."""

    async def __call__(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """PTB's error handler."""
        # A reply that timed out was not sent again (it may have arrived): say so, no traceback.
        slow = isinstance(context.error, TimedOut)
        if slow:
            log.warning("Telegram did not take a reply within TELEGRAM_TIMEOUT")
        else:
            log.error("unexpected error while handling an update", exc_info=context.error)
        if isinstance(update, Update) and update.effective_message is not None:
            lang = self._lang(update.effective_user)
            key = "error_telegram_slow" if slow else "error_unexpected"
            with contextlib.suppress(TelegramError):
                await update.effective_message.reply_text(say(key, lang))
