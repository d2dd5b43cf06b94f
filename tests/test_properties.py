"""Properties that must hold for any input: whatever a model writes is cut into messages Telegram
takes, with no text lost or doubled; any list of ids in the config is read right or refused
with the item named."""

from __future__ import annotations

import html
import re
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import load_settings, parse_id_list
from bot.errors import ConfigError
from bot.render import (
    TELEGRAM_TEXT_LIMIT,
    MarkdownPager,
    markdown_literal,
    render,
    render_final,
    utf16_len,
)
from tests.fakes.telegram import validate_entities

# Scripts and symbols models write: emoji (astral, two UTF-16 units; with joiners and
# modifiers), Chinese, Hebrew and Arabic (right to left, with direction marks), accents.
WORDS = st.sampled_from(
    [
        "hello", "world", "😀", "👩‍💻", "👍🏽", "🇩🇪", "中文", "粗体字", "שלום", "مرحبا", "\u200f",
        "\u202e", "é", "e\u0301", "ß", "Ж", "42", "x_y", "a*b", "𝔘𝔫𝔦", "\u00a0", "\t",
    ]
)  # fmt: skip
# Markdown a model writes, whole and in pieces: code fences (with and without a language, left
# open), lone backticks, emphasis never closed, headings, lists, quotes, escapes, LaTeX. (Not
# whole tables: GitHub's rules drop a row's cells past the header's, cut or not.)
MARKUP = st.sampled_from(
    [
        "```", "```python\n", "```\n", "\n```\n", "~~~\n", "`", "``", "**", "*", "_", "__", "~~",
        "||", "\\", "# ", "\n## ", "- ", "* ", "1. ", "> ", "---", "$", "\\[",
        "\n", "\n\n", " ", "  ", "<b>", "&amp;", "http://example.com/a_b",
        "<div>", "\n<!-- note -->\n", "</p>", "<https://example.com>", "\n[1]: https://a.example\n",
    ]
)  # fmt: skip
ANY_CHARACTER = st.characters(exclude_categories=["Cs"])  # lone surrogates are not text
MODEL_TEXT = st.lists(
    st.one_of(WORDS, MARKUP, st.text(ANY_CHARACTER, max_size=8)), max_size=120
).map("".join)
PAGE_LIMITS = st.sampled_from([48, 100, 300, TELEGRAM_TEXT_LIMIT])


# A tag, not an autolink (`<https://…>`, whose address is read).
_HTML_TAG = re.compile(r"</?[A-Za-z](?![A-Za-z0-9+.-]*:)[^>]*>")


def pages(source: str, limit: int) -> list[str]:
    """The answer's messages, as AnswerStream cuts them (sealed pages, then the rest)."""
    pager = MarkdownPager(limit)
    pager.append(source)
    pager.paginate()
    return [page for page in [*pager.sealed, pager.tail] if page.strip()]


def without_spaces(text: str) -> str:
    return "".join(text.split())


def letters_and_digits(text: str) -> str:
    """What a reader reads, beyond markup and spacing: letters and digits, in order. HTML is
    left out: `&amp;` reads as written inside code and not outside, a `<…>` span cut in two
    shows its markup as markup, and a cut through `` `code` `` moves where code ends."""
    text = html.unescape(_HTML_TAG.sub("", text))
    return "".join(c for c in text if unicodedata.category(c)[0] in "LN")


def assert_telegram_takes(page: str, limit: int) -> str:
    """Render one page; it must fit and its entities must lie inside it (UTF-16 units)."""
    shown = render(page)
    assert utf16_len(shown.text) <= limit
    validate_entities(
        shown.text,
        [{"type": e.type, "offset": e.offset, "length": e.length, "url": e.url or "x"}
         for e in shown.entities],
    )  # fmt: skip
    for entity in shown.entities:
        assert entity.offset >= 0
        assert entity.offset + entity.length <= utf16_len(shown.text)
    return shown.text


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(ANY_CHARACTER, max_size=400), limit=PAGE_LIMITS)
def test_any_unicode_text_comes_back_whole_across_messages(text: str, limit: int) -> None:
    # A text shown as written (markdown_literal: the bot's way to quote names and errors).
    shown = [assert_telegram_takes(page, limit) for page in pages(markdown_literal(text), limit)]
    assert without_spaces("".join(shown)) == without_spaces(text)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(text=MODEL_TEXT, limit=PAGE_LIMITS)
def test_any_model_markdown_fits_telegram_and_loses_or_doubles_nothing(
    text: str, limit: int
) -> None:
    shown = [assert_telegram_takes(page, limit) for page in pages(text, limit)]
    # Cutting never loses or repeats what is read: the same letters and digits as the whole
    # answer rendered in one piece (markup cut in two shows as its characters instead).
    assert letters_and_digits("".join(shown)) == letters_and_digits(render(text).text)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(MODEL_TEXT, min_size=1, max_size=4), repeat=st.integers(10, 60))
def test_long_answers_are_cut_into_messages_of_at_most_4096(parts: list[str], repeat: int) -> None:
    text = "".join(parts) * repeat
    cut = pages(text, TELEGRAM_TEXT_LIMIT)
    shown = [assert_telegram_takes(page, TELEGRAM_TEXT_LIMIT) for page in cut]
    assert letters_and_digits("".join(shown)) == letters_and_digits(render(text).text)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(text=MODEL_TEXT, cuts=st.lists(st.integers(0, 10_000), max_size=12))
def test_pages_are_the_same_however_the_stream_arrives(text: str, cuts: list[int]) -> None:
    # Ollama's chunks split text anywhere; the messages must not depend on where.
    pager = MarkdownPager(100)
    start = 0
    for cut in sorted(c % (len(text) + 1) for c in cuts):
        pager.append(text[start:cut])
        pager.paginate()
        start = cut
    pager.append(text[start:])
    pager.paginate()
    streamed = [page for page in [*pager.sealed, pager.tail] if page.strip()]
    assert letters_and_digits("".join(render(p).text for p in streamed)) == letters_and_digits(
        render(text).text
    )
    assert all(utf16_len(render(p).text) <= 100 for p in streamed)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(text=MODEL_TEXT, limit=PAGE_LIMITS)
def test_every_message_of_an_answer_shows_something_and_fits(text: str, limit: int) -> None:
    # An answer is never dropped for rendering to nothing (a bare `</p>`, an empty code block,
    # a link definition): each of its messages shows text, within the limit.
    for page in pages(text, limit):
        shown = render_final(page)
        assert shown.text.strip(), f"page {page!r} shows nothing"
        assert utf16_len(shown.text) <= limit


# What models write in angle brackets: generics, tags, comparisons, placeholders; any content on
# one line (no backtick or `$`, which would open code or math around it).
ANGLE_SPAN = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="<>\n\r`$"), max_size=20
).map(lambda inside: f"<{inside}>")
PROSE = st.lists(st.one_of(WORDS, st.just(" ")), max_size=6).map("".join)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(st.tuples(PROSE, ANGLE_SPAN), min_size=1, max_size=6), end=PROSE)
def test_anything_in_angle_brackets_reads_as_written(
    parts: list[tuple[str, str]], end: str
) -> None:
    text = "".join(prose + span for prose, span in parts) + end
    shown = render(text).text
    for _, span in parts:
        assert span in shown, f"{span!r} of {text!r} shows as {shown!r}"


ID = st.integers(min_value=-(10**13), max_value=10**13)
SEPARATORS = st.sampled_from([",", ", ", " ,", ";", " ; ", ",,", " ", "\t", "\n", " , "])


@given(ids=st.lists(ID, max_size=20), data=st.data())
def test_any_id_list_is_read_whatever_the_separators(ids: list[int], data: st.DataObject) -> None:
    text = data.draw(st.sampled_from(["", " ", ","]))
    for number in ids:
        text += str(number) + data.draw(SEPARATORS)
    assert parse_id_list(text) == frozenset(ids)


@given(raw=st.text(max_size=40))
def test_any_text_as_an_id_list_is_read_or_refused_naming_the_item(raw: str) -> None:
    items = [item for item in re.split(r"[,;\s]+", raw) if item]
    try:
        ids = parse_id_list(raw)
    except ValueError as err:
        problem = str(err)
    else:
        assert all(re.fullmatch(r"-?[0-9]+", item) for item in items), "only plain numbers"
        assert ids == frozenset(int(item) for item in items)
        return
    assert any(problem == f"{item!r} is not a numeric Telegram id" for item in items)
    assert not all(re.fullmatch(r"-?[0-9]+", item) for item in items)


@settings(max_examples=50, deadline=None)
@given(raw=st.text(st.characters(exclude_categories=["Cs", "Cc"]), max_size=30))
def test_any_allowed_ids_value_starts_the_bot_or_names_the_variable(
    raw: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    token = "123456:SECRET-token-never-shown"
    folder: Path = tmp_path_factory.mktemp("config")
    try:
        settings_ = load_settings(
            None, telegram_bot_token=token, allowed_user_ids=raw, database_path=folder / "db"
        )
    except ConfigError as err:
        problem = str(err)
    else:
        assert settings_.allowed_user_ids == parse_id_list(raw)
        return
    assert "ALLOWED_USER_IDS" in problem
    assert token not in problem
