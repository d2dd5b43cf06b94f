"""Images and documents as the model gets them: sizes, orientation, text extraction, and the
limits that keep a hostile or careless file from taking the machine."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from bot.errors import UnreadableFile
from bot.media import MAX_IMAGE_SIDE, document_text, is_readable_document, prepare_image
from bot.pdf_worker import ReadLimits, pdf_text
from bot.texts import describe_error
from tests.documents import (
    bomb_pdf,
    encrypted_pdf,
    image_bytes,
    memory_bomb_pdf,
    pdf_bytes,
)


@settings(max_examples=25, deadline=None)
@given(width=st.integers(1, 4000), height=st.integers(1, 4000))
def test_the_long_side_never_exceeds_1344_and_the_shape_is_kept(width: int, height: int) -> None:
    prepared = prepare_image(image_bytes(width, height, fmt="JPEG"))
    image = Image.open(io.BytesIO(prepared.data))
    assert image.format == "JPEG"
    assert image.size == (prepared.width, prepared.height)
    assert max(image.size) == min(max(width, height), MAX_IMAGE_SIDE)
    scale = min(1.0, MAX_IMAGE_SIDE / max(width, height))
    # The shape is kept, to the pixel (Pillow never lets a side reach 0).
    assert abs(image.width - max(width * scale, 1)) <= 1
    assert abs(image.height - max(height * scale, 1)) <= 1


def test_exif_orientation_is_applied_and_transparency_goes_on_white() -> None:
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view"
    Image.new("RGB", (400, 200), "green").save(out, format="JPEG", exif=exif)
    assert (prepare_image(out.getvalue()).width, prepare_image(out.getvalue()).height) == (200, 400)
    clear = prepare_image(image_bytes(50, 50, fmt="PNG", color="#00000000"))
    pixel = Image.open(io.BytesIO(clear.data)).getpixel((25, 25))
    assert isinstance(pixel, tuple)
    assert min(pixel[:3]) > 240, "transparent pixels become white, not black"


def test_the_same_picture_gets_the_same_sha256() -> None:
    data = image_bytes(300, 300)
    assert prepare_image(data).sha256 == prepare_image(data).sha256
    assert prepare_image(data).sha256 != prepare_image(image_bytes(300, 300, color="blue")).sha256


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"not an image at all", "not_an_image"),
        (image_bytes(10, 10)[:40], "not_an_image"),
    ],
)
def test_broken_images_are_unreadable_files(data: bytes, reason: str) -> None:
    with pytest.raises(UnreadableFile) as caught:
        prepare_image(data, "holiday.png")
    assert (caught.value.name, caught.value.reason) == ("holiday.png", reason)


def test_an_image_with_too_many_pixels_is_refused_without_decoding() -> None:
    out = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(out, format="PNG")  # 144 Mpx, a few KB of PNG
    with pytest.raises(UnreadableFile, match="too_many_pixels"):
        prepare_image(out.getvalue())


def png(mode: str, size: tuple[int, int], color: int | str) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, color).save(out, format="PNG")
    return out.getvalue()


def test_a_7000_by_7000_png_is_refused_naming_the_limit() -> None:
    # 49 Mpx of RGBA: 196 MB decoded, 663 MB at the peak as the bot decoded it before.
    with pytest.raises(UnreadableFile) as caught:
        prepare_image(png("RGBA", (7000, 7000), "red"), "poster.png")
    assert describe_error(caught.value) == (
        "I can't read poster.png: the image has more than 40 million pixels, the most I read "
        "(sent as a photo, Telegram makes it smaller)."
    )


PEAK_MEMORY = """
import sys
from bot.media import prepare_image

def peak_mb():  # of this program, not of the process it was started from (unlike ru_maxrss)
    status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
    return int(status["VmHWM"].split()[0]) // 1024

data = open(sys.argv[1], "rb").read()
before = peak_mb()
prepare_image(data)
print(peak_mb() - before)
"""


def test_the_largest_image_read_takes_about_200_mb_to_decode(tmp_path: Path) -> None:
    # 6300 x 6300 RGBA (39.7 Mpx, just under the limit): its pixels are 159 MB, and Pillow's
    # own downscaling copied them whole (premultiplied): 517 MB. Decoded in a process of its
    # own, where the peak resident size is this image's alone.
    path = tmp_path / "large.png"
    path.write_bytes(png("RGBA", (6300, 6300), "red"))
    peak_mb = int(
        subprocess.run(
            [sys.executable, "-c", PEAK_MEMORY, str(path)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert peak_mb < 200, f"{peak_mb} MB"


def test_a_phones_50_megapixel_jpeg_is_still_read() -> None:
    # Decoded at a quarter of each side (Pillow's JPEG draft), it is 3 Mpx in memory.
    out = io.BytesIO()
    Image.new("RGB", (8160, 6120), "green").save(out, format="JPEG", quality=50)
    prepared = prepare_image(out.getvalue(), "IMG_0001.jpg")
    assert (prepared.width, prepared.height) == (1344, 1008)


@pytest.mark.parametrize("fmt", ["TIFF", "GIF", "BMP", "PPM", "ICO"])
def test_only_jpeg_png_and_webp_are_decoded_whatever_the_name(fmt: str) -> None:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(out, format=fmt)
    with pytest.raises(UnreadableFile) as caught:
        prepare_image(out.getvalue(), "holiday.png")
    assert describe_error(caught.value) == (
        "I can't read holiday.png: it is not a JPEG, PNG or WebP image, the kinds I read."
    )


def test_a_large_sixteen_bit_grey_png_is_read_keeping_its_shade() -> None:
    # Pillow cannot reduce() "I;16" images: once they were large enough to be reduced before
    # resampling, they were refused as "not an image".
    prepared = prepare_image(png("I;16", (6000, 4000), 32768), "xray.png")
    assert (prepared.width, prepared.height) == (1344, 896)
    pixel = Image.open(io.BytesIO(prepared.data)).getpixel((600, 400))
    assert isinstance(pixel, tuple)
    assert all(120 <= channel <= 136 for channel in pixel[:3]), pixel


async def test_a_pdf_bomb_is_given_up_after_the_time_limit_in_one_line() -> None:
    # 7 KB; read in the bot's own process it took 91 s of CPU (119 s of a shared machine).
    started = time.monotonic()
    with pytest.raises(UnreadableFile) as caught:
        await pdf_text(bomb_pdf(), "bomb.pdf", ReadLimits(seconds=2))
    assert time.monotonic() - started < 4
    assert describe_error(caught.value) == (
        "I can't read bomb.pdf: reading it takes more than 2 seconds, the most I spend on a file."
    )


async def test_a_pdf_that_needs_more_memory_than_allowed_is_refused_in_one_line() -> None:
    with pytest.raises(UnreadableFile) as caught:
        await pdf_text(memory_bomb_pdf(), "huge.pdf", ReadLimits(memory_mb=150))
    assert describe_error(caught.value) == (
        "I can't read huge.pdf: reading it needs more than 150 MB of memory, "
        "the most I give a file."
    )


async def test_the_worker_reads_pdfs_as_before_and_says_why_it_cannot() -> None:
    book = pdf_bytes([["first page"], ["second page"]])
    assert await pdf_text(book, "ok.pdf") == "first page\n\nsecond page"
    locked = encrypted_pdf(pdf_bytes([["Secret."]]), user_password="s3cret")
    for data, reason in [
        (locked, "password"),
        (pdf_bytes([[]]), "no_text_layer"),
        (b"%PDF-1.4 then nothing", "damaged"),
    ]:
        with pytest.raises(UnreadableFile) as caught:
            await pdf_text(data, "x.pdf")
        assert caught.value.reason == reason


async def test_cancelling_the_reader_kills_its_process_at_once() -> None:
    reading = asyncio.create_task(pdf_text(bomb_pdf(), "bomb.pdf"))
    async with asyncio.timeout(5):
        while not worker_processes():
            await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # well into the reading
    started = time.monotonic()
    reading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reading
    assert time.monotonic() - started < 0.5
    assert worker_processes() == []


def worker_processes() -> list[int]:
    """Process ids of this process's children that read PDFs."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue  # ended meanwhile
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == os.getpid() and b"bot.pdf_worker" in cmdline:
            pids.append(int(entry.name))
    return pids


def test_a_pdf_is_read_to_its_page_cap() -> None:
    data = pdf_bytes([["one"], ["two"], ["three"]])
    assert document_text(data, "application/pdf", "book.pdf", max_pages=2) == "one\n\ntwo"


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ("héllo wörld".encode(), "héllo wörld"),
        ("\ufeffwith a BOM".encode(), "with a BOM"),
        ("utf-16 text".encode("utf-16"), "utf-16 text"),
        ("caf\xe9 in Windows-1252".encode("cp1252"), "café in Windows-1252"),
    ],
)
def test_text_files_in_common_encodings(data: bytes, text: str) -> None:
    assert document_text(data, "text/plain", "notes.txt") == text


def test_binary_under_a_text_name_and_pdfs_without_text_are_refused() -> None:
    with pytest.raises(UnreadableFile, match="not_text"):
        document_text(b"\x00\x01\x02\xff\xfe binary", "text/plain", "data.txt")
    with pytest.raises(UnreadableFile, match="no_text_layer"):
        document_text(pdf_bytes([[]]), "application/pdf", "scan.pdf")
    with pytest.raises(UnreadableFile, match="damaged"):
        document_text(b"%PDF-1.4 then nothing", "application/pdf", "cut.pdf")


def test_a_pdf_keeps_its_pages_in_order() -> None:
    data = pdf_bytes([["first page"], ["second page"], ["third (last) page"]])
    assert document_text(data, None, "book.pdf") == "first page\n\nsecond page\n\nthird (last) page"


@pytest.mark.parametrize(
    ("mime", "name", "readable"),
    [
        ("text/plain", "a.txt", True),
        ("application/octet-stream", "main.py", True),
        (None, "Dockerfile", True),
        ("application/json", "data", True),
        ("application/pdf", "x", True),
        ("application/zip", "a.zip", False),
        ("audio/ogg", "voice.ogg", False),
        ("application/octet-stream", "program.exe", False),
    ],
)
def test_which_documents_are_read(mime: str | None, name: str, readable: bool) -> None:
    assert is_readable_document(mime, name) is readable


def test_sixteen_bit_greys_keep_their_shade() -> None:
    out = io.BytesIO()
    Image.new("I;16", (20, 20), 32768).save(out, format="PNG")  # mid-grey in 16 bits
    prepared = prepare_image(out.getvalue())
    pixel = Image.open(io.BytesIO(prepared.data)).getpixel((10, 10))
    assert isinstance(pixel, tuple)
    assert all(120 <= channel <= 136 for channel in pixel[:3]), pixel
