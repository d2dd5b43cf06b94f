"""What every model backend returns: small typed records, no client library types."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message of the list sent to `/api/chat`; `images` are JPEG/PNG bytes."""

    role: str
    content: str
    images: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the answer as the model wrote it."""

    content: str


@dataclass(frozen=True, slots=True)
class ThinkingDelta:
    """A piece of a thinking model's reasoning, written before its answer."""

    content: str


@dataclass(frozen=True, slots=True)
class AnswerDone:
    """The last event of an answer: why it ended and Ollama's figures."""

    done_reason: str | None = None
    prompt_eval_count: int | None = None
    eval_count: int | None = None
    total_duration_ns: int | None = None
    eval_duration_ns: int | None = None


ChatEvent = TextDelta | ThinkingDelta | AnswerDone


@dataclass(frozen=True, slots=True)
class PullStatus:
    """One line of `/api/pull`: a status, and for a layer its digest and byte counts."""

    status: str
    digest: str | None = None
    total: int | None = None
    completed: int | None = None


@dataclass(frozen=True, slots=True)
class LoadedModel:
    """A model in memory, from `/api/ps`."""

    name: str
    size_bytes: int
    vram_bytes: int
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class InstalledModel:
    """A model from `/api/tags`."""

    name: str
    size_bytes: int
    family: str = ""
    parameter_size: str = ""
    quantization: str = ""
    location: str = ""  # which server has it, when there are several (names joined by ", ")


@dataclass(frozen=True, slots=True)
class ModelFacts:
    """What `/api/show` says about a model that the bot uses."""

    context_length: int | None
    capabilities: frozenset[str] = field(default_factory=frozenset)
    architecture: str = ""  # model_info's general.architecture: llama, gemma3, qwen25vl…
