"""Images and documents as the model gets them: sizes, orientation, text extraction."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from bot.errors import UnreadableFile
from bot.media import MAX_IMAGE_SIDE, document_text, is_readable_document, prepare_image
from tests.documents import image_bytes, pdf_bytes


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
