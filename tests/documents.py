"""Files for the media tests, made here: images with Pillow, a PDF with a real text layer."""

from __future__ import annotations

import io
import zlib

import pypdf
from PIL import Image


def image_bytes(width: int, height: int, *, fmt: str = "PNG", color: str = "red") -> bytes:
    """An image of that size, encoded as `fmt` (PNG, JPEG, WEBP)."""
    out = io.BytesIO()
    mode = "RGBA" if fmt == "PNG" else "RGB"
    Image.new(mode, (width, height), color).save(out, format=fmt)
    return out.getvalue()


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def pdf_bytes(pages: list[list[str]]) -> bytes:
    """A PDF 1.4 file whose pages hold these lines of text (Helvetica), xref table and all."""
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"",  # the page tree, filled in below
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    kids = []
    for lines in pages:
        shown = " ".join(f"({_escape(line)}) '" for line in lines)
        stream = f"BT /F1 12 Tf 72 720 Td 14 TL {shown} ET".encode("latin-1")
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        content_number = len(objects)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792]"
            b" /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % content_number
        )
        kids.append(len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        len(kids),
    )
    return pdf_file(objects)


def pdf_file(objects: list[bytes]) -> bytes:
    """A PDF 1.4 file of these numbered objects (the first is the catalog), xref table and all."""
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    )
    return out.getvalue()


def encrypted_pdf(data: bytes, *, user_password: str) -> bytes:
    """`data` encrypted with AES-128; an empty user password opens it without asking."""
    reader = pypdf.PdfReader(io.BytesIO(data))
    writer = pypdf.PdfWriter(clone_from=reader)
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def bomb_pdf(*, pages: int = 40, strokes: int = 100_000) -> bytes:
    """A few KB of PDF whose `pages` all show one content stream of `strokes` long drawing
    operators (76 bytes each; 100,000 of them inflate to 7.6 MB), compressed twice with zlib.
    Each page parses the whole stream again: about 2 s of pypdf's time per page."""
    stroke = b"123456789.123456 987654321.654321 m 123456789.123456 987654321.654321 l S\n"
    operators = b"BT /F1 12 Tf 72 720 Td (bomb) Tj ET\n" + stroke * strokes
    packed = zlib.compress(zlib.compress(operators, 9), 9)
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"",  # the page tree, filled in below
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d /Filter [/FlateDecode /FlateDecode] >>\nstream\n%s\nendstream"
        % (len(packed), packed),
    ]
    for _ in range(pages):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792]"
            b" /Resources << /Font << /F1 3 0 R >> >> /Contents 4 0 R >>"
        )
    kids = b" ".join(b"%d 0 R" % number for number in range(5, len(objects) + 1))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages)
    return pdf_file(objects)


def memory_bomb_pdf() -> bytes:
    """1 KB of PDF: one page shows a 30 MB string written in hex (60 MB inflated)."""
    operators = b"BT /F1 12 Tf 72 720 Td <" + b"41" * 30_000_000 + b"> Tj ET\n"
    packed = zlib.compress(zlib.compress(operators, 9), 9)
    return pdf_file(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [5 0 R] /Count 1 >>",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            b"<< /Length %d /Filter [/FlateDecode /FlateDecode] >>\nstream\n%s\nendstream"
            % (len(packed), packed),
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792]"
            b" /Resources << /Font << /F1 3 0 R >> >> /Contents 4 0 R >>",
        ]
    )
