"""End to end: button data is input (every press is answered, malformed ones refused), and one
answer is capped (MAX_ANSWER_TOKENS, MAX_ANSWER_PAGES)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.config import load_settings
from bot.errors import ConfigError
from bot.render import utf16_len
from bot.texts.en import MESSAGES as TEXTS
from tests.fakes.ollama import FakeOllama, Reply
from tests.fakes.openai_compat import FakeOpenAI, OpenAIReply
from tests.fakes.telegram import CallbackAnswer, FakeTelegram, FakeUser, StoredMessage
from tests.harness import (
    ADMIN,
    ALICE,
    BOB,
    GROUP_ID,
    MALLORY,
    MODEL,
    exchange,
    reply_to,
    running_bot,
    stored_messages,
)

EXPIRED = TEXTS["button_expired"]
JUNK = "é" * 32  # 64 bytes of UTF-8, the most callback_data may hold
MODEL_ID = "0123456789ab"  # the shape of a model button's id, of no model


async def press(
    tg: FakeTelegram,
    user: FakeUser,
    message: StoredMessage,
    data: str,
    chat_id: int | None = None,
) -> CallbackAnswer:
    """`user` presses a button carrying `data` on `message` (whether or not it has one); the
    bot's answer to the press."""
    sent = tg.user_presses(user, message.message_id, data, chat_id, check_button=False)

    def answered() -> CallbackAnswer | None:
        found = (a for a in tg.callback_answers if a.callback_query_id == sent.callback_query_id)
        return next(found, None)

    await tg.wait_for(lambda: answered() is not None, timeout=5)
    answer = answered()
    assert answer is not None
    return answer


async def assert_refused(
    tg: FakeTelegram, user: FakeUser, message: StoredMessage, data: str, chat_id: int | None = None
) -> None:
    answer = await press(tg, user, message, data, chat_id)
    assert (answer.show_alert, answer.text) == (True, EXPIRED), data


def assert_no_failure_told(tg: FakeTelegram, chat_id: int) -> None:
    told = [t for t in tg.bot_texts(chat_id) if TEXTS["error_unexpected"][:20] in t]
    assert not told, "no press made the bot report a failure"


async def test_malformed_menu_presses_are_refused_with_an_alert_and_change_nothing(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path):
        [model_menu] = await exchange(tg, ALICE, "/model")
        [role_menu] = await exchange(tg, ALICE, "/role")
        [settings_menu] = await exchange(tg, ALICE, "/settings")
        [forget_menu] = await exchange(tg, ALICE, "/forget")
        [lang_menu] = await exchange(tg, ALICE, "/lang")
        me = ALICE.id
        pressed = [
            (
                model_menu,
                [
                    "model:",
                    "model:x",
                    "model:page:abc",
                    "model:page:-1",
                    "model:page:" + "9" * 50,
                    "model:page:1:2",
                    "model:use:",
                    f"model:use:{MODEL_ID}:extra",
                    "model:use:" + "Z" * 12,
                    "model:" + JUNK,
                ],
            ),
            (
                role_menu,
                [
                    "role:",
                    "role:1:x",
                    f"role:{me}:x",
                    f"role:{me}:page:abc",
                    f"role:{me}:page:" + "9" * 40,
                    f"role:{me}:use:",
                    f"role:{me}:use:Bad Name!",
                    f"role:{me}:drop:assistant",
                    f"role:{me}:use:assistant:extra",
                ],
            ),
            (
                settings_menu,
                [
                    "set:",
                    f"set:{me}",
                    f"set:{me}:temperature",
                    f"set:{me}:temperature:1.5:extra",
                    f"set:{me}::",
                    f"set:{me}:reset:now",
                    f"set:{me}:" + JUNK,
                ],
            ),
            (
                forget_menu,
                [
                    "forget:",
                    "forget:yes",
                    "forget:yes:abc",
                    f"forget:maybe:{me}",
                    f"forget:yes:{me}:again",
                ],
            ),
            (lang_menu, ["lang:", "lang:xx", "lang:en:extra", "lang:" + "a" * 59, "lang:" + JUNK]),
        ]
        for menu, datas in pressed:
            for data in datas:
                await assert_refused(tg, ALICE, menu, data)
        answer = await reply_to(tg, ALICE, "still there?")
        await asyncio.sleep(0.3)
    assert answer.content == "Echo: still there?", "the bot keeps working"
    assert_no_failure_told(tg, ALICE.id)
    assert tg.unanswered_callbacks == set()
    assert [m[2] for m in stored_messages(db_path, ALICE.id)] == ["complete", "complete"]
    [menu_now] = [m for m in tg.bot_messages(ALICE.id) if m.message_id == forget_menu.message_id]
    assert menu_now.edit_count == 0, "a refused press changes no menu"


async def test_malformed_admin_presses_are_refused_and_remove_nothing(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path):
        [question] = await exchange(tg, ADMIN, f"/rm {MODEL}")
        [real_id] = {d.split(":")[2] for d in question.callback_data}
        [offer] = await exchange(tg, ADMIN, "/model gemma:2b")
        for data in [
            "rm:",
            "rm:yes",
            "rm:yes:",
            f"rm:maybe:{real_id}",  # not "no": it must not read as "yes" either
            f"rm:yes:{real_id}:x",
            f"rm:yes:{MODEL_ID}",  # an id of no model the bot asked about
            "pull:",
            "pull:cancel",
            "pull:cancel:abc",
            "pull:" + "Z" * 12,
            f"pull:{MODEL_ID}:x",
            "pull:" + JUNK,
        ]:
            await assert_refused(tg, ADMIN, question, data)
        stale_cancel = await press(tg, ADMIN, offer, "pull:cancel:" + "9" * 9)
        assert not stale_cancel.show_alert, "a pull that is over has nothing to cancel"
        answer = await reply_to(tg, ADMIN, "still there?")
    assert answer.content == "Echo: still there?"
    assert ollama.has_model(MODEL), "no malformed press removed the model"
    assert not [r for r in ollama.requests if r.path == "/api/delete"]
    assert not [r for r in ollama.requests if r.path == "/api/pull"]
    assert_no_failure_told(tg, ADMIN.id)


async def test_presses_no_handler_takes_are_answered(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path):
        [menu] = await exchange(tg, ALICE, "/model")
        for data in ["", "x", "stop:1", "models:use:1", "MODEL:page:0", JUNK, ":" * 64]:
            await assert_refused(tg, ALICE, menu, data)
        answer = await reply_to(tg, ALICE, "still there?")
    assert answer.content == "Echo: still there?"
    assert_no_failure_told(tg, ALICE.id)


async def test_presses_on_a_message_the_bot_never_sent_fail_quietly(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path):
        [menu] = await exchange(tg, ALICE, "/settings")
        own = tg.user_sends(ALICE, "a message of my own").message
        await tg.wait_for_bot_messages(ALICE.id, 2)  # its answer
        for data in [
            f"set:{ALICE.id}:temperature:1.5",
            f"role:{ALICE.id}:page:1",
            "model:page:0",
            f"forget:no:{ALICE.id}",
            "lang:en",
        ]:
            pressed = await press(tg, ALICE, own, data)
            assert pressed.callback_query_id, data
        await assert_refused(tg, ALICE, own, "model:x")
        still = await press(tg, ALICE, menu, f"set:{ALICE.id}:temperature:0.3")
        answer = await reply_to(tg, ALICE, "still there?")
        await asyncio.sleep(0.3)
    assert still.text == TEXTS["settings_saved"], "the real menu still works"
    assert answer.content == "Echo: still there?"
    assert_no_failure_told(tg, ALICE.id)
    assert own.text == "a message of my own", "Telegram would not let the bot edit it"


async def test_presses_from_someone_else_are_refused(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, "/settings", chat_id=GROUP_ID, chat_type="supergroup")
        [settings_menu] = await tg.wait_for_bot_messages(GROUP_ID)
        tg.user_sends(ALICE, "/role", chat_id=GROUP_ID, chat_type="supergroup")
        [_, role_menu] = await tg.wait_for_bot_messages(GROUP_ID, 2)
        not_yours = await press(
            tg, BOB, role_menu, f"role:{ALICE.id}:use:supervisor", chat_id=GROUP_ID
        )
        await assert_refused(tg, BOB, role_menu, f"role:{ALICE.id}:page:abc", chat_id=GROUP_ID)
        await assert_refused(tg, BOB, settings_menu, f"set:{ALICE.id}:", chat_id=GROUP_ID)
        outsider = await press(
            tg, MALLORY, settings_menu, f"set:{ALICE.id}:temperature:2.0", chat_id=GROUP_ID
        )
        again = await press(
            tg, MALLORY, settings_menu, f"set:{ALICE.id}:temperature:0.0", chat_id=GROUP_ID
        )
        not_admin = await press(tg, BOB, settings_menu, "pull:cancel:abc", chat_id=GROUP_ID)
    assert again.text is None, "pressed again: answered, without a second refusal"
    assert not_yours.show_alert
    assert not_yours.text == TEXTS["menu_not_yours"].format(command="/role")
    assert outsider.text is not None
    assert str(MALLORY.id) in outsider.text, "an outsider is told their id, nothing else"
    assert (not_admin.show_alert, not_admin.text) == (True, TEXTS["admins_only"])
    assert_no_failure_told(tg, GROUP_ID)
    assert all(len(m.edits) == 0 for m in tg.bot_messages(GROUP_ID)), "no menu changed"


# -- the caps on one answer ---------------------------------------------------------------------


async def test_answers_are_capped_at_4096_tokens_by_default(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path):
        await reply_to(tg, ALICE, "hello")
        await reply_to(tg, ALICE, "/ask a haiku")
    assert ollama.chat_requests[0]["options"]["num_predict"] == 4096
    assert ollama.generate_requests[0]["options"]["num_predict"] == 4096


def test_blank_caps_mean_the_defaults_and_0_tokens_means_none(tmp_path: Path) -> None:
    config = tmp_path / "config.env"
    config.write_text("TELEGRAM_BOT_TOKEN=123456:abc\nMAX_ANSWER_TOKENS=\nMAX_ANSWER_PAGES=\n")
    blank = load_settings(config)
    assert (blank.max_answer_tokens, blank.max_answer_pages) == (4096, 12)
    config.write_text("TELEGRAM_BOT_TOKEN=123456:abc\nMAX_ANSWER_TOKENS=0\nMAX_ANSWER_PAGES=3\n")
    lifted = load_settings(config)
    assert (lifted.max_answer_tokens, lifted.max_answer_pages) == (0, 3)
    config.write_text("TELEGRAM_BOT_TOKEN=123456:abc\nMAX_ANSWER_PAGES=0\n")
    with pytest.raises(ConfigError, match="MAX_ANSWER_PAGES"):
        load_settings(config)


async def test_max_answer_tokens_0_lifts_the_cap(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path, max_answer_tokens=0):
        await reply_to(tg, ALICE, "hello")
    assert "num_predict" not in ollama.chat_requests[0]["options"]


async def test_an_answer_cut_at_the_token_cap_says_so(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script(Reply(text="one two three four five six seven eight nine ten"))
    async with running_bot(tg, ollama, db_path, max_answer_tokens=5):
        answer = await reply_to(tg, ALICE, "count to ten")
    marker = "(… answer cut: it reached the longest answer allowed)"
    assert answer.content == f"one two three four five\n\n{marker}"
    assert ollama.chat_requests[0]["options"]["num_predict"] == 5
    role, content, status, _ = stored_messages(db_path, ALICE.id)[-1]
    assert (role, content, status) == ("assistant", "one two three four five", "complete")


async def test_a_thinking_model_gets_room_to_think_on_top_of_the_cap(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    # Ollama's num_predict counts the reasoning too (the fake's does, as Ollama's runner).
    ollama.add_model("qwen3:8b", capabilities=("completion", "thinking"), context_length=40960)
    ollama.script(
        Reply(thinking="step " * 30, text="The answer is 42."),
        Reply(thinking="step " * 60, text="never written"),
    )
    async with running_bot(tg, ollama, db_path, default_model="qwen3:8b", max_answer_tokens=10):
        thought_and_answer = await exchange(tg, ALICE, "think hard", replies=2)
        thought_only = await exchange(tg, ALICE, "think harder", replies=2)
    assert ollama.chat_requests[0]["options"]["num_predict"] == 40, "four times the cap"
    assert thought_and_answer[1].content == "The answer is 42."
    assert thought_only[1].content == TEXTS["cut_while_thinking"], "told why, not left blank"


async def test_an_openai_compatible_server_gets_the_cap_as_max_tokens(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with FakeOpenAI(["studio-model"]) as studio:
        studio.script(OpenAIReply(text="short answer"), OpenAIReply(text="one two three four"))
        backend = {"openai_base_url": studio.url, "default_model": "studio-model"}
        async with running_bot(tg, ollama, db_path, **backend):
            whole = await reply_to(tg, ALICE, "hello")
        async with running_bot(tg, ollama, db_path, max_answer_tokens=2, **backend):
            cut = await reply_to(tg, ALICE, "count")
    assert [r["max_tokens"] for r in studio.chat_requests] == [4096, 2]
    assert whole.content == "short answer"
    assert cut.content == "one two\n\n(… answer cut: it reached the longest answer allowed)"


def endless_essay() -> str:
    """Far more than a few messages of prose (about 27 pages)."""
    return "\n\n".join(f"Paragraph {i}: " + "lorem ipsum dolor sit amet " * 10 for i in range(400))


@pytest.mark.parametrize("stream_mode", ["auto", "edit"])  # drafts, or an edited message
async def test_an_endless_answer_is_stopped_at_the_page_cap(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path, stream_mode: str
) -> None:
    ollama.script(Reply(text=endless_essay(), token_delay=0.001))
    caps = {"max_answer_tokens": 0, "max_answer_pages": 2}
    async with running_bot(tg, ollama, db_path, stream_mode=stream_mode, **caps):
        tg.user_sends(ALICE, "write forever")
        marker = "(… answer cut: it passed 2 messages)"
        await tg.wait_for(lambda: any(marker in t for t in tg.bot_texts(ALICE.id)), timeout=30)
        await tg.wait_for(lambda: ollama.cancelled_streams == 1)
        await asyncio.sleep(0.5)  # nothing may follow
    first, last = tg.bot_messages(ALICE.id)
    assert first.content.startswith("Paragraph 0: lorem ipsum")
    assert last.content.endswith(marker)
    assert all(utf16_len(m.content) <= 4096 for m in (first, last))
    assert ollama.completed_streams == 0, "the model was stopped, not left to write on"
    role, content, status, _ = stored_messages(db_path, ALICE.id)[-1]
    assert (role, status) == ("assistant", "stopped"), "kept, as an answer cut short"
    assert content.startswith("Paragraph 0: lorem ipsum")
    assert len(content) < len(endless_essay()) // 4


async def test_a_long_answer_within_the_page_cap_is_whole(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    essay = "\n\n".join(f"Paragraph {i}: " + "lorem ipsum dolor sit amet " * 10 for i in range(25))
    ollama.script(Reply(text=essay))
    async with running_bot(tg, ollama, db_path, max_answer_pages=2):
        tg.user_sends(ALICE, "write a bit")
        messages = await tg.wait_for_bot_messages(ALICE.id, 2)
        await asyncio.sleep(0.5)
    assert len(tg.bot_messages(ALICE.id)) == 2
    assert messages[-1].content.endswith("lorem ipsum dolor sit amet")
    assert stored_messages(db_path, ALICE.id)[-1][2] == "complete"
