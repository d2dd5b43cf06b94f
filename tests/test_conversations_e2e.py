"""End to end: several conversations like a chat app. Topics of a private chat as
conversations (Bot API 9.3/9.4), /chats without them, titles, Telegram's own Stop button
(Bot API 10.3), the "Thinking…" placeholder, Regenerate and Continue; across restarts."""

from __future__ import annotations

import asyncio
import sqlite3
from functools import partial
from pathlib import Path

from tests.fakes.ollama import FakeOllama, Reply
from tests.fakes.telegram import BOT_USERNAME, FakeTelegram, StoredMessage
from tests.harness import ALICE, BOB, GROUP_ID, MODEL, labels, running_bot, stored_messages

OTHER_MODEL = "qwen3:4b"


def said_to_model(request: dict[str, object]) -> str:
    """Everything one /api/chat request sent, as one text."""
    messages = request["messages"]
    assert isinstance(messages, list)
    return "\n".join(str(m.get("content", "")) for m in messages)


async def open_topic(tg: FakeTelegram, text: str = "/new") -> int:
    """ALICE sends /new; the topic the bot opened for it."""
    before = set(tg.topics_of(ALICE.id))
    tg.user_sends(ALICE, text)
    await tg.wait_for(lambda: set(tg.topics_of(ALICE.id)) - before != set())
    [topic] = set(tg.topics_of(ALICE.id)) - before
    await tg.wait_for(lambda: len(tg.bot_texts_in(ALICE.id, topic)) == 1)
    return topic


async def ask_in(tg: FakeTelegram, topic: int | None, text: str) -> StoredMessage:
    """ALICE writes `text` (in `topic`); the bot's answer there."""
    count = len(tg.bot_messages_in(ALICE.id, topic))
    tg.user_sends(ALICE, text, message_thread_id=topic)
    await tg.wait_for(lambda: len(tg.bot_messages_in(ALICE.id, topic)) > count, timeout=10)
    return tg.bot_messages_in(ALICE.id, topic)[count]


def answered(tg: FakeTelegram, query_id: str) -> bool:
    """Whether the bot answered this button press."""
    return query_id in {a.callback_query_id for a in tg.callback_answers}


def titles(db_path: Path) -> dict[int | None, str | None]:
    """Each of ALICE's conversations' title, by topic."""
    with sqlite3.connect(db_path) as db:
        rows = db.execute(
            "SELECT topic_id, title FROM conversations WHERE user_id = ?", (ALICE.id,)
        ).fetchall()
    return {row[0]: row[1] for row in rows}


async def test_two_topics_are_two_conversations_with_their_own_models(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.add_model(OTHER_MODEL, family="qwen3", context_length=8192)
    tg.topics_enabled = True
    async with running_bot(tg, ollama, db_path):
        first = await open_topic(tg)
        second = await open_topic(tg)
        assert tg.topics_of(ALICE.id) == {first: "New chat", second: "New chat"}
        assert "New conversation" in tg.bot_texts_in(ALICE.id, first)[0]

        for topic, model in ((first, MODEL), (second, OTHER_MODEL)):
            switched = await ask_in(tg, topic, f"/model {model}")
            assert model in switched.content

        ollama.script("About cats.", "About ships.", "More on cats.")
        answer = await ask_in(tg, first, "Tell me about my cat Tom")
        assert answer.content.startswith("About cats.")
        answer = await ask_in(tg, second, "Tell me about ships")
        assert answer.content.startswith("About ships.")
        answer = await ask_in(tg, first, "What is my cat called?")
        assert answer.content.startswith("More on cats.")

    cats, ships, cats_again = ollama.chat_requests
    assert cats["model"] == MODEL
    assert cats_again["model"] == MODEL
    assert ships["model"] == OTHER_MODEL, "the model chosen in a topic is that topic's"
    assert "Tom" not in said_to_model(ships), "a topic's history stays in its topic"
    assert "Tom" in said_to_model(cats_again)
    assert "ships" not in said_to_model(cats_again)
    assert all(d.message_thread_id in (first, second) for d in tg.drafts)
    assert tg.bot_texts_in(ALICE.id, None) == [], "nothing went outside the topics"


async def test_the_model_titles_a_new_topic_after_its_first_answer(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    tg.topics_enabled = True
    async with running_bot(tg, ollama, db_path, auto_titles=True):
        topic = await open_topic(tg)
        ollama.script("Pack light and book early.", '"Trip to Lisbon".')
        await ask_in(tg, topic, "How should I plan a weekend trip to Lisbon?")
        await tg.wait_for(lambda: tg.topics_of(ALICE.id)[topic] == "Trip to Lisbon")
        ollama.script("Sure.")
        await ask_in(tg, topic, "And what about food?")
        await asyncio.sleep(0.3)
    title_request = ollama.generate_requests[-1]
    assert "weekend trip to Lisbon" in str(title_request["prompt"])
    assert title_request["options"]["num_ctx"] == ollama.chat_requests[0]["options"]["num_ctx"]
    assert len(ollama.generate_requests) == 1, "titled once, after the first answer"
    assert [r.new_name for r in tg.topic_renames] == ["Trip to Lisbon"]
    assert titles(db_path)[topic] == "Trip to Lisbon"


async def test_a_topic_the_user_named_keeps_its_name(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    tg.topics_enabled = True
    async with running_bot(tg, ollama, db_path, auto_titles=True):
        topic = tg.user_creates_topic(ALICE, "Recipes")
        await tg.wait_for(lambda: titles(db_path).get(topic) == "Recipes")
        ollama.script("Flour, water, salt.")
        await ask_in(tg, topic, "How do I make bread?")
        await asyncio.sleep(0.3)
    assert tg.topic_renames == []
    assert ollama.generate_requests == []
    assert tg.topics_of(ALICE.id) == {topic: "Recipes"}


async def test_chats_switches_between_conversations_without_topics(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path, auto_titles=True):
        ollama.script("Tom is a fine name.", "Cat names")
        await ask_in(tg, None, "My cat is called Tom")
        await tg.wait_for(lambda: titles(db_path).get(None) == "Cat names")
        reply = await ask_in(tg, None, "/new")
        assert "fresh conversation" in reply.content
        ollama.script("Paris.", "Capitals")
        await ask_in(tg, None, "What is the capital of France?")
        await tg.wait_for(lambda: "Capitals" in titles(db_path).values())

        menu = await ask_in(tg, None, "/chats")
        assert "2" in menu.content
        assert [label.split(" · ")[0] for label in labels(menu)] == ["✅ Capitals", "Cat names"]
        cats = menu.callback_data[1]
        tg.user_presses(ALICE, menu.message_id, cats)
        await tg.wait_for(
            lambda: "Continue here" in str(tg.message(ALICE.id, menu.message_id).reply_markup)
        )
        shown = tg.message(ALICE.id, menu.message_id)
        assert "Cat names" in shown.content
        assert "2 messages" in shown.content
        use = next(d for d in shown.callback_data if d.startswith("chats:use:"))
        tg.user_presses(ALICE, menu.message_id, use)
        await tg.wait_for(
            lambda: labels(tg.message(ALICE.id, menu.message_id))[0].startswith("Capitals")
        )
        assert labels(tg.message(ALICE.id, menu.message_id))[1].startswith("✅ Cat names")

        ollama.script("Tom.")
        await ask_in(tg, None, "What is my cat called?")
    assert "Tom" in said_to_model(ollama.chat_requests[-1])
    assert "France" not in said_to_model(ollama.chat_requests[-1])


async def test_chats_renames_and_deletes_and_refuses_what_is_gone(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path):
        ollama.script("One.", "Two.")
        await ask_in(tg, None, "first conversation")
        await ask_in(tg, None, "/new")
        await ask_in(tg, None, "second conversation")
        renamed = await ask_in(tg, None, "/rename  My   second ")
        assert "“My second”" in renamed.content

        menu = await ask_in(tg, None, "/chats")
        old = menu.callback_data[1]
        tg.user_presses(ALICE, menu.message_id, old)
        await tg.wait_for(
            lambda: "chats:name:" in str(tg.message(ALICE.id, menu.message_id).callback_data)
        )
        name = next(d for d in tg.message(ALICE.id, menu.message_id).callback_data if ":name:" in d)
        count = len(tg.bot_messages(ALICE.id))
        tg.user_presses(ALICE, menu.message_id, name)
        question = (await tg.wait_for_bot_messages(ALICE.id, count + 1))[-1]
        assert "new name" in question.content
        done = await reply_to_message(tg, question, "Groceries")
        assert "“Groceries”" in done.content

        delete = next(
            d for d in tg.message(ALICE.id, menu.message_id).callback_data if ":del:" in d
        )
        tg.user_presses(ALICE, menu.message_id, delete)
        await tg.wait_for(
            lambda: "delok" in str(tg.message(ALICE.id, menu.message_id).callback_data)
        )
        assert "can't be undone" in tg.message(ALICE.id, menu.message_id).content
        sure = tg.message(ALICE.id, menu.message_id).callback_data[0]
        tg.user_presses(ALICE, menu.message_id, sure)
        await tg.wait_for(lambda: len(labels(tg.message(ALICE.id, menu.message_id))) == 1)
        # The same confirmation pressed again (a second tap, an old client): refused, no error.
        stale = tg.user_presses(ALICE, menu.message_id, sure, check_button=False)
        await tg.wait_for(lambda: answered(tg, stale.callback_query_id))
        refusal = next(
            a for a in tg.callback_answers if a.callback_query_id == stale.callback_query_id
        )
        assert "no longer exists" in (refusal.text or "")
    assert [m[1] for m in stored_messages(db_path, ALICE.id)] == [
        "second conversation",
        "Two.",
    ]
    assert titles(db_path) == {None: "My second"}


async def reply_to_message(tg: FakeTelegram, message: StoredMessage, text: str) -> StoredMessage:
    count = len(tg.bot_messages(ALICE.id))
    tg.user_sends(ALICE, text, reply_to=message.message_id)
    return (await tg.wait_for_bot_messages(ALICE.id, count + 1))[-1]


async def test_telegrams_stop_button_cancels_the_model_and_keeps_the_words(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script(Reply(text="word " * 400, token_delay=0.02))
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, "Write a long story")
        await tg.wait_for(lambda: "word word" in getattr(tg.shown_draft(ALICE.id), "text", ""))
        draft = tg.shown_draft(ALICE.id)
        assert draft is not None
        assert draft.can_stop
        assert draft.keep_on_stop
        tg.user_presses_stop(ALICE)
        [final] = await tg.wait_for_bot_messages(ALICE.id)
        await tg.wait_for(lambda: ollama.cancelled_streams == 1)
    assert "word word" in final.content
    assert "(stopped)" in final.content
    [(_role, _question, _, _), (_, kept, status, _)] = stored_messages(db_path, ALICE.id)
    assert status == "stopped"
    assert kept.startswith("word word")
    assert kept.count("word") < 400


async def test_a_stop_for_a_finished_draft_is_ignored(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script(Reply(text="Short answer.", token_delay=0.2), "Second answer.")
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, "Hi")
        await tg.wait_for_bot_messages(ALICE.id)
        old_draft = tg.drafts[-1].draft_id
        chat = {"id": ALICE.id, "type": "private", "first_name": ALICE.first_name}
        tg.inject_update({"stopped_message_generation": {"chat": chat, "draft_id": old_draft}})
        tg.inject_update({"stopped_message_generation": {"chat": "nonsense"}})
        await asyncio.sleep(0.3)
        tg.user_sends(ALICE, "Again")
        await tg.wait_for_bot_messages(ALICE.id, 2)
    assert [m.content for m in tg.bot_messages(ALICE.id)] == ["Short answer.", "Second answer."]
    assert [m[2] for m in stored_messages(db_path, ALICE.id)][1::2] == ["complete", "complete"]


async def test_the_stop_update_is_asked_for(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    async with running_bot(tg, ollama, db_path):
        await tg.wait_for(lambda: tg.allowed_updates is not None)
        assert tg.wants("stopped_message_generation")
        assert not tg.wants("business_message")


async def test_an_empty_draft_shows_thinking_before_the_first_word(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script("Loaded.", Reply(text="Finally here.", first_token_delay=1.0))
    async with running_bot(tg, ollama, db_path):
        await ask_in(tg, None, "Load the model first")  # else "Loading…" shows first
        drafts = len(tg.drafts)
        tg.user_sends(ALICE, "Think hard")
        await tg.wait_for(lambda: len(tg.drafts) > drafts, timeout=0.9)
        assert tg.drafts[drafts].text == "", "Telegram's own 'Thinking…' shows at once"
        await tg.wait_for_bot_messages(ALICE.id, 2)
    assert tg.bot_texts(ALICE.id) == ["Loaded.", "Finally here."]


async def test_regenerate_replaces_the_answer_in_the_history_and_moves_the_buttons(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script("A first try.", "A better answer.")
    async with running_bot(tg, ollama, db_path):
        first = await ask_in(tg, None, "Name a colour")
        assert labels(first) == ["🔄 Regenerate"], "a complete answer: nothing to continue"
        tg.user_presses(ALICE, first.message_id, first.callback_data[0])
        [_, second] = await tg.wait_for_bot_messages(ALICE.id, 2)
        await tg.wait_for(lambda: not tg.message(ALICE.id, first.message_id).inline_keyboard)
    assert second.content == "A better answer."
    assert labels(second) == ["🔄 Regenerate"]
    assert tg.message(ALICE.id, first.message_id).content == "A first try.", "the old one stays"
    assert [m[1] for m in stored_messages(db_path, ALICE.id)] == [
        "Name a colour",
        "A better answer.",
    ]
    again = ollama.chat_requests[1]["messages"]
    assert [m["role"] for m in again if m["role"] != "system"] == ["user"]


async def test_continue_goes_on_from_an_answer_cut_at_the_token_cap(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script(
        Reply(text="The first half of the story", done_reason="length"),
        " and the rest of it.",
    )
    async with running_bot(tg, ollama, db_path):
        cut = await ask_in(tg, None, "Tell a story")
        assert labels(cut) == ["🔄 Regenerate", "➡️ Continue"]
        tg.user_presses(ALICE, cut.message_id, cut.callback_data[1])
        [_, more] = await tg.wait_for_bot_messages(ALICE.id, 2)
        await tg.wait_for(lambda: not tg.message(ALICE.id, cut.message_id).inline_keyboard)
    assert more.content == "and the rest of it."
    assert labels(more) == ["🔄 Regenerate"]
    went_on = ollama.chat_requests[1]["messages"]
    assert went_on[-1] == {"role": "assistant", "content": "The first half of the story"}
    [_, (_, story, status, _)] = stored_messages(db_path, ALICE.id)
    assert story == "The first half of the story and the rest of it."
    assert status == "complete"


async def test_stale_buttons_are_refused_and_nothing_is_asked(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script("One.", "Two.")
    async with running_bot(tg, ollama, db_path):
        old = await ask_in(tg, None, "first")
        await ask_in(tg, None, "second")
        await tg.wait_for(lambda: not tg.message(ALICE.id, old.message_id).inline_keyboard)
        for data in ("ans:again:1", "ans:more:2", "ans:again:999", "ans:again:x"):
            query = tg.user_presses(
                ALICE, old.message_id, data, check_button=False
            ).callback_query_id
            await tg.wait_for(partial(answered, tg, query))
        # Bob presses Alice's button (forwarded, or a forged press): not his conversation.
        tg.user_sends(BOB, "hello")
        await tg.wait_for_bot_messages(BOB.id)
        answers = tg.callback_answers[-4:]
    assert all(a.show_alert for a in answers)
    assert "no longer the last" in (answers[0].text or "")
    assert len(ollama.chat_requests) == 3, "no stale press reached the model"
    assert [m.content for m in tg.bot_messages(ALICE.id)] == ["One.", "Two."]


async def test_conversations_titles_and_buttons_survive_a_restart(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    tg.topics_enabled = True
    async with running_bot(tg, ollama, db_path, auto_titles=True):
        topic = await open_topic(tg)
        ollama.script("Answer one.", "Gardening")
        first = await ask_in(tg, topic, "How do I grow tomatoes?")
        await tg.wait_for(lambda: tg.topics_of(ALICE.id)[topic] == "Gardening")
    async with running_bot(tg, ollama, db_path, auto_titles=True):
        ollama.script("Answer two.")
        await ask_in(tg, topic, "And peppers?")
        await tg.wait_for(lambda: not tg.message(ALICE.id, first.message_id).inline_keyboard)
        menu = await ask_in(tg, None, "/chats")
        ollama.script("A main-chat answer.")
        await ask_in(tg, None, "Hello outside the topic")
        export = await ask_in(tg, None, "/export")
    assert "tomatoes" in said_to_model(ollama.chat_requests[-2])
    assert "tomatoes" not in said_to_model(ollama.chat_requests[-1])
    assert labels(menu)[0].startswith("🗂 Gardening")
    prompts = [str(r["prompt"]) for r in ollama.generate_requests]
    assert sum("tomatoes" in p for p in prompts) == 1
    assert not any("peppers" in p for p in prompts), "a titled conversation is not titled again"
    assert export.document is not None
    data = tg.file(export.document["file_id"]).data
    assert data is not None
    text = data.decode()
    assert "## Gardening · Private chat" in text, "the export covers the topic's conversation"
    assert "And peppers?" in text
    assert "Hello outside the topic" in text


async def test_forget_deletes_every_conversation_topics_included(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    tg.topics_enabled = True
    async with running_bot(tg, ollama, db_path):
        topic = await open_topic(tg)
        await ask_in(tg, topic, "in the topic")
        await ask_in(tg, None, "outside it")
        question = await ask_in(tg, None, "/forget")
        yes = question.callback_data[0]
        tg.user_presses(ALICE, question.message_id, yes)
        await tg.wait_for(lambda: not stored_messages(db_path, ALICE.id))
    with sqlite3.connect(db_path) as db:
        assert db.execute("SELECT COUNT(*) FROM conversations").fetchone() == (0,)
        assert db.execute("SELECT COUNT(*) FROM current_conversations").fetchone() == (0,)


async def test_a_deleted_topic_loses_nothing(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    tg.topics_enabled = True
    async with running_bot(tg, ollama, db_path, auto_titles=True):
        topic = await open_topic(tg)
        ollama.script(Reply(text="Slowly " * 30, token_delay=0.02), "Title")
        tg.user_sends(ALICE, "Write slowly", message_thread_id=topic)
        await tg.wait_for(lambda: bool(tg.drafts_in(ALICE.id, topic)))
        tg.user_deletes_topic(ALICE, topic)
        await tg.wait_for(lambda: len(stored_messages(db_path, ALICE.id)) == 2)
        await tg.wait_for(lambda: stored_messages(db_path, ALICE.id)[1][2] == "complete")
        menu = await ask_in(tg, None, "/chats")
    assert stored_messages(db_path, ALICE.id)[1][1].startswith("Slowly Slowly")
    [listed] = labels(menu)
    assert listed.startswith("🗂 "), "the deleted topic's conversation stays"
    assert "💬2" in listed


async def test_new_in_a_group_and_chats_in_a_group(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    tg.topics_enabled = True  # topics are a private-chat matter: groups keep /new as it was
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, "/new", chat_id=GROUP_ID, chat_type="supergroup")
        tg.user_sends(ALICE, "/chats", chat_id=GROUP_ID, chat_type="supergroup")
        replies = {m.content for m in await tg.wait_for_bot_messages(GROUP_ID, 2)}
    assert any(r.startswith("Started a fresh conversation") for r in replies)
    assert any(r.startswith("/chats is for private chats") for r in replies)
    assert tg.topics_of(ALICE.id) == {}


async def test_a_role_chosen_in_a_topic_is_that_topics_only(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    tg.topics_enabled = True
    async with running_bot(tg, ollama, db_path):
        translating = await open_topic(tg)
        plain = await open_topic(tg)
        await ask_in(tg, translating, "/role english_translator")
        await ask_in(tg, translating, "Bonjour")
        await ask_in(tg, plain, "Bonjour")
        await ask_in(tg, None, "Bonjour")
        menu_in_topic = await ask_in(tg, translating, "/role")
        menu_outside = await ask_in(tg, None, "/role")
        start_in_topic = await ask_in(tg, translating, "/start")
    assert "✅ english_translator" in labels(menu_in_topic), "the topic's role is marked"
    assert "✅ assistant" in labels(menu_outside)
    assert "english_translator" in start_in_topic.content
    in_topic, other_topic, main_chat = ollama.chat_requests
    assert in_topic["messages"][-1]["content"] == "Translate `Bonjour` to English."
    assert other_topic["messages"][-1]["content"] == "Bonjour"
    assert main_chat["messages"][-1]["content"] == "Bonjour", "the user's own role is unchanged"


async def test_another_member_pressing_regenerate_leaves_the_owners_buttons(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script("Alice's answer.")
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, f"hi @{BOT_USERNAME}", chat_id=GROUP_ID, chat_type="supergroup")
        [first] = await tg.wait_for_bot_messages(GROUP_ID)
        await tg.wait_for(
            lambda: labels(tg.message(GROUP_ID, first.message_id)) == ["🔄 Regenerate"]
        )
        first = tg.message(GROUP_ID, first.message_id)
        query = tg.user_presses(BOB, first.message_id, first.callback_data[0], chat_id=GROUP_ID)
        await tg.wait_for(partial(answered, tg, query.callback_query_id))

        await asyncio.sleep(0.3)
        assert labels(tg.message(GROUP_ID, first.message_id)) == ["🔄 Regenerate"], (
            "Bob's press took Alice's buttons off her answer"
        )


async def test_deleting_the_current_conversation_does_not_resume_an_older_one(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script("About cats.", "About dogs.", "Fresh.")
    async with running_bot(tg, ollama, db_path):
        await ask_in(tg, None, "tell me about cats SECRET-OLD")
        await ask_in(tg, None, "/new")
        await ask_in(tg, None, "tell me about dogs")
        menu = await ask_in(tg, None, "/chats")

        assert labels(menu)[0].startswith("✅"), labels(menu)
        assert menu.callback_data[0] == "chats:show:2", menu.callback_data
        tg.user_presses(ALICE, menu.message_id, "chats:show:2")
        await tg.wait_for(
            lambda: "chats:del:2" in tg.message(ALICE.id, menu.message_id).callback_data
        )
        tg.user_presses(ALICE, menu.message_id, "chats:del:2")
        await tg.wait_for(
            lambda: "chats:delok:2" in tg.message(ALICE.id, menu.message_id).callback_data
        )
        tg.user_presses(ALICE, menu.message_id, "chats:delok:2")
        await tg.wait_for(
            lambda: "chats:delok:2" not in tg.message(ALICE.id, menu.message_id).callback_data
        )
        await ask_in(tg, None, "what now?")
    assert "SECRET-OLD" not in said_to_model(ollama.chat_requests[-1]), (
        "after deleting the conversation it was in, the chat silently went on with an older one"
    )


async def test_a_command_sent_as_the_reply_to_rename_is_not_a_name(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script("One.")
    async with running_bot(tg, ollama, db_path):
        await ask_in(tg, None, "hello")
        menu = await ask_in(tg, None, "/chats")
        tg.user_presses(ALICE, menu.message_id, "chats:show:1")
        await tg.wait_for(
            lambda: "chats:name:1" in tg.message(ALICE.id, menu.message_id).callback_data
        )
        tg.user_presses(ALICE, menu.message_id, "chats:name:1")
        await tg.wait_for(lambda: "name" in tg.bot_messages(ALICE.id)[-1].content.lower())
        prompt = tg.bot_messages(ALICE.id)[-1]
        count = len(tg.bot_messages(ALICE.id))
        tg.user_sends(ALICE, "/new", reply_to=prompt.message_id)
        [reply] = (await tg.wait_for_bot_messages(ALICE.id, count + 1))[count:]
    assert reply.content.startswith("Started a fresh conversation"), "the command ran"


async def test_a_deleted_topic_role_does_not_wipe_the_users_own_role(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    tg.topics_enabled = True
    ollama.script("ok.", "ok.")
    async with running_bot(tg, ollama, db_path):
        await ask_in(tg, None, "/role english_translator")
        await ask_in(tg, None, "/role add chef You are a chef.")
        topic = await open_topic(tg)
        await ask_in(tg, topic, "/role chef")
        await ask_in(tg, None, "/role del chef")
        await ask_in(tg, topic, "hello")
        await asyncio.sleep(0.3)
    with sqlite3.connect(db_path) as db:
        [(role,)] = db.execute("SELECT role FROM user_settings WHERE user_id = ?", (ALICE.id,))
    assert role == "english_translator", "the topic's deleted role wiped the user's own role"
    with sqlite3.connect(db_path) as db:
        roles = db.execute("SELECT role FROM conversations WHERE topic_id = ?", (topic,))
        assert roles.fetchall() == [(None,)], "the topic's deleted role is forgotten there"


async def test_model_in_the_main_chat_applies_to_a_topic_conversation_continued_there(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.add_model(OTHER_MODEL, family="qwen3", context_length=8192)
    tg.topics_enabled = True
    ollama.script("one.", "two.")
    async with running_bot(tg, ollama, db_path):
        topic = await open_topic(tg)
        await ask_in(tg, topic, f"/model {OTHER_MODEL}")
        await ask_in(tg, topic, "hello in topic")
        menu = await ask_in(tg, None, "/chats")
        conv = menu.callback_data[0].split(":")[-1]
        tg.user_presses(ALICE, menu.message_id, f"chats:use:{conv}", check_button=False)
        await tg.wait_for(lambda: labels(tg.message(ALICE.id, menu.message_id))[0].startswith("✅"))
        switched = await ask_in(tg, None, f"/model {MODEL}")
        assert MODEL in switched.content
        await ask_in(tg, None, "and now?")
    assert ollama.chat_requests[-1]["model"] == MODEL, "the user was told the model switched"


async def test_deleting_the_conversation_a_question_waits_in_is_no_error(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script("Hi.", Reply(text="Slowly " * 40, token_delay=0.03), "Alice's answer.")
    async with running_bot(tg, ollama, db_path):
        await ask_in(tg, None, "first")
        tg.user_sends(BOB, "a long one")
        await tg.wait_for(lambda: len(ollama.chat_requests) == 2)
        tg.user_sends(ALICE, "second, waits for Bob")
        await tg.wait_for(
            lambda: any("Waiting" in (d.text or "") for d in tg.drafts_in(ALICE.id, None)) or True
        )

        await asyncio.sleep(0.2)
        menu = await ask_in(tg, None, "/chats")
        tg.user_presses(ALICE, menu.message_id, "chats:delok:1", check_button=False)
        await tg.wait_for(lambda: len(ollama.chat_requests) == 3, timeout=10)
        await tg.wait_for(lambda: tg.bot_texts(ALICE.id)[-1] == "Alice's answer.")
        texts = [m.content for m in tg.bot_messages(ALICE.id)]
    assert not any("went wrong" in t.lower() or "unexpected" in t.lower() for t in texts), texts


async def test_a_topic_the_user_renames_keeps_the_users_name(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    tg.topics_enabled = True
    async with running_bot(tg, ollama, db_path, auto_titles=True):
        topic = await open_topic(tg)
        chat = {"id": ALICE.id, "type": "private", "first_name": ALICE.first_name}
        tg.inject_update(  # the user renames the topic in Telegram before asking anything
            {
                "message": {
                    "message_id": 900,
                    "date": 1_796_000_000,
                    "chat": chat,
                    "from": ALICE.to_api(),
                    "message_thread_id": topic,
                    "is_topic_message": True,
                    "forum_topic_edited": {"name": "Holidays"},
                }
            }
        )
        await tg.wait_for(lambda: titles(db_path).get(topic) == "Holidays")
        ollama.script("Pack light.")
        await ask_in(tg, topic, "What should I pack?")
        await asyncio.sleep(0.3)
    assert ollama.generate_requests == [], "a named conversation is not titled"
    assert tg.topic_renames == []


async def test_a_second_regenerate_while_the_first_is_written_waits_and_is_not_lost(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.script(
        "The first answer.",
        Reply(text="A broken try " * 5, token_delay=0.1, error_after=3),
        "The answer, again.",
    )
    async with running_bot(tg, ollama, db_path):
        first = await ask_in(tg, None, "Say something")
        again = first.callback_data[0]
        tg.user_presses(ALICE, first.message_id, again)
        await tg.wait_for(lambda: len(ollama.chat_requests) == 2)
        tg.user_presses(ALICE, first.message_id, again)  # pressed again while it is written
        await tg.wait_for(lambda: len(ollama.chat_requests) == 3, timeout=10)
        await tg.wait_for(lambda: "The answer, again." in tg.bot_texts(ALICE.id))
    assert not any(a.show_alert for a in tg.callback_answers), "the second press was not refused"
    assert [m[1] for m in stored_messages(db_path, ALICE.id)] == [
        "Say something",
        "The answer, again.",
    ], "the failed try left the first answer in place, and the second press replaced it"
