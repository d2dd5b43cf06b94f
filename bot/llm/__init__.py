"""Model backends: typed records (types), what a server offers (backend), one module per kind
of server (ollama, openai_compat), and the router that puts several servers behind one gateway
(router), resting those that do not answer (health).

Each backend module is the only importer of its client library; everything above this package
sees only bot.llm.types and the LLMError family. Importing the package loads neither client:
the gateways are built in bot.llm.servers, from the settings.
"""

from __future__ import annotations

from bot.llm.backend import Backend
from bot.llm.router import BackendReport, ModelRouter
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
    "PullStatus",
    "TextDelta",
    "ThinkingDelta",
]
