"""What one answer shows while the model writes it, and when it ends. Pure: no Telegram.

AnswerView takes what comes in (the queue position, the model loading, reasoning, words, how
the answer ended) and says what each message shows: a notice while the answer waits, the
reasoning in a message of its own ("Thinking…", then "Thought for N s"), the answer cut into
pages of one message each, its growing tail, and its end (why it was cut short, the footer).
`heading` (the model's name, in /compare) starts the answer and heads its reasoning.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.errors import BotError
from bot.notices import AnswerFooter, Notice
from bot.records import AnswerStatus
from bot.render import (
    Entity,
    MarkdownPager,
    RenderedText,
    close_open_fence,
    markdown_literal,
    render,
    render_final,
    render_thought,
    split_page,
    utf16_len,
)
from bot.texts import describe_error, describe_notice, say
from bot.texts.views import footer_text, loading_text, thought_header


@dataclass(frozen=True, slots=True)
class LiveText:
    """What the live message (a draft, or a message edited as it grows) shows now; a `notice`
    (loading, a queue position, "working") is a placeholder the answer or a failure replaces."""

    shown: RenderedText
    notice: bool = False


class AnswerView:
    """The text of one answer, as it grows and when it ends."""

    def __init__(
        self,
        *,
        language: str | None,
        max_pages: int,
        heading: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lang = language
        self._max_pages = max_pages  # MAX_ANSWER_PAGES: messages one answer may fill
        self._heading = heading
        self._clock = clock
        self._pager = MarkdownPager()
        self._delivered_pages = 0
        self._heading_due = heading is not None  # not yet put at the top of the answer
        self._full = False  # the answer needed more pages than it may fill: the rest is dropped
        self._thinking = ""
        self._thinking_since: float | None = None
        self._thought_for: float | None = None  # seconds, once the answer itself began
        self._thought_sealed = False  # the reasoning's own message is final
        self._ahead: int | None = None  # questions before this one in the queue for the model
        self._loading: tuple[str, int] | None = None  # (model, bytes) while it is loaded first

    # -- what comes in ----------------------------------------------------------------------

    def waiting(self, ahead: int) -> None:
        """`ahead` questions go to the model first; 0: the model is at work on this one."""
        self._ahead = ahead

    def loading(self, model: str, size_bytes: int) -> None:
        """The model is loaded into memory before it answers."""
        self._loading = (model, size_bytes)

    def think(self, delta: str) -> None:
        """More reasoning."""
        if self._thinking_since is None:
            self._thinking_since = self._clock()
        self._thinking += delta

    def append(self, delta: str) -> bool:
        """More words of the answer; False (nothing taken) once it was cut at its most pages."""
        if self._full:
            return False
        if self._thinking_since is not None and self._thought_for is None:
            self._thought_for = self._clock() - self._thinking_since
        self._add_heading()
        self._pager.append(delta)
        return True

    def end(
        self,
        status: AnswerStatus,
        footer: AnswerFooter | None = None,
        *,
        cut_at_length: bool = False,
    ) -> None:
        """The answer is complete: close what is open, and say why it ended when it was cut
        short (too many pages, stopped, `cut_at_length`), or that it is empty; then the footer."""
        answered = self.has_answer
        self._add_heading()
        self.keep_within_pages()
        self._pager.tail = close_open_fence(self._pager.tail)
        if self._full:
            self._pager.append(f"\n\n_{markdown_literal(self._pages_marker())}_")
        elif status == "stopped":
            self._pager.append(f"\n\n_{say('stopped_marker', self._lang)}_")
        elif cut_at_length and not answered:  # a thinking model spent it all on reasoning
            self._pager.append(markdown_literal(say("cut_while_thinking", self._lang)))
        elif cut_at_length:
            marker = say("cut_at_length_marker", self._lang)
            self._pager.append(f"\n\n_{markdown_literal(marker)}_")
        elif not answered:
            self._pager.append(markdown_literal(say("empty_answer", self._lang)))
        if footer is not None and answered:
            self._pager.append(f"\n\n_{markdown_literal(footer_text(footer, self._lang))}_")

    # -- what it shows ----------------------------------------------------------------------

    @property
    def full(self) -> bool:
        """The answer outgrew the pages it may fill: the model may stop."""
        return self._full

    @property
    def has_answer(self) -> bool:
        """Words of the answer itself (or its heading) came."""
        return bool(self._pager.sealed or self._pager.tail.strip())

    @property
    def thought_pending(self) -> bool:
        """There is reasoning whose own message is not final yet."""
        return bool(self._thinking) and not self._thought_sealed

    def only_working(self) -> bool:
        """Nothing to show but that the model is at work on this question."""
        return (
            self._ahead == 0
            and self._loading is None
            and not self._thinking
            and not self.has_answer
        )

    def before_the_answer(self) -> LiveText | None:
        """What the live message shows until the answer begins: loading, the queue position or
        "working", or the reasoning as it grows; None once the answer began."""
        if self.has_answer:
            return None
        if self._loading is not None and not self._thinking:
            return LiveText(RenderedText(loading_text(*self._loading, self._lang)), notice=True)
        if self._ahead is not None and not self._thinking:
            key = "waiting" if self._ahead else "working"
            return LiveText(RenderedText(say(key, self._lang, ahead=self._ahead)), notice=True)
        if self.thought_pending:  # "Thinking…"; after it, while only blank words came, for how long
            return LiveText(self._thought(self._thought_for))
        return None

    def sealed_thought(self) -> RenderedText:
        """The reasoning's final message, "Thought for N s"; it is not pending any more."""
        self._thought_sealed = True
        seconds = self._thought_for
        if seconds is None and self._thinking_since is not None:
            seconds = self._clock() - self._thinking_since
        return self._thought(seconds)

    def keep_within_pages(self) -> None:
        """Once the answer needs more than its most pages, cut it: the last page allowed is
        the tail again (shortened to leave room for the marker), the rest is dropped."""
        if self._full:
            return
        self._pager.paginate()
        sealed, most = self._pager.sealed, self._max_pages
        if len(sealed) < most or (len(sealed) == most and not self._pager.tail.strip()):
            return
        self._full = True
        if self._delivered_pages >= most:  # the last page went out already: the marker follows
            del sealed[most:]
            self._pager.tail = ""
            return
        last = sealed[most - 1]
        del sealed[most - 1 :]
        room = self._pager.limit - utf16_len(self._pages_marker()) - 2
        shortened = split_page(last, room)
        self._pager.tail = last if shortened is None else shortened[0]

    def seal_pages(self) -> None:
        """Cut every full page off the growing tail."""
        self._pager.paginate()

    def next_page(self) -> RenderedText | None:
        """The first sealed page not delivered yet, as it is sent for good."""
        if self._delivered_pages >= len(self._pager.sealed):
            return None
        return render_final(self._pager.sealed[self._delivered_pages])

    def page_delivered(self) -> None:
        """The page `next_page` gave went out."""
        self._delivered_pages += 1

    def live_tail(self) -> RenderedText | None:
        """The unfinished page as it grows (its markup may be half written); None if blank."""
        shown = render(self._pager.tail)
        return shown if shown.text.strip() else None

    def final_tail(self) -> RenderedText | None:
        """The last page for good; None if blank (every word went out in sealed pages)."""
        shown = render_final(self._pager.tail)
        return shown if shown.text.strip() else None

    def failure(self, error: BotError) -> RenderedText:
        """What went wrong, headed by the model's name in /compare when nothing else showed it."""
        # Plain text with a hand-made bold heading: error texts quote commands in backticks and
        # parentheses, which Markdown would turn into formatting.
        problem = describe_error(error, self._lang)
        if self._heading is None or not self._heading_due:
            return RenderedText(problem)
        head = self._heading
        return RenderedText(f"{head}\n\n{problem}", (Entity("bold", 0, utf16_len(head)),))

    def notice(self, notice: Notice) -> RenderedText:
        """A notice before the answer, in a message of its own."""
        return RenderedText(describe_notice(notice, self._lang))

    def _add_heading(self) -> None:
        """Start the answer with the heading, once."""
        if self._heading is not None and self._heading_due:
            self._pager.append(f"**{markdown_literal(self._heading)}**\n\n")
            self._heading_due = False

    def _pages_marker(self) -> str:
        return say("cut_at_pages_marker", self._lang, pages=self._max_pages)

    def _thought(self, seconds: float | None) -> RenderedText:
        header = thought_header(seconds, self._lang)
        if self._heading:  # in /compare: whose reasoning it is
            header = f"{header} · {self._heading}"
        return render_thought(header, self._thinking)
