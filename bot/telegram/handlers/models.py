"""Model handlers: /model (list, switch), /pull and /rm for admins, /status."""

from __future__ import annotations

import logging
import re
import time
from collections import OrderedDict
from typing import Any, Protocol

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes, ExtBot

from bot.errors import LLMError, ModelNotFound
from bot.installer import ModelInstaller
from bot.languages import LanguageChoices
from bot.models import ModelMenu, ModelPicker, full_name, model_id, valid_model_name
from bot.status import StatusServer, StatusStore, gather_status
from bot.telegram.access import AccessPolicy
from bot.telegram.handlers.chat import profile_of
from bot.telegram.handlers.common import (
    Speaking,
    answer,
    edit_quietly,
    page_count,
    paged_keyboard,
    refuse_button,
)
from bot.telegram.streaming import ChatPacer, PullMessage
from bot.texts import describe_error, say
from bot.texts.views import model_label, status_text

log = logging.getLogger(__name__)

MODELS_PER_PAGE = 8
MAX_REMEMBERED_BUTTONS = 512
# What the buttons below carry; a press with anything else is refused (see refuse_button).
_SHORT_ID = r"[0-9a-f]{12}"  # bot.models.model_id
MODEL_BUTTON = re.compile(rf"model:(?:use:(?P<id>{_SHORT_ID})|page:(?P<page>\d{{1,4}}))")
PULL_BUTTON = re.compile(
    rf"pull:(?:cancel:(?P<pull>\d{{1,9}})|(?P<id>{_SHORT_ID})(?::(?P<host>\d{{1,3}}))?)"
)
RM_BUTTON = re.compile(rf"rm:(?P<choice>yes|no):(?P<id>{_SHORT_ID})(?::(?P<host>\d{{1,3}}))?")


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
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    say("button_cancel", lang), callback_data=f"pull:cancel:{pull_number}"
                )
            ]
        ]
    )


def rm_keyboard(short_id: str, lang: str | None) -> InlineKeyboardMarkup:
    """Remove / Keep it under an /rm question."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    say("button_rm_yes", lang), callback_data=f"rm:yes:{short_id}"
                ),
                InlineKeyboardButton(say("button_rm_no", lang), callback_data=f"rm:no:{short_id}"),
            ]
        ]
    )


def menu_keyboard(menu: ModelMenu, page: int) -> InlineKeyboardMarkup:
    """One button per installed model on this page, then ◀ n/m ▶ when there are pages."""
    buttons = [
        InlineKeyboardButton(
            model_label(model, current=model.name == menu.current),
            callback_data=f"model:use:{model_id(model.name)}",
        )
        for model in menu.installed
    ]
    return paged_keyboard(
        buttons, page, per_page=MODELS_PER_PAGE, page_data=lambda n: f"model:page:{n}"
    )


class ModelHosts(Protocol):
    """Which servers install models, and which have a model (the router)."""

    def manager_names(self) -> list[str]: ...
    def where(self, model: str) -> list[str]: ...


class ModelHandlers(Speaking):
    """Callbacks that show, switch, install and remove models."""

    def __init__(
        self,
        *,
        langs: LanguageChoices,
        hosts: ModelHosts,
        picker: ModelPicker,
        installer: ModelInstaller,
        policy: AccessPolicy,
        server: StatusServer,
        store: StatusStore,
        pacer: ChatPacer,
        pull_interval: float,
    ) -> None:
        super().__init__(langs)
        self._hosts = hosts
        self._picker = picker
        self._installer = installer
        self._policy = policy
        self._server = server
        self._store = store
        self._pacer = pacer
        self._pull_interval = pull_interval
        self._buttons = ButtonNames()
        self._started_at = time.monotonic()

    # -- /model -----------------------------------------------------------------------------

    async def on_model(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/model lists the installed models as buttons; /model NAME switches."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        lang = self._lang(user)
        try:
            if context.args:
                name = " ".join(context.args)
                found = await self._picker.pick(profile_of(user), name)
                if found is not None:
                    await message.reply_text(say("model_switched", lang, model=found.name))
                    return
                text, keyboard = self._not_installed(name, user.id, lang)
                await message.reply_text(text, reply_markup=keyboard)
                return
            menu = await self._picker.menu(user.id)
        except LLMError as err:
            await message.reply_text(describe_error(err, lang))
            return
        await message.reply_text(
            self._menu_title(menu, 0, user.id, lang), reply_markup=menu_keyboard(menu, 0)
        )

    async def on_model_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A press on a model (switch to it) or on ◀ ▶ (another page)."""
        query, user = update.callback_query, update.effective_user
        if query is None or user is None:
            return
        lang = self._lang(user)
        if (pressed := MODEL_BUTTON.fullmatch(query.data or "")) is None:
            await refuse_button(query, lang)
            return
        note = ""
        try:
            if pressed["id"] is not None:
                found = await self._picker.pick_by_id(profile_of(user), pressed["id"])
                note = (
                    say("model_switched", lang, model=found.name)
                    if found
                    else say("model_gone", lang)
                )
            menu = await self._picker.menu(user.id)
        except LLMError as err:
            await answer(query, describe_error(err, lang), alert=True)
            return
        await answer(query, note)
        page = page_of(menu) if pressed["page"] is None else int(pressed["page"])
        await edit_quietly(  # the same page pressed again is "not modified"
            query.edit_message_text(
                self._menu_title(menu, page, user.id, lang), reply_markup=menu_keyboard(menu, page)
            )
        )

    def _menu_title(self, menu: ModelMenu, page: int, user_id: int, lang: str | None) -> str:
        host = self._server.host
        if not menu.installed:
            key = "model_none_admin" if self._policy.is_admin(user_id) else "model_none"
            return say(key, lang, host=host)
        pages = page_count(len(menu.installed), MODELS_PER_PAGE)
        current = menu.current or say("status_unknown", lang)
        if pages == 1:
            return say("model_menu", lang, host=host, current=current)
        page = min(max(page, 0), pages - 1) + 1
        return say("model_menu_page", lang, host=host, current=current, page=page, pages=pages)

    def _not_installed(
        self, name: str, user_id: int, lang: str | None
    ) -> tuple[str, InlineKeyboardMarkup | None]:
        host = self._server.host
        keyboard = self.pull_offer(name, user_id, lang)
        key = "model_not_installed" if keyboard is None else "model_not_installed_admin"
        return say(key, lang, name=name, host=host), keyboard

    def pull_offer(self, name: str, user_id: int, lang: str | None) -> InlineKeyboardMarkup | None:
        """A "Pull NAME" button for admins (None for anyone else, or for an invalid name)."""
        if not self._policy.is_admin(user_id) or not valid_model_name(name):
            return None
        button = InlineKeyboardButton(
            say("button_pull", lang, name=name),
            callback_data=f"pull:{self._buttons.remember(name)}",
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
        pressed = PULL_BUTTON.fullmatch(query.data or "")
        if pressed is None or query.message is None:
            await refuse_button(query, lang)
            return
        if pressed["pull"] is not None:
            self._installer.cancel(int(pressed["pull"]))
            await query.answer()
            return
        name = self._buttons.name(pressed["id"])
        if name is None:
            await refuse_button(query, lang)
            return
        await query.answer()
        host = None if pressed["host"] is None else int(pressed["host"])
        await self._pull_where(context.bot, query.message.chat.id, full_name(name), lang, host)

    async def _pull_where(
        self, bot: ExtBot[Any], chat_id: int, model: str, lang: str | None, host: int | None
    ) -> None:
        """Pull on the Ollama host numbered `host`; with several and none chosen, ask which."""
        hosts = self._hosts.manager_names()
        if host is None and len(hosts) > 1:
            short_id = self._buttons.remember(model)
            buttons = [
                [InlineKeyboardButton(name, callback_data=f"pull:{short_id}:{index}")]
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
        """/rm NAME (admins): asks to confirm, then removes the model."""
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
        short_id = self._buttons.remember(model)
        hosts = self._hosts.manager_names()
        having = [i for i, host in enumerate(hosts) if host in self._hosts.where(model)]
        keyboard = rm_keyboard(short_id, lang)
        if len(having) > 1:  # on several Ollama hosts: which one?
            rows = [
                [
                    InlineKeyboardButton(
                        say("button_rm_from", lang, host=hosts[i]),
                        callback_data=f"rm:yes:{short_id}:{i}",
                    )
                ]
                for i in having
            ]
            rows.append(
                [InlineKeyboardButton(say("button_rm_no", lang), callback_data=f"rm:no:{short_id}")]
            )
            keyboard = InlineKeyboardMarkup(rows)
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
        pressed = RM_BUTTON.fullmatch(query.data or "")
        model = None if pressed is None else self._buttons.name(pressed["id"])
        if pressed is None or model is None:
            await refuse_button(query, lang)
            return
        hosts = self._hosts.manager_names()
        index = None if pressed["host"] is None else int(pressed["host"])
        location = hosts[index] if index is not None and index < len(hosts) else None
        await query.answer()
        if pressed["choice"] == "no":
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

    # -- /status ----------------------------------------------------------------------------

    async def on_status(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/status: Ollama (reachable, version, loaded models), the bot, users for admins."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        report = await gather_status(
            self._server,
            self._store,
            started_at=self._started_at,
            with_users=self._policy.is_admin(user.id),
        )
        await message.reply_text(status_text(report, self._lang(user)))


def page_of(menu: ModelMenu) -> int:
    """The page that shows the user's current model."""
    names = [m.name for m in menu.installed]
    return names.index(menu.current) // MODELS_PER_PAGE if menu.current in names else 0
