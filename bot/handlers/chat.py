"""Conversation handlers: text messages, /new, /stop."""

from __future__ import annotations

from telegram import Message, Update, User
from telegram.constants import ChatType, MessageEntityType
from telegram.ext import ContextTypes

from bot.chat import ChatService, Question
from bot.store import UserProfile
from bot.streaming import AnswerStreams
from bot.texts import say


def profile_of(user: User) -> UserProfile:
    """What we keep about a Telegram user."""
    return UserProfile(
        id=user.id,
        first_name=user.first_name,
        username=user.username,
        language_code=user.language_code,
    )


def addressed_text(message: Message, bot: User) -> str | None:
    """In a group: the text if it is meant for the bot (mention or reply), without the mention."""
    text = message.text or ""
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot.id:
        return text
    mention = f"@{bot.username}".lower() if bot.username else None
    for value in message.parse_entities([MessageEntityType.MENTION]).values():
        if mention and value.lower() == mention:
            return text.replace(value, "", 1).strip() or None
    return None


class ChatHandlers:
    """Callbacks that talk to the model."""

    def __init__(self, chat: ChatService, streams: AnswerStreams) -> None:
        self._chat = chat
        self._streams = streams

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Answer a text message, streamed, in the user's conversation."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None or message.text is None:
            return
        private = message.chat.type == ChatType.PRIVATE
        text = message.text if private else addressed_text(message, context.bot.bot)
        if not text:
            return
        stream = self._streams.open(
            message.chat_id,
            private=private,
            reply_to=None if private else message.message_id,
            language=user.language_code,
        )
        await self._chat.answer(Question(message.chat_id, profile_of(user), text), stream)

    async def on_new(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/new and /reset: start a fresh conversation."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        await self._chat.start_new_conversation(message.chat_id, profile_of(user))
        await message.reply_text(say("new_conversation", user.language_code))

    async def on_stop(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/stop: cut the running answer; what was written stays."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        if not self._chat.stop(message.chat_id, user.id):
            await message.reply_text(say("stopped_nothing", user.language_code))
