"""bot.voice on its own: which way transcribes, how pieces' texts are joined, what the user
sees of a transcript, the language a user can pick, and what is refused before downloading."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import pytest

from bot.errors import (
    FileTooBig,
    LLMError,
    ModelFailed,
    ModelNotFound,
    NothingHeard,
    NoTranscriber,
    TranscriptionFailed,
    VoiceTooLong,
)
from bot.llm.openai_compat import SpeechServer
from bot.llm.types import ChatEvent, ChatMessage, InstalledModel, ModelFacts, TextDelta
from bot.models import ModelChoice
from bot.preferences import voice_language
from bot.records import ConversationPlace, UserSettings
from bot.render import utf16_len
from bot.texts import describe_error
from bot.voice import (
    Listener,
    OllamaListener,
    VoiceService,
    instruction,
    joined,
    transcript_view,
)
from tests import sounds
from tests.fakes.transcription import FakeTranscriber


class Models:
    """Model servers with `hearing` models among `installed`; records what was asked."""

    def __init__(
        self, installed: Sequence[str], hearing: Sequence[str], broken: Sequence[str] = ()
    ) -> None:
        self.installed, self.hearing, self.broken = list(installed), set(hearing), set(broken)
        self.asked: list[tuple[str, str, Mapping[str, Any] | None]] = []

    async def chat(
        self,
        model: str,
        messages: Sequence[ChatMessage],
        *,
        options: Mapping[str, Any] | None = None,
        think: bool | None = None,
        keep_alive: str | int | None = None,
    ) -> AsyncIterator[ChatEvent]:
        self.asked.append((model, messages[-1].content, options))
        yield TextDelta("heard ")
        yield TextDelta("words")

    async def model_facts(self, model: str) -> ModelFacts:
        if model not in self.installed:
            raise ModelNotFound(model, "http://ollama")
        if model in self.broken:  # /api/show fails for it: a half-deleted or damaged model
            raise ModelFailed(model, "failed to load model metadata")
        capabilities = {"completion", "audio"} if model in self.hearing else {"completion"}
        return ModelFacts(context_length=4096, capabilities=frozenset(capabilities))

    async def installed_models(self) -> list[InstalledModel]:
        return [InstalledModel(name, 1) for name in self.installed]

    async def model_for(self, chosen: str | None, *, vision: bool = False) -> ModelChoice:
        return ModelChoice(chosen or self.installed[0])


class Settings:
    """A user's settings; `topic_models` are the models chosen in topics (by topic id)."""

    def __init__(self, topic_models: Mapping[int, str] | None = None, **values: Any) -> None:
        self.values = values
        self.topic_models = dict(topic_models or {})

    async def settings_in(
        self, user_id: int, chat_id: int | None = None, topic: int | None = None
    ) -> UserSettings:
        settings = UserSettings(**self.values)
        if topic is None or topic not in self.topic_models:
            return settings
        place = ConversationPlace(topic, 1, 1, topic, None, self.topic_models[topic], None, None)
        return settings.within(place)


def service(
    models: Models,
    audio_model: str | None = None,
    server: SpeechServer | None = None,
    **settings: Any,
) -> VoiceService:
    return VoiceService(
        models,
        models,
        Settings(**settings),
        server=server,
        audio_model=audio_model,
        max_seconds=300,
        num_ctx=8192,
    )


async def test_the_users_own_model_hears_when_it_can() -> None:
    models = Models(["llama3.2", "gemma4:e2b", "gemma4:e4b"], hearing=["gemma4:e2b", "gemma4:e4b"])
    voice = service(models)
    assert await voice.hearing_model("gemma4:e4b") == "gemma4:e4b"
    assert await voice.hearing_model("llama3.2") == "gemma4:e2b", "else the first that hears"
    assert await service(models, audio_model="gemma4:e4b").hearing_model(None) == "gemma4:e4b"


async def test_nothing_hears_when_no_model_can_or_audio_model_is_missing() -> None:
    models = Models(["llama3.2"], hearing=[])
    assert await service(models).hearing_model(None) is None
    assert await service(models, audio_model="gemma4:e2b").hearing_model(None) is None
    with pytest.raises(NoTranscriber) as caught:
        await service(models, audio_model="gemma4:e2b").listener(1, "note")
    assert caught.value.model == "gemma4:e2b"


async def test_a_model_that_hears_gets_the_wav_the_language_and_the_runners_window() -> None:
    models = Models(["gemma4:e2b"], hearing=["gemma4:e2b"])
    listener = await service(models, voice_language="de").listener(1, "note")
    assert isinstance(listener.transcriber, OllamaListener)
    assert listener.language == "de"
    text = await service(models).transcribe(listener, sounds.voice_note(2.0), "note")
    assert text == "heard words"
    [(model, prompt, options)] = models.asked
    assert model == "gemma4:e2b"
    assert prompt.endswith("The speech is in German.")
    assert options == {"temperature": 0.0, "num_ctx": 4096, "num_predict": 1024}


async def test_silence_is_not_sent_to_be_heard() -> None:
    models = Models(["gemma4:e2b"], hearing=["gemma4:e2b"])
    listener = await service(models).listener(1, "note")
    with pytest.raises(NothingHeard):
        await service(models).transcribe(listener, sounds.voice_note(2.0, silent=True), "note")
    assert models.asked == []


async def test_empty_transcripts_are_nothing_heard() -> None:
    class Deaf:
        async def transcribe(self, wav: bytes, language: str | None) -> str:
            return "  \n"

    voice = service(Models(["x"], hearing=[]))
    with pytest.raises(NothingHeard):
        await voice.transcribe(Listener(Deaf(), None), sounds.voice_note(2.0), "note")


def test_pieces_are_joined_with_spaces_except_between_chinese() -> None:
    assert joined(["Hello there.", " How are you? ", "", "Fine."]) == (
        "Hello there. How are you? Fine."
    )
    assert joined(["你好，", "今天天气很好。"]) == "你好，今天天气很好。"
    assert joined(["I said 你好", "then left."]) == "I said 你好 then left."


def test_the_instruction_names_the_chosen_language_only() -> None:
    assert "The speech is in" not in instruction(None)
    assert instruction("zh").endswith("The speech is in Chinese.")


def test_a_transcript_is_a_collapsed_quote_under_its_heading_in_one_message() -> None:
    view = transcript_view("🎙 You said:", "hello")
    assert view.text == "🎙 You said:\nhello"
    [quote] = view.entities
    assert (quote.type, quote.offset, quote.length) == ("expandable_blockquote", 13, 5)
    long = transcript_view("🎙 You said:", "😀" * 3000)
    assert utf16_len(long.text) == 4096
    assert long.text.endswith("…")
    assert long.entities[0].offset + long.entities[0].length == 4096


def test_too_long_and_too_big_are_refused_before_downloading() -> None:
    voice = service(Models(["x"], hearing=[]))
    assert isinstance(voice.refusal("note", 301, 1000), VoiceTooLong)
    assert isinstance(voice.refusal("note", 10, 21 * 1024 * 1024), FileTooBig)
    assert voice.refusal("note", 300, 20 * 1024 * 1024) is None
    assert voice.refusal("note", None, None) is None


@pytest.mark.parametrize(
    ("typed", "code"),
    [("de", "de"), ("German", "de"), ("deutsch", "de"), ("中文", "zh"), ("AUTO", "auto")],
)
def test_a_voice_language_is_typed_as_its_code_or_a_name(typed: str, code: str) -> None:
    assert voice_language(typed) == code


def test_an_unknown_voice_language_is_none() -> None:
    assert voice_language("klingon") is None


async def test_a_topics_own_model_hears_first() -> None:
    models = Models(["llama3.2", "gemma4:e2b", "gemma4:e4b"], hearing=["gemma4:e2b", "gemma4:e4b"])
    voice = VoiceService(
        models,
        models,
        Settings(topic_models={7: "gemma4:e4b"}, model="llama3.2"),
        server=None,
        audio_model=None,
        max_seconds=300,
        num_ctx=8192,
    )
    listener = await voice.listener(1, "note", chat_id=1, topic=7)
    assert isinstance(listener.transcriber, OllamaListener)
    assert listener.transcriber.model == "gemma4:e4b", "the topic's model, not a second one"
    elsewhere = await voice.listener(1, "note", chat_id=1, topic=None)
    assert isinstance(elsewhere.transcriber, OllamaListener)
    assert elsewhere.transcriber.model == "gemma4:e2b"


async def test_a_model_ollama_cannot_describe_is_passed_over() -> None:
    models = Models(
        ["llama3.2", "broken:7b", "gemma4:e2b"], hearing=["gemma4:e2b"], broken=["broken:7b"]
    )
    assert await service(models).hearing_model("llama3.2") == "gemma4:e2b"


async def test_a_transcription_servers_failures_are_not_told_as_ollamas() -> None:
    async with FakeTranscriber() as fake:
        server = SpeechServer(fake.url, "whisper-9")
        voice = service(Models(["x"], hearing=[]), server=server)
        listener = await voice.listener(1, "note")
        with pytest.raises(TranscriptionFailed) as missing:
            await voice.transcribe(listener, sounds.voice_note(2.0), "your voice message")
        fake.down = True
        with pytest.raises(TranscriptionFailed) as down:
            await voice.transcribe(listener, sounds.voice_note(2.0), "your voice message")
        await voice.close()
    told = describe_error(missing.value)
    assert told.startswith("I couldn't transcribe your voice message: ")
    assert "ollama" not in told.lower()
    assert "whisper-9" in told
    assert "TRANSCRIBE_MODEL" in told
    assert "--inference-path" in told, "a 404 may be a wrong address too"
    told = describe_error(down.value)
    assert fake.url in told
    assert "TRANSCRIBE_BASE_URL" in told
    assert "LM Studio" not in told
    assert "TRANSCRIBE_BASE_URL" in describe_error(down.value, "zh")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [("<html>Bad Gateway</html>", "text/html"), ('{"detail": "busy"}', "application/json")],
    ids=["a-proxys-page", "json-without-text"],
)
async def test_a_200_that_is_no_transcription_is_an_error(body: str, content_type: str) -> None:
    async with FakeTranscriber() as fake:
        fake.instead = (body, content_type)
        server = SpeechServer(fake.url, fake.models[0])
        try:
            with pytest.raises(LLMError):
                await server.transcribe(sounds.voice_note(1.0), None)
        finally:
            await server.close()
