"""Model Markdown → Telegram text + entities, cut into pages that fit one message. Pure.

Telegram gets plain text plus `entities` (offsets in UTF-16 code units), never `parse_mode`,
so nothing a model writes can break escaping. The conversion itself is telegramify-markdown's;
this module decides where a long answer is cut: at a paragraph, else a line, else a word, and a
code block cut in two is closed at the end of one page and reopened at the start of the next.

Telegram shows no HTML, and the converter drops every HTML tag it parses (inline and block), so
`std::vector<int>` lost its `<int>`. Every `<` that Markdown would read as text or HTML is made a
character reference first, and so is the markup inside a one-line `<…>` span: it reads as written.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import pyromark
import telegramify_markdown

# The converter's own parser settings: what is code, text or HTML must be judged exactly as the
# converter will judge it.
from telegramify_markdown.converter import STANDARD_OPTIONS as _CONVERTER_OPTIONS

TELEGRAM_TEXT_LIMIT = 4096
_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})([^`\n]*)$")
# Where a page may end, best first: after a blank line, after a line, after a word.
_BOUNDARIES = (re.compile(r"\n[ \t]*\n"), re.compile(r"\n"), re.compile(r"[ \t]+"))
# Cut in two, these would show as their characters: `\*`, `&amp;`, `&#95;`.
_ATOMS = re.compile(r"\\.|&#?[0-9A-Za-z]{1,31};", re.DOTALL)
# Rendering shrinks a source (markup, link addresses), but never a page's worth of text to less
# than an eighth: a page's end is sought no further than this many times the limit.
_MOST_SOURCE_PER_TEXT = 8


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
    """Convert model Markdown to text + entities; unfinished markup stays literal, and anything
    in angle brackets outside code reads as written."""
    text, entities = telegramify_markdown.convert(_angle_brackets_as_text(markdown))
    return RenderedText(
        text=text,
        entities=tuple(
            Entity(type=e.type, offset=e.offset, length=e.length, url=e.url, language=e.language)
            for e in entities
            if e.length > 0
        ),
    )


def render_final(markdown: str) -> RenderedText:
    """A finished page as the user gets it: rendered, or, when the rendering shows nothing (an
    empty code block, a bare link definition), the source as written, so no answer vanishes.

    While an answer grows its tail is rendered with `render`: there a page that shows nothing yet
    ("```python" before the code, "##" before the heading) is better left unshown."""
    rendered = render(markdown)
    if rendered.text.strip() or not markdown.strip():
        return rendered
    return RenderedText(markdown.strip())


# Where a `<` may start HTML: in text and in what the parser took for HTML (not in code, math,
# an autolink or a link's address).
_TEXT_EVENTS = frozenset({"Text", "Html", "InlineHtml"})
_VERBATIM_EVENTS = frozenset({"Code", "InlineMath", "DisplayMath"})
_AUTOLINKS = frozenset({"Autolink", "Email"})
_ANGLE_SPAN = re.compile(rb"<[^<>\r\n]*>")
# What is markup inside a line: emphasis, code, strikethrough, math, links, escapes, references,
# spoilers (and table cells). The rest (`#`, `-`, `>`, `1.`) is markup only at a line's start,
# where a span's content never is.
_INLINE_MARKUP = re.compile(rb"[<\\*_`~$\[\]&|]")
_INLINE_MARKUP_BUT_PIPE = re.compile(rb"[<\\*_`~$\[\]&]")


@dataclass(frozen=True, slots=True)
class _SourceMap:
    """What the parser made of a source: byte ranges (UTF-8, as the parser counts)."""

    textual: list[tuple[int, int]]
    verbatim: list[tuple[int, int]]
    tables: list[tuple[int, int]]


def _source_map(markdown: str) -> _SourceMap:
    found = _SourceMap([], [], [])
    # Links being read: [end, where its text ends so far], or None for an autolink.
    open_links: list[list[int] | None] = []
    events = pyromark.events_with_range(markdown, options=_CONVERTER_OPTIONS, merge_text=True)
    for payload, where in events:
        start, end = where["start"], where["end"]
        if not isinstance(payload, str):  # SoftBreak, HardBreak, Rule: no text of their own
            event: Mapping[str, object] = payload  # one key, the event's kind
            kind, value = next(iter(event.items()))
            if kind in _TEXT_EVENTS:
                found.textual.append((start, end))
            elif kind in _VERBATIM_EVENTS:
                found.verbatim.append((start, end))
            elif kind == "Start" and isinstance(value, dict):
                if "CodeBlock" in value:
                    found.verbatim.append((start, end))
                elif "Table" in value:
                    found.tables.append((start, end))
                elif "Link" in value or "Image" in value:
                    link = value.get("Link") or value["Image"]
                    if link["link_type"] in _AUTOLINKS:
                        found.verbatim.append((start, end))
                        open_links.append(None)
                    else:
                        open_links.append([end, start])
                    continue
            elif kind == "End" and value in ("Link", "Image") and open_links:
                link_read = open_links.pop()
                if link_read is not None:  # its address and title: `](<address> "title")`
                    found.verbatim.append((link_read[1], link_read[0]))
        if open_links and (innermost := open_links[-1]) is not None:
            innermost[1] = max(innermost[1], end)
    found.verbatim.sort()
    return found


def _inside(ranges: list[tuple[int, int]], start: int, end: int) -> bool:
    """Whether [start, end) overlaps one of the sorted, disjoint `ranges`."""
    index = bisect.bisect_right(ranges, (start, float("inf"))) - 1
    candidates = ranges[max(index, 0) : index + 2]
    return any(low < end and start < high for low, high in candidates)


def _escaped(source: bytes, position: int) -> bool:
    """Whether the character at `position` follows an odd number of backslashes (is escaped)."""
    run = 0
    while run < position and source[position - run - 1] == ord("\\"):
        run += 1
    return run % 2 == 1


def _angle_bracket_edits(source: bytes, found: _SourceMap) -> Iterable[tuple[int, int, bytes]]:
    """(start, end, replacement) for every `<` that could start HTML, in source order."""
    done = 0
    for text_start, text_end in sorted(found.textual):
        position = source.find(b"<", max(text_start, done), text_end)
        while position != -1:
            if not _escaped(source, position) and not _inside(
                found.verbatim, position, position + 1
            ):
                span = _ANGLE_SPAN.match(source, position)
                if span is None or _inside(found.verbatim, *span.span()):
                    yield position, position + 1, b"&#60;"
                    done = position + 1
                else:
                    # A table's cells are split at `|` before anything else is read: a span
                    # keeps its pipes there, or it would join two cells.
                    markup = (
                        _INLINE_MARKUP_BUT_PIPE
                        if _inside(found.tables, *span.span())
                        else _INLINE_MARKUP
                    )
                    yield (
                        position,
                        span.end(),
                        markup.sub(lambda m: b"&#%d;" % m.group()[0], span.group()),
                    )
                    done = span.end()
            position = source.find(b"<", max(position + 1, done), text_end)


def _angle_brackets_as_text(markdown: str) -> str:
    """`markdown` with every `<` that Markdown would read as text or HTML made a character
    reference, and the markup in a `<…>` span on one line too (its `*`, `_` and `` ` `` read
    as written): no HTML is parsed, so none is dropped. Code, math, autolinks and link addresses
    stay as they are."""
    while "<" in markdown:
        source = markdown.encode()
        edits = list(_angle_bracket_edits(source, _source_map(markdown)))
        if not edits:
            break
        parts: list[bytes] = []
        kept = 0
        for start, end, replacement in edits:
            parts += (source[kept:start], replacement)
            kept = end
        parts.append(source[kept:])
        # Read again: with a span's markup made literal, what is code may change. Each pass
        # makes at least one `<` literal, so this ends.
        markdown = b"".join(parts).decode()
    return markdown


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


def _cut_closing_fence(source: str, position: int) -> tuple[str, str]:
    """`source[:position]`, with a code block it ends inside closed, and the line that reopens
    the block ('' if none). Whether a line opens a block is judged by the whole line, so a cut
    inside "```inline```" does not make its first half an opening fence."""
    line_end = source.find("\n", position)
    if position == 0 or source[position - 1] == "\n":  # at a line's start: whole lines only
        line_end = position
    opener = open_fence(source if line_end == -1 else source[:line_end])
    head = source[:position]
    if opener is None:
        return head, ""
    fence_char = opener[0]
    fence = opener[: len(opener) - len(opener.lstrip(fence_char))]
    return f"{head.rstrip()}\n{fence}", f"{opener}\n"


def _false_fence(source: str, position: int) -> bool:
    """Whether cutting at `position` leaves a line start that reads as an opening fence though
    the whole line is not one ("```inline```" cut after "```inl")."""
    line_start = source.rfind("\n", 0, position) + 1
    line_end = source.find("\n", position)
    partial = source[line_start:position]
    whole = source[line_start:] if line_end == -1 else source[line_start:line_end]
    return partial != whole and bool(_FENCE_OPEN.match(partial)) and not _FENCE_OPEN.match(whole)


def close_open_fence(source: str) -> str:
    """`source` with a code block it ends inside closed, so text after it is not code."""
    return _cut_closing_fence(source, len(source))[0]


def _fits(source: str, limit: int) -> bool:
    # Rendering can grow a line (a `---` rule becomes 8 dashes, a heading gains an emoji), never
    # more than 4x: only a text that short is sure to fit without rendering it.
    if 4 * utf16_len(source) <= limit:
        return True
    return utf16_len(render_final(source).text) <= limit


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
    reach = _MOST_SOURCE_PER_TEXT * limit
    if len(source) <= reach and _fits(source, limit):
        return None

    def head_fits(position: int) -> bool:
        if _false_fence(source, position):
            return False
        head, _ = _cut_closing_fence(source, position)
        return bool(head.strip()) and _fits(head, limit)

    cut: int | None = None
    for boundary in _BOUNDARIES:
        positions = [m.end() for m in boundary.finditer(source, 0, reach) if m.start() > 0]
        if (cut := _largest_fitting(positions, head_fits)) is not None:
            break
    if cut is None:  # one unbroken run longer than a message: cut inside it
        atoms = _ATOMS.finditer(source, 0, reach)
        inside = {i for atom in atoms for i in range(atom.start() + 1, atom.end())}
        positions = [i for i in range(1, min(len(source), reach)) if i not in inside]
        cut = _largest_fitting(positions, head_fits) or 1
    head, reopen = _cut_closing_fence(source, cut)
    rest = source[cut:].lstrip("\n")
    if not reopen and _inside_paragraph(source, cut):
        # Read whole, a paragraph line such as `[1]: https://…` is text; at the top of a page
        # it would become a link definition, which shows nothing.
        rest = _LINK_DEFINITION.sub(r"\1&#91;", rest, count=1)
    return head.rstrip(), reopen + rest


# A line that, starting a paragraph, is a link reference definition (`[label]: destination`).
_LINK_DEFINITION = re.compile(r"\A( {0,3})\[(?=[^\]\n]+\]:)")
# Lines after which the next line starts afresh rather than continuing a paragraph.
_ENDS_A_PARAGRAPH = re.compile(r"^\s*$|^ {0,3}(#{1,6}(\s|$)|```|~~~|([-*_=])\s*(\3\s*){2,}$)")


def _inside_paragraph(source: str, cut: int) -> bool:
    """Whether the line before `cut` leaves a paragraph open for the line after it."""
    before = source[:cut].rstrip("\n")
    if source[:cut].endswith("\n\n") or not before:
        return False
    last_line = before.rsplit("\n", 1)[-1]
    return not _ENDS_A_PARAGRAPH.match(last_line)


class MarkdownPager:
    """An answer growing at its end, cut into pages; a page once cut never changes."""

    def __init__(self, limit: int = TELEGRAM_TEXT_LIMIT) -> None:
        self.limit = limit
        self.sealed: list[str] = []
        self.tail = ""
        self._fitting = ""  # the tail as last found to fit one page (rendering it is the cost)

    def append(self, delta: str) -> None:
        """Add text the model wrote; cutting waits until `paginate` (once per update)."""
        self.tail += delta

    def paginate(self) -> None:
        """Seal every full page at the front of the tail."""
        if self.tail == self._fitting:  # nothing came since it was found to fit
            return
        while (cut := split_page(self.tail, self.limit)) is not None:
            page, self.tail = cut
            self.sealed.append(page)
        self._fitting = self.tail


_MARKDOWN_PUNCTUATION = re.compile(r"[!-/:-@\[-`{-~]")
_INDENT = re.compile(r"^[ \t]+", re.MULTILINE)


def markdown_literal(text: str) -> str:
    """`text` made Markdown that shows it as written (model names hold `_` and `:`).

    Punctuation becomes character references (`&#95;`): a backslash escape is not enough for
    the converter's LaTeX (`\\[…\\]`, `$…$`). A line's indent becomes no-break spaces, which look
    the same but do not make it a code block.
    """
    referenced = _MARKDOWN_PUNCTUATION.sub(lambda m: f"&#{ord(m.group())};", text)
    return _INDENT.sub(lambda m: "\u00a0" * len(m.group().expandtabs(4)), referenced)


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
