"""Rendering model Markdown into Telegram messages: formatting, UTF-16 offsets, pages."""

from __future__ import annotations

from bot.render import (
    TELEGRAM_TEXT_LIMIT,
    MarkdownPager,
    open_fence,
    render,
    split_page,
    utf16_len,
)


def entity_text(text: str, offset: int, length: int) -> str:
    """The slice of `text` an entity covers, counting in UTF-16 units as Telegram does."""
    encoded = text.encode("utf-16-le")
    return encoded[offset * 2 : (offset + length) * 2].decode("utf-16-le")


def pages_of(source: str, limit: int = TELEGRAM_TEXT_LIMIT) -> list[str]:
    pager = MarkdownPager(limit)
    pager.append(source)
    pager.paginate()
    return [*pager.sealed, pager.tail]


def test_bold_code_link_and_list_become_entities() -> None:
    rendered = render(
        "Hi **there**\n\n```python\nprint(1)\n```\n\n- one\n- [two](https://a.example)"
    )
    kinds = {e.type for e in rendered.entities}
    assert {"bold", "pre", "text_link"} <= kinds
    assert "**" not in rendered.text
    assert "```" not in rendered.text
    pre = next(e for e in rendered.entities if e.type == "pre")
    assert pre.language == "python"
    assert entity_text(rendered.text, pre.offset, pre.length).strip() == "print(1)"


def test_offsets_count_emoji_and_chinese_in_utf16_units() -> None:
    rendered = render("😀😀 中文 **粗体** end")
    bold = next(e for e in rendered.entities if e.type == "bold")
    # Two emoji take 4 UTF-16 units, not 2 characters.
    assert bold.offset == utf16_len("😀😀 中文 ")
    assert entity_text(rendered.text, bold.offset, bold.length) == "粗体"


def test_unfinished_markup_while_streaming_stays_literal() -> None:
    rendered = render("half **writ")
    assert rendered.text == "half **writ"
    assert rendered.entities == ()


def test_short_text_is_one_page() -> None:
    assert split_page("short answer") is None
    assert pages_of("short answer") == ["short answer"]


def test_long_answer_is_cut_at_paragraphs_each_page_fits() -> None:
    paragraph = "word " * 150  # 750 characters
    source = "\n\n".join(f"{i}: {paragraph}" for i in range(14))
    pages = pages_of(source)
    assert len(pages) >= 3
    for page in pages:
        assert utf16_len(render(page).text) <= TELEGRAM_TEXT_LIMIT
        assert page.startswith(tuple(f"{i}:" for i in range(14)))  # starts at a paragraph
    assert "".join(pages).replace(" ", "").replace("\n", "") == source.replace(" ", "").replace(
        "\n", ""
    )


def test_line_boundary_when_no_paragraph_fits() -> None:
    source = "\n".join(f"line {i} " + "x" * 60 for i in range(200))
    pages = pages_of(source)
    assert len(pages) >= 3
    for page in pages:
        assert page.startswith("line ")
        assert utf16_len(render(page).text) <= TELEGRAM_TEXT_LIMIT


def test_code_block_cut_across_pages_is_closed_and_reopened() -> None:
    code = "".join(f"print({i})  # step {i}\n" for i in range(600))
    source = f"Here is the script:\n\n```python\n{code}```\n\nDone."
    pages = pages_of(source)
    assert len(pages) >= 3
    for page in pages:
        assert page.count("```") % 2 == 0, "every page has balanced fences"
        assert open_fence(page) is None
        rendered = render(page)
        assert utf16_len(rendered.text) <= TELEGRAM_TEXT_LIMIT
    assert pages[1].startswith("```python\n")
    assert all(any(e.type == "pre" for e in render(p).entities) for p in pages[1:-1])
    # Every line of the code is shown exactly once.
    shown_lines = [line for p in pages for line in render(p).text.split("\n")]
    code_lines = [line for line in shown_lines if line.startswith("print(")]
    assert code_lines == [f"print({i})  # step {i}" for i in range(600)]


def test_unbroken_run_is_hard_cut() -> None:
    pages = pages_of("a" * 9000)
    assert [len(p) for p in pages] == [4096, 4096, 808]


def test_pages_once_sealed_do_not_change_as_text_grows() -> None:
    pager = MarkdownPager(limit=200)
    pager.append("first paragraph " * 10 + "\n\n")
    pager.append("second paragraph " * 10)
    pager.paginate()
    sealed = list(pager.sealed)
    assert sealed
    pager.append(" more" * 100)
    pager.paginate()
    assert pager.sealed[: len(sealed)] == sealed


def test_emoji_pages_respect_utf16_limit() -> None:
    pages = pages_of("😀 " * 3000)
    assert len(pages) >= 3
    assert all(utf16_len(render(p).text) <= TELEGRAM_TEXT_LIMIT for p in pages)
