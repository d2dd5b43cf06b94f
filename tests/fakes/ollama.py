"""An in-process fake Ollama server speaking the real Ollama HTTP API.

The wire format follows Ollama's ``docs/api.md`` and, for status codes and error
texts, ``server/routes.go`` / ``server/images.go`` / ``api/types.go`` of
ollama/ollama, so the bot's real ``ollama.AsyncClient(host=fake.url)`` works
against it unchanged.

What the real server does and this fake mirrors:

* Streaming endpoints answer ``application/x-ndjson``, one compact JSON object per
  line.  Headers are only sent together with the first line (gin writes the
  header on the first write), so an error that happens before anything was
  written becomes a plain HTTP 500 ``{"error": ...}``; an error after that is a
  ``{"error": ...}`` line in an HTTP 200 stream.
* Zero-valued metrics (``eval_count`` ...) are omitted, like Go's ``omitempty``.
* ``model`` in responses echoes the name exactly as the request spelled it.
* Error texts: unknown model ``model 'x' not found`` (404, chat/generate/show/
  delete), empty chat model ``model is required`` (400), thinking on a model
  without it ``"x" does not support thinking`` (400), pull of an unknown name
  ``pull model manifest: file does not exist`` (streamed after
  ``pulling manifest``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import io
import json
import math
import re
import time
import wave
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Literal

from aiohttp import web

__all__ = [
    "DEFAULT_ERROR_MESSAGE",
    "NO_AUDIO_ERROR",
    "NO_VISION_ERROR",
    "PULL_MANIFEST_ERROR",
    "FakeModel",
    "FakeOllama",
    "RecordedRequest",
    "Reply",
    "StreamRecord",
    "normalize_model_name",
    "split_tokens",
]

DEFAULT_ERROR_MESSAGE = "an error was encountered while running the model"
NO_VISION_ERROR = "this model is missing data required for image input"
# The audio texts below are this fake's own (phrased like the image one), not copied from Ollama.
NO_AUDIO_ERROR = "this model is missing data required for audio input"
AUDIO_RATE, AUDIO_MAX_SECONDS = 16_000, 30.0  # what an audio model's projector takes at once
PULL_MANIFEST_ERROR = "pull model manifest: file does not exist"
INVALID_MODEL_NAME = "invalid model name"

_TOKEN_RE = re.compile(r"\s*\S+|\s+")
_DURATION_RE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
# Go's time.Now().Add(math.MaxInt64): "forever" for a negative keep_alive.
_FOREVER = timedelta(days=365 * 292)
_KNOWN_PATHS = frozenset(
    {
        "/",
        "/api/version",
        "/api/tags",
        "/api/show",
        "/api/ps",
        "/api/chat",
        "/api/generate",
        "/api/pull",
        "/api/delete",
    }
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Predicate = Callable[[], object]


def split_tokens(text: str) -> list[str]:
    """Split text into word-ish tokens that keep their leading whitespace.

    ``"".join(split_tokens(t)) == t`` always holds.
    """
    return _TOKEN_RE.findall(text)


def normalize_model_name(name: str) -> str:
    """Normalise a model name the way Ollama displays it ("llama3" -> "llama3:latest")."""
    n = name.strip()
    for prefix in ("https://", "http://"):
        if n.lower().startswith(prefix):
            n = n[len(prefix) :]
    for prefix in ("registry.ollama.ai/library/", "registry.ollama.ai/", "library/"):
        if n.lower().startswith(prefix):
            n = n[len(prefix) :]
            break
    if ":" not in n.rsplit("/", 1)[-1]:
        n += ":latest"
    return n


def _key(name: str) -> str:
    return normalize_model_name(name).casefold()


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status, text=_dumps(data), content_type="application/json", charset="utf-8"
    )


def _error(status: int, message: str) -> web.Response:
    return _json_response({"error": message}, status)


def _utc_now() -> str:
    """``time.Now().UTC()`` as Go's JSON encoder writes it."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def _sha256_hex(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def _go_quote(text: str) -> str:
    """Roughly Go's ``%q``."""
    return json.dumps(text, ensure_ascii=False)


def _think_requested(value: Any) -> bool:
    """``api.ThinkValue.Bool()``: a bool as is, any level string ("low"...) means on."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value != ""
    return False


def _parse_keep_alive(value: Any) -> float | None:
    """Seconds to keep the model loaded; None means the default; inf means forever."""
    if value is None or isinstance(value, bool):
        return None
    seconds: float
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        # api.Duration decodes a string with Go's time.ParseDuration: a unit is required
        # (only "0" may go without one), so "-1" or "300" as strings fail the request.
        text = value.strip()
        if text in {"0", "+0", "-0"}:
            seconds = 0.0
        else:
            sign = -1.0 if text.startswith("-") else 1.0
            body = text.lstrip("+-")
            parts = _DURATION_RE.findall(body)
            if not parts or "".join(num + unit for num, unit in parts) != body:
                if body.replace(".", "", 1).isdigit():
                    raise ValueError(f'time: missing unit in duration "{text}"')
                raise ValueError(f'time: invalid duration "{text}"')
            seconds = sign * sum(float(num) * _DURATION_UNITS[unit] for num, unit in parts)
    else:
        return None
    return math.inf if seconds < 0 else seconds


def _options(body: dict[str, Any]) -> dict[str, Any]:
    options = body.get("options")
    return options if isinstance(options, dict) else {}


def _positive_int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = int(value)
    return number if number > 0 else None


@dataclass(slots=True)
class Reply:
    """One scripted answer for the next /api/chat or /api/generate call.

    ``chunks`` overrides ``text`` (the content is then ``"".join(chunks)``).
    ``error_after`` / ``cut_after`` count every streamed chunk line, thinking
    chunks included; ``0`` means before the first one (i.e. before any header
    is sent: an HTTP 500 for ``error_after``, a connection closed without a
    response for ``cut_after``).  ``http_status`` fails the request before
    streaming with that status and ``{"error": error_message}``.
    """

    text: str = ""
    thinking: str = ""
    chunks: list[str] | None = None
    token_delay: float | None = None
    first_token_delay: float = 0.0
    error_after: int | None = None
    error_message: str = DEFAULT_ERROR_MESSAGE
    cut_after: int | None = None
    http_status: int | None = None
    done_reason: str = "stop"

    def content_chunks(self) -> list[str]:
        if self.chunks is not None:
            return list(self.chunks)
        return split_tokens(self.text)

    def thinking_chunks(self) -> list[str]:
        return split_tokens(self.thinking)


@dataclass(slots=True)
class StreamRecord:
    """When a streamed answer's words went out (time.monotonic()), for timing what follows."""

    question: str  # the last user message of the request
    tokens: int = 0
    first_token_at: float | None = None
    last_token_at: float | None = None


@dataclass(slots=True)
class RecordedRequest:
    method: str
    path: str
    json: Any
    at: float  # time.monotonic() when the request arrived


@dataclass(slots=True)
class FakeModel:
    name: str
    family: str
    parameter_size: str
    quantization_level: str
    size: int
    context_length: int
    capabilities: tuple[str, ...]
    digest: str
    modified_at: datetime

    def details(self) -> dict[str, Any]:
        return {
            "parent_model": "",
            "format": "gguf",
            "family": self.family,
            "families": [self.family],
            "parameter_size": self.parameter_size,
            "quantization_level": self.quantization_level,
        }


@dataclass(slots=True)
class _Loaded:
    model: FakeModel
    expires_at: datetime
    context_length: int


@dataclass(slots=True, eq=False)
class _Stream:
    """A generation or pull in progress (hashable by identity)."""

    request: web.BaseRequest
    kind: str
    killed: bool = False  # we closed it ourselves: stop()/go_down()/cut_after


@dataclass(slots=True)
class _Generation:
    kind: Literal["chat", "generate"]
    model_name: str  # as the request spelled it
    reply: Reply
    stream: bool
    thinking_on: bool
    prompt_tokens: int
    num_predict: int | None
    question: str = ""
    started: float = field(default_factory=time.monotonic)


class FakeOllama:
    """A fake Ollama server on 127.0.0.1 (free port), driven by tests.

    ``async with FakeOllama() as fake: ...`` or ``await fake.start()`` /
    ``await fake.stop()``.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.version = "0.12.6"
        self.token_delay = 0.0
        self.pull_step_delay = 0.0
        self.pull_progress_steps = 4
        self.pullable: dict[str, int] = {}
        self.default_num_ctx = 4096
        self.default_keep_alive = 300.0
        self.image_error_status = 500
        self.requests: list[RecordedRequest] = []
        self.loads: list[tuple[str, int]] = []  # (model, context length) of every (re)load
        self.cancelled_streams = 0
        self.cancelled_pulls = 0
        self.completed_streams = 0
        self.chunks_sent = 0
        #: Builds the reply to a question when none is scripted (default: "Echo: question").
        self.reply_for: Callable[[str], Reply] | None = None
        self.stream_log: list[StreamRecord] = []
        #: Audio (WAV bytes) that models which hear were sent, in order.
        self.heard: list[bytes] = []
        #: Builds the transcript of audio when none is scripted with ``hear`` (default: "").
        self.transcript_for: Callable[[bytes], str] | None = None
        self._transcripts: deque[str] = deque()
        self._models: dict[str, FakeModel] = {}
        self._loaded: dict[str, _Loaded] = {}
        self._replies: deque[Reply] = deque()
        self._active: set[_Stream] = set()
        self._runner: web.AppRunner | None = None
        self._changed = asyncio.Event()

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> FakeOllama:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        if not self.port:
            raise RuntimeError("FakeOllama was never started")
        return f"http://{self.host}:{self.port}"

    @property
    def is_up(self) -> bool:
        return self._runner is not None

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("FakeOllama is already running")
        await self._listen(self.port)

    async def stop(self) -> None:
        """Stop serving; streams still being written are cut, so this never hangs."""
        await self._shut()

    async def go_down(self) -> None:
        """Stop listening and drop every connection, like a stopped Ollama."""
        await self._shut()

    async def come_up(self) -> None:
        """Listen again on the same port (the URL stays valid)."""
        if self._runner is not None:
            return
        if not self.port:
            raise RuntimeError("FakeOllama was never started")
        await self._listen(self.port)

    async def _listen(self, port: int) -> None:
        runner = web.AppRunner(
            self._make_app(), handler_cancellation=True, shutdown_timeout=0.5, access_log=None
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self.port = site.port
        self._runner = runner
        self._notify()

    async def _shut(self) -> None:
        runner, self._runner = self._runner, None
        if runner is None:
            return
        for stream in list(self._active):
            stream.killed = True
            transport = stream.request.transport
            if transport is not None:
                transport.abort()
        await runner.cleanup()
        self._notify()

    # ------------------------------------------------------------------ scripting

    def add_model(
        self,
        name: str,
        *,
        family: str = "llama",
        parameter_size: str = "7B",
        quantization_level: str = "Q4_0",
        size: int = 3_800_000_000,
        context_length: int = 4096,
        capabilities: Iterable[str] = ("completion",),
    ) -> None:
        display = normalize_model_name(name)
        self._models[_key(name)] = FakeModel(
            name=display,
            family=family,
            parameter_size=parameter_size,
            quantization_level=quantization_level,
            size=size,
            context_length=context_length,
            capabilities=tuple(capabilities),
            digest=_sha256_hex("model", display),
            modified_at=datetime.now().astimezone(),
        )
        self._notify()

    def remove_model(self, name: str) -> None:
        self._models.pop(_key(name), None)
        self._loaded.pop(_key(name), None)
        self._notify()

    def has_model(self, name: str) -> bool:
        return _key(name) in self._models

    def get_model(self, name: str) -> FakeModel | None:
        return self._models.get(_key(name))

    @property
    def models(self) -> list[str]:
        return [m.name for m in self._models.values()]

    @property
    def loaded_models(self) -> list[str]:
        self._expire_loaded()
        return [entry.model.name for entry in self._loaded.values()]

    def mark_loaded(self, name: str, *, keep_alive: float | None = None) -> None:
        model = self._models[_key(name)]
        self._load(model, keep_alive, None)

    def unload(self, name: str) -> None:
        self._loaded.pop(_key(name), None)
        self._notify()

    def script(self, *replies: str | Reply) -> None:
        for reply in replies:
            self._replies.append(Reply(text=reply) if isinstance(reply, str) else reply)

    def hear(self, *transcripts: str) -> None:
        """What a model that hears answers to the next requests carrying audio, in order."""
        self._transcripts.extend(transcripts)

    @property
    def audio_requests(self) -> list[dict[str, Any]]:
        """The /api/chat requests whose images held audio (a RIFF/WAVE file)."""
        return [body for body in self.chat_requests if _audio_of(body.get("messages") or [])]

    @property
    def pending_replies(self) -> int:
        return len(self._replies)

    # ------------------------------------------------------------------ observing

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        """The /api/chat requests that asked for an answer."""
        return [body for body in self._bodies("/api/chat") if body.get("messages")]

    @property
    def load_requests(self) -> list[dict[str, Any]]:
        """The /api/chat requests without messages: Ollama loads (or, with keep_alive 0,
        unloads) the model and answers nothing."""
        return [body for body in self._bodies("/api/chat") if not body.get("messages")]

    @property
    def generate_requests(self) -> list[dict[str, Any]]:
        return self._bodies("/api/generate")

    @property
    def pull_requests(self) -> list[dict[str, Any]]:
        return self._bodies("/api/pull")

    @property
    def active_streams(self) -> int:
        return len(self._active)

    def _bodies(self, path: str) -> list[dict[str, Any]]:
        return [
            r.json
            for r in self.requests
            if r.method == "POST" and r.path == path and isinstance(r.json, dict)
        ]

    async def wait_for(
        self, predicate: Predicate, timeout: float = 5.0, *, what: str | None = None
    ) -> None:
        """Wait until ``predicate()`` is true; re-checked on every request and chunk.

        Raises AssertionError on timeout.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"FakeOllama.wait_for: {what or predicate!r} not true after {timeout}s"
                )
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                # short poll as well, in case state changed outside the fake
                await asyncio.wait_for(changed.wait(), min(remaining, 0.05))

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # ------------------------------------------------------------------ app

    def _make_app(self) -> web.Application:
        @web.middleware
        async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
            body: Any = None
            if request.can_read_body:
                raw = await request.read()
                if raw:
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        body = None
            self.requests.append(
                RecordedRequest(request.method, request.path, body, time.monotonic())
            )
            self._notify()
            return await handler(request)

        # Ollama reads bodies of any size: a 30 s WAV is 1.3 MB in base64, past aiohttp's 1 MB.
        app = web.Application(middlewares=[record], client_max_size=64 * 1024 * 1024)
        app.router.add_get("/", self._handle_root)
        app.router.add_get("/api/version", self._handle_version)
        app.router.add_get("/api/tags", self._handle_tags)
        app.router.add_post("/api/show", self._handle_show)
        app.router.add_get("/api/ps", self._handle_ps)
        app.router.add_post("/api/chat", self._handle_chat)
        app.router.add_post("/api/generate", self._handle_generate)
        app.router.add_post("/api/pull", self._handle_pull)
        app.router.add_delete("/api/delete", self._handle_delete)
        app.router.add_route("*", "/{tail:.*}", self._handle_unknown)
        return app

    async def _handle_unknown(self, request: web.Request) -> web.Response:
        if request.path in _KNOWN_PATHS:
            return web.Response(status=405, text="405 method not allowed")
        return web.Response(status=404, text="404 page not found")

    async def _handle_root(self, request: web.Request) -> web.Response:
        return web.Response(text="Ollama is running")

    async def _handle_version(self, request: web.Request) -> web.Response:
        return _json_response({"version": self.version})

    async def _handle_tags(self, request: web.Request) -> web.Response:
        models = sorted(self._models.values(), key=lambda m: m.modified_at, reverse=True)
        return _json_response(
            {
                "models": [
                    {
                        "name": m.name,
                        "model": m.name,
                        "modified_at": _iso(m.modified_at),
                        "size": m.size,
                        "digest": m.digest,
                        "details": m.details(),
                    }
                    for m in models
                ]
            }
        )

    async def _handle_show(self, request: web.Request) -> web.Response:
        body = await _read_body(request)
        if isinstance(body, web.Response):
            return body
        name = body.get("model") or body.get("name")
        if not isinstance(name, str) or not name:
            return _error(400, "model is required")
        model = self.get_model(name)
        if model is None:
            return _error(404, f"model '{name}' not found")
        return _json_response(_show_payload(model))

    async def _handle_ps(self, request: web.Request) -> web.Response:
        self._expire_loaded()
        entries = sorted(self._loaded.values(), key=lambda e: e.expires_at, reverse=True)
        models = []
        for entry in entries:
            m = entry.model
            size = m.size + entry.context_length * 65_536
            models.append(
                {
                    "name": m.name,
                    "model": m.name,
                    "size": size,
                    "digest": m.digest,
                    "details": m.details(),
                    "expires_at": _iso(entry.expires_at.astimezone()),
                    "size_vram": size,
                    "context_length": entry.context_length,
                }
            )
        return _json_response({"models": models})

    async def _handle_delete(self, request: web.Request) -> web.Response:
        body = await _read_body(request)
        if isinstance(body, web.Response):
            return body
        name = body.get("model") or body.get("name") or ""
        if not isinstance(name, str) or not name.strip():
            return _error(400, f"name {_go_quote(str(name))} is invalid")
        if not self.has_model(name):
            return _error(404, f"model '{name}' not found")
        self.remove_model(name)
        return web.Response(status=200)

    # ------------------------------------------------------------------ inference

    async def _handle_chat(self, request: web.Request) -> web.StreamResponse:
        body = await _read_body(request)
        if isinstance(body, web.Response):
            return body
        name = body.get("model")
        if not isinstance(name, str) or not name.strip():
            return _error(400, "model is required")
        model = self.get_model(name)
        if model is None:
            return _error(404, f"model '{name}' not found")
        raw_messages = body.get("messages") or []
        if not isinstance(raw_messages, list):
            return _error(
                400, "json: cannot unmarshal messages into Go value of type []api.Message"
            )
        messages = [m for m in raw_messages if isinstance(m, dict)]
        try:
            keep_alive = _parse_keep_alive(body.get("keep_alive"))
        except ValueError as err:
            return _error(400, str(err))
        options = _options(body)
        if not messages and keep_alive == 0:
            self._loaded.pop(_key(name), None)
            self._notify()
            return _json_response(
                {
                    "model": name,
                    "created_at": _utc_now(),
                    "message": {"role": "assistant", "content": ""},
                    "done_reason": "unload",
                    "done": True,
                }
            )
        thinking_on = self._thinking_on(model, body.get("think"))
        if thinking_on is None:
            return _error(400, f"{_go_quote(name)} does not support thinking")
        self._load(model, keep_alive, options)
        if not messages:
            return _json_response(
                {
                    "model": name,
                    "created_at": _utc_now(),
                    "message": {"role": "assistant", "content": ""},
                    "done_reason": "load",
                    "done": True,
                }
            )
        audio = _audio_of(messages)
        if audio and "audio" not in model.capabilities:
            return _error(self.image_error_status, NO_AUDIO_ERROR)
        pictures = sum(len(m.get("images") or []) for m in messages) - len(audio)
        if "vision" not in model.capabilities and pictures:
            return _error(self.image_error_status, NO_VISION_ERROR)
        if audio:
            if (problem := _unfit_audio(audio)) is not None:
                return _error(400, problem)
            self.heard.extend(audio)
        last_user = next(
            (str(m.get("content") or "") for m in reversed(messages) if m.get("role") == "user"),
            "",
        )
        reply = self._transcript(audio) if audio else self._next_reply(last_user)
        prompt_chars = sum(len(str(m.get("content") or "")) for m in messages)
        job = _Generation(
            kind="chat",
            model_name=name,
            reply=reply,
            stream=body.get("stream") is not False,
            thinking_on=thinking_on,
            prompt_tokens=max(1, prompt_chars // 4),
            num_predict=_positive_int(options.get("num_predict")),
            question=last_user,
        )
        return await self._run_generation(request, job)

    async def _handle_generate(self, request: web.Request) -> web.StreamResponse:
        body = await _read_body(request)
        if isinstance(body, web.Response):
            return body
        name = body.get("model")
        if not isinstance(name, str) or not name.strip():
            return _error(404, f"model '{name or ''}' not found")
        model = self.get_model(name)
        if model is None:
            return _error(404, f"model '{name}' not found")
        prompt = str(body.get("prompt") or "")
        system = str(body.get("system") or "")
        try:
            keep_alive = _parse_keep_alive(body.get("keep_alive"))
        except ValueError as err:
            return _error(400, str(err))
        options = _options(body)
        if not prompt and keep_alive == 0:
            self._loaded.pop(_key(name), None)
            self._notify()
            return _json_response(
                {
                    "model": name,
                    "created_at": _utc_now(),
                    "response": "",
                    "done": True,
                    "done_reason": "unload",
                }
            )
        thinking_on = self._thinking_on(model, body.get("think"))
        if thinking_on is None:
            return _error(400, f"{_go_quote(name)} does not support thinking")
        self._load(model, keep_alive, options)
        if not prompt:
            return _json_response(
                {
                    "model": name,
                    "created_at": _utc_now(),
                    "response": "",
                    "done": True,
                    "done_reason": "load",
                }
            )
        if "vision" not in model.capabilities and body.get("images"):
            return _error(self.image_error_status, NO_VISION_ERROR)
        reply = self._next_reply(prompt)
        job = _Generation(
            kind="generate",
            model_name=name,
            reply=reply,
            stream=body.get("stream") is not False,
            thinking_on=thinking_on,
            prompt_tokens=max(1, (len(prompt) + len(system)) // 4),
            num_predict=_positive_int(options.get("num_predict")),
            question=prompt,
        )
        return await self._run_generation(request, job)

    def _thinking_on(self, model: FakeModel, think: Any) -> bool | None:
        """Whether to emit thinking; None means "does not support thinking" (400)."""
        if "thinking" in model.capabilities:
            # Ollama turns thinking on by default for thinking-capable models.
            return think is None or _think_requested(think)
        if think is not None and _think_requested(think):
            return None
        return False

    def _transcript(self, audio: list[bytes]) -> Reply:
        if self._transcripts:
            return Reply(text=self._transcripts.popleft())
        return Reply(text=self.transcript_for(audio[-1]) if self.transcript_for else "")

    def _next_reply(self, question: str) -> Reply:
        if self._replies:
            return self._replies.popleft()
        if self.reply_for is not None:
            return self.reply_for(question)
        return Reply(text=f"Echo: {question}")

    def _load(
        self, model: FakeModel, keep_alive: float | None, options: dict[str, Any] | None
    ) -> None:
        seconds = self.default_keep_alive if keep_alive is None else keep_alive
        now = datetime.now(UTC)
        expires = now + _FOREVER if math.isinf(seconds) else now + timedelta(seconds=seconds)
        num_ctx = _positive_int((options or {}).get("num_ctx")) or self.default_num_ctx
        context_length = min(num_ctx, model.context_length)
        loaded = self._loaded.get(_key(model.name))
        # Ollama's scheduler (server/sched.go needsReload) loads the model again when a
        # request's runner options differ from the loaded runner's, num_ctx above all.
        if loaded is None or loaded.context_length != context_length:
            self.loads.append((model.name, context_length))
        self._loaded[_key(model.name)] = _Loaded(
            model=model, expires_at=expires, context_length=context_length
        )
        self._notify()

    def _expire_loaded(self) -> None:
        now = datetime.now(UTC)
        for key in [k for k, e in self._loaded.items() if e.expires_at <= now]:
            del self._loaded[key]

    async def _run_generation(self, request: web.Request, job: _Generation) -> web.StreamResponse:
        state = _Stream(request=request, kind=job.kind)
        self._active.add(state)
        try:
            if job.reply.first_token_delay > 0:
                await asyncio.sleep(job.reply.first_token_delay)
            if job.reply.http_status is not None:
                return _error(job.reply.http_status, job.reply.error_message)
            if job.stream:
                return await self._stream_generation(request, job, state)
            return await self._whole_generation(request, job, state)
        except asyncio.CancelledError:
            if not state.killed:
                self.cancelled_streams += 1
                self._notify()
            raise
        except ConnectionResetError:
            # a write failed: the client went away (e.g. /stop); stop generating
            if not state.killed:
                self.cancelled_streams += 1
                self._notify()
            return web.Response()
        finally:
            self._active.discard(state)

    def _frames(self, job: _Generation) -> tuple[list[tuple[str, str]], int, str]:
        content = job.reply.content_chunks()
        done_reason = job.reply.done_reason
        thinking = job.reply.thinking_chunks() if job.thinking_on else []
        # num_predict counts every token the runner writes, the reasoning first.
        if job.num_predict is not None and len(thinking) + len(content) > job.num_predict:
            thinking = thinking[: job.num_predict]
            content = content[: job.num_predict - len(thinking)]
            done_reason = "length"
        frames = [("thinking", t) for t in thinking] + [("content", c) for c in content]
        return frames, len(content), done_reason

    def _delay(self, job: _Generation) -> float:
        return job.reply.token_delay if job.reply.token_delay is not None else self.token_delay

    def _chunk(self, job: _Generation, kind: str, text: str) -> dict[str, Any]:
        if job.kind == "chat":
            message: dict[str, Any] = {"role": "assistant", "content": ""}
            message[kind] = text
            return {
                "model": job.model_name,
                "created_at": _utc_now(),
                "message": message,
                "done": False,
            }
        data: dict[str, Any] = {
            "model": job.model_name,
            "created_at": _utc_now(),
            "response": text if kind == "content" else "",
            "done": False,
        }
        if kind == "thinking":
            data["thinking"] = text
        return data

    def _final(
        self,
        job: _Generation,
        *,
        eval_count: int,
        done_reason: str,
        content: str = "",
        thinking: str = "",
    ) -> dict[str, Any]:
        elapsed_ns = int((time.monotonic() - job.started) * 1e9)
        load_ns = max(1_000_000, int(job.reply.first_token_delay * 1e9))
        prompt_eval_ns = job.prompt_tokens * 250_000
        eval_ns = max(eval_count * 10_000_000, elapsed_ns - load_ns)
        total_ns = max(elapsed_ns, load_ns + prompt_eval_ns + eval_ns)
        data: dict[str, Any] = {"model": job.model_name, "created_at": _utc_now()}
        if job.kind == "chat":
            message: dict[str, Any] = {"role": "assistant", "content": content}
            if thinking:
                message["thinking"] = thinking
            data["message"] = message
        else:
            data["response"] = content
            if thinking:
                data["thinking"] = thinking
        data["done"] = True
        data["done_reason"] = done_reason
        if job.kind == "generate":
            data["context"] = [
                (i * 7_919) % 128_000 + 1 for i in range(job.prompt_tokens + eval_count)
            ]
        metrics = {
            "total_duration": total_ns,
            "load_duration": load_ns,
            "prompt_eval_count": job.prompt_tokens,
            "prompt_eval_duration": prompt_eval_ns,
            "eval_count": eval_count,
            "eval_duration": eval_ns if eval_count else 0,
        }
        data.update({k: v for k, v in metrics.items() if v})  # Go's omitempty
        return data

    def _cut(self, state: _Stream) -> None:
        state.killed = True
        transport = state.request.transport
        if transport is not None:
            transport.close()

    async def _stream_generation(
        self, request: web.Request, job: _Generation, state: _Stream
    ) -> web.StreamResponse:
        frames, eval_count, done_reason = self._frames(job)
        delay = self._delay(job)
        reply = job.reply
        resp = web.StreamResponse(status=200)
        resp.content_type = "application/x-ndjson"
        sent = 0
        record = StreamRecord(question=job.question)
        self.stream_log.append(record)

        async def before_line() -> None:
            if sent and delay > 0:
                await asyncio.sleep(delay)

        async def write(obj: dict[str, Any]) -> None:
            if not resp.prepared:
                await resp.prepare(request)
            await resp.write((_dumps(obj) + "\n").encode())

        async def fail() -> web.StreamResponse:
            await before_line()
            if not resp.prepared:  # nothing written yet: gin answers with a status
                return _error(500, reply.error_message)
            await write({"error": reply.error_message})
            await resp.write_eof()
            return resp

        async def cut() -> web.StreamResponse:
            await before_line()
            self._cut(state)
            return resp

        for kind, text in frames:
            if reply.error_after is not None and sent >= reply.error_after:
                return await fail()
            if reply.cut_after is not None and sent >= reply.cut_after:
                return await cut()
            await before_line()
            await write(self._chunk(job, kind, text))
            sent += 1
            self.chunks_sent += 1
            if kind == "content":
                record.last_token_at = time.monotonic()
                record.first_token_at = record.first_token_at or record.last_token_at
                record.tokens += 1
            self._notify()
        if reply.error_after is not None:
            return await fail()
        if reply.cut_after is not None:
            return await cut()
        await before_line()
        await write(self._final(job, eval_count=eval_count, done_reason=done_reason))
        await resp.write_eof()
        self.completed_streams += 1
        self._notify()
        return resp

    async def _whole_generation(
        self, request: web.Request, job: _Generation, state: _Stream
    ) -> web.StreamResponse:
        frames, eval_count, done_reason = self._frames(job)
        delay = self._delay(job)
        if delay > 0 and len(frames) > 1:
            await asyncio.sleep(delay * (len(frames) - 1))
        if job.reply.error_after is not None:
            return _error(500, job.reply.error_message)
        if job.reply.cut_after is not None:
            self._cut(state)
            return web.Response()
        content = "".join(text for kind, text in frames if kind == "content")
        thinking = "".join(text for kind, text in frames if kind == "thinking")
        payload = self._final(
            job, eval_count=eval_count, done_reason=done_reason, content=content, thinking=thinking
        )
        self.completed_streams += 1
        self._notify()
        return _json_response(payload)

    # ------------------------------------------------------------------ pull

    def _pull_size(self, name: str) -> int | None:
        for pull_name, size in self.pullable.items():
            if _key(pull_name) == _key(name):
                return size
        model = self.get_model(name)
        return model.size if model is not None else None

    async def _handle_pull(self, request: web.Request) -> web.StreamResponse:
        body = await _read_body(request)
        if isinstance(body, web.Response):
            return body
        name = body.get("model") or body.get("name") or ""
        if not isinstance(name, str) or not name.strip():
            return _error(400, INVALID_MODEL_NAME)
        size = self._pull_size(name)
        stream = body.get("stream") is not False
        state = _Stream(request=request, kind="pull")
        self._active.add(state)
        try:
            if stream:
                return await self._stream_pull(request, name, size)
            return await self._whole_pull(name, size)
        except asyncio.CancelledError:
            if not state.killed:
                self.cancelled_pulls += 1
                self._notify()
            raise
        except ConnectionResetError:
            if not state.killed:
                self.cancelled_pulls += 1
                self._notify()
            return web.Response()
        finally:
            self._active.discard(state)

    def _pull_progress(self, name: str, size: int) -> list[dict[str, Any]]:
        display = normalize_model_name(name)
        small = [("template", 1_429), ("license", 7_711), ("params", 3_345), ("config", 485)]
        # the layer totals add up to the size the model has once installed
        layers = [("model", max(1, size - sum(total for _, total in small))), *small]
        steps = max(1, self.pull_progress_steps)
        lines: list[dict[str, Any]] = []
        for layer, total in layers:
            digest = "sha256:" + _sha256_hex("layer", display, layer)
            status = f"pulling {digest[7:19]}"
            # completed == 0 is omitted (Go omitempty), like Ollama's first tick
            lines.append({"status": status, "digest": digest, "total": total})
            for step in range(1, steps + 1):
                lines.append(
                    {
                        "status": status,
                        "digest": digest,
                        "total": total,
                        "completed": total * step // steps,
                    }
                )
        lines.append({"status": "verifying sha256 digest"})
        lines.append({"status": "writing manifest"})
        return lines

    def _install_pulled(self, name: str, size: int) -> None:
        existing = self.get_model(name)
        if existing is not None:
            existing.modified_at = datetime.now().astimezone()
            self._notify()
            return
        self.add_model(name, size=size)

    async def _whole_pull(self, name: str, size: int | None) -> web.Response:
        if size is None:
            await asyncio.sleep(self.pull_step_delay)
            return _error(500, PULL_MANIFEST_ERROR)
        for _ in self._pull_progress(name, size):
            if self.pull_step_delay > 0:
                await asyncio.sleep(self.pull_step_delay)
        self._install_pulled(name, size)
        return _json_response({"status": "success"})

    async def _stream_pull(
        self, request: web.Request, name: str, size: int | None
    ) -> web.StreamResponse:
        resp = web.StreamResponse(status=200)
        resp.content_type = "application/x-ndjson"
        await resp.prepare(request)

        async def write(obj: dict[str, Any]) -> None:
            await resp.write((_dumps(obj) + "\n").encode())
            self._notify()

        await write({"status": "pulling manifest"})
        if size is None:
            await asyncio.sleep(self.pull_step_delay)
            await write({"error": PULL_MANIFEST_ERROR})
        else:
            for line in self._pull_progress(name, size):
                await asyncio.sleep(self.pull_step_delay)
                await write(line)
            self._install_pulled(name, size)
            await write({"status": "success"})
        await resp.write_eof()
        return resp


def _show_payload(model: FakeModel) -> dict[str, Any]:
    arch = model.family
    template = "{{ if .System }}{{ .System }}\n{{ end }}{{ .Prompt }}"
    stop = "<|eot_id|>"
    blob = "sha256-" + _sha256_hex("layer", model.name, "model")
    modelfile = (
        '# Modelfile generated by "ollama show"\n'
        "# To build a new Modelfile based on this, replace FROM with:\n"
        f"# FROM {model.name}\n\n"
        f"FROM /usr/share/ollama/.ollama/models/blobs/{blob}\n"
        f'TEMPLATE """{template}"""\n'
        f"PARAMETER stop {stop}\n"
        'LICENSE """Fake license for tests."""\n'
    )
    return {
        "license": "Fake license for tests.",
        "modelfile": modelfile,
        "parameters": f"{'stop':<30} {_go_quote(stop)}",
        "template": template,
        "details": model.details(),
        "model_info": {
            "general.architecture": arch,
            "general.file_type": 2,
            "general.parameter_count": _parameter_count(model.parameter_size),
            "general.quantization_version": 2,
            f"{arch}.attention.head_count": 32,
            f"{arch}.block_count": 32,
            f"{arch}.context_length": model.context_length,
            f"{arch}.embedding_length": 4096,
        },
        "capabilities": list(model.capabilities),
        "modified_at": _iso(model.modified_at),
    }


def _parameter_count(parameter_size: str) -> int:
    match = re.fullmatch(r"\s*([\d.]+)\s*([KMBT]?)\s*", parameter_size, re.IGNORECASE)
    if match is None:
        return 7_000_000_000
    scale = {"": 1, "K": 10**3, "M": 10**6, "B": 10**9, "T": 10**12}[match.group(2).upper()]
    return int(float(match.group(1)) * scale)


async def _read_body(request: web.Request) -> dict[str, Any] | web.Response:
    """The JSON object body, or the error response gin's ShouldBindJSON would give."""
    raw = await request.read()
    if not raw.strip():
        return _error(400, "missing request body")
    try:
        data = json.loads(raw)
    except ValueError as exc:
        return _error(400, f"invalid character in request body: {exc}")
    if not isinstance(data, dict):
        return _error(400, "json: cannot unmarshal request body into a Go struct")
    return data


def _audio_of(messages: list[Any]) -> list[bytes]:
    """The images of `messages` that are audio: Ollama tells a WAV by its RIFF/WAVE header."""
    found = []
    for message in messages:
        for item in (message.get("images") or []) if isinstance(message, dict) else []:
            try:
                data = base64.b64decode(str(item), validate=True)
            except (binascii.Error, ValueError):
                continue
            if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
                found.append(data)
    return found


def _unfit_audio(audio: list[bytes]) -> str | None:
    """Why an audio model would not take these WAVs: not 16 kHz mono 16-bit, or over 30 s."""
    for data in audio:
        try:
            with wave.open(io.BytesIO(data), "rb") as wav:
                rate, channels, width = wav.getframerate(), wav.getnchannels(), wav.getsampwidth()
                seconds = wav.getnframes() / rate
        except (wave.Error, EOFError, ZeroDivisionError):
            return "invalid audio data"
        if (rate, channels, width) != (AUDIO_RATE, 1, 2):
            return f"audio must be 16 kHz mono 16-bit, not {rate} Hz x{channels} {width * 8}-bit"
        if seconds > AUDIO_MAX_SECONDS:
            return f"audio of {seconds:.1f} s is longer than {AUDIO_MAX_SECONDS:g} s"
    return None
