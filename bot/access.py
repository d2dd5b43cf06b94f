"""Who may use the bot: pure rules, and the gate that applies them before any handler runs."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from telegram import Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.texts import say

log = logging.getLogger(__name__)


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
    """The first handler group: stops every update from someone not allowed."""

    def __init__(self, policy: AccessPolicy) -> None:
        self._policy = policy

    async def __call__(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Let allowed users through; tell others their id once per message, in private only."""
        user, chat = update.effective_user, update.effective_chat
        if user is None or chat is None:
            raise ApplicationHandlerStop
        if not self._policy.chat_open(chat.id, chat.type):
            log.info("ignored an update from chat %s, which is not in ALLOWED_CHAT_IDS", chat.id)
            raise ApplicationHandlerStop
        if self._policy.may_chat(user.id):
            return
        log.info("refused user %s (add the id to ALLOWED_USER_IDS to let them in)", user.id)
        refusal = say("not_allowed", user.language_code, user_id=user.id)
        try:
            if update.callback_query is not None:
                await update.callback_query.answer(refusal)
            elif chat.type == ChatType.PRIVATE and update.effective_message is not None:
                await update.effective_message.reply_text(refusal)
        except TelegramError as err:
            log.info("could not tell user %s they are not allowed: %s", user.id, err)
        finally:
            # Whatever happened to the refusal, nothing else may run for this update.
            raise ApplicationHandlerStop
