"""Who may use the bot: pure rules, and the gate that applies them before any handler runs."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from telegram import Update
from telegram.constants import ChatType
from telegram.error import RetryAfter, TelegramError
from telegram.ext import ApplicationHandlerStop, ContextTypes, ExtBot

from bot.refusals import RefusalMemory
from bot.telegram.pacing import OVERALL_CALLS, Pace, SendBudget
from bot.texts import say

log = logging.getLogger(__name__)

# Refusals may take a third of Telegram's overall budget at most: what allowed users wait for
# keeps the rest, however many strangers write.
SPARE_FOR_ALLOWED = OVERALL_CALLS * 2 // 3


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    """Allowed users chat; admins are always allowed; groups must be listed."""

    allowed_users: frozenset[int]
    admins: frozenset[int]
    allowed_chats: frozenset[int]

    def may_chat(self, user_id: int) -> bool:
        """True for users on the allow-list and for admins."""
        return user_id in self.allowed_users or user_id in self.admins

    def is_admin(self, user_id: int) -> bool:
        """True for users who may pull and remove models."""
        return user_id in self.admins

    def chat_open(self, chat_id: int, chat_type: str) -> bool:
        """Private chats are always open; groups only when listed."""
        return chat_type == ChatType.PRIVATE or chat_id in self.allowed_chats


class AccessGate:
    """The first handler group: stops every update from someone not allowed, and every update
    from a Business account the bot is connected to.

    A stranger is told their id at most once per RefusalMemory window, and the telling never
    holds up the gate: it goes out in the background, only when Telegram's overall budget has
    room to spare, and is dropped (not retried) when Telegram pushes back. A flood of strangers
    then costs the people allowed in nothing.
    """

    def __init__(
        self, policy: AccessPolicy, budget: SendBudget, refusals: RefusalMemory | None = None
    ) -> None:
        self._policy = policy
        self._budget = budget
        # Not `refusals or …`: an empty memory is falsy.
        self._refusals = RefusalMemory() if refusals is None else refusals

    async def __call__(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Let allowed users through; tell others their id (in private, or on a button)."""
        if from_business_account(update):
            raise ApplicationHandlerStop
        user, chat = update.effective_user, update.effective_chat
        if user is None or chat is None:
            raise ApplicationHandlerStop
        if not self._policy.chat_open(chat.id, chat.type):
            log.info("ignored an update from chat %s, which is not in ALLOWED_CHAT_IDS", chat.id)
            raise ApplicationHandlerStop
        if self._policy.may_chat(user.id):
            return
        refusal = say("not_allowed", user.language_code, user_id=user.id)
        if (query := update.callback_query) is not None:
            # Every press is answered, or the stranger's button spins until Telegram gives up;
            # an answer is no message in the chat, so it costs the others nothing.
            told = self._refusals.claim(user.id)
            answer = self._answer(context, query.id, refusal if told else None)
            context.application.create_task(answer, name="ollagram-refusal")
        elif chat.type == ChatType.PRIVATE and update.effective_message is not None:
            tell = partial(self._message, context, chat.id, refusal)
            self._refuse(context, user.id, tell, budget=True)
        raise ApplicationHandlerStop

    def _refuse(
        self,
        context: ContextTypes.DEFAULT_TYPE,
        user_id: int,
        tell: Callable[[], Coroutine[Any, Any, None]],
        *,
        budget: bool = False,
    ) -> None:
        if not self._refusals.claim(user_id):
            return  # told within the window: silence
        if budget and not self._budget.try_take(spare=SPARE_FOR_ALLOWED):
            self._refusals.release(user_id)  # never sent: a later message may be told
            log.info("refusal to user %s dropped: Telegram's budget is for allowed users", user_id)
            return
        log.info("refused user %s (add the id to ALLOWED_USER_IDS to let them in)", user_id)
        context.application.create_task(tell(), name="ollagram-refusal")

    async def _message(self, context: ContextTypes.DEFAULT_TYPE, chat_id: int, text: str) -> None:
        with _told_or_dropped(chat_id):
            # PREPAID: the budget is taken, and a chat told once in minutes needs no pacing.
            bot: ExtBot[Any] = context.bot
            await bot.send_message(chat_id, text, rate_limit_args=Pace.PREPAID)

    async def _answer(
        self, context: ContextTypes.DEFAULT_TYPE, query_id: str, text: str | None
    ) -> None:
        with _told_or_dropped(None):
            await context.bot.answer_callback_query(query_id, text)


def from_business_account(update: Update) -> bool:
    """True for the business_* updates: messages to and from a Business account the bot is
    connected to belong to its owner's chats, not to the bot's."""
    return any(
        item is not None
        for item in (
            update.business_connection,
            update.business_message,
            update.edited_business_message,
            update.deleted_business_messages,
        )
    )


@contextlib.contextmanager
def _told_or_dropped(chat_id: int | None) -> Iterator[None]:
    """A refusal is sent once: Telegram pushing back (429) or failing drops it, logged."""
    try:
        yield
    except RetryAfter:
        log.info("Telegram is busy: a refusal (chat %s) is dropped", chat_id)
    except TelegramError as err:
        log.info("could not send a refusal (chat %s): %s", chat_id, err)
