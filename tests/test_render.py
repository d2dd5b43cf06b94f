"""Rendering model Markdown into Telegram messages: formatting, UTF-16 offsets, pages."""

from __future__ import annotations

from bot.render import (
    TELEGRAM_TEXT_LIMIT,
    MarkdownPager,
    open_fence,
    render,
    render_final,
    split_page,
    utf16_len,
)

ANGLE_BRACKETS = (
    "In C++ write std::vector<int> or template<typename T>; in HTML wrap it in a <div> and "
    "break lines with <br>; then x<y>z."
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


def test_angle_brackets_in_prose_read_as_written() -> None:
    rendered = render(ANGLE_BRACKETS)
    assert rendered.text == ANGLE_BRACKETS
    assert rendered.entities == ()


def test_comparisons_and_escaped_brackets_read_as_the_reader_expects() -> None:
    assert render("a < b > c").text == "a < b > c"
    assert render("if 0<x and y>1").text == "if 0<x and y>1"
    assert render("\\<b> is a tag").text == "<b> is a tag"  # the Markdown escape is not shown


def test_markup_inside_angle_brackets_is_shown_not_applied() -> None:
    assert render("a <*b* and _c_> d").text == "a <*b* and _c_> d"
    assert render("Box<dyn Fn(&str) -> i32>").text == "Box<dyn Fn(&str) -> i32>"


def test_html_lines_are_shown_and_the_text_between_them_still_formatted() -> None:
    tail = "\n\n<!-- a comment -->\n\n<details>\nmore\n</details>"
    rendered = render("<div>\nHello **world**\n</div>" + tail)
    assert rendered.text == "<div>\nHello world\n</div>" + tail
    [bold] = rendered.entities
    assert entity_text(rendered.text, bold.offset, bold.length) == "world"


def test_html_in_a_quote_and_a_list_is_shown() -> None:
    assert render("> <div>\n> hi\n> </div>").text == "<div>\nhi\n</div>"
    assert "<b>x</b>" in render("- item <b>x</b>").text


def test_an_unclosed_html_comment_does_not_swallow_the_rest() -> None:
    assert render("<!--\nnot closed\n\nthe rest").text == "<!--\nnot closed\n\nthe rest"


def test_autolinks_keep_their_address_visible() -> None:
    rendered = render("see <https://example.com/a_b> or <me@example.com>")
    assert rendered.text == "see https://example.com/a_b or me@example.com"
    assert [e.url for e in rendered.entities] == ["https://example.com/a_b", "me@example.com"]


def test_angle_brackets_in_code_and_links_are_left_to_them() -> None:
    code_block = "```\n<div>&amp;</div>\n```"
    rendered = render(f"Use `Vec<T>` or [List<T>](<https://example.com/a b>):\n\n{code_block}")
    assert rendered.text == "Use Vec<T> or List<T>:\n\n<div>&amp;</div>"
    shown = {(e.type, entity_text(rendered.text, e.offset, e.length)): e for e in rendered.entities}
    assert ("code", "Vec<T>") in shown
    assert shown["text_link", "List<T>"].url == "https://example.com/a b"


def test_angle_brackets_in_a_table_cell_keep_the_cells_apart() -> None:
    rendered = render("| type | size |\n|---|---|\n| Map<K, V> | 2 |")
    assert "Map<K, V>" in rendered.text
    assert "| 2" in rendered.text


def test_a_bare_closing_tag_is_an_answer_that_shows() -> None:
    # What small llama.cpp models answer at times.
    assert render("\n\n</p>\n ").text == "</p>"


def test_a_finished_page_that_renders_to_nothing_shows_as_written() -> None:
    assert render("[1]: https://a.example").text == ""
    assert render_final("[1]: https://a.example").text == "[1]: https://a.example"
    assert render_final("```python\n```").text == "```python\n```"
    assert render_final("Hi **there**") == render("Hi **there**")
    assert render_final(" \n ").text == ""


def test_pages_of_link_definitions_fit() -> None:
    source = "\n".join(f"[{i}]: https://example.com/{i}" for i in range(400))
    pages = pages_of(source)
    assert len(pages) >= 3
    assert all(0 < utf16_len(render_final(p).text) <= TELEGRAM_TEXT_LIMIT for p in pages)


def test_a_page_cut_inside_a_paragraph_keeps_a_line_that_looks_like_a_link_definition() -> None:
    # Read whole, `[1]: https://…` continues the paragraph; alone at the top of the next page it
    # would be a link definition and show nothing.
    source = "some words here\n[1]: https://a.example\nmore"
    pages = []
    rest: str | None = source
    while rest:
        cut = split_page(rest, 30)
        if cut is None:
            pages.append(rest)
            break
        page, rest = cut
        pages.append(page)
    shown = " ".join(render_final(page).text for page in pages)
    assert "[1]: https://a.example" in shown, pages
    whole_definition = "intro\n\n[1]: https://a.example\n\nmore"
    assert "[1]" not in render(whole_definition).text, "a real definition stays one"
