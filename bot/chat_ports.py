"""What ChatService takes (a Question) and what it needs from the rest of the bot: the database,
the model server, the model and role choices. The answer's own way to the user, AnswerSink, is
bot.model_stream's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from bot.context import AttachedText
from bot.llm.types import ChatEvent, ChatMessage, InstalledModel, ModelFacts
from bot.models import ModelChoice
from bot.records import (
    AnswerFigures,
    AnswerStatus,
    ConversationPlace,
    MessageRole,
    SettingName,
    SettingValue,
    StoredImage,
    StoredMessage,
    UserProfile,
    UserSettings,
)
from bot.roles import Role
from bot.threads import ThreadStore


@dataclass(frozen=True, slots=True)
class Question:
    """A message to answer: who asked, where, and what (with photos or a document's text)."""

    chat_id: int
    user: UserProfile
    text: str
    images: tuple[StoredImage, ...] = ()
    document: AttachedText | None = None
    topic: int | None = None  # the private chat's topic it was asked in (its conversation's)


# Fetches what a message carries (downloads, decodes) once its turn has come; None when there
# is nothing to answer after all (the loader told the user why).
QuestionLoader = Callable[[], Awaitable[Question | None]]


class HistoryStore(ThreadStore, Protocol):
    """What ChatService needs from the database."""

    async def remember_user(self, profile: UserProfile) -> None: ...
    async def user_settings(self, user_id: int) -> UserSettings: ...
    async def forget_model(self, user_id: int, model: str) -> None: ...
    async def set_setting(self, user_id: int, name: SettingName, value: SettingValue) -> None: ...
    async def current_conversation(
        self, chat_id: int, user_id: int, topic: int | None = None
    ) -> int: ...
    async def find_conversation(
        self, chat_id: int, user_id: int, topic: int | None = None
    ) -> int | None: ...
    async def settings_in(
        self, user_id: int, chat_id: int | None = None, topic: int | None = None
    ) -> UserSettings: ...
    async def conversation_place(self, conversation_id: int) -> ConversationPlace | None: ...
    async def conversation_of_message(self, message_id: int) -> int | None: ...
    async def rename_conversation(
        self, conversation_id: int, title: str, *, if_untitled: bool = False
    ) -> bool: ...
    async def set_conversation_choice(
        self, conversation_id: int, name: Literal["model", "role"], value: str | None
    ) -> None: ...
    async def drop_message(self, message_id: int) -> None: ...
    async def switch_conversation(
        self, chat_id: int, user_id: int, conversation_id: int
    ) -> bool: ...
    async def delete_conversation(self, conversation_id: int) -> None: ...
    async def context_start(self, conversation_id: int) -> int | None: ...
    async def set_context_start(self, conversation_id: int, message_id: int) -> None: ...
    async def new_conversation(
        self,
        chat_id: int,
        user_id: int,
        topic: int | None = None,
        *,
        title: str | None = None,
        topic_owned: bool = False,
    ) -> int: ...
    async def new_conversations(self, user_id: int) -> None: ...
    async def remember_shared_thread(self, chat_id: int) -> None: ...
    async def recent_messages(
        self, conversation_id: int, limit: int
    ) -> Sequence[StoredMessage]: ...
    async def add_message(
        self,
        conversation_id: int,
        role: MessageRole,
        content: str,
        *,
        model: str | None = None,
        status: AnswerStatus = "complete",
        images: Sequence[StoredImage] = (),
        author_id: int | None = None,
    ) -> int: ...
    async def save_partial(self, message_id: int, content: str) -> None: ...
    async def finish_answer(
        self,
        message_id: int,
        content: str,
        status: AnswerStatus,
        figures: AnswerFigures,
        done_reason: str | None = None,
        *,
        added: bool = False,
    ) -> None: ...


class ChatModel(Protocol):
    """What ChatService needs from the model server."""

    host: str

    def chat(
        self,
        model: str,
        messages: Sequence[ChatMessage],
        *,
        options: Mapping[str, Any] | None = None,
        think: bool | None = None,
        keep_alive: str | int | None = None,
    ) -> AsyncIterator[ChatEvent]: ...
    def generate(
        self,
        model: str,
        prompt: str,
        *,
        system: str | None = None,
        options: Mapping[str, Any] | None = None,
        think: bool | None = None,
        keep_alive: str | int | None = None,
    ) -> AsyncIterator[ChatEvent]: ...
    async def model_facts(self, model: str) -> ModelFacts: ...
    async def size_if_unloaded(self, model: str) -> int | None: ...
    async def preload(
        self,
        model: str,
        *,
        options: Mapping[str, Any] | None = None,
        keep_alive: str | int | None = None,
    ) -> None: ...


class ModelChooser(Protocol):
    """Which model answers a user (bot.models.ModelCatalog)."""

    async def model_for(self, chosen: str | None, *, vision: bool = False) -> ModelChoice: ...
    async def vision_model_for(self, chosen: str | None) -> str: ...
    async def chat_models(self, *, fresh: bool = False) -> list[InstalledModel]: ...


class RoleChooser(Protocol):
    """Which role a user's answers use (bot.roles.RoleBook)."""

    async def current(self, user_id: int, chosen: str | None) -> Role: ...
    async def find(self, user_id: int, name: str) -> Role | None: ...
