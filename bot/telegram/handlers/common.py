"""What the handlers share: who the user is and which language they read, paged inline
keyboards, reading and answering button presses, command text."""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MaybeInaccessibleMessage,
    Message,
    Update,
    User,
)
from telegram.constants import ChatType
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.languages import LanguageChoices
from bot.models import Where
from bot.records import UserProfile
from bot.texts import say

log = logging.getLogger(__name__)

ANSWER_LIMIT = 200  # Telegram's limit for the text of answerCallbackQuery

Press = TypeVar("Press")


def profile_of(user: User) -> UserProfile:
    """What we keep about a Telegram user."""
    return UserProfile(
        id=user.id,
        first_name=user.first_name,
        username=user.username,
        language_code=user.language_code,
    )


def page_count(items: int, per_page: int) -> int:
    """How many pages `items` buttons take (at least one)."""
    return max(math.ceil(items / per_page), 1)


def paged_keyboard(
    buttons: Sequence[InlineKeyboardButton],
    page: int,
    *,
    per_page: int,
    columns: int = 1,
    page_data: Callable[[int], str],
    extra_rows: Sequence[Sequence[InlineKeyboardButton]] = (),
) -> InlineKeyboardMarkup:
    """This page's buttons, `columns` to a row, then ◀ n/m ▶ (their callback data from
    `page_data`) when there is more than one page, then `extra_rows`."""
    pages = page_count(len(buttons), per_page)
    page = min(max(page, 0), pages - 1)
    shown = list(buttons[page * per_page : (page + 1) * per_page])
    rows = [shown[i : i + columns] for i in range(0, len(shown), columns)]
    if pages > 1:
        rows.append(
            [
                InlineKeyboardButton(
                    say("button_previous"), callback_data=page_data((page - 1) % pages)
                ),
                InlineKeyboardButton(
                    say("button_page", page=page + 1, pages=pages), callback_data=page_data(page)
                ),
                InlineKeyboardButton(
                    say("button_next"), callback_data=page_data((page + 1) % pages)
                ),
            ]
        )
    rows.extend(list(row) for row in extra_rows)
    return InlineKeyboardMarkup(rows)


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, the cut marked with "…"."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def topic_of(message: Message | MaybeInaccessibleMessage | None) -> int | None:
    """The private chat's topic a message is in (its conversation's); None outside topics and
    in groups (where answers reply to the question, which keeps them in its topic)."""
    if not isinstance(message, Message) or message.chat.type != ChatType.PRIVATE:
        return None
    return message.message_thread_id if message.is_topic_message else None


def where_of(message: Message | MaybeInaccessibleMessage | None) -> Where | None:
    """The private chat and topic a message is in, whose conversation may have its own model
    and role; None in groups."""
    if message is None or message.chat.type != ChatType.PRIVATE:
        return None
    return (message.chat.id, topic_of(message))


async def answer(query: CallbackQuery, text: str = "", *, alert: bool = False) -> None:
    """Answer a button press once (Telegram shows at most 200 characters of it)."""
    text = clip(text, ANSWER_LIMIT)
    await query.answer(text or None, show_alert=alert and bool(text))


def command_text(text: str | None) -> str:
    """What follows the command in a message, newlines kept (`context.args` drops them)."""
    parts = (text or "").split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


async def refuse_button(query: CallbackQuery, lang: str | None) -> None:
    """Answer a press whose data no menu of this bot makes now (an old client, a cut or forged
    button) with an alert; nothing else is done for it."""
    await answer(query, say("button_expired", lang), alert=True)


async def read_press(
    query: CallbackQuery, parse: Callable[[str | None], Press | None], lang: str | None
) -> Press | None:
    """The press as `parse` (a button kind of bot.telegram.buttons) reads its data; None, the
    press refused, when the data is none this bot makes now."""
    if (pressed := parse(query.data)) is None:
        await refuse_button(query, lang)
    return pressed


async def refuse_not_yours(query: CallbackQuery, command: str, lang: str | None) -> None:
    """Answer a press on someone else's menu (in a group) with an alert naming the command that
    opens one's own."""
    await answer(query, say("menu_not_yours", lang, command=command), alert=True)


async def edit_quietly(edit: Awaitable[object]) -> None:
    """Await an edit of a menu after its press was answered. "Message is not modified" (the
    same button pressed twice) is no error; a menu Telegram will not change (gone, too old, not
    the bot's) stays as it is."""
    try:
        await edit
    except BadRequest as err:
        if "not modified" not in err.message.lower():
            log.info("a menu was not changed: %s", err.message)


class Speaking:
    """A handler class that speaks each user's language (their /lang choice, else Telegram's)."""

    def __init__(self, langs: LanguageChoices) -> None:
        self._langs = langs

    def _lang(self, user: User | None) -> str | None:
        return None if user is None else self._langs.of(user.id, user.language_code)


class UnknownButtons(Speaking):
    """Presses no other handler takes: answered, so the user's app stops waiting for them."""

    async def on_press(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Any press of a button this bot does not make (or no longer makes)."""
        if (query := update.callback_query) is not None:
            await refuse_button(query, self._lang(update.effective_user))
