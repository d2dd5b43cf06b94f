"""End to end: several model servers — two Ollama hosts, an OpenAI-compatible server — as one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.documents import image_bytes
from tests.fakes.ollama import FakeOllama
from tests.fakes.openai_compat import FakeOpenAI, OpenAIReply
from tests.fakes.telegram import FakeTelegram
from tests.harness import ADMIN, ALICE, exchange, labels, reply_to, running_bot

DESKTOP_MODEL = "qwen2.5:14b"
LAPTOP_MODEL = "llama3.2:latest"
SHARED_MODEL = "gemma3:4b"
STUDIO_MODEL = "lmstudio-community/gemma-3-4b-it"


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.llm.router.BACKOFF_START_S", 0.3)


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def desktop() -> AsyncIterator[FakeOllama]:
    async with FakeOllama() as fake:
        fake.add_model(SHARED_MODEL)
        fake.add_model(DESKTOP_MODEL)
        yield fake


@pytest.fixture
async def laptop() -> AsyncIterator[FakeOllama]:
    async with FakeOllama() as fake:
        fake.add_model(SHARED_MODEL)
        fake.add_model(LAPTOP_MODEL)
        yield fake


def hosts(*servers: FakeOllama) -> str:
    return ",".join(server.url for server in servers)


async def test_two_ollama_hosts_are_one_menu_and_each_chat_goes_where_its_model_is(
    tg: FakeTelegram, desktop: FakeOllama, laptop: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, desktop, db_path, ollama_host=hosts(desktop, laptop)):
        menu = await reply_to(tg, ALICE, "/model")
        await reply_to(tg, ALICE, f"/model {LAPTOP_MODEL}")
        await reply_to(tg, ALICE, "hello laptop")
        await reply_to(tg, ALICE, f"/model {DESKTOP_MODEL}")
        await reply_to(tg, ALICE, "hello desktop")
    shown = [label.removeprefix("✅ ") for label in labels(menu)]
    where = f"@ 127.0.0.1:{laptop.url.rsplit(':', 1)[1]}"
    assert any(label.startswith(f"{LAPTOP_MODEL} ") and where in label for label in shown)
    assert any(label.startswith(f"{DESKTOP_MODEL} ") for label in shown)
    assert sum(SHARED_MODEL in label for label in shown) == 1, "one button for a model on both"
    assert [r["model"] for r in laptop.chat_requests] == [LAPTOP_MODEL]
    assert [r["model"] for r in desktop.chat_requests] == [DESKTOP_MODEL]


async def test_a_host_that_goes_down_fails_over_and_is_used_again_when_it_is_back(
    tg: FakeTelegram, desktop: FakeOllama, laptop: FakeOllama, db_path: Path
) -> None:
    async with running_bot(
        tg, desktop, db_path, ollama_host=hosts(desktop, laptop), default_model=SHARED_MODEL
    ):
        await reply_to(tg, ALICE, "one")
        await desktop.go_down()
        await reply_to(tg, ALICE, "two")
        await reply_to(tg, ALICE, "three")
        await desktop.come_up()
        await asyncio.sleep(0.7)  # the desktop's rest after failing is over
        await reply_to(tg, ALICE, "four")
    asked_desktop = [r["messages"][-1]["content"] for r in desktop.chat_requests]
    asked_laptop = [r["messages"][-1]["content"] for r in laptop.chat_requests]
    assert asked_desktop == ["one", "four"]
    assert asked_laptop == ["two", "three"], "no answer was lost while the desktop was down"
    assert "can't reach" not in " ".join(tg.bot_texts(ALICE.id))


async def test_an_openai_compatible_server_next_to_ollama(
    tg: FakeTelegram, laptop: FakeOllama, db_path: Path
) -> None:
    async with FakeOpenAI([STUDIO_MODEL]) as studio:
        studio.script(
            OpenAIReply(text="Streaming from LM Studio, word by word.", token_delay=0.05),
            OpenAIReply(text="Second answer.", reasoning="Thinking it over first."),
        )
        async with running_bot(
            tg,
            laptop,
            db_path,
            openai_base_url=studio.url,
            openai_name="LM Studio",
            default_model=STUDIO_MODEL,
        ):
            menu = await reply_to(tg, ALICE, "/model")
            [first] = await exchange(tg, ALICE, "hi there")
            thought, second = await exchange(tg, ALICE, "and again", replies=2)
            removal = await reply_to(tg, ADMIN, f"/rm {STUDIO_MODEL}")
            tg.user_presses(
                ADMIN, removal.message_id, removal.inline_keyboard[0][0]["callback_data"]
            )
            await tg.wait_for(lambda: "own app" in removal.content)
            status = await reply_to(tg, ALICE, "/status")
    shown = [label.removeprefix("✅ ") for label in labels(menu)]
    assert any(label.startswith(STUDIO_MODEL) and "@ LM Studio" in label for label in shown)
    assert first.content == "Streaming from LM Studio, word by word."
    growing = [d.text for d in tg.drafts_of(ALICE.id) if first.content.startswith(d.text)]
    assert len(growing) >= 2, f"streamed: {growing}"
    assert thought.content.startswith("💭 Thought for")
    assert second.content == "Second answer."
    # The second request carries the first exchange.
    assert [m["content"] for m in studio.chat_requests[1]["messages"][-3:]] == [
        "hi there",
        "Streaming from LM Studio, word by word.",
        "and again",
    ]
    assert "LM Studio" in removal.content
    assert f"• LM Studio ({studio.url}): OpenAI-compatible, models: 1" in status.content
    assert laptop.chat_requests == []


async def test_pull_and_rm_ask_which_ollama_host(
    tg: FakeTelegram, desktop: FakeOllama, laptop: FakeOllama, db_path: Path
) -> None:
    laptop.pullable["phi3:mini"] = 2_200_000_000
    async with running_bot(tg, desktop, db_path, ollama_host=hosts(desktop, laptop)):
        question = await reply_to(tg, ADMIN, "/pull phi3:mini")
        host_buttons = labels(question)
        laptop_button = next(
            key["callback_data"]
            for row in question.inline_keyboard
            for key in row
            if key["text"] == laptop.url.removeprefix("http://")
        )
        tg.user_presses(ADMIN, question.message_id, laptop_button)
        await tg.wait_for(lambda: "is installed" in tg.bot_messages(ADMIN.id)[-1].content)
        await reply_to(tg, ADMIN, "/model")  # lists again: the shared model is on both
        removal = await reply_to(tg, ADMIN, f"/rm {SHARED_MODEL}")
        removal_buttons = labels(removal)
        from_desktop = removal.inline_keyboard[0][0]["callback_data"]
        tg.user_presses(ADMIN, removal.message_id, from_desktop)
        await tg.wait_for(lambda: removal.content.startswith("Removed"))
    assert question.content == "Pull phi3:mini on which Ollama host?"
    assert host_buttons == [desktop.url.removeprefix("http://"), laptop.url.removeprefix("http://")]
    assert [r["model"] for r in laptop.pull_requests] == ["phi3:mini"]
    assert desktop.pull_requests == []
    assert removal_buttons[:2] == [
        f"Remove from {desktop.url.removeprefix('http://')}",
        f"Remove from {laptop.url.removeprefix('http://')}",
    ]
    assert not desktop.has_model(SHARED_MODEL)
    assert laptop.has_model(SHARED_MODEL), "only the chosen host lost it"


async def test_a_host_that_is_down_keeps_its_models_and_the_users_choice(
    tg: FakeTelegram, desktop: FakeOllama, laptop: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, desktop, db_path, ollama_host=hosts(desktop, laptop)):
        await reply_to(tg, ALICE, f"/model {LAPTOP_MODEL}")
        await laptop.go_down()
        menu = await reply_to(tg, ALICE, "/model")
        down = await reply_to(tg, ALICE, "are you there?")
        await laptop.come_up()
        await asyncio.sleep(0.7)  # the laptop's rest is over
        await reply_to(tg, ALICE, "and now?")
    laptop_name = laptop.url.removeprefix("http://")
    assert any(
        LAPTOP_MODEL in label and f"@ {laptop_name} (down)" in label for label in labels(menu)
    ), labels(menu)
    assert "can't reach" in down.content
    assert "no longer installed" not in " ".join(tg.bot_texts(ALICE.id))
    assert [r["messages"][-1]["content"] for r in laptop.chat_requests] == ["and now?"]
    assert desktop.chat_requests == [], "the choice was kept, not replaced by the default"


async def test_the_same_name_on_two_kinds_of_server_goes_where_it_was_listed(
    tg: FakeTelegram, laptop: FakeOllama, db_path: Path
) -> None:
    async with (
        FakeOpenAI(["llama3.2"]) as studio,
        running_bot(tg, laptop, db_path, openai_base_url=studio.url),
    ):
        await reply_to(tg, ALICE, "/model llama3.2")  # exactly LM Studio's name
        await reply_to(tg, ALICE, "hello")
        await reply_to(tg, ALICE, f"/model {LAPTOP_MODEL}")  # exactly Ollama's
        await reply_to(tg, ALICE, "hello again")
    assert [r["model"] for r in studio.chat_requests] == ["llama3.2"]
    assert [r["model"] for r in laptop.chat_requests] == [LAPTOP_MODEL]


async def test_a_photo_goes_to_an_openai_compatible_vision_model_as_a_data_url(
    tg: FakeTelegram, laptop: FakeOllama, db_path: Path
) -> None:
    photo = tg.add_file(image_bytes(320, 200))
    async with (
        FakeOpenAI([STUDIO_MODEL]) as studio,
        running_bot(tg, laptop, db_path, openai_base_url=studio.url, vision_model=STUDIO_MODEL),
    ):
        tg.user_sends_photo(ALICE, [photo], caption="what is this?")
        await tg.wait_for_bot_messages(ALICE.id)
    [request] = studio.chat_requests
    [question] = [m for m in request["messages"] if m["role"] == "user"]
    text, image = question["content"]
    assert text == {"type": "text", "text": "what is this?"}
    assert image["type"] == "image_url"
    assert image["image_url"]["url"].startswith("data:image/jpeg;base64,/9j/")  # a JPEG
