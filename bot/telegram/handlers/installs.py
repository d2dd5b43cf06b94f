"""Installing and removing models, for admins: /pull (with live progress and Cancel), /rm."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Protocol

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes, ExtBot

from bot.errors import LLMError, ModelNotFound
from bot.installer import ModelInstaller
from bot.languages import LanguageChoices
from bot.models import full_name, model_id, valid_model_name
from bot.status import StatusServer
from bot.telegram.access import AccessPolicy
from bot.telegram.buttons import PullButton, RemoveButton
from bot.telegram.handlers.common import Speaking, answer, edit_quietly, refuse_button
from bot.telegram.pacing import ChatPacer
from bot.telegram.pull_message import PullMessage
from bot.texts import describe_error, say

MAX_REMEMBERED_BUTTONS = 512


class ButtonNames:
    """Model names behind buttons (callback_data holds only a short id; names reach 200 chars)."""

    def __init__(self) -> None:
        self._names: OrderedDict[str, str] = OrderedDict()

    def remember(self, name: str) -> str:
        """The short id to put in a button for `name`."""
        short_id = model_id(name)
        self._names[short_id] = name
        self._names.move_to_end(short_id)
        while len(self._names) > MAX_REMEMBERED_BUTTONS:
            self._names.popitem(last=False)
        return short_id

    def name(self, short_id: str) -> str | None:
        """The name behind a button, if it is still remembered."""
        return self._names.get(short_id)


def cancel_keyboard(pull_number: int, lang: str | None) -> InlineKeyboardMarkup:
    """The Cancel button under a running pull (its number: a stale button cancels nothing)."""
    cancel = PullButton(cancel=pull_number).build()
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(say("button_cancel", lang), callback_data=cancel)]]
    )


def rm_keyboard(
    short_id: str, lang: str | None, hosts: dict[int, str] | None = None
) -> InlineKeyboardMarkup:
    """Remove / Keep it under an /rm question; with `hosts` (the model is on several, by
    number), one Remove button for each, then Keep it."""

    def button(text: str, press: RemoveButton) -> InlineKeyboardButton:
        return InlineKeyboardButton(text, callback_data=press.build())

    keep = button(say("button_rm_no", lang), RemoveButton(False, short_id))
    if not hosts:
        return InlineKeyboardMarkup(
            [[button(say("button_rm_yes", lang), RemoveButton(True, short_id)), keep]]
        )
    rows = [
        [button(say("button_rm_from", lang, host=host), RemoveButton(True, short_id, i))]
        for i, host in hosts.items()
    ]
    return InlineKeyboardMarkup([*rows, [keep]])


class ModelHosts(Protocol):
    """Which servers install models, and which have a model (the router)."""

    def manager_names(self) -> list[str]: ...
    def where(self, model: str) -> list[str]: ...


class InstallHandlers(Speaking):
    """Callbacks that install and remove models (admins only)."""

    def __init__(
        self,
        *,
        langs: LanguageChoices,
        hosts: ModelHosts,
        installer: ModelInstaller,
        policy: AccessPolicy,
        server: StatusServer,
        pacer: ChatPacer,
        pull_interval: float,
    ) -> None:
        super().__init__(langs)
        self._hosts = hosts
        self._installer = installer
        self._policy = policy
        self._server = server
        self._pacer = pacer
        self._pull_interval = pull_interval
        self._buttons = ButtonNames()

    def pull_offer(self, name: str, user_id: int, lang: str | None) -> InlineKeyboardMarkup | None:
        """A "Pull NAME" button for admins (None for anyone else, or for an invalid name)."""
        if not self._policy.is_admin(user_id) or not valid_model_name(name):
            return None
        button = InlineKeyboardButton(
            say("button_pull", lang, name=name),
            callback_data=PullButton(model_id=self._buttons.remember(name)).build(),
        )
        return InlineKeyboardMarkup([[button]])

    # -- /pull ------------------------------------------------------------------------------

    async def on_pull(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/pull NAME (admins): install a model, with live progress and a Cancel button."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        lang = self._lang(user)
        if not await self._admin(update):
            return
        if not context.args:
            await message.reply_text(say("pull_usage", lang))
            return
        name = " ".join(context.args)
        if not valid_model_name(name):
            await message.reply_text(say("pull_invalid", lang, name=name))
            return
        await self._pull_where(context.bot, message.chat_id, full_name(name), lang, None)

    async def on_pull_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """ "Pull it" under a model that is not installed, or Cancel under a running pull."""
        query, user = update.callback_query, update.effective_user
        if query is None or user is None:
            return
        lang = self._lang(user)
        if not await self._admin(update):
            return
        pressed = PullButton.parse(query.data)
        if pressed is None or query.message is None:
            await refuse_button(query, lang)
            return
        if pressed.cancel is not None:
            self._installer.cancel(pressed.cancel)
            await answer(query)
            return
        name = None if pressed.model_id is None else self._buttons.name(pressed.model_id)
        if name is None:
            await refuse_button(query, lang)
            return
        await answer(query)
        chat_id = query.message.chat.id
        await self._pull_where(context.bot, chat_id, full_name(name), lang, pressed.host)

    async def _pull_where(
        self, bot: ExtBot[Any], chat_id: int, model: str, lang: str | None, host: int | None
    ) -> None:
        """Pull on the Ollama host numbered `host`; with several and none chosen, ask which."""
        hosts = self._hosts.manager_names()
        if host is None and len(hosts) > 1:
            short_id = self._buttons.remember(model)
            buttons = [
                [InlineKeyboardButton(name, callback_data=PullButton(short_id, index).build())]
                for index, name in enumerate(hosts)
            ]
            await bot.send_message(
                chat_id,
                say("pull_where", lang, model=model),
                reply_markup=InlineKeyboardMarkup(buttons),
            )
            return
        location = hosts[host] if host is not None and host < len(hosts) else None
        await self._start_pull(bot, chat_id, model, lang, location)

    async def _start_pull(
        self, bot: ExtBot[Any], chat_id: int, model: str, lang: str | None, location: str | None
    ) -> None:
        number = self._installer.reserve(model)
        if number is None:
            await bot.send_message(chat_id, say("pull_running", lang, model=model))
            return
        try:
            sent = await bot.send_message(
                chat_id,
                say("pull_started", lang, model=model),
                reply_markup=cancel_keyboard(number, lang),
            )
        except BaseException:
            self._installer.release(number)
            raise
        view = PullMessage(
            bot,
            chat_id,
            sent.message_id,
            keyboard=cancel_keyboard(number, lang),
            pacer=self._pacer,
            interval=self._pull_interval,
            language=lang,
        )
        self._installer.begin(number, view, location)

    # -- /rm --------------------------------------------------------------------------------

    async def on_rm(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/rm NAME (admins): asks to confirm (and, when several hosts have it, from which),
        then removes the model."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        lang = self._lang(user)
        if not await self._admin(update):
            return
        if not context.args or not valid_model_name(name := " ".join(context.args)):
            await message.reply_text(say("rm_usage", lang))
            return
        model = full_name(name)
        having = self._hosts.where(model)
        hosts = {i: h for i, h in enumerate(self._hosts.manager_names()) if h in having}
        keyboard = rm_keyboard(
            self._buttons.remember(model), lang, hosts if len(hosts) > 1 else None
        )
        await message.reply_text(
            say("rm_confirm", lang, model=model, host=self._server.host), reply_markup=keyboard
        )

    async def on_rm_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Remove or Keep under an /rm question."""
        query, user = update.callback_query, update.effective_user
        if query is None or user is None:
            return
        lang = self._lang(user)
        if not await self._admin(update):
            return
        pressed = RemoveButton.parse(query.data)
        model = None if pressed is None else self._buttons.name(pressed.model_id)
        if pressed is None or model is None:
            await refuse_button(query, lang)
            return
        hosts = self._hosts.manager_names()
        index = pressed.host
        location = hosts[index] if index is not None and index < len(hosts) else None
        await answer(query)
        if not pressed.remove:
            await edit_quietly(query.edit_message_text(say("rm_kept", lang, model=model)))
            return
        try:
            await self._installer.remove(model, location)
            text = say("rm_done", lang, model=model)
        except ModelNotFound:
            text = say("rm_missing", lang, model=model, host=self._server.host)
        except LLMError as err:
            text = describe_error(err, lang)
        await edit_quietly(query.edit_message_text(text))

    async def _admin(self, update: Update) -> bool:
        """True for an admin; anyone else is told (in the chat, or as an alert on a button)."""
        user = update.effective_user
        if user is not None and self._policy.is_admin(user.id):
            return True
        refusal = say("admins_only", self._lang(user))
        if update.callback_query is not None:
            await answer(update.callback_query, refusal, alert=True)
        elif update.effective_message is not None:
            await update.effective_message.reply_text(refusal)
        return False
