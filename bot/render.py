"""Model Markdown → Telegram text + entities, cut into pages that fit one message. Pure.

Telegram gets plain text plus `entities` (offsets in UTF-16 code units), never `parse_mode`,
so nothing a model writes can break escaping. The conversion itself is telegramify-markdown's;
this module decides where a long answer is cut: at a paragraph, else a line, else a word, and a
code block cut in two is closed at the end of one page and reopened at the start of the next.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import telegramify_markdown

TELEGRAM_TEXT_LIMIT = 4096
_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})([^`\n]*)$")
# Where a page may end, best first: after a blank line, after a line, after a word.
_BOUNDARIES = (re.compile(r"\n[ \t]*\n"), re.compile(r"\n"), re.compile(r"[ \t]+"))


@dataclass(frozen=True, slots=True)
class Entity:
    """A Telegram MessageEntity; offset and length in UTF-16 code units."""

    type: str
    offset: int
    length: int
    url: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class RenderedText:
    """Text ready for sendMessage: what the user reads and how it is formatted."""

    text: str
    entities: tuple[Entity, ...] = ()


def utf16_len(text: str) -> int:
    """Length as Telegram counts it."""
    return telegramify_markdown.utf16_len(text)


def render(markdown: str) -> RenderedText:
    """Convert model Markdown to text + entities; unfinished markup stays literal."""
    text, entities = telegramify_markdown.convert(markdown)
    return RenderedText(
        text=text,
        entities=tuple(
            Entity(type=e.type, offset=e.offset, length=e.length, url=e.url, language=e.language)
            for e in entities
            if e.length > 0
        ),
    )


def open_fence(source: str) -> str | None:
    """The opening line of the fenced code block `source` ends inside, if any."""
    opener: str | None = None
    fence = ""
    for line in source.split("\n"):
        if opener is None:
            if match := _FENCE_OPEN.match(line):
                opener, fence = line.strip(), match.group(1)
        elif line.strip().startswith(fence) and not line.strip().strip(fence[0]):
            opener = None
    return opener


def _close_fence(source: str) -> tuple[str, str]:
    """`source` with an open code block closed, and the line that reopens it ('' if none)."""
    opener = open_fence(source)
    if opener is None:
        return source, ""
    fence_char = opener[0]
    fence = opener[: len(opener) - len(opener.lstrip(fence_char))]
    return f"{source.rstrip()}\n{fence}", f"{opener}\n"


def close_open_fence(source: str) -> str:
    """`source` with a code block it ends inside closed, so text after it is not code."""
    return _close_fence(source)[0]


def _fits(source: str, limit: int) -> bool:
    # Rendering can grow a line (a `---` rule becomes 8 dashes, a heading gains an emoji), never
    # more than 4x: only a text that short is sure to fit without rendering it.
    if 4 * utf16_len(source) <= limit:
        return True
    return utf16_len(render(source).text) <= limit


def _largest_fitting(positions: list[int], head_fits: Callable[[int], bool]) -> int | None:
    """The largest position whose head fits, by binary search (fit shrinks as heads grow)."""
    low, high, best = 0, len(positions) - 1, None
    while low <= high:
        middle = (low + high) // 2
        if head_fits(positions[middle]):
            best, low = positions[middle], middle + 1
        else:
            high = middle - 1
    return best


def split_page(source: str, limit: int = TELEGRAM_TEXT_LIMIT) -> tuple[str, str] | None:
    """Cut `source` into (first page, rest) when it renders longer than `limit`, else None.

    The first page is the longest one that fits, ending at the best kind of boundary found.
    """
    if _fits(source, limit):
        return None

    def head_fits(position: int) -> bool:
        head, _ = _close_fence(source[:position])
        return bool(head.strip()) and _fits(head, limit)

    cut: int | None = None
    for boundary in _BOUNDARIES:
        positions = [m.end() for m in boundary.finditer(source) if m.start() > 0]
        if (cut := _largest_fitting(positions, head_fits)) is not None:
            break
    if cut is None:  # one unbroken run longer than a message: cut inside it
        cut = _largest_fitting(list(range(1, len(source))), head_fits) or 1
    head, reopen = _close_fence(source[:cut])
    return head.rstrip(), reopen + source[cut:].lstrip("\n")


class MarkdownPager:
    """An answer growing at its end, cut into pages; a page once cut never changes."""

    def __init__(self, limit: int = TELEGRAM_TEXT_LIMIT) -> None:
        self.limit = limit
        self.sealed: list[str] = []
        self.tail = ""

    def append(self, delta: str) -> None:
        """Add text the model wrote; cutting waits until `paginate` (once per update)."""
        self.tail += delta

    def paginate(self) -> None:
        """Seal every full page at the front of the tail."""
        while (cut := split_page(self.tail, self.limit)) is not None:
            page, self.tail = cut
            self.sealed.append(page)


_MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def markdown_literal(text: str) -> str:
    """`text` escaped so Markdown shows it as written (model names hold `_` and `:`)."""
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", text)


def render_thought(header: str, thinking: str, limit: int = TELEGRAM_TEXT_LIMIT) -> RenderedText:
    """A thinking model's reasoning as its own message: a header line, then the reasoning in an
    expandable (collapsed) quote, plain text. Past `limit` only its end is kept, after "…"."""
    body = thinking.strip()
    room = limit - utf16_len(header) - 2
    if utf16_len(body) > room:
        # Cut by UTF-16 units from the end, never inside a surrogate pair.
        tail = body.encode("utf-16-le")[-(room - 1) * 2 :].decode("utf-16-le", errors="ignore")
        body = "…" + tail
    text = f"{header}\n{body}"
    if not body:
        return RenderedText(header)
    quote = Entity("expandable_blockquote", utf16_len(header) + 1, utf16_len(body))
    return RenderedText(text, (quote,))
