"""What users do about themselves and their groups: /forget, /export, /stats, /lang, /groupmode."""

from __future__ import annotations

import datetime as dtm
import time
from typing import Protocol

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update, User
from telegram.constants import ChatType
from telegram.error import Forbidden
from telegram.ext import ContextTypes

from bot.chat import ChatService
from bot.languages import LanguageChoices
from bot.records import ExportedMessage, Usage
from bot.telegram.access import AccessPolicy
from bot.telegram.buttons import ForgetButton, LanguageButton
from bot.telegram.handlers.common import (
    Speaking,
    answer,
    command_text,
    edit_quietly,
    profile_of,
    read_press,
    refuse_button,
    refuse_not_yours,
)
from bot.texts import say
from bot.texts.views import export_markdown, stats_text

AUTO = "auto"


class AccountStore(Protocol):
    """What these commands need from the database."""

    async def export(self, user_id: int) -> list[ExportedMessage]: ...
    async def usage(self, user_id: int | None = None) -> list[Usage]: ...


class AccountHandlers(Speaking):
    """Callbacks for a user's data, language and figures, and a group's thread mode."""

    def __init__(
        self,
        store: AccountStore,
        chat: ChatService,
        policy: AccessPolicy,
        langs: LanguageChoices,
    ) -> None:
        super().__init__(langs)
        self._store = store
        self._chat = chat
        self._policy = policy

    # -- /forget ------------------------------------------------------------------------------

    async def on_forget(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/forget: asks first, with Delete everything / Keep it."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        lang = self._lang(user)
        buttons = [
            InlineKeyboardButton(
                say("button_forget_yes", lang), callback_data=ForgetButton(True, user.id).build()
            ),
            InlineKeyboardButton(
                say("button_forget_no", lang), callback_data=ForgetButton(False, user.id).build()
            ),
        ]
        await message.reply_text(
            say("forget_confirm", lang), reply_markup=InlineKeyboardMarkup([buttons])
        )

    async def on_forget_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Delete everything (only the user who asked can press), or keep it."""
        query, user = update.callback_query, update.effective_user
        if query is None or user is None:
            return
        lang = self._lang(user)
        if (pressed := await read_press(query, ForgetButton.parse, lang)) is None:
            return
        if pressed.owner != user.id:
            await refuse_not_yours(query, "/forget", lang)
            return
        await answer(query)
        if pressed.erase:
            await self._chat.forget(profile_of(user))
            await self._langs.forget(user.id)
            text = say("forget_done", lang)
        else:
            text = say("forget_kept", lang)
        await edit_quietly(query.edit_message_text(text))

    # -- /export ------------------------------------------------------------------------------

    async def on_export(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/export: the user's conversations as a Markdown file, always sent in private (asked
        in a group, the group only hears that it went to them)."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        lang = self._lang(user)
        messages = await self._store.export(user.id)
        if not messages:
            await message.reply_text(say("export_empty", lang))
            return
        now = time.time()
        document = export_markdown(messages, user.full_name, lang, now)
        day = dtm.datetime.fromtimestamp(now, dtm.UTC).strftime("%Y-%m-%d")
        try:
            await context.bot.send_document(
                user.id,
                InputFile(document.encode("utf-8"), filename=f"ollagram-{user.id}-{day}.md"),
                caption=say("export_caption", lang, count=len(messages)),
            )
        except Forbidden:  # they never opened a private chat with the bot
            await message.reply_text(say("export_open_private", lang))
            return
        if message.chat.type != ChatType.PRIVATE:
            await message.reply_text(say("export_sent_privately", lang))

    # -- /stats -------------------------------------------------------------------------------

    async def on_stats(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/stats: the user's answers, tokens and speed; admins, in private, also everyone's."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        mine = await self._store.usage(user.id)
        private = message.chat.type == ChatType.PRIVATE
        everyone = await self._store.usage() if private and self._policy.is_admin(user.id) else None
        await message.reply_text(stats_text(mine[0] if mine else None, everyone, self._lang(user)))

    # -- /lang --------------------------------------------------------------------------------

    async def on_lang(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/lang shows the languages as buttons; /lang en|zh|auto chooses."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        wanted = command_text(message.text).lower()
        if not wanted:
            lang = self._lang(user)
            current = say("language_name", lang)
            await message.reply_text(
                say("lang_menu", lang, current=current),
                reply_markup=self._lang_keyboard(user.id, lang),
            )
            return
        reply = await self._choose(user, wanted)
        await message.reply_text(reply)

    async def on_lang_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A language button: the presser's language changes (each user has their own)."""
        query, user = update.callback_query, update.effective_user
        if query is None or user is None:
            return
        pressed = LanguageButton.parse(query.data)
        if pressed is None or pressed.code not in {*self._langs.supported(), AUTO}:
            await refuse_button(query, self._lang(user))
            return
        reply = await self._choose(user, pressed.code)
        await answer(query, reply)
        await edit_quietly(query.edit_message_text(reply))

    async def _choose(self, user: User, wanted: str) -> str:
        """Set the user's language; the reply, in the language chosen."""
        supported = self._langs.supported()
        if wanted == AUTO:
            await self._langs.choose(profile_of(user), None)
            return say("lang_auto", self._lang(user))
        if wanted not in supported:
            names = ", ".join(f"{code} ({say('language_name', code)})" for code in supported)
            return say("lang_unknown", self._lang(user), languages=names)
        await self._langs.choose(profile_of(user), wanted)
        return say("lang_set", wanted)

    def _lang_keyboard(self, user_id: int, lang: str | None) -> InlineKeyboardMarkup:
        chosen = self._langs.chosen(user_id)
        buttons = [
            InlineKeyboardButton(
                ("✅ " if code == chosen else "") + say("language_name", code),
                callback_data=LanguageButton(code).build(),
            )
            for code in self._langs.supported()
        ]
        auto = ("✅ " if chosen is None else "") + say("button_lang_auto", lang)
        buttons.append(InlineKeyboardButton(auto, callback_data=LanguageButton(AUTO).build()))
        return InlineKeyboardMarkup([buttons])

    # -- /groupmode ---------------------------------------------------------------------------

    async def on_groupmode(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/groupmode shows the group's mode; admins set shared or personal threads."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        lang = self._lang(user)
        if message.chat.type == ChatType.PRIVATE:
            await message.reply_text(say("groupmode_private_chat", lang))
            return
        wanted = command_text(message.text).lower()
        if wanted not in {"shared", "personal"}:
            mode = (
                "groupmode_shared"
                if self._chat.is_shared(message.chat_id)
                else "groupmode_personal"
            )
            await message.reply_text(say("groupmode_is", lang, mode=say(mode, lang)))
            return
        if not self._policy.is_admin(user.id):
            await message.reply_text(say("groupmode_admins", lang))
            return
        await self._chat.set_shared(message.chat_id, wanted == "shared")
        mode = say(f"groupmode_{wanted}", lang)
        await message.reply_text(say("groupmode_set", lang, mode=mode))
