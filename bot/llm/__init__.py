"""Model backends: typed records (types), the Ollama gateway (ollama).

Each backend module is the only importer of its client library; everything above this package
sees only bot.llm.types and the LLMError family.
"""

from __future__ import annotations

from bot.llm.ollama import OllamaGateway
from bot.llm.types import (
    AnswerDone,
    ChatEvent,
    ChatMessage,
    InstalledModel,
    LoadedModel,
    ModelFacts,
    PullStatus,
    TextDelta,
    ThinkingDelta,
)

__all__ = [
    "AnswerDone",
    "ChatEvent",
    "ChatMessage",
    "InstalledModel",
    "LoadedModel",
    "ModelFacts",
    "OllamaGateway",
    "PullStatus",
    "TextDelta",
    "ThinkingDelta",
]
