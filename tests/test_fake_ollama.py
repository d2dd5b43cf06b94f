"""Self-test of tests/fakes/ollama.py, driven by the real ``ollama.AsyncClient``.

The exception classes asserted here are what the real client (ollama 0.6.x on
httpx) raises for each fault; the bot's gateway translates exactly these.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import httpx
import ollama
import pytest

from tests.fakes.ollama import (
    DEFAULT_ERROR_MESSAGE,
    NO_VISION_ERROR,
    PULL_MANIFEST_ERROR,
    FakeOllama,
    Reply,
    normalize_model_name,
    split_tokens,
)

USER = [{"role": "user", "content": "Hello, who are you?"}]


@pytest.fixture
async def fake() -> AsyncIterator[FakeOllama]:
    async with FakeOllama() as server:
        server.add_model("llama3.2:3b", parameter_size="3.2B", quantization_level="Q4_K_M")
        server.add_model(
            "qwen3",
            family="qwen3",
            parameter_size="8.2B",
            context_length=40960,
            capabilities=("completion", "thinking"),
        )
        server.add_model("llava", capabilities=("completion", "vision"))
        yield server


@pytest.fixture
async def client(fake: FakeOllama) -> AsyncIterator[ollama.AsyncClient]:
    c = ollama.AsyncClient(host=fake.url)
    yield c
    await c.close()


async def collect(parts: AsyncIterator[Any], into: list[Any]) -> list[Any]:
    async for part in parts:
        into.append(part)
    return into


# ---------------------------------------------------------------- helpers


def test_split_tokens_join_back_exactly() -> None:
    for text in ["", "one", "Hello, world!", "  lead and trail  ", "a\n\nb\tc", "naïve 世界 ok"]:
        assert "".join(split_tokens(text)) == text
    assert split_tokens("Hello there friend") == ["Hello", " there", " friend"]


def test_normalize_model_name() -> None:
    assert normalize_model_name("llama3") == "llama3:latest"
    assert normalize_model_name("llama3:8b") == "llama3:8b"
    assert normalize_model_name("user/model") == "user/model:latest"
    assert normalize_model_name("registry.ollama.ai/library/phi3") == "phi3:latest"


# ---------------------------------------------------------------- plain endpoints


async def test_root_and_version(fake: FakeOllama) -> None:
    async with httpx.AsyncClient(base_url=fake.url) as http:
        root = await http.get("/")
        assert (root.status_code, root.text) == (200, "Ollama is running")
        assert (await http.head("/")).status_code == 200
        version = await http.get("/api/version")
        assert version.json() == {"version": "0.12.6"}
        fake.version = "0.13.0"
        assert (await http.get("/api/version")).json() == {"version": "0.13.0"}
        assert (await http.get("/api/nope")).status_code == 404
        assert (await http.get("/api/chat")).status_code == 405


async def test_list_show_ps(fake: FakeOllama, client: ollama.AsyncClient) -> None:
    listed = await client.list()
    names = [m.model or "" for m in listed.models]
    assert sorted(names) == ["llama3.2:3b", "llava:latest", "qwen3:latest"]
    llama = next(m for m in listed.models if m.model == "llama3.2:3b")
    assert llama.size == 3_800_000_000
    assert llama.details is not None
    assert llama.details.format == "gguf"
    assert llama.details.parameter_size == "3.2B"
    assert llama.details.quantization_level == "Q4_K_M"
    assert llama.modified_at is not None
    assert llama.digest is not None
    assert len(llama.digest) == 64

    shown = await client.show("qwen3")  # "qwen3" means "qwen3:latest"
    assert shown.capabilities == ["completion", "thinking"]
    assert shown.modelinfo is not None
    assert shown.modelinfo["general.architecture"] == "qwen3"
    assert shown.modelinfo["qwen3.context_length"] == 40960
    assert shown.details is not None
    assert shown.details.family == "qwen3"
    assert shown.template
    assert shown.parameters
    assert shown.modelfile is not None
    assert "FROM" in shown.modelfile
    assert (await client.show("llava")).capabilities == ["completion", "vision"]

    assert (await client.ps()).models == []
    await client.chat("llama3.2:3b", messages=USER)
    ps = await client.ps()
    assert [m.model for m in ps.models] == ["llama3.2:3b"]
    assert ps.models[0].context_length == 4096
    assert ps.models[0].expires_at is not None
    assert ps.models[0].size_vram == ps.models[0].size
    assert fake.loaded_models == ["llama3.2:3b"]


async def test_show_unknown_model_is_404(client: ollama.AsyncClient) -> None:
    with pytest.raises(ollama.ResponseError) as caught:
        await client.show("nope")
    assert caught.value.status_code == 404
    assert caught.value.error == "model 'nope' not found"


# ---------------------------------------------------------------- chat


async def test_streamed_chat_joins_to_the_scripted_text(
    fake: FakeOllama, client: ollama.AsyncClient
) -> None:
    text = "Hello there! I am a **fake** model.\n\nNice to meet you."
    fake.script(text)
    parts = await collect(
        await client.chat("llama3.2:3b", messages=USER, stream=True, options={"temperature": 0}),
        [],
    )
    *chunks, final = parts
    assert len(chunks) == len(split_tokens(text)) > 1
    assert all(not p.done for p in chunks)
    assert "".join(p.message.content for p in chunks) == text
    assert all(p.model == "llama3.2:3b" and p.message.role == "assistant" for p in parts)
    assert final.done is True
    assert final.done_reason == "stop"
    assert final.message.content == ""
    assert final.eval_count == len(chunks)
    assert final.prompt_eval_count == len(USER[0]["content"]) // 4
    for figure in ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration"):
        assert getattr(final, figure) > 0
    assert fake.completed_streams == 1
    assert fake.chunks_sent == len(chunks)

    body = fake.chat_requests[-1]
    assert body["model"] == "llama3.2:3b"
    assert body["messages"] == USER
    assert body["stream"] is True
    assert body["options"] == {"temperature": 0}
    recorded = fake.requests[-1]
    assert (recorded.method, recorded.path) == ("POST", "/api/chat")


async def test_chat_without_stream_and_default_echo(
    fake: FakeOllama, client: ollama.AsyncClient
) -> None:
    response = await client.chat("llama3.2:3b", messages=USER)  # stream=False
    assert response.done is True
    assert response.message.content == "Echo: Hello, who are you?"
    assert response.done_reason == "stop"
    assert response.eval_count == len(split_tokens("Echo: Hello, who are you?"))

    fake.script(Reply(chunks=["Ex", "plicit", " chunks"]))
    parts = await collect(await client.chat("llama3.2:3b", messages=USER, stream=True), [])
    assert [p.message.content for p in parts[:-1]] == ["Ex", "plicit", " chunks"]


async def test_scripted_replies_are_fifo(fake: FakeOllama, client: ollama.AsyncClient) -> None:
    fake.script("first", Reply(text="second", done_reason="length"))
    assert fake.pending_replies == 2
    one = await client.chat("llama3.2:3b", messages=USER)
    two = await client.chat("llama3.2:3b", messages=USER)
    three = await client.chat("llama3.2:3b", messages=USER)
    assert one.message.content == "first"
    assert (two.message.content, two.done_reason) == ("second", "length")
    assert (three.message.content or "").startswith("Echo: ")


async def test_num_predict_truncates_with_done_reason_length(
    fake: FakeOllama, client: ollama.AsyncClient
) -> None:
    fake.script("one two three four five")
    response = await client.chat("llama3.2:3b", messages=USER, options={"num_predict": 2})
    assert (response.message.content, response.done_reason) == ("one two", "length")


async def test_names_normalise_like_ollama(fake: FakeOllama, client: ollama.AsyncClient) -> None:
    fake.add_model("llama3")
    assert "llama3:latest" in fake.models
    response = await client.chat("llama3", messages=USER)
    assert response.model == "llama3"  # echoed as the request spelled it
    assert (await client.chat("LLAMA3:latest", messages=USER)).done


async def test_generate_streams_response_chunks(
    fake: FakeOllama, client: ollama.AsyncClient
) -> None:
    fake.script("Why is the sky blue? Rayleigh scattering.")
    parts = await collect(
        await client.generate("llama3.2:3b", prompt="Why?", system="Be brief", stream=True), []
    )
    *chunks, final = parts
    assert "".join(p.response for p in chunks) == "Why is the sky blue? Rayleigh scattering."
    assert final.done is True
    assert final.done_reason == "stop"
    assert final.context
    assert final.eval_count == len(chunks)
    body = fake.generate_requests[-1]
    assert (body["prompt"], body["system"]) == ("Why?", "Be brief")

    whole = await client.generate("llama3.2:3b", prompt="ping")
    assert whole.response == "Echo: ping"
    assert whole.context


async def test_thinking_chunks_come_before_content(
    fake: FakeOllama, client: ollama.AsyncClient
) -> None:
    fake.script(Reply(text="The answer is 42.", thinking="Let me think about it."))
    parts = await collect(await client.chat("qwen3", messages=USER, stream=True, think=True), [])
    thinking = [p.message.thinking for p in parts if p.message.thinking]
    content = [p.message.content for p in parts if p.message.content]
    assert "".join(thinking) == "Let me think about it."
    assert "".join(content) == "The answer is 42."
    first_content = next(i for i, p in enumerate(parts) if p.message.content)
    assert all(p.message.thinking for p in parts[:first_content])
    assert parts[-1].eval_count == len(content)

    fake.script(Reply(text="Done.", thinking="Hidden."))
    no_think = await client.chat("qwen3", messages=USER, think=False)
    assert (no_think.message.content, no_think.message.thinking) == ("Done.", None)

    fake.script(Reply(text="Sure.", thinking="Quick thought."))
    whole = await client.generate("qwen3", prompt="hi", think=True)
    assert (whole.response, whole.thinking) == ("Sure.", "Quick thought.")


async def test_think_on_a_model_without_thinking_is_400(client: ollama.AsyncClient) -> None:
    with pytest.raises(ollama.ResponseError) as caught:
        await client.chat("llama3.2:3b", messages=USER, think=True)
    assert caught.value.status_code == 400
    assert caught.value.error == '"llama3.2:3b" does not support thinking'


async def test_unknown_model_is_404(fake: FakeOllama, client: ollama.AsyncClient) -> None:
    with pytest.raises(ollama.ResponseError) as caught:
        await collect(await client.chat("nope", messages=USER, stream=True), [])
    assert caught.value.status_code == 404
    assert caught.value.error == "model 'nope' not found"
    assert str(caught.value) == "model 'nope' not found (status code: 404)"

    with pytest.raises(ollama.ResponseError) as caught:
        await client.chat("nope:7b", messages=USER)
    assert (caught.value.status_code, caught.value.error) == (404, "model 'nope:7b' not found")

    with pytest.raises(ollama.ResponseError) as caught:
        await client.generate("nope", prompt="hi")
    assert (caught.value.status_code, caught.value.error) == (404, "model 'nope' not found")


async def test_missing_model_is_400(fake: FakeOllama) -> None:
    # The client refuses an empty model itself, so talk HTTP directly.
    async with httpx.AsyncClient(base_url=fake.url) as http:
        response = await http.post("/api/chat", json={"messages": USER})
        assert response.status_code == 400
        assert response.json() == {"error": "model is required"}
        empty = await http.post("/api/chat", content=b"")
        assert (empty.status_code, empty.json()) == (400, {"error": "missing request body"})


async def test_images_on_a_model_without_vision(
    fake: FakeOllama, client: ollama.AsyncClient
) -> None:
    image = "iVBORw0KGgo="
    with pytest.raises(ollama.ResponseError) as caught:
        await client.chat(
            "llama3.2:3b", messages=[{"role": "user", "content": "?", "images": [image]}]
        )
    assert (caught.value.status_code, caught.value.error) == (500, NO_VISION_ERROR)
    seen = await client.chat(
        "llava", messages=[{"role": "user", "content": "?", "images": [image]}]
    )
    assert seen.done
    assert fake.chat_requests[-1]["messages"][0]["images"] == [image]


async def test_load_and_unload_with_empty_messages(
    fake: FakeOllama, client: ollama.AsyncClient
) -> None:
    loaded = await client.chat("llama3.2:3b", messages=[])
    assert (loaded.done, loaded.done_reason) == (True, "load")
    assert fake.loaded_models == ["llama3.2:3b"]
    unloaded = await client.chat("llama3.2:3b", messages=[], keep_alive=0)
    assert unloaded.done_reason == "unload"
    assert (await client.ps()).models == []


# ---------------------------------------------------------------- faults


async def test_http_500_before_streaming(fake: FakeOllama, client: ollama.AsyncClient) -> None:
    fake.script(Reply(http_status=500, error_message="llama runner process has terminated"))
    got: list[Any] = []
    with pytest.raises(ollama.ResponseError) as caught:
        await collect(await client.chat("llama3.2:3b", messages=USER, stream=True), got)
    assert got == []
    assert caught.value.status_code == 500
    assert caught.value.error == "llama runner process has terminated"


async def test_error_mid_stream_is_status_minus_one(
    fake: FakeOllama, client: ollama.AsyncClient
) -> None:
    fake.script(Reply(text="one two three four", error_after=2))
    got: list[Any] = []
    with pytest.raises(ollama.ResponseError) as caught:
        await collect(await client.chat("llama3.2:3b", messages=USER, stream=True), got)
    assert [p.message.content for p in got] == ["one", " two"]
    assert caught.value.status_code == -1
    assert caught.value.error == DEFAULT_ERROR_MESSAGE

    # the same fault without streaming is a plain HTTP 500
    fake.script(Reply(text="one two", error_after=1, error_message="boom"))
    with pytest.raises(ollama.ResponseError) as caught:
        await client.chat("llama3.2:3b", messages=USER)
    assert (caught.value.status_code, caught.value.error) == (500, "boom")

    # error_after=0 fails before any header is written: HTTP 500, like gin
    fake.script(Reply(text="one", error_after=0, error_message="early"))
    with pytest.raises(ollama.ResponseError) as caught:
        await collect(await client.chat("llama3.2:3b", messages=USER, stream=True), [])
    assert (caught.value.status_code, caught.value.error) == (500, "early")


async def test_cut_connection_mid_stream(fake: FakeOllama, client: ollama.AsyncClient) -> None:
    fake.script(Reply(text="one two three four", cut_after=2))
    got: list[Any] = []
    # observed: httpx.RemoteProtocolError("peer closed connection without sending
    # complete message body (incomplete chunked read)")
    with pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"):
        await collect(await client.chat("llama3.2:3b", messages=USER, stream=True), got)
    assert [p.message.content for p in got] == ["one", " two"]
    assert fake.cancelled_streams == 0  # we cut it, the client did not cancel

    # cut before anything was sent (or without streaming): no response at all
    fake.script(Reply(text="one", cut_after=0))
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        await collect(await client.chat("llama3.2:3b", messages=USER, stream=True), [])
    fake.script(Reply(text="one", cut_after=0))
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        await client.chat("llama3.2:3b", messages=USER)

    # the client recovers on the next call
    assert (await client.chat("llama3.2:3b", messages=USER)).done


async def test_down_then_up_on_the_same_url(fake: FakeOllama, client: ollama.AsyncClient) -> None:
    url = fake.url
    assert (await client.chat("llama3.2:3b", messages=USER)).done
    await fake.go_down()
    assert not fake.is_up

    # streamed calls: the raw httpx.ConnectError escapes the client
    with pytest.raises(httpx.ConnectError):
        await collect(await client.chat("llama3.2:3b", messages=USER, stream=True), [])
    # non-streamed calls: the client turns it into the builtin ConnectionError
    with pytest.raises(ConnectionError, match="Failed to connect to Ollama"):
        await client.chat("llama3.2:3b", messages=USER)
    with pytest.raises(ConnectionError, match="Failed to connect to Ollama"):
        await client.list()

    await fake.come_up()
    assert fake.url == url
    parts = await collect(await client.chat("llama3.2:3b", messages=USER, stream=True), [])
    assert parts[-1].done


async def test_client_disconnect_mid_stream_is_counted(
    fake: FakeOllama, client: ollama.AsyncClient
) -> None:
    fake.script(Reply(text="word " * 50, token_delay=0.02))
    stream = await client.chat("llama3.2:3b", messages=USER, stream=True)
    got = []
    async for part in stream:
        got.append(part)
        if len(got) == 2:
            break
    assert isinstance(stream, AsyncGenerator)  # typed AsyncIterator, really a generator
    await stream.aclose()  # what the bot does on /stop
    await fake.wait_for(lambda: fake.cancelled_streams == 1, timeout=2)
    await fake.wait_for(lambda: fake.active_streams == 0, timeout=2)
    sent = fake.chunks_sent
    await asyncio.sleep(0.1)
    assert fake.chunks_sent == sent < 50  # it stopped generating
    assert fake.completed_streams == 0


async def test_stop_does_not_hang_on_a_slow_stream() -> None:
    fake = FakeOllama()
    await fake.start()
    fake.add_model("slow")
    fake.script(Reply(text="tick " * 1000, token_delay=0.05))
    async with ollama.AsyncClient(host=fake.url) as client:
        got: list[Any] = []
        task = asyncio.create_task(
            collect(await client.chat("slow", messages=USER, stream=True), got)
        )
        await fake.wait_for(lambda: fake.chunks_sent >= 2)
        await asyncio.wait_for(fake.stop(), timeout=2)
        with pytest.raises(httpx.RemoteProtocolError):
            await task
        assert fake.cancelled_streams == 0


async def test_first_token_delay_and_token_delay(
    fake: FakeOllama, client: ollama.AsyncClient
) -> None:
    fake.script(Reply(text="a b c", first_token_delay=0.1, token_delay=0.02))
    loop = asyncio.get_running_loop()
    start = loop.time()
    parts = await collect(await client.chat("llama3.2:3b", messages=USER, stream=True), [])
    assert loop.time() - start >= 0.1 + 2 * 0.02
    assert parts[-1].load_duration >= 100_000_000


async def test_wait_for_times_out_with_assertion_error(fake: FakeOllama) -> None:
    with pytest.raises(AssertionError, match="never"):
        await fake.wait_for(lambda: False, timeout=0.1, what="never")


# ---------------------------------------------------------------- pull / delete


async def test_pull_success_reports_progress(fake: FakeOllama, client: ollama.AsyncClient) -> None:
    fake.pullable["tinyllama"] = 637_700_000
    fake.pull_step_delay = 0.001
    parts = await collect(await client.pull("tinyllama", stream=True), [])
    statuses = [p.status for p in parts]
    assert statuses[0] == "pulling manifest"
    assert statuses[-3:] == ["verifying sha256 digest", "writing manifest", "success"]
    layer = [p for p in parts if p.digest and p.status == f"pulling {p.digest[7:19]}"]
    assert layer
    assert all(p.digest.startswith("sha256:") for p in layer)
    first_digest = layer[0].digest
    first = [p for p in layer if p.digest == first_digest]
    assert first[0].completed is None  # omitted while 0, as Ollama does
    completed = [p.completed for p in first[1:]]
    assert completed == sorted(completed)
    assert completed[-1] == first[0].total
    assert sum(p.total for p in parts if p.completed and p.completed == p.total) == 637_700_000

    assert "tinyllama:latest" in [m.model for m in (await client.list()).models]
    assert fake.pull_requests[-1]["model"] == "tinyllama"

    # stream=False waits and answers the last status
    fake.pullable["phi3:mini"] = 2_000_000_000
    assert (await client.pull("phi3:mini")).status == "success"
    assert fake.has_model("phi3:mini")


async def test_pull_unknown_model_fails_after_pulling_manifest(
    fake: FakeOllama, client: ollama.AsyncClient
) -> None:
    got: list[Any] = []
    with pytest.raises(ollama.ResponseError) as caught:
        await collect(await client.pull("does-not-exist", stream=True), got)
    assert [p.status for p in got] == ["pulling manifest"]
    assert caught.value.status_code == -1  # HTTP 200: streaming had begun
    assert caught.value.error == PULL_MANIFEST_ERROR
    assert not fake.has_model("does-not-exist")

    with pytest.raises(ollama.ResponseError) as caught:
        await client.pull("does-not-exist")
    assert (caught.value.status_code, caught.value.error) == (500, PULL_MANIFEST_ERROR)


async def test_delete_existing_and_missing(fake: FakeOllama, client: ollama.AsyncClient) -> None:
    assert (await client.delete("llava")).status == "success"
    assert not fake.has_model("llava")
    assert "llava:latest" not in [m.model for m in (await client.list()).models]

    with pytest.raises(ollama.ResponseError) as caught:
        await client.delete("llava")
    assert caught.value.status_code == 404
    assert caught.value.error == "model 'llava' not found"
