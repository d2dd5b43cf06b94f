"""End to end: the real bot, FakeTelegram and FakeOllama, speaking real HTTP."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import aiohttp
import pytest

from bot.render import utf16_len
from tests.fakes.ollama import FakeOllama, Reply
from tests.fakes.telegram import FakeTelegram
from tests.harness import (
    ADMIN,
    ALICE,
    BOB,
    GROUP_ID,
    MALLORY,
    MODEL,
    last_answer_figures,
    running_bot,
    stored_messages,
)

ANSWER_MD = "Here is **bold** and `code`.\n\n```python\nprint('hi')\n```\n\n- one\n- two"


def streamed(text: str, token_delay: float = 0.03) -> Reply:
    return Reply(text=text, token_delay=token_delay)


async def test_private_answer_streams_as_drafts_then_one_final_message(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script(streamed(ANSWER_MD + " " + "more words " * 20))
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, "Show me some formatting")
        messages = await tg.wait_for_bot_messages(ALICE.id)
        await asyncio.sleep(0.3)  # nothing else may follow the final message
    drafts = [d for d in tg.drafts if d.chat_id == ALICE.id]
    assert len(drafts) >= 2, "the answer grew visibly while the model wrote"
    assert len({d.text for d in drafts}) == len(drafts), "each draft showed new text"
    assert len(tg.bot_messages(ALICE.id)) == 1
    final = messages[0]
    assert final.content.startswith("Here is bold and code.")
    assert "**" not in final.content
    assert {"bold", "code", "pre"} <= {e["type"] for e in final.entities}
    assert final.content.rstrip().endswith("more words")
    assert final.link_preview_options == {"is_disabled": True}, "no preview card under answers"
    assert (ALICE.id, "typing") in tg.chat_actions
    assert [m[0] for m in stored_messages(db_path, ALICE.id)] == ["user", "assistant"]
    figures = last_answer_figures(db_path, ALICE.id)
    assert all(value and value > 0 for value in figures), f"Ollama's figures kept: {figures}"
    assert tg.too_many_requests == 0


async def test_group_answer_is_a_reply_edited_while_streaming(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script(streamed("Group answer " + "token " * 40, token_delay=0.03))
    async with running_bot(tg, ollama, db_path):
        asked = tg.user_sends(
            ALICE, "@ollagram_test_bot what is up?", chat_id=GROUP_ID, chat_type="supergroup"
        )
        await tg.wait_for(
            lambda: any(
                m.content.rstrip().endswith("token") and len(m.content) > 200
                for m in tg.bot_messages(GROUP_ID)
            )
        )
    [answer] = tg.bot_messages(GROUP_ID)
    assert answer.reply_to_message_id == asked.message_id
    assert len(answer.edits) >= 2, "the message grew by edits while the model wrote"
    assert not [d for d in tg.drafts if d.chat_id == GROUP_ID], "no drafts in groups"
    assert ollama.chat_requests[0]["messages"][-1]["content"] == "what is up?"
    assert tg.too_many_requests == 0


async def test_group_messages_not_meant_for_the_bot_are_ignored(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    tg.privacy_mode = False  # the bot sees everything, and must still keep quiet
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, "just chatting with friends", chat_id=GROUP_ID, chat_type="supergroup")
        tg.user_sends(ALICE, "@ollagram_test_bot hello", chat_id=-777, chat_type="supergroup")
        tg.user_sends(ALICE, "ping")
        await tg.wait_for_bot_messages(ALICE.id)
    assert tg.bot_messages(GROUP_ID) == []
    assert tg.bot_messages(-777) == [], "a group not in ALLOWED_CHAT_IDS gets nothing"
    assert len(ollama.chat_requests) == 1


async def test_second_question_carries_the_first_exchange(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script("Paris is the capital of France.", "About 2.1 million people.")
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, "What is the capital of France?")
        await tg.wait_for_bot_messages(ALICE.id, 1)
        tg.user_sends(ALICE, "How many people live there?")
        await tg.wait_for_bot_messages(ALICE.id, 2)
    second = ollama.chat_requests[1]
    assert second["model"] == MODEL
    conversation = [(m["role"], m["content"]) for m in second["messages"] if m["role"] != "system"]
    assert conversation == [
        ("user", "What is the capital of France?"),
        ("assistant", "Paris is the capital of France."),
        ("user", "How many people live there?"),
    ]
    assert second["messages"][0]["role"] == "system"
    assert second["options"]["temperature"] == 0.7
    assert second["options"]["num_ctx"] == 8192


async def test_history_survives_a_restart_and_new_empties_the_context(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script("Nice to meet you, Alice.")
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, "My name is Alice.")
        await tg.wait_for_bot_messages(ALICE.id, 1)
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, "What is my name?")
        await tg.wait_for_bot_messages(ALICE.id, 2)
        contents = [m["content"] for m in ollama.chat_requests[1]["messages"]]
        assert "My name is Alice." in contents
        assert "Nice to meet you, Alice." in contents

        tg.user_sends(ALICE, "/new")
        await tg.wait_for(lambda: any("fresh conversation" in t for t in tg.bot_texts(ALICE.id)))
        tg.user_sends(ALICE, "Who am I?")
        await tg.wait_for(lambda: len(ollama.chat_requests) == 3)
        await tg.wait_for_bot_messages(ALICE.id, 4)
    fresh = [m for m in ollama.chat_requests[2]["messages"] if m["role"] != "system"]
    assert fresh == [{"role": "user", "content": "Who am I?"}]
    # Old messages stay stored.
    assert len(stored_messages(db_path, ALICE.id)) == 6


async def test_stop_cuts_a_slow_answer_and_keeps_what_was_written(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script(Reply(text="word " * 400, token_delay=0.05))
    async with running_bot(tg, ollama, db_path, stream_mode="edit"):
        tg.user_sends(ALICE, "Write a long essay")
        await tg.wait_for(lambda: len(tg.bot_texts(ALICE.id)) >= 1)
        await tg.wait_for(lambda: ollama.chunks_sent >= 20)
        tg.user_sends(ALICE, "/stop")
        await tg.wait_for(lambda: any("(stopped)" in t for t in tg.bot_texts(ALICE.id)))
        await tg.wait_for(lambda: ollama.cancelled_streams == 1)
    [answer] = tg.bot_messages(ALICE.id)
    assert answer.content.startswith("word word")
    assert answer.content.count("word") < 400
    role, content, status, model = stored_messages(db_path, ALICE.id)[-1]
    assert (role, status, model) == ("assistant", "stopped", MODEL)
    assert content.startswith("word word")


async def test_stop_with_nothing_running_says_so(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, "/stop")
        [reply] = await tg.wait_for_bot_messages(ALICE.id)
    assert "Nothing is being written" in reply.content
    assert ollama.chat_requests == []


async def test_long_answer_arrives_in_pages_with_balanced_code(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    code = "".join(f"    total += compute({i})  # accumulate step {i}\n" for i in range(120))
    prose = "\n\n".join(f"Paragraph {i}: " + "lorem ipsum dolor sit amet " * 12 for i in range(14))
    answer = f"{prose}\n\n```python\ndef run():\n{code}    return total\n```\n\nThat is all."
    assert len(answer) > 10_000
    ollama.script(
        Reply(
            text=answer,
            chunks=[answer[i : i + 400] for i in range(0, len(answer), 400)],
            token_delay=0.01,
        )
    )
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, "A long one please")
        await tg.wait_for(
            lambda: any("That is all." in t for t in tg.bot_texts(ALICE.id)), timeout=15
        )
        await asyncio.sleep(0.2)
    messages = tg.bot_messages(ALICE.id)
    assert len(messages) >= 3
    for message in messages:
        assert 0 < utf16_len(message.content) <= 4096
        assert "```" not in message.content, "code fences became pre entities"
    code_pages = [m for m in messages if any(e["type"] == "pre" for e in m.entities)]
    assert len(code_pages) >= 2, "the code block continues, reopened, in the next message"
    shown = "\n".join(m.content for m in messages)
    assert all(f"compute({i})  # accumulate step {i}" in shown for i in range(120))
    assert shown.index("Paragraph 0") < shown.index("Paragraph 13") < shown.index("That is all.")
    assert tg.too_many_requests == 0


async def test_429_mid_stream_delays_but_loses_nothing(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    text = "Steady answer " + "with many words " * 30 + "THE END"
    ollama.script(Reply(text=text, token_delay=0.02))
    async with running_bot(tg, ollama, db_path, stream_mode="edit"):
        tg.fail_next("editMessageText", 429, "Too Many Requests: retry after 1", retry_after=1)
        tg.user_sends(ALICE, "go")
        await tg.wait_for(
            lambda: any(t.endswith("THE END") for t in tg.bot_texts(ALICE.id)), timeout=10
        )
    [answer] = tg.bot_messages(ALICE.id)
    assert answer.content == text.replace("  ", " ")
    edits = tg.calls_of("editMessageText")
    refused = next(c for c in edits if c.status == 429)
    after = [c for c in edits if c.time > refused.time]
    assert after, "the text went on after the 429"
    assert after[0].time - refused.time >= 0.95, "the chat waited retry_after (1 s)"
    assert tg.too_many_requests == 1


async def test_formatting_rejected_by_telegram_falls_back_to_plain_text(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script(Reply(text=ANSWER_MD))
    tg.reject_formatting = True
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, "format please")
        [answer] = await tg.wait_for_bot_messages(ALICE.id)
    assert answer.content.startswith("Here is bold and code.")
    assert answer.entities == []
    rejected = [c for c in tg.calls if c.status == 400 and "entities" in c.params]
    assert rejected, "the formatted text was tried first"


async def test_stranger_is_refused_with_their_id_and_ollama_hears_nothing(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(MALLORY, "hello?")
        [reply] = await tg.wait_for_bot_messages(MALLORY.id)
        tg.user_sends(MALLORY, "/start")
        await tg.wait_for(lambda: not tg.pending_updates)
        await asyncio.sleep(0.3)
    assert len(tg.bot_messages(MALLORY.id)) == 1, "told once in five minutes, not per message"
    assert "not on its list" in reply.content
    assert str(MALLORY.id) in reply.content
    assert ollama.requests == []
    assert stored_messages(db_path, MALLORY.id) == []


async def test_ollama_down_is_explained_then_works_again_by_itself(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    await ollama.go_down()
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, "are you there?")
        [reply] = await tg.wait_for_bot_messages(ALICE.id)
        assert "can't reach Ollama" in reply.content
        assert ollama.url in reply.content
        await ollama.come_up()
        ollama.script("Back again.")
        tg.user_sends(ALICE, "and now?")
        await tg.wait_for(lambda: "Back again." in tg.bot_texts(ALICE.id))
    # The first question was kept, so the model sees it after recovery.
    contents = [m["content"] for m in ollama.chat_requests[0]["messages"]]
    assert contents[-2:] == ["are you there?", "and now?"]


async def test_missing_default_model_falls_back_to_an_installed_one(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path, default_model="mistral:7b"):
        tg.user_sends(ALICE, "hi")
        [reply] = await tg.wait_for_bot_messages(ALICE.id)
    assert reply.content == "Echo: hi"
    assert ollama.chat_requests[0]["model"] == MODEL


async def test_model_gone_from_ollama_is_explained_with_the_fix(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, "hi")
        await tg.wait_for_bot_messages(ALICE.id)
        ollama.remove_model(MODEL)  # removed behind the bot's back, e.g. `ollama rm` in a shell
        tg.user_sends(ALICE, "still there?")
        _, reply = await tg.wait_for_bot_messages(ALICE.id, 2)
    assert f"{MODEL} is not installed" in reply.content
    assert f"ollama pull {MODEL}" in reply.content
    assert stored_messages(db_path, ALICE.id)[-1][2] == "error"


async def test_error_mid_stream_keeps_the_partial_answer_and_explains(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script(Reply(text="partial words that will stop " * 5, error_after=6))
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, "hi")
        messages = await tg.wait_for_bot_messages(ALICE.id, 2)
    assert messages[0].content.startswith("partial words")
    assert "an error was encountered while running the model" in messages[1].content
    assert stored_messages(db_path, ALICE.id)[-1][2] == "error"


async def test_two_users_never_see_each_others_history(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.token_delay = 0.02
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, "Alice secret: apples")
        tg.user_sends(BOB, "Bob secret: bananas")
        await tg.wait_for_bot_messages(ALICE.id)
        await tg.wait_for_bot_messages(BOB.id)
        tg.user_sends(ALICE, "what did I say?")
        tg.user_sends(BOB, "what did I say?")
        await tg.wait_for_bot_messages(ALICE.id, 2)
        await tg.wait_for_bot_messages(BOB.id, 2)
    for request in ollama.chat_requests:
        text = " ".join(m["content"] for m in request["messages"])
        assert not ("apples" in text and "bananas" in text)
    assert "bananas" not in " ".join(tg.bot_texts(ALICE.id))
    assert "apples" not in " ".join(tg.bot_texts(BOB.id))


async def test_messages_sent_while_streaming_are_answered_in_order(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script(
        Reply(text="first answer " * 10, token_delay=0.03),
        Reply(text="second answer"),
        Reply(text="third answer"),
    )
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, "one")
        await tg.wait_for(lambda: len(ollama.chat_requests) == 1)
        tg.user_sends(ALICE, "two")
        tg.user_sends(ALICE, "three")
        await tg.wait_for_bot_messages(ALICE.id, 3, timeout=10)
    assert [r["messages"][-1]["content"] for r in ollama.chat_requests] == ["one", "two", "three"]
    texts = tg.bot_texts(ALICE.id)
    assert texts[0].startswith("first answer")
    assert texts[1:] == ["second answer", "third answer"]
    # Each question was asked with the answers before it in context.
    assert [m["content"] for m in ollama.chat_requests[2]["messages"]][-3:] == [
        "two",
        "second answer",
        "three",
    ]


async def test_start_help_and_id_and_registered_commands(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, "/start")
        await tg.wait_for_bot_messages(ALICE.id, 1)
        tg.user_sends(ALICE, "/help")
        await tg.wait_for_bot_messages(ALICE.id, 2)
        tg.user_sends(ALICE, "/id")
        await tg.wait_for_bot_messages(ALICE.id, 3)
    start, help_text, ids = tg.bot_texts(ALICE.id)
    assert "Hello Alice" in start
    assert MODEL in start, "without DEFAULT_MODEL the first installed model is used"
    assert "assistant" in start
    for command in (
        "/new",
        "/reset",
        "/stop",
        "/id",
        "/start",
        "/model",
        "/status",
        "/pull",
        "/rm",
        "/ask",
        "/compare",
        "/role",
        "/settings",
        "/stats",
        "/lang",
        "/export",
        "/forget",
        "/groupmode",
    ):
        assert command in help_text
    assert f"Your user id: {ALICE.id}" in ids
    registered = {c["command"] for c in tg.commands}
    assert registered == {
        "start",
        "help",
        "new",
        "chats",
        "rename",
        "reset",
        "stop",
        "id",
        "model",
        "status",
        "pull",
        "rm",
        "ask",
        "compare",
        "role",
        "settings",
        "stats",
        "lang",
        "export",
        "forget",
        "groupmode",
    }


async def test_private_chat_falls_back_to_edits_when_drafts_are_refused(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    tg.drafts_supported = False
    ollama.script(streamed("Edited answer " + "piece " * 40, token_delay=0.03))
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, "hi")
        await tg.wait_for(
            lambda: any(
                t.rstrip().endswith("piece") and len(t) > 200 for t in tg.bot_texts(ALICE.id)
            )
        )
    [answer] = tg.bot_messages(ALICE.id)
    assert len(answer.edits) >= 2
    assert tg.too_many_requests == 0


async def test_draft_429_waits_and_the_answer_completes(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    text = "Drafted " + "words " * 40 + "DONE"
    ollama.script(Reply(text=text, token_delay=0.02))
    async with running_bot(tg, ollama, db_path):
        tg.fail_next("sendMessageDraft", 429, "Too Many Requests: retry after 1", retry_after=1)
        tg.user_sends(ALICE, "go")
        [answer] = await tg.wait_for_bot_messages(ALICE.id, timeout=10)
    assert answer.content.endswith("DONE")
    assert answer.content.count("words") == 40
    drafts = tg.calls_of("sendMessageDraft")
    refused = next(c for c in drafts if c.status == 429)
    after = [c for c in drafts if c.time > refused.time]
    assert not after or after[0].time - refused.time >= 0.95, "drafts waited retry_after"


async def test_connection_cut_mid_answer_keeps_text_and_explains(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script(Reply(text="first half of an answer " * 4, cut_after=8))
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, "hi")
        first, second = await tg.wait_for_bot_messages(ALICE.id, 2)
    assert first.content.startswith("first half")
    assert "broke in the middle of the answer" in second.content
    role, content, status, _ = stored_messages(db_path, ALICE.id)[-1]
    assert (role, status) == ("assistant", "error")
    assert content.startswith("first half")


async def test_empty_allow_list_lets_only_admins_in_and_logs_how_to_add(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bot(tg, ollama, db_path, allowed_user_ids=frozenset()):
        tg.user_sends(ALICE, "hello")
        [refusal] = await tg.wait_for_bot_messages(ALICE.id)
        tg.user_sends(ADMIN, "hello")
        [answer] = await tg.wait_for_bot_messages(ADMIN.id)
    assert str(ALICE.id) in refusal.content
    assert answer.content == "Echo: hello"
    assert len(ollama.chat_requests) == 1
    assert "ALLOWED_USER_IDS" in caplog.text


async def test_logs_hold_neither_the_token_nor_message_text(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="bot")
    ollama.script("a confidential answer")
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, "my confidential question")
        await tg.wait_for_bot_messages(ALICE.id)
        tg.user_sends(MALLORY, "stranger's confidential text")
        await tg.wait_for_bot_messages(MALLORY.id)
    bot_logs = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("bot"))
    assert "confidential" not in bot_logs
    assert tg.token not in caplog.text
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("answer ")]
    assert line.startswith(
        f"answer user_id={ALICE.id} chat_id={ALICE.id} model={MODEL} status=complete prompt_tokens="
    )


async def test_editing_an_answered_question_does_not_ask_again(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path):
        sent = tg.user_sends(ALICE, "first version")
        await tg.wait_for_bot_messages(ALICE.id)
        tg.user_edits(ALICE, sent.message_id, "second version")
        tg.user_sends(ALICE, "next")
        await tg.wait_for_bot_messages(ALICE.id, 2)
    assert [r["messages"][-1]["content"] for r in ollama.chat_requests] == ["first version", "next"]


async def test_a_sticker_gets_a_short_message_saying_what_is_read(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path):
        tg.add_chat(ALICE.id, chat_type="private", user=ALICE)
        tg.inject_update(
            {
                "message": {
                    "message_id": 1,
                    "date": 1_795_000_000,
                    "chat": {"id": ALICE.id, "type": "private", "first_name": ALICE.first_name},
                    "from": ALICE.to_api(),
                    "sticker": {
                        "file_id": "CAACAgIAAxkBAAIBSTICKER",
                        "file_unique_id": "AgADSTICKER",
                        "type": "regular",
                        "width": 512,
                        "height": 512,
                        "is_animated": False,
                        "is_video": False,
                        "file_size": 5120,
                    },
                }
            }
        )
        [reply] = await tg.wait_for_bot_messages(ALICE.id)
    assert "Videos, stickers" in reply.content
    assert "photos" in reply.content
    assert ollama.chat_requests == []


async def test_user_who_blocked_the_bot_costs_nothing_but_the_answer_is_kept(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ollama.script(Reply(text="an answer nobody will read " * 5, token_delay=0.02))
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, "hi")
        tg.user_blocks_bot(ALICE)
        await tg.wait_for(lambda: ollama.completed_streams == 1)
        await asyncio.sleep(0.3)
    writes = [c for c in tg.calls if c.method in {"sendMessage", "editMessageText"}]
    assert len(writes) <= 2, "no retry storm against a blocked chat"
    role, content, status, _ = stored_messages(db_path, ALICE.id)[-1]
    assert (role, status) == ("assistant", "complete")
    assert content.startswith("an answer nobody will read")
    assert "unexpected error" not in caplog.text


async def test_stopped_inside_a_code_block_marks_it_outside_the_code(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    code = "```python\n" + "".join(f"x = {i}\n" for i in range(300))
    ollama.script(Reply(text=code, token_delay=0.03))
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, "code please")
        await tg.wait_for(lambda: ollama.chunks_sent >= 20)
        tg.user_sends(ALICE, "/stop")
        await tg.wait_for(lambda: any("(stopped)" in t for t in tg.bot_texts(ALICE.id)))
        await asyncio.sleep(0.1)
    [answer] = tg.bot_messages(ALICE.id)
    assert answer.content.rstrip().endswith("(stopped)")
    pre = next(e for e in answer.entities if e["type"] == "pre")
    assert "(stopped)" not in answer.content[pre["offset"] : pre["offset"] + pre["length"]]
    assert any(e["type"] == "italic" for e in answer.entities)


async def test_long_history_is_trimmed_to_the_models_window_keeping_the_system_prompt(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.add_model("tiny:1b", context_length=600)
    async with running_bot(tg, ollama, db_path, default_model="tiny:1b"):
        for i in range(6):
            ollama.script(f"answer {i} " + "blah " * 40)
            tg.user_sends(ALICE, f"question {i} " + "words " * 40)

            # Answers, not messages: a notice that older turns left the context comes too.
            def answered(count: int = i + 1) -> bool:
                return sum(t.startswith("answer") for t in tg.bot_texts(ALICE.id)) == count

            await tg.wait_for(answered)
    last = ollama.chat_requests[-1]
    assert last["options"]["num_ctx"] == 600, "capped at the model's context length"
    messages = last["messages"]
    assert messages[0]["role"] == "system"
    assert messages[-1]["content"].startswith("question 5")
    contents = " ".join(m["content"] for m in messages)
    assert "question 0" not in contents, "the oldest turns were dropped"
    assert "answer 4" in contents, "the newest exchange was kept"
    assert messages[1]["role"] == "user"


async def test_ollama_error_before_streaming_is_explained_with_its_text(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script(Reply(http_status=500, error_message="llama runner process has terminated"))
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, "hi")
        [reply] = await tg.wait_for_bot_messages(ALICE.id)
    assert "llama runner process has terminated" in reply.content
    assert MODEL in reply.content


async def test_stranger_stays_out_even_when_the_refusal_hits_flood_control(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path):
        tg.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
        tg.user_sends(MALLORY, "let me in")
        await tg.wait_for(lambda: any(c.status == 429 for c in tg.calls_of("sendMessage")))
        tg.user_sends(MALLORY, "please")
        await tg.wait_for(lambda: not tg.pending_updates)
        await asyncio.sleep(1.3)  # past the retry_after a retry would have waited for
    # A refusal Telegram pushed back on is dropped, neither retried nor sent for "please".
    assert len(tg.calls_of("sendMessage")) == 1
    assert tg.bot_messages(MALLORY.id) == []
    assert ollama.requests == []
    assert stored_messages(db_path, MALLORY.id) == []


async def test_new_as_first_command_of_a_new_user(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(BOB, "/reset")
        [reply] = await tg.wait_for_bot_messages(BOB.id)
    assert "fresh conversation" in reply.content


async def test_new_takes_effect_in_the_order_it_was_sent(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script(Reply(text="one " * 20, token_delay=0.03), "two", "three")
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, "Q1")
        await tg.wait_for(lambda: len(ollama.chat_requests) == 1)
        tg.user_sends(ALICE, "Q2")
        tg.user_sends(ALICE, "/new")
        tg.user_sends(ALICE, "Q3")
        await tg.wait_for(lambda: len(ollama.chat_requests) == 3, timeout=10)
        await tg.wait_for_bot_messages(ALICE.id, 4)
    asked = [
        [m["content"] for m in r["messages"] if m["role"] != "system"] for r in ollama.chat_requests
    ]
    assert asked[1] == ["Q1", "one " * 20, "Q2"]
    assert asked[2] == ["Q3"], "/new came after Q2 and before Q3"


async def test_shutdown_cuts_running_answers_keeps_them_and_turns_away_queued_ones(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script(Reply(text="slow " * 500, token_delay=0.05))
    async with running_bot(tg, ollama, db_path, stream_mode="edit"):
        tg.user_sends(ALICE, "tell me everything")
        await tg.wait_for(lambda: bool(tg.bot_texts(ALICE.id)))
        tg.user_sends(ALICE, "and then?")
        await tg.wait_for(lambda: len(tg.calls_of("getUpdates")) >= 3 and not tg.pending_updates)
    texts = tg.bot_texts(ALICE.id)
    assert texts[0].startswith("slow slow")
    assert texts[0].rstrip().endswith("(stopped)")
    assert "restarting" in texts[1]
    stored = stored_messages(db_path, ALICE.id)
    assert [(role, status) for role, _, status, _ in stored] == [
        ("user", "complete"),
        ("assistant", "stopped"),
    ]


async def test_without_default_model_an_embedding_model_is_never_picked(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with FakeOllama() as fresh:
        fresh.add_model("nomic-embed-text:latest", capabilities=("embedding",))
        fresh.add_model("qwen:7b", capabilities=("completion",))
        async with running_bot(tg, fresh, db_path):
            tg.user_sends(ALICE, "hi")
            await tg.wait_for_bot_messages(ALICE.id)
        assert fresh.chat_requests[0]["model"] == "qwen:7b"


async def test_template_role_wraps_the_question_without_a_system_prompt(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path, default_role="english_translator"):
        tg.user_sends(ALICE, "hola, ¿qué tal?")
        await tg.wait_for_bot_messages(ALICE.id)
    [request] = ollama.chat_requests
    assert request["messages"] == [
        {"role": "user", "content": "Translate `hola, ¿qué tal?` to English."}
    ]


async def test_keep_alive_temperature_and_context_reach_ollama(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    overrides = {"keep_alive": "-1", "temperature": 0.2, "num_ctx": 2048}
    async with running_bot(tg, ollama, db_path, **overrides):
        tg.user_sends(ALICE, "hi")
        [answer] = await tg.wait_for_bot_messages(ALICE.id)
    assert answer.content == "Echo: hi", "Ollama accepted keep_alive"
    [request] = ollama.chat_requests
    assert request["keep_alive"] == -1, "a number, as Ollama parses it"
    assert request["options"] == {"temperature": 0.2, "num_ctx": 2048, "num_predict": 4096}


async def test_a_model_that_stays_silent_past_the_timeout_is_explained(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script(Reply(text="too late", first_token_delay=3.0))
    async with running_bot(tg, ollama, db_path, ollama_timeout=0.5):
        tg.user_sends(ALICE, "hello?")
        [reply] = await tg.wait_for_bot_messages(ALICE.id)
    assert f"{MODEL} wrote nothing for 0.5 s" in reply.content
    assert "OLLAMA_TIMEOUT" in reply.content
    assert stored_messages(db_path, ALICE.id)[-1][2] == "error"


async def test_in_a_group_a_reply_to_the_bot_is_a_question(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, "@ollagram_test_bot first", chat_id=GROUP_ID, chat_type="supergroup")
        [first] = await tg.wait_for_bot_messages(GROUP_ID)
        tg.user_sends(
            ALICE,
            "and a follow-up",
            chat_id=GROUP_ID,
            chat_type="supergroup",
            reply_to=first.message_id,
        )
        await tg.wait_for_bot_messages(GROUP_ID, 2)
    assert [r["messages"][-1]["content"] for r in ollama.chat_requests] == [
        "first",
        "and a follow-up",
    ]


async def test_webhook_mode_answers_updates_telegram_posts(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    tg.allow_http_webhooks = True  # loopback; a real deployment sits behind an HTTPS proxy
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/ollagram-hook"
    webhook = {"webhook_url": url, "webhook_port": port, "webhook_secret": "s3cret-Token_1"}
    async with running_bot(tg, ollama, db_path, **webhook):
        assert (tg.webhook_url, tg.webhook_secret) == (url, "s3cret-Token_1")
        tg.user_sends(ALICE, "over the webhook")
        [answer] = await tg.wait_for_bot_messages(ALICE.id)
        async with aiohttp.ClientSession() as stranger:
            forged = {
                "update_id": 999,
                "message": {
                    "message_id": 9,
                    "date": 0,
                    "text": "hi",
                    "chat": {"id": MALLORY.id, "type": "private"},
                },
            }
            async with stranger.post(url, json=forged) as response:
                assert response.status == 403, "no secret header, no entry"
    assert answer.content == "Echo: over the webhook"
    assert tg.calls_of("getUpdates") == []
    assert [status for _, status in tg.webhook_deliveries] == [200]
