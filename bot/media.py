"""Photos and files as the model can take them. Pure and synchronous (run images in a thread,
PDFs in bot.pdf_worker's child process).

Images are decoded with Pillow, turned upright (EXIF), downscaled so the long side is at most
1344 px (what vision models look at anyway) and re-encoded as JPEG, which saves VRAM and time.
Only JPEG, PNG and WebP are decoded: Pillow's other decoders (TIFF, GIF, BMP, PPM, ICO…) are
never handed a stranger's bytes, whatever the file is called.
Documents become text: text files are decoded, PDFs read with pypdf.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import warnings
from dataclasses import dataclass
from pathlib import PurePath

import pypdf
from PIL import Image, ImageOps

from bot.errors import UnreadableFile

MAX_IMAGE_SIDE = 1344
JPEG_QUALITY = 90
# Pixels decoded at most: 4 bytes each (RGBA), so one image takes about 200 MB at most while it
# is decoded. A JPEG counts at the size it is decoded at (1/2 to 1/8 of each side when that
# still leaves MAX_IMAGE_SIDE), so a phone's 50-megapixel photo sent as a file is read.
MAX_IMAGE_PIXELS = 40_000_000
IMAGE_FORMATS = ("JPEG", "PNG", "WEBP")
# Modes whose pixels may be averaged (not palette indices, not bits; 16-bit greys Pillow cannot).
REDUCIBLE_MODES = frozenset({"L", "LA", "RGB", "RGBA", "CMYK", "YCbCr", "I", "F"})
REDUCED_BAND_ROWS = 64  # rows of the reduced image made at a time: a few MB of copies at most
MAX_DOCUMENT_CHARS = 2_000_000  # far more than any context window takes
MAX_PDF_PAGES = 500  # past MAX_DOCUMENT_CHARS for any real text, so only empty pages are skipped
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
PDF_TYPE = "application/pdf"
# Files read as text, by extension, when Telegram's mime type does not say text/*.
TEXT_EXTENSIONS = frozenset(
    {
        ".txt", ".md", ".markdown", ".rst", ".csv", ".tsv", ".json", ".jsonl", ".ndjson",
        ".log", ".xml", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".conf", ".env", ".sql",
        ".html", ".htm", ".css", ".py", ".pyi", ".js", ".mjs", ".ts", ".tsx", ".jsx", ".java",
        ".kt", ".c", ".h", ".cpp", ".hpp", ".cc", ".cs", ".go", ".rs", ".rb", ".php", ".pl",
        ".swift", ".scala", ".sh", ".bash", ".zsh", ".ps1", ".bat", ".lua", ".r", ".m",
        ".tex", ".srt", ".vtt", ".diff", ".patch", ".dockerfile", ".gradle", ".properties",
    }
)  # fmt: skip
TEXT_TYPES = frozenset(
    {
        "application/json",
        "application/xml",
        "application/x-yaml",
        "application/yaml",
        "application/toml",
        "application/javascript",
        "application/x-sh",
        "application/sql",
        "application/x-python",
        "application/x-subrip",
    }
)


@dataclass(frozen=True, slots=True)
class PreparedImage:
    """An image ready to send to a vision model."""

    data: bytes  # JPEG
    sha256: str
    width: int
    height: int


def prepare_image(data: bytes, name: str = "image") -> PreparedImage:
    """Decode, turn upright, downscale (long side ≤ MAX_IMAGE_SIDE) and re-encode as JPEG."""
    try:
        image = _decoded_image(data, name)
    except UnreadableFile:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as err:
        raise UnreadableFile(name, "too_many_pixels", limit=MAX_IMAGE_PIXELS // 1_000_000) from err
    except Exception as err:  # Pillow raises many kinds for damaged or odd files
        raise UnreadableFile(name, "not_an_image") from err
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    encoded = out.getvalue()
    return PreparedImage(encoded, hashlib.sha256(encoded).hexdigest(), image.width, image.height)


def _decoded_image(data: bytes, name: str) -> Image.Image:
    """The image upright, downscaled, in RGB."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as opened:
            # A JPEG decodes at a fraction of its size when that is all we keep.
            opened.draft("RGB", (MAX_IMAGE_SIDE, MAX_IMAGE_SIDE))
            if opened.width * opened.height > MAX_IMAGE_PIXELS:
                raise UnreadableFile(name, "too_many_pixels", limit=MAX_IMAGE_PIXELS // 1_000_000)
            image = _reduced(opened)
            # Pillow cannot reduce() 16-bit greys: they are resampled in one step.
            gap = None if image.mode.startswith("I;16") else 2.0
            image.thumbnail(
                (MAX_IMAGE_SIDE, MAX_IMAGE_SIDE), Image.Resampling.LANCZOS, reducing_gap=gap
            )
            return _flatten(ImageOps.exif_transpose(image))


def _reduced(opened: Image.Image) -> Image.Image:
    """The image averaged down to between one and two times MAX_IMAGE_SIDE, a band at a time,
    with the full-size pixels then released: they exist once. Pillow's own reduce() and
    resize() first copy a transparent image whole (premultiplied), which doubled the memory a
    large PNG took."""
    factor = max(opened.size) // MAX_IMAGE_SIDE
    if factor < 2 or opened.mode not in REDUCIBLE_MODES:
        return opened
    width, height = opened.size
    reduced = Image.new(opened.mode, (-(-width // factor), -(-height // factor)))
    band = factor * REDUCED_BAND_ROWS
    for top in range(0, height, band):
        part = opened.crop((0, top, width, min(top + band, height)))
        reduced.paste(part.reduce(factor), (0, top // factor))
    reduced.info = opened.info.copy()  # the EXIF orientation, among others
    opened.close()  # frees the pixels now, not when the file is closed
    return reduced


def _flatten(image: Image.Image) -> Image.Image:
    """RGB for JPEG: transparency goes onto white (black would hide dark drawings), 16-bit and
    float greys are scaled to 8 bits (converted directly they would clip to white)."""
    if image.mode == "RGB":
        return image
    if image.mode in {"I", "I;16", "I;16B", "I;16L", "F"}:
        return image.convert("I").point(lambda value: value / 256).convert("RGB")
    if image.mode in {"RGBA", "LA", "P", "PA"}:
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def is_image(mime_type: str | None, file_name: str | None) -> bool:
    """True for JPEG, PNG and WebP files."""
    if mime_type in IMAGE_TYPES:
        return True
    suffix = PurePath(file_name or "").suffix.lower()
    return suffix in {".jpg", ".jpeg", ".png", ".webp"}


def is_pdf(mime_type: str | None, file_name: str | None) -> bool:
    """True for PDF files."""
    return mime_type == PDF_TYPE or PurePath(file_name or "").suffix.lower() == ".pdf"


def is_text(mime_type: str | None, file_name: str | None) -> bool:
    """True for files read as text: text/*, known text types, or a known extension."""
    if mime_type and (mime_type.startswith("text/") or mime_type in TEXT_TYPES):
        return True
    path = PurePath(file_name or "")
    return path.suffix.lower() in TEXT_EXTENSIONS or path.name.lower() in {
        "dockerfile",
        "makefile",
        "readme",
        "license",
    }


def is_readable_document(mime_type: str | None, file_name: str | None) -> bool:
    """True for the documents the bot reads as text (text files and PDFs)."""
    return is_pdf(mime_type, file_name) or is_text(mime_type, file_name)


def document_text(
    data: bytes,
    mime_type: str | None,
    file_name: str,
    max_chars: int = MAX_DOCUMENT_CHARS,
    max_pages: int = MAX_PDF_PAGES,
) -> str:
    """The text of a text file or a PDF (a PDF is read only until `max_chars` or `max_pages`,
    more would not fit any context); UnreadableFile when there is none to be had."""
    try:
        if is_pdf(mime_type, file_name):
            return _pdf_text(data, file_name, max_chars, max_pages)
        return _decoded(data, file_name)
    except (UnreadableFile, MemoryError):  # running out of memory is a limit met, not damage
        raise
    except Exception as err:  # pypdf and codecs raise many kinds for damaged files
        raise UnreadableFile(file_name, "damaged") from err


def _decoded(data: bytes, file_name: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        if b"\x00" in data:  # binary content under a text name
            raise UnreadableFile(file_name, "not_text") from None
        text = data.decode("cp1252", errors="replace")
    if "\x00" in text:
        raise UnreadableFile(file_name, "not_text")
    return text


def _pdf_text(data: bytes, file_name: str, max_chars: int, max_pages: int) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    # Many PDFs are encrypted with only an owner password: they open with the empty one.
    if reader.is_encrypted and not reader.decrypt(""):
        raise UnreadableFile(file_name, "password")
    pages: list[str] = []
    length = 0
    for page in itertools.islice(reader.pages, max_pages):
        text = (page.extract_text() or "").strip()
        if text:
            pages.append(text)
            length += len(text)
        if length >= max_chars:
            break
    if not pages:
        raise UnreadableFile(file_name, "no_text_layer")
    return "\n\n".join(pages)
