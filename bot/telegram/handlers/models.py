"""Model handlers: /model (list, switch) and /status. Installing and removing models (/pull,
/rm) is bot.telegram.handlers.installs."""

from __future__ import annotations

import time
from collections.abc import Callable

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes

from bot.errors import LLMError
from bot.languages import LanguageChoices
from bot.models import ModelMenu, ModelPicker, model_id
from bot.status import StatusServer, StatusStore, gather_status
from bot.telegram.access import AccessPolicy
from bot.telegram.buttons import ModelButton
from bot.telegram.handlers.common import (
    Speaking,
    answer,
    edit_quietly,
    page_count,
    paged_keyboard,
    profile_of,
    read_press,
    where_of,
)
from bot.texts import describe_error, say
from bot.texts.views import model_label, status_text

MODELS_PER_PAGE = 8


def menu_keyboard(menu: ModelMenu, page: int) -> InlineKeyboardMarkup:
    """One button per installed model on this page, then ◀ n/m ▶ when there are pages."""
    buttons = [
        InlineKeyboardButton(
            model_label(model, current=model.name == menu.current),
            callback_data=ModelButton(model_id=model_id(model.name)).build(),
        )
        for model in menu.installed
    ]
    return paged_keyboard(
        buttons, page, per_page=MODELS_PER_PAGE, page_data=lambda n: ModelButton(page=n).build()
    )


def page_of(menu: ModelMenu) -> int:
    """The page that shows the user's current model."""
    names = [m.name for m in menu.installed]
    return names.index(menu.current) // MODELS_PER_PAGE if menu.current in names else 0


class ModelHandlers(Speaking):
    """Callbacks that show and switch models, and tell how the bot and its servers are."""

    def __init__(
        self,
        *,
        langs: LanguageChoices,
        picker: ModelPicker,
        policy: AccessPolicy,
        server: StatusServer,
        store: StatusStore,
        offer_pull: Callable[[str, int, str | None], InlineKeyboardMarkup | None],
    ) -> None:
        super().__init__(langs)
        self._picker = picker
        self._policy = policy
        self._server = server
        self._store = store
        self._offer_pull = offer_pull
        self._started_at = time.monotonic()

    async def on_model(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/model lists the installed models as buttons; /model NAME switches."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        lang = self._lang(user)
        topic = where_of(message)
        try:
            if context.args:
                name = " ".join(context.args)
                found = await self._picker.pick(profile_of(user), name, topic)
                if found is not None:
                    await message.reply_text(say("model_switched", lang, model=found.name))
                    return
                text, keyboard = self._not_installed(name, user.id, lang)
                await message.reply_text(text, reply_markup=keyboard)
                return
            menu = await self._picker.menu(user.id, topic)
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
        if (pressed := await read_press(query, ModelButton.parse, lang)) is None:
            return
        note = ""
        topic = where_of(query.message)
        try:
            if pressed.model_id is not None:
                found = await self._picker.pick_by_id(profile_of(user), pressed.model_id, topic)
                note = (
                    say("model_switched", lang, model=found.name)
                    if found
                    else say("model_gone", lang)
                )
            menu = await self._picker.menu(user.id, topic)
        except LLMError as err:
            await answer(query, describe_error(err, lang), alert=True)
            return
        await answer(query, note)
        page = page_of(menu) if pressed.page is None else pressed.page
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
        keyboard = self._offer_pull(name, user_id, lang)
        key = "model_not_installed" if keyboard is None else "model_not_installed_admin"
        return say(key, lang, name=name, host=host), keyboard

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
