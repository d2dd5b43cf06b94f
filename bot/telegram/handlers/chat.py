"""Conversation handlers: text messages, /new, /stop, and the one-shot /ask and /compare."""

from __future__ import annotations

import re

from telegram import Message, Update, User
from telegram.constants import ChatType, MessageEntityType
from telegram.ext import ContextTypes

from bot.chat import COMPARE_MAX_MODELS, COMPARE_MIN_MODELS, ChatService, Question
from bot.errors import LLMError
from bot.languages import LanguageChoices
from bot.models import ModelPicker
from bot.telegram.handlers.common import Speaking, command_text, profile_of
from bot.telegram.streaming import AnswerStream, AnswerStreams
from bot.texts import describe_error, say


def prompt_of(message: Message) -> str:
    """The text after the command; without one, the text of the message it replies to."""
    prompt = command_text(message.text)
    if not prompt and message.reply_to_message is not None:
        prompt = message.reply_to_message.text or message.reply_to_message.caption or ""
    return prompt.strip()


def addressed_text(message: Message, bot: User) -> str | None:
    """In a group: the text (or a photo's caption) if it is meant for the bot (mention or
    reply), without the mention; None when it is not for the bot."""
    text = message.text if message.text is not None else message.caption or ""
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot.id:
        return text
    mention = f"@{bot.username}".lower() if bot.username else None
    mentions = (
        message.parse_entities([MessageEntityType.MENTION])
        if message.text is not None
        else message.parse_caption_entities([MessageEntityType.MENTION])
    )
    for value in mentions.values():
        if mention and value.lower() == mention:
            return _without(text, value)
    return None


def _without(text: str, mention: str) -> str:
    """`text` without the @mention, tidied: "what do you think, @bot?" → "what do you think?"."""
    text = text.replace(mention, " ", 1)
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s+([,.!?;:])", r"\1", text)
    return re.sub(r"[,;:]+([.!?])", r"\1", text).strip(" ,;:")


def open_stream(
    streams: AnswerStreams, message: Message, language: str | None, heading: str | None = None
) -> AnswerStream:
    """A stream for the answer to `message`: in a group it replies to the question."""
    private = message.chat.type == ChatType.PRIVATE
    return streams.open(
        message.chat_id,
        private=private,
        reply_to=None if private else message.message_id,
        language=language,
        heading=heading,
    )


class ChatHandlers(Speaking):
    """Callbacks that talk to the model."""

    def __init__(
        self,
        chat: ChatService,
        streams: AnswerStreams,
        picker: ModelPicker,
        langs: LanguageChoices,
    ) -> None:
        super().__init__(langs)
        self._chat = chat
        self._streams = streams
        self._picker = picker

    def _stream_for(self, message: Message, user: User, heading: str | None = None) -> AnswerStream:
        return open_stream(self._streams, message, self._lang(user), heading)

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Answer a text message, streamed, in the user's conversation."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None or message.text is None:
            return
        private = message.chat.type == ChatType.PRIVATE
        text = message.text if private else addressed_text(message, context.bot.bot)
        if not text:
            return
        question = Question(message.chat_id, profile_of(user), text)
        await self._chat.answer(question, self._stream_for(message, user))

    async def on_ask(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/ask PROMPT (or /ask in reply to a message): one shot, outside the conversation."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        prompt = prompt_of(message)
        if not prompt:
            await message.reply_text(say("ask_usage", self._lang(user)))
            return
        question = Question(message.chat_id, profile_of(user), prompt)
        await self._chat.ask(question, self._stream_for(message, user))

    async def on_compare(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/compare PROMPT: each model of the user's set answers in its own message;
        /compare models a,b,c sets the set (/compare models reset: the default)."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        first, _, rest = command_text(message.text).partition(" ")
        rest = rest.strip()
        # "/compare models of the universe" is a prompt; the command lists names with commas.
        if first.lower() == "models" and (not rest or rest.lower() == "reset" or "," in rest):
            await message.reply_text(await self._compare_set(user, rest))
            return
        prompt = prompt_of(message)
        if not prompt:
            await message.reply_text(say("compare_usage", self._lang(user)))
            return
        question = Question(message.chat_id, profile_of(user), prompt)
        # The first await: the comparison takes its place behind earlier questions now.
        await self._chat.compare(
            question, lambda model: self._stream_for(message, user, heading=model)
        )

    async def _compare_set(self, user: User, listed: str) -> str:
        lang = self._lang(user)
        names = [name for name in re.split(r"[,\s]+", listed) if name]
        try:
            if not names:
                return say(
                    "compare_set_is",
                    lang,
                    models=", ".join(await self._chat.compare_models(user.id)),
                )
            if names == ["reset"]:
                await self._picker.set_compare_models(profile_of(user), [])
                return say("compare_set_reset", lang)
            if not COMPARE_MIN_MODELS <= len(set(names)) <= COMPARE_MAX_MODELS:
                return say(
                    "compare_set_count", lang, low=COMPARE_MIN_MODELS, high=COMPARE_MAX_MODELS
                )
            found, missing = await self._picker.resolve(names)
            if missing:
                return say("compare_set_missing", lang, models=", ".join(missing))
            if len(found) < COMPARE_MIN_MODELS:  # two names for one model
                return say(
                    "compare_set_count", lang, low=COMPARE_MIN_MODELS, high=COMPARE_MAX_MODELS
                )
            await self._picker.set_compare_models(profile_of(user), found)
        except LLMError as err:
            return describe_error(err, lang)
        return say("compare_set_done", lang, models=", ".join(found))

    async def on_new(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/new and /reset: start a fresh conversation."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        await self._chat.start_new_conversation(message.chat_id, profile_of(user))
        await message.reply_text(say("new_conversation", self._lang(user)))

    async def on_stop(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/stop: cut the running answer; what was written stays."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        if not self._chat.stop(message.chat_id, user.id):
            await message.reply_text(say("stopped_nothing", self._lang(user)))
