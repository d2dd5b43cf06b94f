"""FakeTranscriber: an in-process OpenAI-compatible transcription server (speaches /
faster-whisper-server, whisper.cpp's server, LocalAI, vLLM).

Built from OpenAI's API reference for ``POST /v1/audio/transcriptions``: a
``multipart/form-data`` body with ``file`` (the audio, with a file name), ``model``, and optional
``language`` (ISO-639-1), ``prompt``, ``response_format`` (``json``, the default → ``{"text":
…}``; ``text`` → the bare text; ``verbose_json`` → ``{"task", "language", "duration", "text",
"segments"}``) and ``temperature``. Errors as ``{"error": {"message", "type", "param",
"code"}}``: an unknown model is 404 ``model_not_found``, a missing file 400.

``down`` closes connections without an answer, like a stopped server; ``delay`` holds every
answer back that long (a transcription in progress, for /stop); ``instead`` answers 200 with
that body and content type, not a transcription (a proxy's page, another server's JSON).
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web


@dataclass(frozen=True, slots=True)
class TranscriptionRequest:
    """One request as the server read it."""

    model: str
    language: str | None
    response_format: str
    file_name: str
    audio: bytes


class FakeTranscriber:
    """A transcription server on a free loopback port; `url` ends in `/v1`."""

    def __init__(self, models: tuple[str, ...] = ("Systran/faster-whisper-small",)) -> None:
        self.models = models
        self.requests: list[TranscriptionRequest] = []
        self.down = False
        self.delay = 0.0
        self.instead: tuple[str, str] | None = None
        self.cancelled = 0  # requests whose client went away before the answer
        self._transcripts: deque[str] = deque()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def hear(self, *transcripts: str) -> None:
        """The text of the next requests, in order (without a script: "")."""
        self._transcripts.extend(transcripts)

    async def __aenter__(self) -> FakeTranscriber:
        app = web.Application()
        app.router.add_post("/v1/audio/transcriptions", self._transcribe)
        self._runner = web.AppRunner(app, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _transcribe(self, request: web.Request) -> web.StreamResponse:
        if self.down and request.transport is not None:
            request.transport.close()
            raise asyncio.CancelledError
        form = await request.post()
        upload = form.get("file")
        if not isinstance(upload, web.FileField):
            return _error(400, "file is required", "invalid_request_error", "file")
        with upload.file:
            audio = upload.file.read()
        model = str(form.get("model") or "")
        language = form.get("language")
        response_format = str(form.get("response_format") or "json")
        self.requests.append(
            TranscriptionRequest(
                model=model,
                language=str(language) if language else None,
                response_format=response_format,
                file_name=upload.filename,
                audio=audio,
            )
        )
        if model not in self.models:
            message = f"The model `{model}` does not exist."
            return _error(404, message, "invalid_request_error", "model_not_found")
        try:
            await asyncio.sleep(self.delay)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if self.instead is not None:
            body_text, content_type = self.instead
            return web.Response(text=body_text, content_type=content_type)
        text = self._transcripts.popleft() if self._transcripts else ""
        if response_format == "text":
            return web.Response(text=text, content_type="text/plain")
        body: dict[str, Any] = {"text": text}
        if response_format == "verbose_json":
            body |= {"task": "transcribe", "language": language or "en", "segments": []}
        return web.json_response(body)


def _error(status: int, message: str, kind: str, param: str | None) -> web.Response:
    code = "model_not_found" if status == 404 else None
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return web.json_response(body, status=status)
