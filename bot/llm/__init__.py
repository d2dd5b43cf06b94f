"""Model backends: typed records (types), what a server offers (backend), one module per kind
of server (ollama, openai_compat), and the router that puts several servers behind one gateway
(router), resting those that do not answer (health).

Each backend module is the only importer of its client library; everything above this package
sees only bot.llm.types and the LLMError family.
"""

from __future__ import annotations

from bot.config import Settings
from bot.llm.backend import Backend
from bot.llm.ollama import OllamaGateway
from bot.llm.openai_compat import OpenAICompatibleGateway
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


def model_servers(settings: Settings) -> ModelRouter:
    """Every configured model server behind one router: the Ollama hosts, then the
    OpenAI-compatible server if there is one."""
    backends: list[Backend] = [
        OllamaGateway(host, timeout_s=settings.ollama_timeout) for host in settings.ollama_hosts()
    ]
    if settings.openai_base_url:
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        backends.append(
            OpenAICompatibleGateway(
                settings.openai_base_url,
                api_key=key,
                name=settings.openai_name,
                timeout_s=settings.ollama_timeout,
            )
        )
    return ModelRouter(backends)


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
    "model_servers",
]
