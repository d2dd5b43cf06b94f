"""End to end: photos, albums and documents, downloaded through getFile, answered by Ollama."""

from __future__ import annotations

import asyncio
import base64
import io
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot import pdf_worker
from tests.documents import bomb_pdf, encrypted_pdf, image_bytes, pdf_bytes
from tests.fakes.ollama import FakeOllama, Reply
from tests.fakes.telegram import FakeTelegram, FakeUser, StoredMessage
from tests.harness import ADMIN, ALICE, GROUP_ID, MODEL, running_bot, stored_messages
from tests.test_media import worker_processes

LLAVA = "llava:latest"
GEMMA = "gemma3:4b"
BIG = 25 * 1024 * 1024  # more than getFile hands over
GROUP: dict[str, Any] = {"chat_id": GROUP_ID, "chat_type": "supergroup"}


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(group_limit=20, group_window=6.0) as fake:
        yield fake
        assert not fake.unanswered_callbacks, "every button press gets an answer"


@pytest.fixture
async def ollama() -> AsyncIterator[FakeOllama]:
    async with FakeOllama() as fake:
        fake.add_model(LLAVA, capabilities=("completion", "vision"), context_length=32768)
        fake.add_model(MODEL, context_length=8192)  # newest: everyone's default, cannot see
        yield fake


def sent_images(request: dict[str, Any]) -> list[Image.Image]:
    """The images of every message of a /api/chat body, decoded."""
    return [
        Image.open(io.BytesIO(base64.b64decode(data)))
        for message in request["messages"]
        for data in message.get("images") or []
    ]


async def answered(tg: FakeTelegram, user: FakeUser, count: int = 1) -> list[StoredMessage]:
    return await tg.wait_for_bot_messages(user.id, count)


def image_rows(db_path: Path) -> tuple[int, int]:
    """(images stored, links from messages to images)."""
    with sqlite3.connect(db_path) as db:
        images = db.execute("SELECT COUNT(*) FROM images").fetchone()[0]
        links = db.execute("SELECT COUNT(*) FROM message_images").fetchone()[0]
    return int(images), int(links)


async def test_photos_go_to_the_vision_model_downscaled_with_the_caption_as_question(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    small = tg.add_file(image_bytes(90, 45))
    large = tg.add_file(image_bytes(2000, 1000))
    too_big = tg.add_file(size=BIG)  # Telegram lists a size getFile would refuse
    ollama.script("A red rectangle.", "Still a red rectangle.")
    async with running_bot(tg, ollama, db_path):
        tg.user_sends_photo(ALICE, [small, large, too_big], caption="what is this?")
        await answered(tg, ALICE)
        tg.user_sends_photo(ALICE, [small, large, too_big])
        [first, second] = await answered(tg, ALICE, 2)
    asked, again = ollama.chat_requests
    assert asked["model"] == LLAVA, "the user's model cannot see, VISION_MODEL can"
    assert asked["messages"][-1]["content"] == "what is this?"
    [image] = sent_images(asked)
    assert (image.format, image.size) == ("JPEG", (1344, 672)), "the largest size, downscaled"
    assert again["messages"][-1]["content"] == "Describe this image."
    assert len(again["messages"][-1]["images"]) == 1
    assert (first.content, second.content) == ("A red rectangle.", "Still a red rectangle.")
    assert image_rows(db_path) == (1, 2), "the same image is stored once"
    assert [c.params["file_id"] for c in tg.calls_of("getFile")] == [large, large]


async def test_the_users_own_model_answers_when_it_can_see(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.add_model(GEMMA, capabilities=("completion", "vision"))
    photo = tg.add_file(image_bytes(640, 480, fmt="JPEG"))
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, f"/model {GEMMA}")
        await answered(tg, ALICE)
        tg.user_sends_photo(ALICE, [photo], caption="colour?")
        await answered(tg, ALICE, 2)
    [request] = ollama.chat_requests
    assert request["model"] == GEMMA
    [image] = sent_images(request)
    assert image.size == (640, 480), "small images keep their size"


async def test_without_a_vision_model_users_are_told_and_admins_can_pull_llava(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.remove_model(LLAVA)
    ollama.pullable["llava:latest"] = 4_700_000_000
    photo = tg.add_file(image_bytes(100, 100))
    async with running_bot(tg, ollama, db_path):
        tg.user_sends_photo(ALICE, [photo])
        [told] = await answered(tg, ALICE)
        tg.user_sends_photo(ADMIN, [photo])
        [offer] = await answered(tg, ADMIN)
        [[button]] = offer.inline_keyboard
        tg.user_presses(ADMIN, offer.message_id, button["callback_data"])
        await ollama.wait_for(lambda: len(ollama.pull_requests) == 1)
        await tg.wait_for(lambda: "is installed" in tg.bot_messages(ADMIN.id)[-1].content)
    assert "No model here can see images" in told.content
    assert "/pull llava" in told.content
    assert told.inline_keyboard == [], "only admins get the button"
    assert button["text"] == "Pull llava"
    assert ollama.pull_requests[0]["model"] == "llava:latest"
    assert ollama.chat_requests == []
    assert tg.calls_of("getFile") == [], "nothing downloaded for nothing"


async def test_files_too_big_are_refused_before_downloading(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    photo = tg.add_file(size=BIG)
    document = tg.add_file(size=3 * 1024 * 1024)
    async with running_bot(tg, ollama, db_path, max_document_mb=2):
        tg.user_sends_photo(ALICE, [photo], caption="look")
        [photo_refusal] = await answered(tg, ALICE)
        tg.user_sends_document(ALICE, document, file_name="big.log", mime_type="text/plain")
        [_, document_refusal] = await answered(tg, ALICE, 2)
    assert photo_refusal.content == "photo has 25.0 MB; I can read files up to 20 MB."
    assert document_refusal.content == "big.log has 3.0 MB; I can read files up to 2 MB."
    assert tg.calls_of("getFile") == []
    assert ollama.chat_requests == []


async def test_a_follow_up_keeps_the_image_in_context_and_new_drops_it(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    photo = tg.add_file(image_bytes(800, 600, fmt="JPEG", color="blue"))
    ollama.script(Reply(text="A blue square.", token_delay=0.05), "Blue.", "Hi!")
    async with running_bot(tg, ollama, db_path):
        tg.user_sends_photo(ALICE, [photo], caption="what is it?")
        tg.user_sends(ALICE, "what colour is it?")  # sent before the photo is even downloaded
        await answered(tg, ALICE, 2)
        tg.user_sends(ALICE, "/new")
        await answered(tg, ALICE, 3)
        tg.user_sends(ALICE, "hello")
        await answered(tg, ALICE, 4)
    with_photo, follow_up, fresh = ollama.chat_requests
    assert with_photo["messages"][-1]["content"] == "what is it?", "answered in the order sent"
    assert follow_up["model"] == LLAVA
    assert [m["content"] for m in follow_up["messages"][-3:]] == [
        "what is it?",
        "A blue square.",
        "what colour is it?",
    ]
    assert len(follow_up["messages"][-3]["images"]) == 1
    assert len(sent_images(follow_up)) == 1, "the image goes with its own message only"
    assert fresh["model"] == MODEL
    assert sent_images(fresh) == []
    assert fresh["messages"][-1]["content"] == "hello"


async def test_an_album_of_three_photos_is_one_question(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    photos = [tg.add_file(image_bytes(300, 200, color=c)) for c in ("red", "green", "blue")]
    async with running_bot(tg, ollama, db_path, num_ctx=16384):
        tg.user_sends_photo(ALICE, [photos[0]], caption="compare these", media_group_id="album1")
        for photo in photos[1:]:
            await asyncio.sleep(0.1)
            tg.user_sends_photo(ALICE, [photo], media_group_id="album1")
        await answered(tg, ALICE)
        await asyncio.sleep(1.5)
    [request] = ollama.chat_requests
    assert request["messages"][-1]["content"] == "compare these"
    pixels = [image.convert("RGB").getpixel((10, 10)) for image in sent_images(request)]
    strongest = [max(range(3), key=lambda channel: pixel[channel]) for pixel in pixels]  # type: ignore[index]
    assert strongest == [0, 1, 2], "red, green, blue: all three, in the order sent"
    assert len(tg.bot_messages(ALICE.id)) == 1
    assert image_rows(db_path) == (3, 3)


async def test_a_text_file_and_a_pdf_become_context(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    notes = tg.add_file(b"# Shopping\n- milk\n- tea\n")
    report = tg.add_file(pdf_bytes([["Quarterly report", "Revenue grew 12%."], ["Costs fell."]]))
    async with running_bot(tg, ollama, db_path):
        tg.user_sends_document(
            ALICE, notes, file_name="notes.md", mime_type="text/markdown", caption="what to buy?"
        )
        await answered(tg, ALICE)
        tg.user_sends_document(ALICE, report, file_name="q3.pdf", mime_type="application/pdf")
        await answered(tg, ALICE, 2)
        tg.user_sends(ALICE, "and the notes?")
        await answered(tg, ALICE, 3)
    first, second, third = ollama.chat_requests
    assert first["model"] == MODEL, "text needs no vision model"
    assert first["messages"][-1]["content"] == (
        "what to buy?\n\n--- notes.md ---\n# Shopping\n- milk\n- tea\n--- end of notes.md ---"
    )
    assert second["messages"][-1]["content"] == (
        "Read this file and tell me briefly what it is about.\n\n--- q3.pdf ---\n"
        "Quarterly report\nRevenue grew 12%.\n\nCosts fell.\n--- end of q3.pdf ---"
    )
    assert "--- notes.md ---" in third["messages"][1]["content"], "the file stays in context"
    assert stored_messages(db_path, ALICE.id)[0][1].startswith("what to buy?")


async def test_a_document_longer_than_the_window_is_cut_with_a_notice(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    log = tg.add_file(("".join(f"line {n}: all is well\n" for n in range(20_000))).encode())
    async with running_bot(tg, ollama, db_path):
        tg.user_sends_document(ALICE, log, file_name="server.log", mime_type="text/plain")
        notice, _answer = await answered(tg, ALICE, 2)
    assert notice.content == (
        "server.log is longer than your model's context window, so only its beginning was read."
    )
    [request] = ollama.chat_requests
    content = request["messages"][-1]["content"]
    assert content.startswith("Read this file")
    assert "line 0: all is well" in content
    assert "line 19999" not in content
    assert content.endswith("--- end of server.log ---")
    # Within the 8192-token window, leaving a quarter for the answer (3 bytes a token at most).
    assert len(content.encode()) // 3 < 8192 * 3 // 4


async def test_images_as_files_unsupported_and_damaged_files(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    webp = tg.add_file(image_bytes(3000, 3000, fmt="WEBP"))
    archive = tg.add_file(b"PK\x03\x04 not for reading")
    broken = tg.add_file(b"\x89PNG but not really")
    async with running_bot(tg, ollama, db_path):
        tg.user_sends_document(ALICE, webp, file_name="scan.webp", mime_type="image/webp")
        await answered(tg, ALICE)
        tg.user_sends_document(ALICE, archive, file_name="photos.zip", mime_type="application/zip")
        [_, unsupported] = await answered(tg, ALICE, 2)
        tg.user_sends_photo(ALICE, [broken], caption="and this?")
        [*_, damaged] = await answered(tg, ALICE, 3)
        tg.user_sends(ALICE, "still there?")
        await answered(tg, ALICE, 4)
    [image] = sent_images(ollama.chat_requests[0])
    assert image.size == (1344, 1344)
    assert "I can't read photos.zip" in unsupported.content
    assert damaged.content == (
        "I can't read photo: it is not a JPEG, PNG or WebP image, the kinds I read."
    )
    assert len(ollama.chat_requests) == 2, "the bot carries on"
    assert [m[1] for m in stored_messages(db_path, ALICE.id) if m[0] == "user"] == [
        "Describe this image.",
        "still there?",
    ]


async def test_in_a_group_only_photos_for_the_bot_are_answered(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    photo = tg.add_file(image_bytes(200, 200))
    async with running_bot(tg, ollama, db_path):
        tg.user_sends_photo(
            ALICE, [photo], caption="holiday!", chat_id=GROUP_ID, chat_type="supergroup"
        )
        sent = tg.user_sends_photo(
            ALICE,
            [photo],
            caption="@ollagram_test_bot where is this?",
            chat_id=GROUP_ID,
            chat_type="supergroup",
        )
        [reply] = await tg.wait_for_bot_messages(GROUP_ID)
        await asyncio.sleep(0.3)
    [request] = ollama.chat_requests
    assert request["messages"][-1]["content"] == "where is this?"
    assert reply.reply_to_message_id == sent.message.message_id


async def test_once_the_image_leaves_the_window_the_users_model_answers_again(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    photo = tg.add_file(image_bytes(500, 500))
    long_text = "tell me more " * 460  # ~6,000 bytes: ~2,000 tokens by the bot's estimate
    ollama.script("A photo.", "More.", "Even more.")
    # 8192 tokens: 6144 for the prompt; the photo costs 2880 (LLaVA 1.6's most).
    async with running_bot(tg, ollama, db_path, num_ctx=8192):
        tg.user_sends_photo(ALICE, [photo], caption="what?")
        await answered(tg, ALICE)
        for count in (2, 3):
            tg.user_sends(ALICE, long_text)
            await answered(tg, ALICE, count)
    models = [r["model"] for r in ollama.chat_requests]
    assert models == [LLAVA, LLAVA, MODEL]
    assert sent_images(ollama.chat_requests[2]) == [], "the photo no longer fits the window"


async def test_an_album_larger_than_the_window_sends_the_first_photos_and_says_so(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    photos = [tg.add_file(image_bytes(100, 100, color=c)) for c in ("red", "green", "blue")]
    async with running_bot(tg, ollama, db_path):  # NUM_CTX 8192: two photos of 2880 tokens
        for photo in photos:
            tg.user_sends_photo(ALICE, [photo], media_group_id="big")
        notice, _answer = await answered(tg, ALICE, 2)
    assert notice.content == (
        "Only the first 2 of your 3 photos fit your model's context window; "
        "the answer is about those."
    )
    [request] = ollama.chat_requests
    assert len(sent_images(request)) == 2


async def test_in_a_group_an_album_is_answered_when_any_part_mentions_the_bot(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    tg.privacy_mode = False  # the bot sees every part, as with privacy mode off
    photos = [tg.add_file(image_bytes(100, 100)) for _ in range(2)]
    async with running_bot(tg, ollama, db_path):
        tg.user_sends_photo(ALICE, [photos[0]], media_group_id="g1", **GROUP)
        tg.user_sends_photo(
            ALICE,
            [photos[1]],
            caption="@ollagram_test_bot which is nicer?",
            media_group_id="g1",
            **GROUP,
        )
        tg.user_sends_photo(ALICE, [photos[0]], media_group_id="g2", **GROUP)
        tg.user_sends_photo(
            ALICE, [photos[1]], caption="just for friends", media_group_id="g2", **GROUP
        )
        await tg.wait_for_bot_messages(GROUP_ID)
        await asyncio.sleep(1.5)
    [request] = ollama.chat_requests
    assert request["messages"][-1]["content"] == "which is nicer?"
    assert len(sent_images(request)) == 2
    assert len(tg.bot_messages(GROUP_ID)) == 1, "the album without a mention is left alone"


async def test_a_follow_up_after_a_long_document_still_has_the_document(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    log = tg.add_file(("".join(f"line {n}: all is well\n" for n in range(20_000))).encode())
    ollama.script("It is a log. " * 60, "Line 5 says all is well.")  # a real-sized answer
    async with running_bot(tg, ollama, db_path):
        tg.user_sends_document(ALICE, log, file_name="server.log", mime_type="text/plain")
        await answered(tg, ALICE, 2)
        tg.user_sends(ALICE, "what is on line 5?")
        await answered(tg, ALICE, 3)
    follow_up = ollama.chat_requests[1]["messages"]
    assert "--- server.log ---" in follow_up[-3]["content"], "the document is still in context"
    assert follow_up[-2]["role"] == "assistant"
    assert follow_up[-1]["content"] == "what is on line 5?"


async def test_a_pdf_encrypted_without_a_password_is_read_and_a_locked_one_is_refused(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    opened = tg.add_file(encrypted_pdf(pdf_bytes([["Owner-only protection."]]), user_password=""))
    locked = tg.add_file(encrypted_pdf(pdf_bytes([["Secret."]]), user_password="s3cret"))
    async with running_bot(tg, ollama, db_path):
        tg.user_sends_document(ALICE, opened, file_name="open.pdf", mime_type="application/pdf")
        await answered(tg, ALICE)
        tg.user_sends_document(ALICE, locked, file_name="locked.pdf", mime_type="application/pdf")
        [*_, refusal] = await answered(tg, ALICE, 2)
    assert "Owner-only protection." in ollama.chat_requests[0]["messages"][-1]["content"]
    assert refusal.content == "I can't read locked.pdf: the PDF is password-protected."
    assert len(ollama.chat_requests) == 1


# -- hostile or careless files ----------------------------------------------------------------

SLOW_BOMB = bomb_pdf(strokes=30_000)  # about 30 s of pypdf's time, read in the bot's process


@pytest.fixture
def short_pdf_limit(monkeypatch: pytest.MonkeyPatch) -> float:
    """PDFs get 3 s (not 15) to be read, so the tests need not wait long for the limit."""
    monkeypatch.setattr(pdf_worker, "LIMITS", pdf_worker.ReadLimits(seconds=3))
    return 3.0


async def test_a_pdf_bomb_gets_one_line_once_the_time_limit_is_up(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path, short_pdf_limit: float
) -> None:
    bomb = tg.add_file(SLOW_BOMB)
    async with running_bot(tg, ollama, db_path):
        tg.user_sends_document(ALICE, bomb, file_name="bomb.pdf", mime_type="application/pdf")
        sent = time.monotonic()
        [told] = await tg.wait_for_bot_messages(ALICE.id, timeout=short_pdf_limit + 5)
        waited = time.monotonic() - sent
        tg.user_sends(ALICE, "still there?")
        await answered(tg, ALICE, 2)
    assert told.content == (
        "I can't read bomb.pdf: reading it takes more than 3 seconds, the most I spend on a file."
    )
    assert waited < short_pdf_limit + 2
    assert worker_processes() == []
    assert [r["messages"][-1]["content"] for r in ollama.chat_requests] == ["still there?"]


async def test_stop_while_a_pdf_is_read_ends_the_reading_and_says_so(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    bomb = tg.add_file(SLOW_BOMB)
    async with running_bot(tg, ollama, db_path):
        tg.user_sends_document(ALICE, bomb, file_name="bomb.pdf", mime_type="application/pdf")
        await tg.wait_for(lambda: worker_processes() != [], timeout=10)
        tg.user_sends(ALICE, "/stop")
        [told] = await tg.wait_for_bot_messages(ALICE.id, timeout=3)
        gone = worker_processes()
        tg.user_sends(ALICE, "hello")
        await answered(tg, ALICE, 2)
    assert told.content == "Stopped: your file was still being read, so nothing was written."
    assert gone == [], "the worker is killed, not left reading"
    assert [r["messages"][-1]["content"] for r in ollama.chat_requests] == ["hello"]
    assert [m[1] for m in stored_messages(db_path, ALICE.id) if m[0] == "user"] == ["hello"]


async def test_shutdown_ends_a_pdf_being_read_at_once(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    bomb = tg.add_file(SLOW_BOMB)
    async with running_bot(tg, ollama, db_path):  # SHUTDOWN_GRACE 10 s
        tg.user_sends_document(ALICE, bomb, file_name="bomb.pdf", mime_type="application/pdf")
        await tg.wait_for(lambda: worker_processes() != [], timeout=10)
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 3, "reading a file is not an answer to let finish"
    assert worker_processes() == []
    assert tg.bot_texts(ALICE.id) == [
        "I'm restarting right now and could not answer this. Please send it again in a minute."
    ]


@pytest.mark.parametrize(
    ("fmt", "name"), [("TIFF", "scan.png"), ("GIF", "cat.jpg"), ("BMP", "drawing.webp")]
)
async def test_other_image_formats_under_an_image_name_are_refused_with_the_formats_read(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path, fmt: str, name: str
) -> None:
    out = io.BytesIO()
    Image.new("RGB", (300, 200), "red").save(out, format=fmt)
    image = tg.add_file(out.getvalue())
    tiff = tg.add_file(out.getvalue())
    async with running_bot(tg, ollama, db_path):
        tg.user_sends_document(ALICE, image, file_name=name, mime_type="image/png")
        [refused] = await answered(tg, ALICE)
        tg.user_sends_document(ALICE, tiff, file_name="scan.tiff", mime_type="image/tiff")
        [_, unsupported] = await answered(tg, ALICE, 2)
    assert refused.content == (
        f"I can't read {name}: it is not a JPEG, PNG or WebP image, the kinds I read."
    )
    assert "I read photos and images (JPEG, PNG, WebP)" in unsupported.content
    assert ollama.chat_requests == []


async def test_an_image_with_too_many_pixels_gets_the_limit(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    out = io.BytesIO()
    Image.new("RGBA", (7000, 7000), "red").save(out, format="PNG")  # 49 Mpx in 200 KB
    poster = tg.add_file(out.getvalue())
    async with running_bot(tg, ollama, db_path):
        tg.user_sends_document(ALICE, poster, file_name="poster.png", mime_type="image/png")
        [refused] = await answered(tg, ALICE)
    assert refused.content == (
        "I can't read poster.png: the image has more than 40 million pixels, the most I read "
        "(sent as a photo, Telegram makes it smaller)."
    )
    assert ollama.chat_requests == []


async def test_a_large_sixteen_bit_grey_png_is_answered_like_a_photo(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    out = io.BytesIO()
    Image.new("I;16", (6000, 4000), 32768).save(out, format="PNG")  # an X-ray's mid-grey
    xray = tg.add_file(out.getvalue())
    ollama.script("A grey rectangle.")
    async with running_bot(tg, ollama, db_path):
        tg.user_sends_document(
            ALICE, xray, file_name="xray.png", mime_type="image/png", caption="what is it?"
        )
        [answer] = await answered(tg, ALICE)
    assert answer.content == "A grey rectangle."
    [request] = ollama.chat_requests
    assert request["model"] == LLAVA
    [image] = sent_images(request)
    assert image.size == (1344, 896)
    pixel = image.convert("RGB").getpixel((600, 400))
    assert isinstance(pixel, tuple)
    assert all(120 <= channel <= 136 for channel in pixel), pixel
