"""End to end: what a model writes reaches the user, however it renders (issue 14)."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.ollama import FakeOllama, Reply
from tests.fakes.telegram import FakeTelegram
from tests.harness import ALICE, GROUP_ID, running_bot, stored_messages

ANGLE_BRACKETS = (
    "In C++ write std::vector<int> or template<typename T>; in HTML wrap it in a <div> and "
    "break lines with <br>; then x<y>z."
)


async def test_angle_brackets_in_an_answer_reach_the_user_whole(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script(Reply(text=ANGLE_BRACKETS, token_delay=0.01))
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, "How do I write generics and tags?")
        [answer] = await tg.wait_for_bot_messages(ALICE.id)
    assert answer.content == ANGLE_BRACKETS
    assert not [d.text for d in tg.drafts_of(ALICE.id) if "std::vector or" in d.text]


async def test_angle_brackets_survive_the_edits_of_a_group_answer(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script(Reply(text=ANGLE_BRACKETS, token_delay=0.01))
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(
            ALICE, "@ollagram_test_bot generics?", chat_id=GROUP_ID, chat_type="supergroup"
        )
        await tg.wait_for(lambda: tg.bot_texts(GROUP_ID)[-1:] == [ANGLE_BRACKETS])


async def test_an_answer_of_only_a_stray_tag_is_shown(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    # Small llama.cpp models answer this at times; it used to render to nothing and no message
    # was sent, though the answer was stored as complete.
    ollama.script(Reply(text="\n\n</p>\n "))
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, "Hello?")
        [answer] = await tg.wait_for_bot_messages(ALICE.id)
    assert answer.content == "</p>"
    assert stored_messages(db_path, ALICE.id)[-1][:3] == ("assistant", "\n\n</p>\n ", "complete")


async def test_an_answer_that_renders_to_nothing_is_shown_as_written(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script(Reply(text="[1]: https://example.com/source"))
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, "Your source?")
        [answer] = await tg.wait_for_bot_messages(ALICE.id)
    assert answer.content == "[1]: https://example.com/source"
