"""OpenAICompatibleGateway: LM Studio, llamafile, llama.cpp's server, vLLM… through `openai`.

The only module that imports `openai`. It speaks `/v1/models` and streamed
`/v1/chat/completions`; images go as data-URL content parts, and a reasoning stream that such
servers send as `reasoning_content` (or `reasoning`) arrives as thinking, like Ollama's. Those
servers manage their models in their own app, so /pull and /rm are refused here.

SpeechServer is the same client for `/v1/audio/transcriptions` (speaches/faster-whisper-server,
whisper.cpp's server, LocalAI, vLLM): a WAV in, its text out.
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import openai
from openai.types.audio import Transcription
from openai.types.chat import ChatCompletionChunk
from openai.types.chat.chat_completion_chunk import ChoiceDelta

from bot.errors import (
    LLMError,
    ManagedElsewhere,
    ModelFailed,
    ModelNotFound,
    ModelTimeout,
    ServerUnavailable,
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

REASONING_FIELDS = ("reasoning_content", "reasoning")
CONNECT_TIMEOUT_S = 10.0


def _content(message: ChatMessage) -> str | list[dict[str, Any]]:
    """Text, or text plus images as data URLs (the OpenAI vision format)."""
    if not message.images:
        return message.content
    parts: list[dict[str, Any]] = [{"type": "text", "text": message.content}]
    for image in message.images:
        url = "data:image/jpeg;base64," + base64.b64encode(image).decode("ascii")
        parts.append({"type": "image_url", "image_url": {"url": url}})
    return parts


class OpenAICompatibleGateway:
    """Typed access to one OpenAI-compatible server at `host` (its `/v1` base URL)."""

    kind = "OpenAI-compatible"
    manages_models = False

    def __init__(
        self,
        host: str,
        *,
        api_key: str | None = None,
        name: str | None = None,
        timeout_s: float = 300.0,
    ) -> None:
        self.host = host
        self.name = name or urlsplit(host).netloc or host
        self._timeout_s = timeout_s
        self._client = openai.AsyncOpenAI(
            base_url=host,
            # Local servers ignore the key, but the client insists on one.
            api_key=api_key or "not-needed",
            timeout=openai.Timeout(timeout_s, connect=CONNECT_TIMEOUT_S),
            max_retries=0,
        )

    async def close(self) -> None:
        """Close the HTTP connections."""
        await self._client.close()

    def forget(self, model: str) -> None:
        """Nothing is cached per model here."""

    def _translate(self, err: Exception, model: str, *, streaming: bool) -> LLMError:
        if isinstance(err, openai.APITimeoutError):
            return ModelTimeout(model, self.host, self._timeout_s)
        if isinstance(err, openai.APIConnectionError):
            return StreamBroken(self.host) if streaming else ServerUnavailable(self.host)
        if isinstance(err, openai.NotFoundError):
            return ModelNotFound(model, self.name)
        if isinstance(err, openai.APIStatusError):
            return ModelFailed(model, _error_text(err))
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
        """Stream `/v1/chat/completions`: thinking and text deltas, then one AnswerDone.
        `think` and `keep_alive` are Ollama's; such servers decide those themselves."""
        started = time.monotonic()
        first_token: float | None = None
        stream = await self._open_stream(model, messages, options or {})
        async for event in self._read_stream(stream, model):
            if not isinstance(event, AnswerDone):
                first_token = first_token or time.monotonic()
                yield event
                continue
            ended = time.monotonic()
            # The API has no timings: measured here, from the request and from the first token.
            yield replace(
                event,
                total_duration_ns=int((ended - started) * 1e9),
                eval_duration_ns=int((ended - (first_token or ended)) * 1e9) or None,
            )

    async def _open_stream(
        self, model: str, messages: Sequence[ChatMessage], options: Mapping[str, Any]
    ) -> openai.AsyncStream[ChatCompletionChunk]:
        """The streamed completion, started (nothing read yet); failures to start translated."""
        temperature = options.get("temperature")
        longest = options.get("num_predict")  # Ollama's name for max_tokens
        try:
            # Plain dicts, as the API takes them (the client's TypedDicts are only hints).
            stream: openai.AsyncStream[ChatCompletionChunk]
            stream = await self._client.chat.completions.create(  # type: ignore[call-overload]
                model=model,
                messages=[{"role": m.role, "content": _content(m)} for m in messages],
                stream=True,
                stream_options={"include_usage": True},
                temperature=openai.omit if temperature is None else float(temperature),
                max_tokens=openai.omit if longest is None else int(longest),
            )
        except openai.APITimeoutError as err:  # a subclass of APIConnectionError: first
            raise ModelTimeout(model, self.host, self._timeout_s) from err
        except openai.APIConnectionError as err:
            raise ServerUnavailable(self.host) from err
        except openai.OpenAIError as err:
            raise self._translate(err, model, streaming=False) from err
        return stream

    async def _read_stream(
        self, stream: openai.AsyncStream[ChatCompletionChunk], model: str
    ) -> AsyncIterator[ChatEvent]:
        """The stream's thinking and text deltas, then one AnswerDone with how it ended and the
        token counts (without timings); StreamBroken if it stopped before a finish reason."""
        done = AnswerDone()
        finished = False
        try:
            async for chunk in stream:
                if chunk.usage is not None:
                    done = replace(
                        done,
                        prompt_eval_count=chunk.usage.prompt_tokens,
                        eval_count=chunk.usage.completion_tokens,
                    )
                for choice in chunk.choices:
                    for event in _deltas(choice.delta):
                        yield event
                    if choice.finish_reason is not None:
                        finished = True
                        done = replace(done, done_reason=choice.finish_reason)
        except openai.OpenAIError as err:
            raise self._translate(err, model, streaming=True) from err
        if not finished:
            raise StreamBroken(self.host)
        yield done

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
        """A one-shot answer: the chat endpoint with just the system prompt and the prompt
        (the old `/v1/completions` is not served by all of them)."""
        messages = [ChatMessage("system", system)] if system else []
        messages.append(ChatMessage("user", prompt))
        async for event in self.chat(model, messages, options=options):
            yield event

    async def installed_models(self) -> list[InstalledModel]:
        """The models of `/v1/models`."""
        try:
            page = await self._client.models.list()
        except openai.OpenAIError as err:
            raise ServerUnavailable(self.host) from err
        return [InstalledModel(name=model.id, size_bytes=0) async for model in page]

    async def model_facts(self, model: str) -> ModelFacts:
        """Nothing beyond the name is known: no context length, no capabilities (both are
        then taken as unknown, never as missing)."""
        return ModelFacts(context_length=None)

    def pull(self, model: str) -> AsyncIterator[PullStatus]:
        """Models are added in the server's own app."""
        raise ManagedElsewhere(self.name)

    async def delete(self, model: str) -> None:
        """Models are removed in the server's own app."""
        raise ManagedElsewhere(self.name)

    async def loaded_models(self) -> list[LoadedModel]:
        """The API does not say what is loaded."""
        return []

    async def preload(
        self,
        model: str,
        *,
        options: Mapping[str, Any] | None = None,
        keep_alive: str | int | None = None,
    ) -> None:
        """The API has no way to load a model ahead of use: the first question does."""

    async def version(self) -> str:
        """There is no version call: a reachable server answers `/v1/models`."""
        await self.installed_models()
        return self.kind


def _deltas(delta: ChoiceDelta) -> list[ChatEvent]:
    """What one chunk's delta adds: reasoning (under one of REASONING_FIELDS) as thinking,
    then text."""
    extra = delta.model_extra or {}
    thinking = next((extra[f] for f in REASONING_FIELDS if extra.get(f)), None)
    events: list[ChatEvent] = []
    if isinstance(thinking, str) and thinking:
        events.append(ThinkingDelta(thinking))
    if delta.content:
        events.append(TextDelta(delta.content))
    return events


class SpeechServer:
    """Typed access to an OpenAI-compatible transcription server at `host` (its `/v1` base
    URL), transcribing with `model`."""

    def __init__(
        self, host: str, model: str, *, api_key: str | None = None, timeout_s: float = 300.0
    ) -> None:
        self.host = host
        self.model = model
        self._timeout_s = timeout_s
        self._client = openai.AsyncOpenAI(
            base_url=host,
            api_key=api_key or "not-needed",  # local servers ignore it; the client wants one
            timeout=openai.Timeout(timeout_s, connect=CONNECT_TIMEOUT_S),
            max_retries=0,
        )

    async def close(self) -> None:
        """Close the HTTP connections."""
        await self._client.close()

    async def transcribe(self, wav: bytes, language: str | None) -> str:
        """The text spoken in `wav`; `language` (ISO-639-1) when the user chose one."""
        try:
            result = await self._client.audio.transcriptions.create(
                model=self.model,
                file=("voice.wav", wav, "audio/wav"),
                response_format="json",
                language=language or openai.omit,
            )
        except openai.APITimeoutError as err:  # a subclass of APIConnectionError: first
            raise ModelTimeout(self.model, self.host, self._timeout_s) from err
        except openai.APIConnectionError as err:
            raise ServerUnavailable(self.host) from err
        except openai.NotFoundError as err:
            raise ModelNotFound(self.model, self.host) from err
        except openai.APIStatusError as err:
            raise ModelFailed(self.model, _error_text(err)) from err
        except openai.APIError as err:  # a body the client could not read as a transcription
            raise ModelFailed(self.model, err.message) from err
        # A 200 from something else at that address (a proxy's HTML page: a str) or JSON of
        # another shape (no "text": None) is no transcript.
        text = result.text if isinstance(result, Transcription) else None
        if not isinstance(text, str):
            raise ModelFailed(self.model, "its answer held no transcript")
        return text


def _error_text(err: openai.APIStatusError) -> str:
    """The server's own message from `{"error": {"message": …}}`, else the status line."""
    body = err.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
    return err.message
