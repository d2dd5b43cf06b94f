"""What an answer shows, on its own (no Telegram): notices, reasoning, pages, markers, footer."""

from __future__ import annotations

from bot.answer_view import AnswerView, LiveText
from bot.errors import ModelNotFound
from bot.notices import AnswerFooter, ContextTrimmed
from bot.records import AnswerFigures
from bot.render import TELEGRAM_TEXT_LIMIT, RenderedText, utf16_len
from bot.texts import describe_error, describe_notice, say


class StepClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def view(
    *, heading: str | None = None, max_pages: int = 3, clock: StepClock | None = None
) -> AnswerView:
    return AnswerView(
        language="en", max_pages=max_pages, heading=heading, clock=clock or StepClock()
    )


def pages_of(answer: AnswerView) -> list[str]:
    """Every page sent for good, the final tail last."""
    answer.seal_pages()
    pages = []
    while (page := answer.next_page()) is not None:
        pages.append(page.text)
        answer.page_delivered()
    if (tail := answer.final_tail()) is not None:
        pages.append(tail.text)
    return pages


def test_notices_while_the_answer_waits_then_its_first_words_replace_them() -> None:
    answer = view()
    answer.loading("llama3.2", 2_000_000_000)
    loading = LiveText(RenderedText("⏳ Loading llama3.2 (2.0 GB)…"), notice=True)
    assert answer.before_the_answer() == loading
    answer = view()
    answer.waiting(2)
    assert answer.before_the_answer() == LiveText(
        RenderedText(say("waiting", "en", ahead=2)), notice=True
    )
    answer.waiting(0)
    assert answer.before_the_answer() == LiveText(RenderedText(say("working", "en")), notice=True)
    assert answer.only_working(), "typing… says it; no turn is spent on the notice"
    answer.append("Hello **world**")
    assert answer.before_the_answer() is None
    tail = answer.live_tail()
    assert tail is not None
    assert tail.text == "Hello world"
    assert [e.type for e in tail.entities] == ["bold"]


def test_reasoning_shows_as_it_grows_then_says_how_long_it_took() -> None:
    clock = StepClock()
    answer = view(clock=clock)
    answer.think("Let me see")
    live = answer.before_the_answer()
    assert live is not None
    assert not live.notice
    assert live.shown.text == f"{say('thinking_now', 'en')}\nLet me see"
    assert [e.type for e in live.shown.entities] == ["expandable_blockquote"]
    clock.now += 4.26
    answer.append("The answer.")
    assert answer.before_the_answer() is None, "the answer began: the reasoning is sealed"
    assert answer.thought_pending
    sealed = answer.sealed_thought()
    assert sealed.text.startswith(say("thought_for", "en", duration="4.3 s"))
    assert not answer.thought_pending


def test_reasoning_cut_off_by_the_end_counts_until_then() -> None:
    clock = StepClock()
    answer = view(clock=clock, heading="qwen3")
    answer.think("hmm")
    clock.now += 2.0
    assert answer.sealed_thought().text.startswith(
        f"{say('thought_for', 'en', duration='2.0 s')} · qwen3"
    ), "in /compare the reasoning says whose it is"


def test_heading_starts_the_answer_once_in_bold() -> None:
    answer = view(heading="gemma_2b")
    answer.append("one ")
    answer.append("two")
    answer.end("complete")
    [page] = pages_of(answer)
    assert page == "gemma_2b\n\none two"


def test_a_long_answer_is_cut_into_pages_that_each_fit_a_message() -> None:
    answer = view(max_pages=10)
    paragraph = "word " * 200 + "\n\n"
    answer.append(paragraph * 30)  # about 30,000 characters
    answer.end("complete")
    pages = pages_of(answer)
    assert len(pages) > 5
    assert all(utf16_len(page) <= TELEGRAM_TEXT_LIMIT for page in pages)
    assert " ".join(pages).split() == (paragraph * 30).split(), "no word lost or repeated"


def test_an_answer_past_its_most_pages_is_cut_with_a_marker_and_takes_no_more_words() -> None:
    answer = view(max_pages=2)
    answer.append(("word " * 200 + "\n\n") * 30)
    answer.keep_within_pages()
    assert answer.full, "the model may stop"
    assert not answer.append("more"), "nothing more is taken"
    answer.end("complete")
    pages = pages_of(answer)
    assert len(pages) == 2
    assert pages[-1].endswith(say("cut_at_pages_marker", "en", pages=2))
    assert utf16_len(pages[-1]) <= TELEGRAM_TEXT_LIMIT


def test_an_answer_ends_with_why_it_was_cut_short_or_its_footer() -> None:
    stopped = view()
    stopped.append("Half an")
    stopped.end("stopped")
    assert pages_of(stopped) == ["Half an\n\n(stopped)"]
    at_length = view()
    at_length.append("Long")
    at_length.end("complete", cut_at_length=True)
    assert pages_of(at_length) == [f"Long\n\n{say('cut_at_length_marker', 'en')}"]
    footed = view()
    footed.append("Done.")
    figures = AnswerFigures(completion_tokens=50, eval_duration_ns=2_000_000_000)
    footed.end("complete", AnswerFooter("llama3.2", figures))
    assert pages_of(footed) == ["Done.\n\nllama3.2 · 25.0 tokens/s"]


def test_an_empty_answer_says_so_and_gets_no_footer() -> None:
    answer = view()
    answer.append("  ")
    answer.end("complete", AnswerFooter("llama3.2", AnswerFigures()))
    assert pages_of(answer) == [say("empty_answer", "en")]


def test_an_unclosed_code_block_is_closed_at_the_end() -> None:
    answer = view()
    answer.append("```python\nprint(1)\n")
    answer.end("complete")
    [page] = pages_of(answer)
    assert "```" not in page
    assert "print(1)" in page


def test_a_failure_is_headed_by_the_model_only_when_nothing_showed_it() -> None:
    error = ModelNotFound("llama3.2", "http://ollama:11434")
    problem = describe_error(error, "en")
    headed = view(heading="qwen3").failure(error)
    assert headed.text == f"qwen3\n\n{problem}"
    assert [(e.type, e.offset, e.length) for e in headed.entities] == [("bold", 0, 5)]
    shown = view(heading="qwen3")
    shown.append("Partly")
    assert shown.failure(error) == RenderedText(problem)


def test_a_notice_is_a_plain_message() -> None:
    assert view().notice(ContextTrimmed()) == RenderedText(describe_notice(ContextTrimmed(), "en"))
