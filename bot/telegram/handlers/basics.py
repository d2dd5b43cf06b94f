"""/start, /help, /id."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from bot.chat import ChatService
from bot.languages import LanguageChoices
from bot.telegram.handlers.common import Speaking
from bot.texts import say


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
        model, role = await self._chat.current_choice(user.id)
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
