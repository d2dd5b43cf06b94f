"""/settings: temperature, context size, thinking and the answer footer, as buttons or typed;
the language voice messages are heard in, typed (/settings voice de, /settings voice auto)."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update, User
from telegram.ext import ContextTypes

from bot.languages import LanguageChoices
from bot.preferences import (
    TEMPERATURE_CHOICES,
    VOICE_LANGUAGES,
    Preferences,
    PreferenceService,
    Refusal,
    SettingProblem,
)
from bot.telegram.buttons import SettingsButton
from bot.telegram.handlers.common import (
    Speaking,
    answer,
    command_text,
    edit_quietly,
    profile_of,
    read_press,
    refuse_not_yours,
)
from bot.texts import say


def _mark(text: str, chosen: bool) -> str:
    return f"✅ {text}" if chosen else text


def context_label(tokens: int) -> str:
    """`8192` → `8K`."""
    return f"{tokens // 1024}K" if tokens % 1024 == 0 else str(tokens)


def settings_keyboard(prefs: Preferences, lang: str | None, owner_id: int) -> InlineKeyboardMarkup:
    """Temperature presets, context presets (up to the model's), thinking (only for models
    that think), footer, reset; the buttons work for `owner_id` only."""

    def button(text: str, name: str | None = None, value: object = "") -> InlineKeyboardButton:
        press = SettingsButton(owner_id, name, str(value))  # no name: Reset
        return InlineKeyboardButton(text, callback_data=press.build())

    temperatures = [
        button(_mark(f"{value:.1f}", abs(prefs.temperature - value) < 1e-9), "temperature", value)
        for value in TEMPERATURE_CHOICES
    ]
    sizes = [
        button(_mark(context_label(size), size == prefs.num_ctx), "context", size)
        for size in prefs.context_choices()
    ]
    rows = [temperatures, *(sizes[start : start + 4] for start in range(0, len(sizes), 4))]
    if prefs.can_think:
        key = "button_thinking_on" if prefs.think else "button_thinking_off"
        rows.append([button(say(key, lang), "thinking", "off" if prefs.think else "on")])
    key = "button_footer_on" if prefs.footer else "button_footer_off"
    rows.append([button(say(key, lang), "footer", "off" if prefs.footer else "on")])
    rows.append([button(say("button_settings_reset", lang))])
    return InlineKeyboardMarkup(rows)


def settings_text(prefs: Preferences, lang: str | None) -> str:
    """What each setting is now, and how to type any value."""

    def source(name: str) -> str:
        return "" if name in prefs.changed else say("settings_default_mark", lang)

    thinking = (
        say("settings_on" if prefs.think else "settings_off", lang) + source("think")
        if prefs.can_think
        else say("settings_cannot_think", lang)
    )
    chosen = VOICE_LANGUAGES.get(prefs.voice_language or "")
    voice = chosen[1] if chosen else say("settings_voice_auto", lang)
    return (
        say(
            "settings",
            lang,
            model=prefs.model or say("status_unknown", lang),
            temperature=f"{prefs.temperature:.1f}{source('temperature')}",
            context=f"{prefs.num_ctx}{source('num_ctx')}",
            context_max=prefs.num_ctx_max,
            thinking=thinking,
            footer=say("settings_on" if prefs.footer else "settings_off", lang) + source("footer"),
        )
        + "\n\n"
        + say("settings_voice", lang, language=voice)
    )


def refusal_text(refusal: Refusal, name: str, lang: str | None) -> str:
    """Why a value was refused, with the allowed range."""
    match refusal.problem:
        case SettingProblem.UNKNOWN_SETTING:
            return say("settings_unknown", lang, name=name)
        case SettingProblem.OUT_OF_RANGE:
            return say("settings_out_of_range", lang, name=name, low=refusal.low, high=refusal.high)
        case SettingProblem.NOT_ON_OFF:
            return say("settings_not_on_off", lang, name=name)
        case SettingProblem.CANNOT_THINK:
            return say("settings_cannot_think_refused", lang)
        case SettingProblem.MODEL_UNKNOWN:
            return say("settings_model_unknown", lang)
        case SettingProblem.UNKNOWN_LANGUAGE:
            return say("settings_voice_unknown", lang, languages=", ".join(VOICE_LANGUAGES))


class SettingsHandlers(Speaking):
    """Callbacks for /settings and its buttons."""

    def __init__(self, preferences: PreferenceService, langs: LanguageChoices) -> None:
        super().__init__(langs)
        self._preferences = preferences

    async def on_settings(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/settings shows the keyboard; /settings NAME VALUE sets one; /settings reset."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        lang = self._lang(user)
        name, _, value = command_text(message.text).partition(" ")
        if name.lower() == "reset":
            await self._preferences.reset(profile_of(user))
            note = say("settings_reset_done", lang)
        elif name and not value.strip():
            await message.reply_text(say("settings_usage", lang))
            return
        elif name:
            refusal = await self._preferences.change(profile_of(user), name, value)
            if refusal is not None:
                await message.reply_text(refusal_text(refusal, name, lang))
                return
            note = say("settings_saved", lang)
        else:
            note = ""
        text, keyboard = await self._view(user, note)
        await message.reply_text(text, reply_markup=keyboard)

    async def on_settings_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A press on a preset, a switch, or Reset."""
        query, user = update.callback_query, update.effective_user
        if query is None or user is None:
            return
        lang = self._lang(user)
        if (pressed := await read_press(query, SettingsButton.parse, lang)) is None:
            return
        if pressed.owner != user.id:  # in a group: someone else's menu
            await refuse_not_yours(query, "/settings", lang)
            return
        name, value = pressed.name or "", pressed.value
        if pressed.name is None:
            await self._preferences.reset(profile_of(user))
            note = say("settings_reset_done", lang)
        else:
            refusal = await self._preferences.change(profile_of(user), name, value)
            if refusal is not None:  # e.g. the user switched to a model that cannot think
                await answer(query, refusal_text(refusal, name, lang), alert=True)
                text, keyboard = await self._view(user, "")
                await edit_quietly(query.edit_message_text(text, reply_markup=keyboard))
                return
            note = say("settings_saved", lang)
        await answer(query, note)
        text, keyboard = await self._view(user, "")
        await edit_quietly(query.edit_message_text(text, reply_markup=keyboard))

    async def _view(self, user: User, note: str) -> tuple[str, InlineKeyboardMarkup]:
        prefs = await self._preferences.view(user.id)
        text = settings_text(prefs, self._lang(user))
        return (f"{note}\n\n{text}" if note else text), settings_keyboard(
            prefs, self._lang(user), user.id
        )
