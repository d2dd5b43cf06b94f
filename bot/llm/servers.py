"""The configured model servers, built from the settings: the only place that makes gateways."""

from __future__ import annotations

from bot.config import Settings
from bot.llm.backend import Backend
from bot.llm.ollama import OllamaGateway
from bot.llm.openai_compat import OpenAICompatibleGateway, SpeechServer
from bot.llm.router import ModelRouter


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


def speech_server(settings: Settings) -> SpeechServer | None:
    """The transcription server of TRANSCRIBE_BASE_URL, if one is set."""
    if not settings.transcribe_base_url:
        return None
    key = settings.transcribe_api_key.get_secret_value() if settings.transcribe_api_key else None
    return SpeechServer(
        settings.transcribe_base_url,
        settings.transcribe_model,
        api_key=key,
        timeout_s=settings.ollama_timeout,
    )
