"""AnswerStream on its own: what a user sees in the chat as an answer streams, written to an
in-memory bot through the writers' AnswerBot, paced on a FakeClock (no wall clock)."""

from __future__ import annotations

import datetime as dtm
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from telegram import (
    Chat,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    ReplyParameters,
)
from telegram.constants import ChatAction
from telegram.error import BadRequest, RetryAfter

from bot.errors import ModelNotFound
from bot.render import TELEGRAM_TEXT_LIMIT, utf16_len
from bot.telegram.pacing import ChatPacer, Pace, SendBudget
from bot.telegram.streaming import AnswerStream
from bot.texts import describe_error, say
from tests.fakes.clock import FakeClock

PRIVATE = 42
GROUP = -100
QUESTION_ID = 7


@dataclass
class Written:
    """One call the bot made, at the fake clock's time."""

    method: str
    at: float
    text: str
    message_id: int | None = None
    reply_to: int | None = None


@dataclass
class FakeAnswerBot:
    """The Bot methods an answer is written with, kept in memory."""

    clock: FakeClock
    refuse_drafts: bool = False
    retry_after: dict[str, int] = field(default_factory=dict)  # method → seconds, once
    calls: list[Written] = field(default_factory=list)
    messages: dict[int, str] = field(default_factory=dict)

    def of(self, method: str) -> list[Written]:
        return [c for c in self.calls if c.method == method]

    def _maybe_refuse(self, method: str) -> None:
        if (seconds := self.retry_after.pop(method, None)) is not None:
            raise RetryAfter(dtm.timedelta(seconds=seconds))

    async def send_message_draft(
        self,
        chat_id: int,
        draft_id: int,
        text: str | None = None,
        message_thread_id: int | None = None,
        *,
        entities: Sequence[MessageEntity] | None = None,
        rate_limit_args: Pace | None = None,
        api_kwargs: dict[str, Any] | None = None,
    ) -> bool:
        if self.refuse_drafts:
            raise BadRequest("Method sendmessagedraft is not available in this chat")
        self._maybe_refuse("draft")
        self.calls.append(Written("draft", self.clock.now, text or "", draft_id))
        return True

    async def send_message(
        self,
        chat_id: int | str,
        text: str,
        *,
        message_thread_id: int | None = None,
        entities: Sequence[MessageEntity] | None = None,
        link_preview_options: LinkPreviewOptions | None = None,
        reply_parameters: ReplyParameters | None = None,
        reply_markup: InlineKeyboardMarkup | None = None,
        rate_limit_args: Pace | None = None,
    ) -> Message:
        self._maybe_refuse("send")
        message_id = len(self.messages) + 1
        self.messages[message_id] = text
        reply_to = reply_parameters.message_id if reply_parameters else None
        self.calls.append(Written("send", self.clock.now, text, message_id, reply_to))
        chat = Chat(int(chat_id), Chat.PRIVATE if int(chat_id) > 0 else Chat.GROUP)
        return Message(message_id, dtm.datetime.now(dtm.UTC), chat)

    async def edit_message_text(
        self,
        text: str,
        chat_id: str | int | None = None,
        message_id: int | None = None,
        *,
        entities: Sequence[MessageEntity] | None = None,
        link_preview_options: LinkPreviewOptions | None = None,
        reply_markup: InlineKeyboardMarkup | None = None,
        rate_limit_args: Pace | None = None,
    ) -> Message | bool:
        self._maybe_refuse("edit")
        assert message_id in self.messages
        self.messages[message_id] = text
        self.calls.append(Written("edit", self.clock.now, text, message_id))
        return True

    async def send_chat_action(
        self, chat_id: str | int, action: str, message_thread_id: int | None = None
    ) -> bool:
        assert action == ChatAction.TYPING
        self.calls.append(Written("typing", self.clock.now, ""))
        return True

    async def edit_forum_topic(
        self, chat_id: str | int, message_thread_id: int, name: str | None = None
    ) -> bool:
        self.calls.append(Written("topic", self.clock.now, name or ""))
        return True

    async def edit_message_reply_markup(
        self,
        chat_id: str | int | None = None,
        message_id: int | None = None,
        *,
        reply_markup: InlineKeyboardMarkup | None = None,
    ) -> Message | bool:
        self.calls.append(Written("markup", self.clock.now, "", message_id))
        return True


def open_stream(
    bot: FakeAnswerBot,
    chat_id: int,
    *,
    drafts: bool,
    refused: set[int] | None = None,
    max_pages: int = 5,
) -> AnswerStream:
    clock = bot.clock
    return AnswerStream(
        bot,
        chat_id,
        use_drafts=drafts,
        pacer=ChatPacer(private_interval=1.0, group_interval=3.0, clock=clock, sleep=clock.sleep),
        draft_pacer=ChatPacer(
            private_interval=0.3, group_interval=0.3, clock=clock, sleep=clock.sleep
        ),
        budget=SendBudget(30, 1.1, clock=clock, sleep=clock.sleep),
        drafts_refused=set() if refused is None else refused,
        reply_to=QUESTION_ID,
        language="en",
        max_pages=max_pages,
        clock=clock,
        sleep=clock.sleep,
    )


async def test_first_words_show_in_a_draft_and_the_answer_ends_as_a_reply() -> None:
    clock = FakeClock()
    bot = FakeAnswerBot(clock)
    stream = open_stream(bot, PRIVATE, drafts=True)

    async def answer() -> None:
        stream.begin()
        await clock.sleep(0.5)
        stream.append("Hello **there**")
        await clock.sleep(0.5)
        stream.append(", friend")
        await clock.sleep(0.5)
        await stream.finish("complete")

    await clock.run(answer())
    assert [c.method for c in bot.calls[:2]] == ["typing", "draft"]
    placeholder, *drafts = bot.of("draft")
    assert placeholder.text == "", "Telegram's 'Thinking…' first"
    assert placeholder.at < drafts[0].at - 0.4
    assert [c.text for c in drafts] == ["Hello there", "Hello there, friend"]
    [final] = bot.of("send")
    assert (final.text, final.reply_to) == ("Hello there, friend", QUESTION_ID)
    assert bot.of("edit") == []


async def test_a_long_answer_goes_out_page_by_page_at_the_chats_pace() -> None:
    clock = FakeClock()
    bot = FakeAnswerBot(clock)
    stream = open_stream(bot, PRIVATE, drafts=True)
    words = ("word " * 150 + "\n\n") * 20  # about 15,000 characters: four messages

    async def answer() -> None:
        for piece in words.split("\n\n"):
            stream.append(piece + "\n\n")
            await clock.sleep(0.1)
        await stream.finish("complete")

    await clock.run(answer())
    sent = bot.of("send")
    assert len(sent) == 4
    assert all(utf16_len(c.text) <= TELEGRAM_TEXT_LIMIT for c in sent)
    assert " ".join(c.text for c in sent).split() == words.split(), "every word, once"
    assert [c.reply_to for c in sent] == [QUESTION_ID, None, None, None]
    gaps = [b.at - a.at for a, b in itertools.pairwise(sent)]
    assert all(gap >= 1.0 - 1e-9 for gap in gaps), "a private chat's interval between sends"


async def test_an_answer_past_its_most_pages_stops_the_model_and_says_it_was_cut() -> None:
    clock = FakeClock()
    bot = FakeAnswerBot(clock)
    stream = open_stream(bot, PRIVATE, drafts=True, max_pages=2)

    async def answer() -> None:
        for _ in range(40):  # twice what two messages hold
            stream.append("word " * 100 + "\n\n")
            await clock.sleep(0.1)
        await stream.until_full()
        await stream.finish("complete")

    await clock.run(answer())
    sent = bot.of("send")
    assert len(sent) == 2
    assert sent[-1].text.endswith(say("cut_at_pages_marker", "en", pages=2))


async def test_a_failure_replaces_the_waiting_notice() -> None:
    clock = FakeClock()
    bot = FakeAnswerBot(clock)
    stream = open_stream(bot, GROUP, drafts=False)
    error = ModelNotFound("llama3.2", "http://ollama:11434")

    async def answer() -> None:
        stream.waiting(2)
        await clock.sleep(1.0)
        await stream.fail(error)

    await clock.run(answer())
    [notice] = bot.of("send")
    assert notice.text == say("waiting", "en", ahead=2)
    assert notice.reply_to == QUESTION_ID
    assert bot.messages == {notice.message_id: describe_error(error, "en")}


async def test_where_drafts_are_refused_the_answer_is_sent_and_edited() -> None:
    clock = FakeClock()
    bot = FakeAnswerBot(clock, refuse_drafts=True)
    refused: set[int] = set()
    stream = open_stream(bot, PRIVATE, drafts=True, refused=refused)

    async def answer() -> None:
        stream.append("Hello")
        await clock.sleep(2.0)
        stream.append(" world")
        await clock.sleep(2.0)
        await stream.finish("complete")

    await clock.run(answer())
    assert refused == {PRIVATE}, "remembered for the next answers"
    assert [c.text for c in bot.of("send")] == ["Hello"]
    assert [c.text for c in bot.of("edit")] == ["Hello world"]
    assert list(bot.messages.values()) == ["Hello world"]

    later = open_stream(bot, PRIVATE, drafts=True, refused=refused)
    await clock.run(_say(later, "Again"))
    assert bot.of("draft") == []
    assert bot.of("send")[-1].text == "Again"


async def _say(stream: AnswerStream, text: str) -> None:
    stream.append(text)
    await stream.finish("complete")


async def test_a_429_holds_the_chat_and_the_newest_text_follows() -> None:
    clock = FakeClock()
    bot = FakeAnswerBot(clock, retry_after={"edit": 5})
    stream = open_stream(bot, PRIVATE, drafts=False)

    async def answer() -> None:
        stream.append("one")
        await clock.sleep(1.5)
        stream.append(" two")
        await clock.sleep(2.0)
        stream.append(" three")
        await clock.sleep(10.0)
        await stream.finish("complete")

    await clock.run(answer())
    [first] = bot.of("send")
    [edit] = bot.of("edit")
    assert edit.at - first.at >= 1.0 + 5.0, "the chat waited retry_after after the refused edit"
    assert edit.text == "one two three", "the text in between is coalesced, not lost"
    assert bot.messages == {first.message_id: "one two three"}


async def test_a_notice_in_a_draft_is_shown_again_before_the_draft_fades() -> None:
    clock = FakeClock()
    bot = FakeAnswerBot(clock)
    stream = open_stream(bot, PRIVATE, drafts=True)

    async def answer() -> None:
        stream.loading("llama3.2", 0)
        await clock.sleep(45.0)  # a draft lasts 30 s on its own
        stream.append("Ready")
        await clock.sleep(1.0)
        await stream.finish("complete")

    await clock.run(answer())
    loading = say("loading_unsized", "en", model="llama3.2")
    drafts = bot.of("draft")
    assert [c.text for c in drafts] == [loading, loading, loading, "Ready"]
    assert [round(c.at - drafts[0].at) for c in drafts[:3]] == [0, 20, 40]
    assert bot.of("send")[-1].text == "Ready"
