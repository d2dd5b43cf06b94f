"""The Bot methods an answer is written with (PTB's ExtBot has them), as a Protocol: the
writers and AnswerStream take any bot that has them, so a test can hand them its own."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from telegram import (
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    ReplyParameters,
)

from bot.telegram.pacing import Pace


class AnswerBot(Protocol):
    """The Bot methods an answer is written with (PTB's ExtBot has them)."""

    async def send_message_draft(
        self,
        chat_id: int,
        draft_id: int,
        text: str | None = None,
        message_thread_id: int | None = None,
        *,
        entities: Sequence[MessageEntity] | None = None,
        rate_limit_args: Pace | None = None,
        api_kwargs: dict[str, Any] | None = None,
    ) -> bool: ...

    async def send_message(
        self,
        chat_id: int | str,
        text: str,
        *,
        message_thread_id: int | None = None,
        entities: Sequence[MessageEntity] | None = None,
        link_preview_options: LinkPreviewOptions | None = None,
        reply_parameters: ReplyParameters | None = None,
        reply_markup: InlineKeyboardMarkup | None = None,
        rate_limit_args: Pace | None = None,
    ) -> Message: ...

    async def edit_message_text(
        self,
        text: str,
        chat_id: str | int | None = None,
        message_id: int | None = None,
        *,
        entities: Sequence[MessageEntity] | None = None,
        link_preview_options: LinkPreviewOptions | None = None,
        reply_markup: InlineKeyboardMarkup | None = None,
        rate_limit_args: Pace | None = None,
    ) -> Message | bool: ...

    async def send_chat_action(
        self, chat_id: str | int, action: str, message_thread_id: int | None = None
    ) -> bool: ...

    async def edit_forum_topic(
        self, chat_id: str | int, message_thread_id: int, name: str | None = None
    ) -> bool: ...

    async def edit_message_reply_markup(
        self,
        chat_id: str | int | None = None,
        message_id: int | None = None,
        *,
        reply_markup: InlineKeyboardMarkup | None = None,
    ) -> Message | bool: ...
