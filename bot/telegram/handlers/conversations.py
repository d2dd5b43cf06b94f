"""A user's conversations without topics: /chats lists them as buttons, to continue one here,
rename it (a reply to the bot's question, or /rename NAME) or delete it; ✅ marks the one this
chat continues. A conversation living in a topic keeps its topic's name in step."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Protocol

from telegram import (
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
    User,
)
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ContextTypes, filters

from bot.languages import LanguageChoices
from bot.records import ConversationPlace, ConversationSummary, UserProfile
from bot.telegram.buttons import ChatsButton
from bot.telegram.handlers.common import (
    Speaking,
    answer,
    command_text,
    edit_quietly,
    profile_of,
    read_press,
    topic_of,
)
from bot.texts import say
from bot.titles import shorten

RENAME_WAIT_S = 3600.0  # how long a "send the new name" question waits for its reply
TITLE_SHOWN_CHARS = 40  # of a title on a button


class ConversationBook(Protocol):
    """What /chats reads from the database."""

    async def remember_user(self, profile: UserProfile) -> None: ...
    async def conversations(
        self, chat_id: int, user_id: int, only: int | None = None
    ) -> list[ConversationSummary]: ...
    async def conversation_place(self, conversation_id: int) -> ConversationPlace | None: ...
    async def current_conversation(
        self, chat_id: int, user_id: int, topic: int | None = None
    ) -> int: ...
    async def rename_conversation(
        self, conversation_id: int, title: str, *, if_untitled: bool = False
    ) -> bool: ...


class ConversationKeeper(Protocol):
    """Switching and deleting conversations, which wait for the questions sent before
    (ChatService)."""

    async def switch_conversation(
        self, chat_id: int, user_id: int, conversation_id: int
    ) -> bool: ...
    async def delete_conversation(
        self, chat_id: int, user_id: int, conversation_id: int
    ) -> None: ...


@dataclass
class RenameQuestions:
    """The bot's "send the new name" questions still waiting for a reply: (chat, message id) →
    (conversation, who asked, when)."""

    waiting: dict[tuple[int, int], tuple[int, int, float]] = field(default_factory=dict)

    def ask(self, chat_id: int, message_id: int, conversation: int, user_id: int) -> None:
        now = time.monotonic()
        self.waiting = {k: v for k, v in self.waiting.items() if now - v[2] < RENAME_WAIT_S}
        self.waiting[(chat_id, message_id)] = (conversation, user_id, now)

    def answered(self, message: Message) -> int | None:
        """The conversation a reply names, if it answers one of the questions (by its asker)."""
        replied = message.reply_to_message
        if replied is None or message.from_user is None:
            return None
        found = self.waiting.get((message.chat_id, replied.message_id))
        if found is None or found[1] != message.from_user.id:
            return None
        if time.monotonic() - found[2] >= RENAME_WAIT_S:
            return None
        del self.waiting[(message.chat_id, replied.message_id)]
        return found[0]


class AnswersRename(filters.MessageFilter):
    """A text message replying to one of the bot's "send the new name" questions."""

    def __init__(self, questions: RenameQuestions) -> None:
        super().__init__(name="AnswersRename")
        self._questions = questions

    def filter(self, message: Message) -> bool:
        replied = message.reply_to_message
        if message.text is None or message.text.startswith("/") or replied is None:
            return False  # a command is a command, even sent as the reply
        asked = self._questions.waiting.get((message.chat_id, replied.message_id))
        # An expired question lets the message through as a question to the model.
        return asked is not None and time.monotonic() - asked[2] < RENAME_WAIT_S


class ConversationHandlers(Speaking):
    """/chats, its buttons, and /rename."""

    def __init__(
        self, book: ConversationBook, keeper: ConversationKeeper, langs: LanguageChoices
    ) -> None:
        super().__init__(langs)
        self._book = book
        self._keeper = keeper
        self.renames = RenameQuestions()

    # -- /chats ------------------------------------------------------------------------------

    async def on_chats(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/chats: the user's conversations here, as buttons."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        lang = self._lang(user)
        if message.chat.type != ChatType.PRIVATE:
            await message.reply_text(say("chats_group", lang))
            return
        await self._book.remember_user(profile_of(user))
        text, keyboard = await self._listing(message.chat_id, user)
        await message.reply_text(text, reply_markup=keyboard)

    async def on_chats_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A press in the /chats menu: a conversation (its actions), continue, rename, delete
        (asked first), back to the list. A conversation that is gone, or not the presser's,
        is refused with an alert."""
        query, user = update.callback_query, update.effective_user
        if query is None or user is None or not isinstance(query.message, Message):
            return
        lang = self._lang(user)
        if (pressed := await read_press(query, ChatsButton.parse, lang)) is None:
            return
        chat_id = query.message.chat_id
        if pressed.conversation is None:
            await answer(query)
            text, keyboard = await self._listing(chat_id, user)
            await edit_quietly(query.edit_message_text(text, reply_markup=keyboard))
            return
        place = await self._book.conversation_place(pressed.conversation)
        if place is None or (place.chat_id, place.user_id) != (chat_id, user.id):
            await answer(query, say("chats_gone", lang), alert=True)
            text, keyboard = await self._listing(chat_id, user)
            await edit_quietly(query.edit_message_text(text, reply_markup=keyboard))
            return
        title = self._title(place.title, lang)
        if pressed.action == "use":
            await answer(query, say("chats_switched", lang, title=title))
            await self._keeper.switch_conversation(chat_id, user.id, place.id)
            text, keyboard = await self._listing(chat_id, user)
            await edit_quietly(query.edit_message_text(text, reply_markup=keyboard))
        elif pressed.action == "name":
            await answer(query)
            asked = await query.message.reply_text(
                say("chats_rename_prompt", lang, title=title),
                reply_markup=ForceReply(selective=True),
            )
            self.renames.ask(chat_id, asked.message_id, place.id, user.id)
        elif pressed.action == "delok":
            await answer(query, say("chats_deleted", lang, title=title))
            await self._delete(place, context)
            text, keyboard = await self._listing(chat_id, user)
            await edit_quietly(query.edit_message_text(text, reply_markup=keyboard))
        else:  # "show" or "del": the conversation, with its actions (deleting asks first)
            await answer(query)
            text, keyboard = await self._detail(place, chat_id, user, ask=pressed.action == "del")
            await edit_quietly(query.edit_message_text(text, reply_markup=keyboard))

    # -- renaming ----------------------------------------------------------------------------

    async def on_rename_reply(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The reply to "send the new name": the conversation gets it."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None or message.text is None:
            return
        conversation = self.renames.answered(message)
        if conversation is None:  # someone else's reply, or a question that expired
            return
        await self._rename(message, user, conversation, message.text, context)

    async def on_rename(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/rename NAME: the current conversation (here, or this topic's) is called NAME."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        name = command_text(message.text)
        if not name:
            await message.reply_text(say("rename_usage", self._lang(user)))
            return
        await self._book.remember_user(profile_of(user))
        conversation = await self._book.current_conversation(
            message.chat_id, user.id, topic_of(message)
        )
        await self._rename(message, user, conversation, name, context)

    async def _rename(
        self,
        message: Message,
        user: User,
        conversation: int,
        name: str,
        context: ContextTypes.DEFAULT_TYPE,
    ) -> None:
        lang = self._lang(user)
        place = await self._book.conversation_place(conversation)
        if place is None:
            await message.reply_text(say("chats_gone", lang))
            return
        title = shorten(" ".join(name.split()), 128)  # a topic's name holds 128 characters
        await self._book.rename_conversation(conversation, title)
        if place.topic is not None:
            with contextlib.suppress(TelegramError):  # the topic was deleted: the name stays
                await context.bot.edit_forum_topic(place.chat_id, place.topic, name=title)
        await message.reply_text(say("chats_renamed", lang, title=title))

    async def _delete(self, place: ConversationPlace, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._keeper.delete_conversation(place.chat_id, place.user_id, place.id)
        if place.topic is not None:  # the conversation's topic goes with it
            with contextlib.suppress(TelegramError):
                await context.bot.delete_forum_topic(place.chat_id, place.topic)

    # -- views -------------------------------------------------------------------------------

    def _title(self, title: str | None, lang: str | None) -> str:
        return title or say("chats_untitled", lang)

    async def _listing(self, chat_id: int, user: User) -> tuple[str, InlineKeyboardMarkup | None]:
        lang = self._lang(user)
        found = await self._book.conversations(chat_id, user.id)
        if not found:
            return say("chats_none", lang), None
        rows = []
        for summary in found:
            mark = "✅ " if summary.current else ("🗂 " if summary.topic is not None else "")
            label = say(
                "chats_label",
                lang,
                mark=mark,
                title=shorten(self._title(summary.title, lang), TITLE_SHOWN_CHARS),
                date=time.strftime("%d %b", time.localtime(summary.last_at)),
                messages=f"💬{summary.messages}",
            )
            data = ChatsButton("show", summary.id).build()
            rows.append([InlineKeyboardButton(label, callback_data=data)])
        return say("chats_list", lang, count=len(found)), InlineKeyboardMarkup(rows)

    async def _detail(
        self, place: ConversationPlace, chat_id: int, user: User, *, ask: bool
    ) -> tuple[str, InlineKeyboardMarkup]:
        lang = self._lang(user)
        found = await self._book.conversations(chat_id, user.id, only=place.id)
        summary = found[0] if found else None
        title = self._title(place.title, lang)
        messages = summary.messages if summary else 0
        back = [
            InlineKeyboardButton(
                say("button_chats_back", lang), callback_data=ChatsButton("list").build()
            )
        ]
        if ask:
            yes = InlineKeyboardButton(
                say("button_chats_delete_yes", lang),
                callback_data=ChatsButton("delok", place.id).build(),
            )
            text = say("chats_delete_ask", lang, title=title, messages=messages)
            return text, InlineKeyboardMarkup([[yes], back])
        day = "%d %b %H:%M"
        text = say(
            "chats_detail",
            lang,
            title=title,
            started=time.strftime(day, time.localtime(summary.started_at if summary else 0)),
            last=time.strftime(day, time.localtime(summary.last_at if summary else 0)),
            messages=messages,
            where=say("chats_in_topic", lang) if place.topic is not None else "",
        )
        actions = [
            InlineKeyboardButton(
                say(f"button_chats_{label}", lang),
                callback_data=ChatsButton(action, place.id).build(),
            )
            for label, action in (("use", "use"), ("rename", "name"), ("delete", "del"))
        ]
        return text, InlineKeyboardMarkup([actions[:1], actions[1:], back])
