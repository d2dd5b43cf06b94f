"""Conversation handlers: text messages, /new, /stop (and Telegram's own Stop button), an
answer's Regenerate and Continue, and the one-shot /ask and /compare."""

from __future__ import annotations

import logging
import re

from telegram import Message, Update, User
from telegram.constants import ChatType, MessageEntityType
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.chat import COMPARE_MAX_MODELS, COMPARE_MIN_MODELS, ChatService, Question
from bot.errors import LLMError
from bot.languages import LanguageChoices
from bot.models import ModelPicker
from bot.telegram.answer_streams import AnswerStreams
from bot.telegram.buttons import AnswerButton
from bot.telegram.handlers.common import (
    Speaking,
    answer,
    command_text,
    edit_quietly,
    profile_of,
    read_press,
    topic_of,
)
from bot.telegram.streaming import AnswerStream
from bot.texts import describe_error, say

log = logging.getLogger(__name__)

GENERATION_STOPPED = "stopped_message_generation"  # Bot API 10.3


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
    streams: AnswerStreams,
    message: Message,
    language: str | None,
    heading: str | None = None,
    *,
    follow_ups: bool = False,
) -> AnswerStream:
    """A stream for the answer to `message`: in a group it replies to the question, in a
    private chat's topic it goes to the topic; `follow_ups`: an answer in the conversation,
    with its Regenerate and Continue buttons."""
    private = message.chat.type == ChatType.PRIVATE
    return streams.open(
        message.chat_id,
        private=private,
        reply_to=None if private else message.message_id,
        language=language,
        heading=heading,
        topic=topic_of(message),
        follow_ups=follow_ups,
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

    def _answer_stream(self, message: Message, user: User) -> AnswerStream:
        return open_stream(self._streams, message, self._lang(user), follow_ups=True)

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Answer a text message, streamed, in the user's conversation."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None or message.text is None:
            return
        private = message.chat.type == ChatType.PRIVATE
        text = message.text if private else addressed_text(message, context.bot.bot)
        if not text:
            return
        question = Question(message.chat_id, profile_of(user), text, topic=topic_of(message))
        await self._chat.answer(question, self._answer_stream(message, user))

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
        """/new and /reset: start a fresh conversation; in a private chat with topics, in a
        topic of its own, named by the model after the first answer."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        lang = self._lang(user)
        private = message.chat.type == ChatType.PRIVATE
        if private and context.bot.bot.has_topics_enabled:
            name = say("new_topic_name", lang)
            try:
                topic = await context.bot.create_forum_topic(message.chat_id, name)
            except TelegramError as err:  # turned off since the bot started: a fresh one here
                log.info("could not open a topic in chat %s: %s", message.chat_id, err)
            else:
                thread = topic.message_thread_id
                await self._chat.start_new_conversation(
                    message.chat_id, profile_of(user), thread, topic_owned=True
                )
                await context.bot.send_message(
                    message.chat_id, say("new_topic_opened", lang), message_thread_id=thread
                )
                if topic_of(message) is not None:  # asked in another topic: say where it went
                    await message.reply_text(say("new_topic_elsewhere", lang, title=name))
                return
        await self._chat.start_new_conversation(message.chat_id, profile_of(user))
        await message.reply_text(say("new_conversation", lang))

    async def on_topic_created(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A topic the user opened in the private chat: a conversation of its own, called as
        they named it (so the model does not rename it)."""
        message, user = update.effective_message, update.effective_user
        created = None if message is None else message.forum_topic_created
        topic = topic_of(message)
        if message is None or user is None or created is None or topic is None:
            return
        await self._chat.start_new_conversation(
            message.chat_id, profile_of(user), topic, title=created.name
        )

    async def on_topic_edited(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The user renamed a topic in Telegram: its conversation is called that now."""
        message, user = update.effective_message, update.effective_user
        edited = None if message is None else message.forum_topic_edited
        topic = topic_of(message)
        if message is None or user is None or edited is None or topic is None:
            return
        if edited.name:  # an icon change leaves the name out
            await self._chat.name_topic(message.chat_id, profile_of(user), topic, edited.name)

    async def on_follow_up(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """🔄 Regenerate or ➡️ Continue under a conversation's last answer; a stale one (no
        longer the last answer) is answered with an alert and loses its buttons."""
        query, user = update.callback_query, update.effective_user
        if query is None or user is None or not isinstance(query.message, Message):
            return
        lang = self._lang(user)
        if (pressed := await read_press(query, AnswerButton.parse, lang)) is None:
            return
        message, go_on = query.message, pressed.action == "more"
        state = await self._chat.follow_up_state(message.chat_id, user.id, pressed.answer_id, go_on)
        if state == "not_yours":  # a group member's answer: their buttons stay
            await answer(query, say("answer_not_yours", lang), alert=True)
            return
        if state == "stale":
            await answer(query, say("stale_answer", lang), alert=True)
            await edit_quietly(query.edit_message_reply_markup(reply_markup=None))
            return
        await answer(query)
        stream = open_stream(self._streams, message, lang, follow_ups=True)
        follow = self._chat.continue_answer if go_on else self._chat.regenerate
        await follow(message.chat_id, profile_of(user), pressed.answer_id, stream)

    async def on_generation_stopped(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        """Telegram's own Stop button under a draft (a `stopped_message_generation` update,
        newer than this library: read from the raw update): stops that answer like /stop. A
        stop for a draft that is no longer being written is ignored."""
        stopped = update.api_kwargs.get(GENERATION_STOPPED)
        if not isinstance(stopped, dict):
            raise ApplicationHandlerStop  # malformed: nothing else handles it either
        chat, draft_id = stopped.get("chat"), stopped.get("draft_id")
        if not isinstance(chat, dict) or not isinstance(draft_id, int):
            raise ApplicationHandlerStop
        chat_id = chat.get("id")
        # Drafts are private-chat only, and a private chat's id is its user's.
        if isinstance(chat_id, int) and self._streams.shows_draft(chat_id, draft_id):
            self._chat.stop(chat_id, chat_id)
        raise ApplicationHandlerStop

    async def on_stop(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/stop: cut the running answer; what was written stays."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        if not self._chat.stop(message.chat_id, user.id):
            await message.reply_text(say("stopped_nothing", self._lang(user)))
