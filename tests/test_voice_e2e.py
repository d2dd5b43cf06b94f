"""End to end: voice messages, audio files and video messages, decoded with the real PyAV,
transcribed by an Ollama model that hears (FakeOllama) or a transcription server
(FakeTranscriber), shown, and answered like typed text."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests import sounds
from tests.fakes.ollama import FakeOllama
from tests.fakes.telegram import BOT_USERNAME, FakeTelegram, StoredMessage
from tests.fakes.transcription import FakeTranscriber
from tests.harness import ALICE, BOB, GROUP_ID, MODEL, running_bot, stored_messages
from tests.test_conversations_e2e import ask_in, open_topic

HEARS = "gemma4:e2b"
BIG = 25 * 1024 * 1024  # more than getFile hands over
GROUP: dict[str, Any] = {"chat_id": GROUP_ID, "chat_type": "supergroup"}


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(group_limit=20, group_window=6.0) as fake:
        yield fake


@pytest.fixture
async def ollama() -> AsyncIterator[FakeOllama]:
    async with FakeOllama() as fake:
        fake.add_model(HEARS, capabilities=("completion", "vision", "audio"), context_length=32768)
        fake.add_model(MODEL, context_length=8192)  # newest: everyone's model; it cannot hear
        yield fake


@pytest.fixture
async def server() -> AsyncIterator[FakeTranscriber]:
    async with FakeTranscriber() as fake:
        yield fake


def sent_audio(request: dict[str, Any]) -> list[bytes]:
    """The WAVs of an /api/chat body."""
    return [base64.b64decode(data) for m in request["messages"] for data in m.get("images", [])]


def answer_requests(ollama: FakeOllama) -> list[dict[str, Any]]:
    """The chat requests that asked for an answer, not a transcript."""
    return [r for r in ollama.chat_requests if r not in ollama.audio_requests]


def quoted(message: StoredMessage) -> str:
    """The text of the message's expandable quote."""
    [quote] = [e for e in message.entities if e["type"] == "expandable_blockquote"]
    units = (message.text or "").encode("utf-16-le")
    start, end = 2 * quote["offset"], 2 * (quote["offset"] + quote["length"])
    return units[start:end].decode("utf-16-le")


async def test_a_voice_message_is_transcribed_shown_and_answered_like_text(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    note = tg.add_file(sounds.voice_note(4.0), file_path="voice/file_1.oga")
    ollama.hear("What is the capital of France?")
    ollama.script("Paris.")
    async with running_bot(tg, ollama, db_path):
        tg.user_sends_voice(ALICE, note, duration=4)
        [shown, answer] = await tg.wait_for_bot_messages(ALICE.id, 2)
    assert shown.content == "🎙 You said:\nWhat is the capital of France?"
    assert quoted(shown) == "What is the capital of France?"
    assert answer.content == "Paris."
    [heard] = ollama.audio_requests
    assert heard["model"] == HEARS, "the user's model cannot hear; the installed one that can"
    [wav] = sent_audio(heard)
    channels, rate, width, seconds = sounds.wav_facts(wav)
    assert (channels, rate, width) == (1, 16_000, 2)
    assert seconds == pytest.approx(4.0, abs=0.1)
    [asked] = answer_requests(ollama)
    assert asked["model"] == MODEL, "answered by the user's own model, like typed text"
    assert asked["messages"][-1] == {"role": "user", "content": "What is the capital of France?"}
    assert stored_messages(db_path, ALICE.id) == [
        ("user", "What is the capital of France?", "complete", None),
        ("assistant", "Paris.", "complete", MODEL),
    ], "the text is kept, the audio is not"


async def test_a_long_note_is_heard_in_pieces_of_at_most_30_s(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    note = tg.add_file(sounds.voice_note(70.0))
    ollama.hear("First part.", "Second part.", "Third part.")
    async with running_bot(tg, ollama, db_path):
        tg.user_sends_voice(ALICE, note, duration=70)
        [shown, _] = await tg.wait_for_bot_messages(ALICE.id, 2)
    lengths = [sounds.wav_facts(sent_audio(r)[0])[3] for r in ollama.audio_requests]
    assert len(lengths) == 3
    assert all(length <= 30.0 for length in lengths)
    assert sum(lengths) == pytest.approx(70.0, abs=0.1)
    assert quoted(shown) == "First part. Second part. Third part."
    assert answer_requests(ollama)[0]["messages"][-1]["content"] == quoted(shown)


async def test_audio_files_and_video_messages_are_heard_too(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    mp3 = tg.add_file(sounds.mp3_file(3.0), file_path="music/file_2.mp3")
    m4a = tg.add_file(sounds.m4a_file(3.0), file_path="music/file_3.m4a")
    video = tg.add_file(sounds.video_note(2.0), file_path="video_notes/file_4.mp4")
    ollama.hear("one", "two", "three")
    async with running_bot(tg, ollama, db_path):
        tg.user_sends_voice(ALICE, mp3, duration=3, kind="audio", file_name="memo.mp3")
        tg.user_sends_voice(
            ALICE, m4a, duration=3, kind="audio", file_name="memo.m4a", mime_type="audio/mp4"
        )
        tg.user_sends_voice(ALICE, video, duration=2, kind="video_note")
        messages = await tg.wait_for_bot_messages(ALICE.id, 6)
    assert [quoted(m) for m in messages if m.entities and m.content.startswith("🎙")] == [
        "one",
        "two",
        "three",
    ]
    assert [r["messages"][-1]["content"] for r in answer_requests(ollama)] == [
        "one",
        "two",
        "three",
    ]


async def test_in_a_group_a_voice_reply_to_the_bot_is_heard_and_others_are_not(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    note = tg.add_file(sounds.voice_note(3.0))
    ollama.hear("And in Italy?")
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, f"@{BOT_USERNAME} capital of France?", **GROUP)
        [first] = await tg.wait_for_bot_messages(GROUP_ID)
        tg.user_sends_voice(BOB, note, duration=3, **GROUP)  # not for the bot
        voice = tg.user_sends_voice(ALICE, note, duration=3, reply_to=first.message_id, **GROUP)
        [_, shown, answer] = await tg.wait_for_bot_messages(GROUP_ID, 3)
    assert quoted(shown) == "And in Italy?"
    assert shown.reply_to_message_id == voice.message_id
    assert answer.reply_to_message_id == voice.message_id
    assert len(ollama.audio_requests) == 1, "the voice that was not for the bot is not heard"
    assert len(tg.calls_of("getFile")) == 1


async def test_too_long_or_too_big_is_refused_before_downloading(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    long_note = tg.add_file(sounds.voice_note(1.0))
    big = tg.add_file(size=BIG)
    async with running_bot(tg, ollama, db_path):
        tg.user_sends_voice(ALICE, long_note, duration=301)
        [too_long] = await tg.wait_for_bot_messages(ALICE.id)
        tg.user_sends_voice(ALICE, big, duration=200, kind="audio", file_name="talk.mp3")
        [_, too_big] = await tg.wait_for_bot_messages(ALICE.id, 2)
    assert too_long.content == "your voice message lasts 5:01; I transcribe up to 5:00."
    assert too_big.content == "talk.mp3 has 25.0 MB; I can read files up to 20 MB."
    assert tg.calls_of("getFile") == []
    assert ollama.chat_requests == []


async def test_a_note_longer_than_it_claims_stops_being_decoded(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    note = tg.add_file(sounds.voice_note(12.0))
    async with running_bot(tg, ollama, db_path, max_voice_seconds=5):
        tg.user_sends_voice(ALICE, note, duration=3)
        [refused] = await tg.wait_for_bot_messages(ALICE.id)
    assert refused.content == "your voice message lasts 0:12; I transcribe up to 0:05."
    assert ollama.chat_requests == []


async def test_silence_and_damage_get_one_line_and_nothing_reaches_the_model(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    silent = tg.add_file(sounds.voice_note(3.0, silent=True))
    damaged = tg.add_file(sounds.corrupt_file())
    spoken = tg.add_file(sounds.voice_note(2.0))
    ollama.hear("   ")  # the model heard no words in it
    async with running_bot(tg, ollama, db_path):
        tg.user_sends_voice(ALICE, silent, duration=3)
        tg.user_sends_voice(ALICE, damaged, duration=3)
        tg.user_sends_voice(ALICE, spoken, duration=2)
        told = await tg.wait_for_bot_messages(ALICE.id, 3)
    assert [m.content for m in told] == [
        "I couldn't make out any words in your voice message.",
        "I can't read your voice message: the file is damaged.",
        "I couldn't make out any words in your voice message.",
    ]
    assert len(ollama.audio_requests) == 1, "silence is not sent to be heard"
    assert answer_requests(ollama) == []
    assert stored_messages(db_path, ALICE.id) == []


async def test_without_anything_that_hears_users_are_told_what_to_install(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.remove_model(HEARS)
    note = tg.add_file(sounds.voice_note(2.0))
    async with running_bot(tg, ollama, db_path):
        tg.user_sends_voice(ALICE, note, duration=2)
        [told] = await tg.wait_for_bot_messages(ALICE.id)
    async with running_bot(tg, ollama, db_path, audio_model="gemma4:e4b"):
        tg.user_sends_voice(ALICE, note, duration=2)
        [_, named] = await tg.wait_for_bot_messages(ALICE.id, 2)
    assert "no model here can hear" in told.content
    assert "ollama pull gemma4:e2b" in told.content
    assert "TRANSCRIBE_BASE_URL" in told.content
    assert "AUDIO_MODEL gemma4:e4b is not installed or cannot hear" in named.content
    assert tg.calls_of("getFile") == [], "nothing downloaded for nothing"
    assert ollama.chat_requests == []


async def test_a_transcription_server_is_used_when_set_with_the_chosen_language(
    tg: FakeTelegram, ollama: FakeOllama, server: FakeTranscriber, db_path: Path
) -> None:
    note = tg.add_file(sounds.voice_note(3.0))
    server.hear("Wie spät ist es?", "Guten Morgen")
    ollama.script("Zwölf Uhr.", "Morgen!")
    settings = {"transcribe_base_url": server.url, "transcribe_model": server.models[0]}
    async with running_bot(tg, ollama, db_path, **settings):
        tg.user_sends_voice(ALICE, note, duration=3)
        await tg.wait_for_bot_messages(ALICE.id, 2)
        tg.user_sends(ALICE, "/settings voice de")
        await tg.wait_for_bot_messages(ALICE.id, 3)
        tg.user_sends_voice(ALICE, note, duration=3)
        [shown, answer] = (await tg.wait_for_bot_messages(ALICE.id, 5))[3:]
    first, second = server.requests
    assert (first.model, first.language, first.response_format) == (
        "Systran/faster-whisper-small",
        None,
        "json",
    )
    assert second.language == "de"
    assert sounds.wav_facts(second.audio)[:3] == (1, 16_000, 2)
    assert quoted(shown) == "Guten Morgen"
    assert answer.content == "Morgen!"
    assert ollama.audio_requests == [], "the server transcribes, not a model that hears"


async def test_stop_ends_a_transcription_and_nothing_is_asked(
    tg: FakeTelegram, ollama: FakeOllama, server: FakeTranscriber, db_path: Path
) -> None:
    note = tg.add_file(sounds.voice_note(3.0))
    server.delay = 30.0
    server.hear("never shown")
    async with running_bot(tg, ollama, db_path, transcribe_base_url=server.url):
        tg.user_sends_voice(ALICE, note, duration=3)
        await tg.wait_for(lambda: len(server.requests) == 1)
        tg.user_sends(ALICE, "/stop")
        [stopped] = await tg.wait_for_bot_messages(ALICE.id)
        await tg.wait_for(lambda: server.cancelled == 1)
        ollama.script("Hello.")
        tg.user_sends(ALICE, "hello")
        [_, answer] = await tg.wait_for_bot_messages(ALICE.id, 2)
    assert stopped.content == "Stopped: your file was still being read, so nothing was written."
    assert answer.content == "Hello."
    assert [r["messages"][-1]["content"] for r in ollama.chat_requests] == ["hello"]
    assert stored_messages(db_path, ALICE.id)[0][:2] == ("user", "hello")


async def test_a_transcription_server_that_is_down_gets_one_line(
    tg: FakeTelegram, ollama: FakeOllama, server: FakeTranscriber, db_path: Path
) -> None:
    note = tg.add_file(sounds.voice_note(2.0))
    server.down = True
    async with running_bot(tg, ollama, db_path, transcribe_base_url=server.url):
        tg.user_sends_voice(ALICE, note, duration=2)
        [told] = await tg.wait_for_bot_messages(ALICE.id)
    assert told.content.startswith("I couldn't transcribe your voice message: ")
    assert server.url in told.content
    assert ollama.chat_requests == []


async def test_the_voice_language_is_a_setting(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    note = tg.add_file(sounds.voice_note(2.0))
    ollama.hear("Bonjour")
    async with running_bot(tg, ollama, db_path):
        tg.user_sends(ALICE, "/settings voice klingon")
        [refused] = await tg.wait_for_bot_messages(ALICE.id)
        tg.user_sends(ALICE, "/settings voice French")
        [_, saved] = await tg.wait_for_bot_messages(ALICE.id, 2)
        tg.user_sends_voice(ALICE, note, duration=2)
        await tg.wait_for_bot_messages(ALICE.id, 4)
        tg.user_sends(ALICE, "/settings voice auto")
        [*_, auto] = await tg.wait_for_bot_messages(ALICE.id, 5)
    assert refused.content.startswith("I don't know that language for voice messages.")
    assert "de" in refused.content
    assert "Voice messages are heard in: Français." in saved.content
    [heard] = ollama.audio_requests
    assert heard["messages"][-1]["content"].endswith("The speech is in French.")
    assert "Voice messages are heard in: any language (auto)." in auto.content


async def test_stop_ends_a_model_hearing_a_note(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    note = tg.add_file(sounds.voice_note(3.0))
    ollama.hear("words that come slowly")
    ollama.token_delay = 10.0
    async with running_bot(tg, ollama, db_path):
        tg.user_sends_voice(ALICE, note, duration=3)
        await ollama.wait_for(lambda: len(ollama.audio_requests) == 1)
        tg.user_sends(ALICE, "/stop")
        [stopped] = await tg.wait_for_bot_messages(ALICE.id)
        await ollama.wait_for(lambda: ollama.cancelled_streams == 1)
    assert stopped.content == "Stopped: your file was still being read, so nothing was written."
    assert answer_requests(ollama) == [], "a stopped transcription sends nothing to the model"
    assert stored_messages(db_path, ALICE.id) == []


async def test_a_wav_sent_as_a_file_is_heard(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    # Telegram's apps send a .wav, and any audio sent "as a file", as a Document
    wav = tg.add_file(sounds.wav_file(3.0))
    ollama.hear("hello there")
    ollama.script("Hi!")
    async with running_bot(tg, ollama, db_path):
        tg.user_sends_document(ALICE, wav, file_name="memo.wav", mime_type="audio/x-wav")
        [shown, answer] = await tg.wait_for_bot_messages(ALICE.id, 2)
    assert shown.content == "🎙 You said:\nhello there"
    assert answer.content == "Hi!"


async def test_a_file_that_is_neither_read_nor_heard_says_what_is(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    video = tg.add_file(b"\0" * 100)
    async with running_bot(tg, ollama, db_path):
        tg.user_sends_document(ALICE, video, file_name="clip.mkv", mime_type="video/x-matroska")
        [told] = await tg.wait_for_bot_messages(ALICE.id)
    assert told.content.startswith("I can't read clip.mkv.")
    assert told.content.endswith("PDFs, voice messages and audio files.")


async def test_in_a_group_an_audio_files_caption_is_asked_of_its_words(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    memo = tg.add_file(sounds.mp3_file(3.0))
    ollama.hear("Bonjour à tous, la réunion est à dix heures.")
    ollama.script("Hello everyone, the meeting is at ten.")
    async with running_bot(tg, ollama, db_path):
        tg.user_sends_voice(
            ALICE,
            memo,
            duration=3,
            kind="audio",
            file_name="memo.mp3",
            caption=f"@{BOT_USERNAME} translate this into English",
            **GROUP,
        )
        [shown, _] = await tg.wait_for_bot_messages(GROUP_ID, 2)
    assert quoted(shown) == "Bonjour à tous, la réunion est à dix heures."
    [asked] = answer_requests(ollama)
    assert asked["messages"][-1]["content"] == (
        "translate this into English\n\nBonjour à tous, la réunion est à dix heures."
    )


async def test_a_voice_message_in_a_topic_is_heard_by_that_topics_model(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    ollama.add_model("gemma4:e4b", capabilities=("completion", "audio"), context_length=8192)
    tg.topics_enabled = True
    note = tg.add_file(sounds.voice_note(3.0))
    async with running_bot(tg, ollama, db_path):
        topic = await open_topic(tg)
        await ask_in(tg, topic, f"/model {HEARS}")
        ollama.hear("hello")
        ollama.script("Hi.")
        count = len(tg.bot_messages_in(ALICE.id, topic))
        tg.user_sends_voice(ALICE, note, duration=3, message_thread_id=topic)
        await tg.wait_for(lambda: len(tg.bot_messages_in(ALICE.id, topic)) >= count + 2)
    [heard] = ollama.audio_requests
    assert heard["model"] == HEARS, "the topic's own model hears: no second model is loaded"
    assert answer_requests(ollama)[-1]["model"] == HEARS


async def test_a_voice_message_in_a_topic_after_forget_is_heard(
    tg: FakeTelegram, ollama: FakeOllama, db_path: Path
) -> None:
    tg.topics_enabled = True
    note = tg.add_file(sounds.voice_note(3.0))
    async with running_bot(tg, ollama, db_path):
        topic = await open_topic(tg)
        await ask_in(tg, topic, "in the topic")
        question = await ask_in(tg, None, "/forget")
        tg.user_presses(ALICE, question.message_id, question.callback_data[0])
        await tg.wait_for(lambda: not stored_messages(db_path, ALICE.id))
        ollama.hear("hello")
        ollama.script("Hi.")
        count = len(tg.bot_messages_in(ALICE.id, topic))
        tg.user_sends_voice(ALICE, note, duration=3, message_thread_id=topic)
        await tg.wait_for(lambda: len(tg.bot_messages_in(ALICE.id, topic)) >= count + 2)
        texts = [m.content for m in tg.bot_messages_in(ALICE.id, topic)[count:]]
    assert texts[-1] == "Hi.", "the user /forget forgot is heard and answered in the topic"


async def test_a_transcription_server_without_the_model_is_not_told_to_be_pulled(
    tg: FakeTelegram, ollama: FakeOllama, server: FakeTranscriber, db_path: Path
) -> None:
    note = tg.add_file(sounds.voice_note(2.0))
    settings = {"transcribe_base_url": server.url, "transcribe_model": "whisper-9"}
    async with running_bot(tg, ollama, db_path, **settings):
        tg.user_sends_voice(ALICE, note, duration=2)
        [told] = await tg.wait_for_bot_messages(ALICE.id)
    assert told.content.startswith(
        f"I couldn't transcribe your voice message: the transcription server at {server.url} "
        "has no model whisper-9"
    )
    assert "ollama pull" not in told.content
