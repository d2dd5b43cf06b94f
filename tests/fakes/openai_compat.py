"""FakeOpenAI: an in-process OpenAI-compatible server (LM Studio, llamafile, llama-server).

Built from OpenAI's API reference for the parts such servers implement:

* ``GET /v1/models`` → ``{"object": "list", "data": [{"id", "object": "model", "created",
  "owned_by"}]}``.
* ``POST /v1/chat/completions`` with ``"stream": true`` → ``text/event-stream``: ``data: {chunk}``
  lines, each a ``chat.completion.chunk`` whose ``choices[0].delta`` holds ``role`` (first),
  ``content`` pieces (and ``reasoning_content``, as llama.cpp and LM Studio send a model's
  reasoning), a last choice with ``finish_reason``, then with ``stream_options.include_usage`` a
  chunk with empty ``choices`` and ``usage``, then ``data: [DONE]``.
* Errors as ``{"error": {"message", "type", "param", "code"}}``: an unknown model is 404
  ``model_not_found``; a malformed body is 400.

``down`` closes connections without an answer, like a stopped server.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.ollama import split_tokens


@dataclass(slots=True)
class OpenAIReply:
    """One scripted answer; without a script the server answers "Hello from <model>."."""

    text: str = ""
    reasoning: str = ""
    token_delay: float = 0.0


class FakeOpenAI:
    """An OpenAI-compatible server on a free loopback port."""

    def __init__(self, models: list[str] | None = None) -> None:
        self.models = list(models or [])
        self.requests: list[dict[str, Any]] = []
        self.down = False
        self._script: list[OpenAIReply] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """The base URL clients are given (with `/v1`, as LM Studio shows it)."""
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *replies: str | OpenAIReply) -> None:
        """Answer the next requests with these, in order."""
        self._script += [OpenAIReply(text=r) if isinstance(r, str) else r for r in replies]

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        """The bodies of every chat completion request, oldest first."""
        return [r for r in self.requests if "messages" in r]

    async def __aenter__(self) -> FakeOpenAI:
        app = web.Application()
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/chat/completions", self._chat)
        self._runner = web.AppRunner(app)
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

    async def _refuse_if_down(self, request: web.Request) -> None:
        if self.down and request.transport is not None:
            request.transport.close()
            raise asyncio.CancelledError

    async def _models(self, request: web.Request) -> web.Response:
        await self._refuse_if_down(request)
        data = [
            {"id": name, "object": "model", "created": 1_700_000_000, "owned_by": "organization"}
            for name in self.models
        ]
        return web.json_response({"object": "list", "data": data})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        await self._refuse_if_down(request)
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return _error(400, "Invalid JSON body", "invalid_request_error", None)
        self.requests.append(body)
        model = body.get("model")
        if model not in self.models:
            return _error(
                404,
                f"The model `{model}` does not exist.",
                "invalid_request_error",
                "model_not_found",
            )
        reply = self._script.pop(0) if self._script else OpenAIReply(text=f"Hello from {model}.")
        if not body.get("stream"):
            return _error(400, "this fake streams only", "invalid_request_error", None)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        created = int(time.time())
        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": created}
        base["model"] = model

        async def send(delta: dict[str, Any], finish: str | None = None) -> None:
            chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())

        await send({"role": "assistant", "content": ""})
        pieces = [("reasoning_content", t) for t in split_tokens(reply.reasoning)]
        content = split_tokens(reply.text)
        longest = body.get("max_tokens")
        finish = "stop"
        if isinstance(longest, int) and len(content) > longest:  # as servers cut: at max_tokens
            content, finish = content[:longest], "length"
        pieces += [("content", t) for t in content]
        for field, piece in pieces:
            if reply.token_delay:
                await asyncio.sleep(reply.token_delay)
            await send({field: piece})
        await send({}, finish=finish)
        if (body.get("stream_options") or {}).get("include_usage"):
            prompt = sum(len(str(m.get("content", "")).split()) for m in body["messages"])
            usage = {
                "prompt_tokens": prompt,
                "completion_tokens": len(pieces),
                "total_tokens": prompt + len(pieces),
            }
            chunk = {**base, "choices": [], "usage": usage}
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response


def _error(status: int, message: str, kind: str, code: str | None) -> web.Response:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return web.json_response(body, status=status)
