"""The records the bot passes between its parts: users, their settings, conversations' messages,
roles, figures. Plain frozen dataclasses; the database (bot.store) reads and writes them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

MessageRole = Literal["user", "assistant"]
# `interrupted`: the answer was still being written when the process died (kill -9, power cut);
# its text is what the last checkpoint saved.
AnswerStatus = Literal["complete", "stopped", "error", "interrupted"]
# The per-user settings a caller may change one at a time (columns of user_settings).
SettingName = Literal[
    "model",
    "role",
    "temperature",
    "num_ctx",
    "think",
    "footer",
    "compare_models",
    "language",
    "voice_language",
]
SettingValue = str | float | int | bool | None


@dataclass(frozen=True, slots=True)
class UserProfile:
    """What Telegram tells about a user, refreshed on each message."""

    id: int
    first_name: str = ""
    username: str | None = None
    language_code: str | None = None


@dataclass(frozen=True, slots=True)
class UserSettings:
    """A user's own choices; None means "use the configured default"."""

    model: str | None = None
    role: str | None = None
    temperature: float | None = None
    num_ctx: int | None = None
    think: bool | None = None
    footer: bool | None = None
    compare_models: tuple[str, ...] = ()
    language: str | None = None
    voice_language: str | None = None  # the language voice messages are heard in; None: any

    def within(self, place: ConversationPlace | None) -> UserSettings:
        """These settings in the conversation at `place`: its own model and role over them."""
        if place is None:
            return self
        return replace(self, model=place.model or self.model, role=place.role or self.role)


@dataclass(frozen=True, slots=True)
class AnswerFigures:
    """Ollama's counts and durations for one answer."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_duration_ns: int | None = None
    eval_duration_ns: int | None = None


@dataclass(frozen=True, slots=True)
class StoredRole:
    """A role added in the chat: shared (owner_id None) or private to its owner."""

    name: str
    prompt: str
    owner_id: int | None


@dataclass(frozen=True, slots=True)
class StoredImage:
    """An image as sent to the model (JPEG), named by its sha256."""

    sha256: str
    data: bytes
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One turn of a conversation as stored."""

    id: int
    role: MessageRole
    content: str
    status: AnswerStatus
    model: str | None
    images: tuple[StoredImage, ...] = ()
    done_reason: str | None = None  # an answer's, from the model server ("length": cut short)

    @property
    def can_continue(self) -> bool:
        """An answer the model may go on with: stopped, or cut at the longest it may write."""
        return self.role == "assistant" and (
            self.status == "stopped" or self.done_reason == "length"
        )


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    """One of a user's conversations in a chat, as /chats lists it."""

    id: int
    topic: int | None  # the private chat's topic it lives in (None: the chat itself)
    title: str | None  # None: not titled yet
    started_at: float
    last_at: float  # its newest message (its start when it has none)
    messages: int
    current: bool  # the one the chat itself continues


@dataclass(frozen=True, slots=True)
class ConversationPlace:
    """Where a conversation lives and what it was set to use there."""

    id: int
    chat_id: int
    user_id: int  # whose (a shared group thread: the chat's id)
    topic: int | None
    title: str | None
    model: str | None  # its own model (set in its topic); None: the user's
    role: str | None  # its own role; None: the user's
    buttons_message_id: int | None  # the message showing its last answer's buttons
    topic_owned: bool = False  # the bot opened its topic: the model's title may rename it


@dataclass(frozen=True, slots=True)
class ExportedMessage:
    """One message of a user's export."""

    conversation_id: int
    chat_id: int
    role: MessageRole
    content: str
    model: str | None
    status: AnswerStatus
    created_at: float
    images: int
    title: str | None = None  # the conversation's


@dataclass(frozen=True, slots=True)
class Usage:
    """What one user asked of the models."""

    user_id: int
    name: str
    answers: int
    prompt_tokens: int
    completion_tokens: int
    eval_duration_ns: int

    @property
    def tokens_per_second(self) -> float | None:
        """Average generation speed over all their answers."""
        if not self.completion_tokens or not self.eval_duration_ns:
            return None
        return self.completion_tokens / (self.eval_duration_ns / 1e9)


@dataclass(frozen=True, slots=True)
class DatabaseState:
    """What `inspect_database` found, without creating or changing anything."""

    exists: bool
    version: int = 0
    error: str | None = None
