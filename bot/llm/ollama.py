"""OllamaGateway: the one place that talks to an Ollama server.

The only module that imports `ollama` (and the `httpx` errors it lets through). Everything it
returns is a small typed record of ours (bot.llm.types); every failure leaves it as an
`LLMError`.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from bot.errors import (
    LLMError,
    ModelFailed,
    ModelNotFound,
    ModelPullFailed,
    ModelTimeout,
    OllamaUnavailable,
    StreamBroken,
)
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

# `import ollama` builds a client of its own from OLLAMA_HOST, which it reads as one address: our
# list of several servers ("http://a:11434,http://b:11434") would stop the import, and the bot,
# with a traceback. Nothing here uses that client (each gateway builds one for its host), so the
# import does not see the variable; it is put back for the bot's own settings.
_ollama_hosts = os.environ.pop("OLLAMA_HOST", None)
try:
    import ollama
finally:
    if _ollama_hosts is not None:
        os.environ["OLLAMA_HOST"] = _ollama_hosts

CONNECT_TIMEOUT_S = 10.0


def _context_length(model_info: Mapping[str, Any] | None) -> int | None:
    """`<architecture>.context_length` from `model_info`, if present."""
    if not model_info:
        return None
    arch = model_info.get("general.architecture")
    value = model_info.get(f"{arch}.context_length") if arch else None
    if value is None:  # some converters name the key differently: take any *.context_length
        value = next((v for k, v in model_info.items() if k.endswith(".context_length")), None)
    return int(value) if isinstance(value, int | float) else None


def _done(part: ollama.ChatResponse | ollama.GenerateResponse) -> AnswerDone:
    """Ollama's last line of an answer as our record."""
    return AnswerDone(
        done_reason=part.done_reason,
        prompt_eval_count=part.prompt_eval_count,
        eval_count=part.eval_count,
        total_duration_ns=part.total_duration,
        eval_duration_ns=part.eval_duration,
    )


def _error_text(err: ollama.ResponseError) -> str:
    """Ollama's own message, unwrapped from the JSON body when the client kept it raw."""
    text = str(err.error)
    try:
        decoded = json.loads(text)
    except ValueError:
        return text
    return str(decoded.get("error", text)) if isinstance(decoded, dict) else text


class OllamaGateway:
    """Typed access to one Ollama server at `host`."""

    kind = "Ollama"
    manages_models = True

    def __init__(self, host: str, *, timeout_s: float = 300.0) -> None:
        self.host = host
        self.name = urlsplit(host).netloc or host
        self._timeout_s = timeout_s
        self._client = ollama.AsyncClient(
            host=host, timeout=httpx.Timeout(timeout_s, connect=CONNECT_TIMEOUT_S)
        )
        # The client has no call for /api/version; a plain client asks it.
        self._http = httpx.AsyncClient(
            base_url=host, timeout=httpx.Timeout(CONNECT_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
        )
        self._facts: dict[str, ModelFacts] = {}

    async def close(self) -> None:
        """Close the HTTP connections."""
        await self._client.close()  # type: ignore[no-untyped-call]
        await self._http.aclose()

    def forget(self, model: str) -> None:
        """Drop what is cached about `model` (it was pulled again or removed)."""
        self._facts.pop(model, None)

    def _translate(self, err: Exception, model: str, *, streaming: bool) -> LLMError:
        if isinstance(err, ollama.ResponseError):
            if err.status_code == 404:
                return ModelNotFound(model, self.host)
            return ModelFailed(model, _error_text(err))
        if isinstance(err, httpx.ConnectError | httpx.ConnectTimeout | ConnectionError):
            return OllamaUnavailable(self.host)
        if isinstance(err, httpx.TimeoutException):
            return ModelTimeout(model, self.host, self._timeout_s)
        if streaming and isinstance(err, httpx.TransportError):
            return StreamBroken(self.host)
        if isinstance(err, httpx.TransportError):
            return OllamaUnavailable(self.host)
        return ModelFailed(model, str(err))

    async def chat(
        self,
        model: str,
        messages: Sequence[ChatMessage],
        *,
        options: Mapping[str, Any] | None = None,
        think: bool | None = None,
        keep_alive: str | int | None = None,
    ) -> AsyncIterator[ChatEvent]:
        """Stream an answer from `/api/chat`: thinking and text deltas, then one AnswerDone."""
        # The client sends image bytes base64-encoded, as /api/chat wants them.
        payload = [
            {
                "role": m.role,
                "content": m.content,
                **({"images": list(m.images)} if m.images else {}),
            }
            for m in messages
        ]
        try:
            stream = await self._client.chat(
                model=model,
                messages=payload,
                stream=True,
                options=dict(options) if options else None,
                think=think,
                keep_alive=keep_alive,
            )
            async for part in stream:
                if thinking := part.message.thinking:
                    yield ThinkingDelta(thinking)
                if content := part.message.content:
                    yield TextDelta(content)
                if part.done:
                    yield _done(part)
                    return
        except (ollama.ResponseError, httpx.HTTPError, ConnectionError) as err:
            raise self._translate(err, model, streaming=True) from err
        # The stream ended without Ollama's final line: the connection was cut.
        raise StreamBroken(self.host)

    async def generate(
        self,
        model: str,
        prompt: str,
        *,
        system: str | None = None,
        options: Mapping[str, Any] | None = None,
        think: bool | None = None,
        keep_alive: str | int | None = None,
    ) -> AsyncIterator[ChatEvent]:
        """Stream a one-shot answer from `/api/generate` (no history): same events as chat."""
        try:
            stream = await self._client.generate(
                model=model,
                prompt=prompt,
                system=system or "",  # "" is Ollama's "the model's own system prompt"
                stream=True,
                options=dict(options) if options else None,
                think=think,
                keep_alive=keep_alive,
            )
            async for part in stream:
                if part.thinking:
                    yield ThinkingDelta(part.thinking)
                if part.response:
                    yield TextDelta(part.response)
                if part.done:
                    yield _done(part)
                    return
        except (ollama.ResponseError, httpx.HTTPError, ConnectionError) as err:
            raise self._translate(err, model, streaming=True) from err
        raise StreamBroken(self.host)

    async def installed_models(self) -> list[InstalledModel]:
        """The models of `/api/tags`, in Ollama's order."""
        try:
            listing = await self._client.list()
        except (ollama.ResponseError, httpx.HTTPError, ConnectionError) as err:
            raise self._translate(err, "", streaming=False) from err
        models = []
        for entry in listing.models:
            details = entry.details
            models.append(
                InstalledModel(
                    name=entry.model or "",
                    size_bytes=int(entry.size or 0),
                    family=(details.family or "") if details else "",
                    parameter_size=(details.parameter_size or "") if details else "",
                    quantization=(details.quantization_level or "") if details else "",
                )
            )
        return models

    async def model_facts(self, model: str) -> ModelFacts:
        """Context length and capabilities of `model`, asked once and then cached."""
        if (cached := self._facts.get(model)) is not None:
            return cached
        try:
            shown = await self._client.show(model)
        except (ollama.ResponseError, httpx.HTTPError, ConnectionError) as err:
            raise self._translate(err, model, streaming=False) from err
        facts = ModelFacts(
            context_length=_context_length(shown.modelinfo),
            capabilities=frozenset(shown.capabilities or ()),
            architecture=str((shown.modelinfo or {}).get("general.architecture", "")),
        )
        self._facts[model] = facts
        return facts

    async def pull(self, model: str) -> AsyncIterator[PullStatus]:
        """Stream `/api/pull` progress; ends after Ollama's `success`."""
        last_status = ""
        try:
            stream = await self._client.pull(model, stream=True)
            async for part in stream:
                last_status = part.status or ""
                yield PullStatus(
                    status=last_status,
                    digest=part.digest,
                    total=part.total,
                    completed=part.completed,
                )
        except ollama.ResponseError as err:
            raise ModelPullFailed(model, _error_text(err)) from err
        except (httpx.HTTPError, ConnectionError) as err:
            raise self._translate(err, model, streaming=True) from err
        finally:
            self.forget(model)
        if last_status != "success":  # the stream stopped short of Ollama's last line
            raise StreamBroken(self.host)

    async def delete(self, model: str) -> None:
        """Remove `model` from the server; ModelNotFound if it is not there."""
        try:
            await self._client.delete(model)
        except (ollama.ResponseError, httpx.HTTPError, ConnectionError) as err:
            raise self._translate(err, model, streaming=False) from err
        finally:
            self.forget(model)

    async def loaded_models(self) -> list[LoadedModel]:
        """The models in memory now (`/api/ps`)."""
        try:
            listing = await self._client.ps()
        except (ollama.ResponseError, httpx.HTTPError, ConnectionError) as err:
            raise self._translate(err, "", streaming=False) from err
        return [
            LoadedModel(
                name=entry.model or entry.name or "",
                size_bytes=int(entry.size or 0),
                vram_bytes=int(entry.size_vram or 0),
                expires_at=entry.expires_at,
            )
            for entry in listing.models
        ]

    async def preload(
        self,
        model: str,
        *,
        options: Mapping[str, Any] | None = None,
        keep_alive: str | int | None = None,
    ) -> None:
        """Load `model` into memory without generating: Ollama's `/api/chat` with no messages.
        The runner options must be those of the questions to come, or they load it again."""
        try:
            await self._client.chat(
                model=model,
                messages=[],
                options=dict(options) if options else None,
                keep_alive=keep_alive,
            )
        except (ollama.ResponseError, httpx.HTTPError, ConnectionError) as err:
            raise self._translate(err, model, streaming=False) from err

    async def version(self) -> str:
        """Ollama's version (`/api/version`)."""
        try:
            response = await self._http.get("/api/version")
            response.raise_for_status()
            return str(response.json()["version"])
        except (httpx.HTTPError, ValueError, KeyError) as err:
            raise OllamaUnavailable(self.host) from err
