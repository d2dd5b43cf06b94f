"""Photos and files as the model can take them. Pure and synchronous (run it in a thread).

Images are decoded with Pillow, turned upright (EXIF), downscaled so the long side is at most
1344 px (what vision models look at anyway) and re-encoded as JPEG, which saves VRAM and time.
Documents become text: text files are decoded, PDFs read with pypdf.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import PurePath

import pypdf
from PIL import Image, ImageOps

from bot.errors import UnreadableFile

MAX_IMAGE_SIDE = 1344
JPEG_QUALITY = 90
MAX_IMAGE_PIXELS = 50_000_000  # a decompression bomb is refused, not decoded
MAX_DOCUMENT_CHARS = 2_000_000  # far more than any context window takes
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
    except Image.DecompressionBombWarning as err:
        raise UnreadableFile(name, "too_many_pixels") from err
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
        with Image.open(io.BytesIO(data)) as opened:
            if opened.width * opened.height > MAX_IMAGE_PIXELS:
                raise UnreadableFile(name, "too_many_pixels")
            # A JPEG decodes at a fraction of its size when that is all we keep.
            opened.draft("RGB", (MAX_IMAGE_SIDE, MAX_IMAGE_SIDE))
            image = ImageOps.exif_transpose(opened)
            image.thumbnail((MAX_IMAGE_SIDE, MAX_IMAGE_SIDE), Image.Resampling.LANCZOS)
            return _flatten(image)


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
    data: bytes, mime_type: str | None, file_name: str, max_chars: int = MAX_DOCUMENT_CHARS
) -> str:
    """The text of a text file or a PDF (a PDF is read only until `max_chars`, more would not
    fit any context); UnreadableFile when there is none to be had."""
    try:
        if is_pdf(mime_type, file_name):
            return _pdf_text(data, file_name, max_chars)
        return _decoded(data, file_name)
    except UnreadableFile:
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


def _pdf_text(data: bytes, file_name: str, max_chars: int) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    # Many PDFs are encrypted with only an owner password: they open with the empty one.
    if reader.is_encrypted and not reader.decrypt(""):
        raise UnreadableFile(file_name, "password")
    pages: list[str] = []
    length = 0
    for page in reader.pages:
        text = (page.extract_text() or "").strip()
        if text:
            pages.append(text)
            length += len(text)
        if length >= max_chars:
            break
    if not pages:
        raise UnreadableFile(file_name, "no_text_layer")
    return "\n\n".join(pages)
