"""Model backends: typed records (types), one module per kind of server (ollama,
openai_compat), and the router that puts several servers behind one gateway (router).

Each backend module is the only importer of its client library; everything above this package
sees only bot.llm.types and the LLMError family.
"""

from __future__ import annotations

from bot.llm.ollama import OllamaGateway
from bot.llm.openai_compat import OpenAICompatibleGateway
from bot.llm.router import Backend, BackendReport, ModelRouter
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
    "Backend",
    "BackendReport",
    "ChatEvent",
    "ChatMessage",
    "InstalledModel",
    "LoadedModel",
    "ModelFacts",
    "ModelRouter",
    "OllamaGateway",
    "OpenAICompatibleGateway",
    "PullStatus",
    "TextDelta",
    "ThinkingDelta",
]
