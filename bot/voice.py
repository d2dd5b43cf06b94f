"""Voice: from the bytes of a voice note, audio file or round video note to the words said.

Two ways to transcribe, both local:

1. a transcription server (TRANSCRIBE_BASE_URL: speaches/faster-whisper-server, whisper.cpp's
   server, LocalAI, vLLM), through `/v1/audio/transcriptions`;
2. an Ollama model that hears (`/api/show` capabilities include `audio`: Gemma 4 e2b/e4b), the
   WAV in the message's `images` with an instruction to transcribe it word for word.

When TRANSCRIBE_BASE_URL is set it is used, always: its owner set it up for this, a Whisper
model is made for transcription (and takes the language hint as it is meant), and it leaves
the GPU's one model slot to the answer that follows. Otherwise AUDIO_MODEL, or the model that
will answer (a topic's own, else the user's) if it hears, or the first installed model that does.

The audio is decoded and cut into pieces of at most 30 s (bot.audio) for either way; silent
pieces are not sent (Whisper makes up words for silence), the pieces' texts are joined, and a
note with no words raises NothingHeard, so nothing goes to the chat model. Every failure is a
FileProblem, which the question's loader hands to the user as one line.
"""

from __future__ import annotations

import logging
import time
import unicodedata
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bot import audio
from bot.errors import (
    FileProblem,
    FileTooBig,
    LLMError,
    ModelNotFound,
    NothingHeard,
    NoTranscriber,
    OllamaUnavailable,
    ServerTranscriptionFailed,
    TranscriptionFailed,
    VoiceTooLong,
)
from bot.llm.types import ChatEvent, ChatMessage, InstalledModel, ModelFacts, TextDelta
from bot.models import ModelChoice
from bot.preferences import VOICE_LANGUAGES
from bot.records import UserSettings
from bot.render import Entity, RenderedText, utf16_len

log = logging.getLogger(__name__)

TELEGRAM_DOWNLOAD_LIMIT = 20 * 1024 * 1024  # getFile hands bots files up to 20 MB
MESSAGE_LIMIT = 4096  # UTF-16 units in one Telegram message
TRANSCRIPT_TOKENS = 1024  # 30 s of fast speech is about 150 tokens: room, yet a runaway stops
HEARING = "audio"  # the capability of a model that takes audio
TRANSCRIBE_INSTRUCTION = (
    "Transcribe this audio exactly, word for word, in the language spoken. Reply with the "
    "transcript only: no translation, no notes, no quotation marks. If nobody speaks, reply "
    "with nothing."
)


class SpeechToText(Protocol):
    """Something that transcribes one WAV piece (bot.llm's SpeechServer, OllamaListener)."""

    async def transcribe(self, wav: bytes, language: str | None) -> str: ...


class SpeechServer(SpeechToText, Protocol):
    """A transcription server, whose connections are closed when the bot stops."""

    async def close(self) -> None: ...


class HearingModels(Protocol):
    """What voice needs from the model servers (bot.llm.ModelRouter)."""

    def chat(
        self,
        model: str,
        messages: Sequence[ChatMessage],
        *,
        options: Mapping[str, Any] | None = None,
        think: bool | None = None,
        keep_alive: str | int | None = None,
    ) -> AsyncIterator[ChatEvent]: ...
    async def model_facts(self, model: str) -> ModelFacts: ...
    async def installed_models(self) -> list[InstalledModel]: ...


class UsersModels(Protocol):
    """Which model answers a user (bot.models.ModelCatalog)."""

    async def model_for(self, chosen: str | None, *, vision: bool = False) -> ModelChoice: ...


class UsersSettings(Protocol):
    """The user's settings where they write, a conversation's own model over theirs
    (bot.store.Store)."""

    async def settings_in(
        self, user_id: int, chat_id: int | None = None, topic: int | None = None
    ) -> UserSettings: ...


def instruction(language: str | None) -> str:
    """What a model that hears is asked, with the user's language when they chose one."""
    if language is None or language not in VOICE_LANGUAGES:
        return TRANSCRIBE_INSTRUCTION
    return f"{TRANSCRIBE_INSTRUCTION} The speech is in {VOICE_LANGUAGES[language][0]}."


def _wide(char: str) -> bool:
    """A character of a script written without spaces between words (Chinese, Japanese)."""
    return unicodedata.east_asian_width(char) in ("W", "F")


def joined(texts: Iterable[str]) -> str:
    """The pieces' texts as one: a space between them, none between Chinese or Japanese."""
    whole = ""
    for text in (t.strip() for t in texts):
        if not text:
            continue
        if whole and not (_wide(whole[-1]) and _wide(text[0])):
            whole += " "
        whole += text
    return whole


def transcript_view(heading: str, transcript: str) -> RenderedText:
    """`heading` ("🎙 You said:") over the transcript in a collapsed quote, in one message: a
    transcript too long for it is shown cut, with "…" (the model gets all of it)."""
    room = MESSAGE_LIMIT - utf16_len(heading) - 1
    if utf16_len(transcript) > room:
        kept, used = [], 0
        for char in transcript:
            used += len(char.encode("utf-16-le")) // 2
            if used > room - 1:  # room for the "…"
                break
            kept.append(char)
        transcript = "".join(kept) + "…"
    offset = utf16_len(heading) + 1
    quote = Entity("expandable_blockquote", offset, utf16_len(transcript))
    return RenderedText(f"{heading}\n{transcript}", (quote,))


class OllamaListener:
    """SpeechToText by `model`, an Ollama model that hears, through the model servers."""

    def __init__(
        self,
        llm: HearingModels,
        model: str,
        *,
        options: Mapping[str, Any],
        think: bool | None,
        keep_alive: str | int | None,
    ) -> None:
        self.model = model
        self._llm = llm
        self._options = options
        self._think = think
        self._keep_alive = keep_alive

    async def transcribe(self, wav: bytes, language: str | None) -> str:
        """The text the model hears in `wav` (sent in `images`: Ollama knows a WAV by its
        RIFF/WAVE header)."""
        message = ChatMessage("user", instruction(language), images=(wav,))
        words = [
            event.content
            async for event in self._llm.chat(
                self.model,
                [message],
                options=self._options,
                think=self._think,
                keep_alive=self._keep_alive,
            )
            if isinstance(event, TextDelta)
        ]
        return "".join(words)


@dataclass(frozen=True, slots=True)
class Listener:
    """Who transcribes a user's audio, and in which language (None: the speaker's own)."""

    transcriber: SpeechToText
    language: str | None
    by_server: bool = False  # the transcription server: its failures are not Ollama's


class VoiceService:
    """Voice notes and audio files into text, by the transcription server or a model that
    hears, refused when longer than `max_seconds`."""

    def __init__(
        self,
        llm: HearingModels,
        models: UsersModels,
        settings: UsersSettings,
        *,
        server: SpeechServer | None,
        audio_model: str | None,
        max_seconds: int,
        num_ctx: int,
        keep_alive: str | int | None = None,
    ) -> None:
        self._llm = llm
        self._models = models
        self._settings = settings
        self._server = server
        self._audio_model = audio_model
        self.max_seconds = max_seconds
        self._num_ctx = num_ctx
        self._keep_alive = keep_alive

    async def close(self) -> None:
        """Close the transcription server's connections."""
        if self._server is not None:
            await self._server.close()

    def refusal(self, name: str, seconds: int | None, size: int | None) -> FileProblem | None:
        """Why audio that says it lasts `seconds` and has `size` bytes is refused before it is
        downloaded (too long, too big for getFile), or None."""
        if seconds is not None and seconds > self.max_seconds:
            return VoiceTooLong(name, seconds, self.max_seconds)
        if size is not None and size > TELEGRAM_DOWNLOAD_LIMIT:
            return FileTooBig(name, size, TELEGRAM_DOWNLOAD_LIMIT)
        return None

    async def listener(
        self, user_id: int, name: str, *, chat_id: int | None = None, topic: int | None = None
    ) -> Listener:
        """Who transcribes this user's `name` (sent in `topic` of `chat_id`, whose own model is
        asked first): NoTranscriber when nothing can, TranscriptionFailed when the model
        servers cannot be asked."""
        # Read only: a user who used /forget may not be known any more.
        settings = await self._settings.settings_in(user_id, chat_id, topic)
        if self._server is not None:
            return Listener(self._server, settings.voice_language, by_server=True)
        chosen = settings.model
        try:
            model = await self.hearing_model(chosen)
            if model is None:
                raise NoTranscriber(name, self._audio_model)
            facts = await self._llm.model_facts(model)
        except LLMError as err:
            raise TranscriptionFailed(name, err) from err
        options = {
            "temperature": 0.0,
            # The same window as answers use, so the model is not loaded again for them.
            "num_ctx": min(self._num_ctx, facts.context_length or self._num_ctx),
            "num_predict": TRANSCRIPT_TOKENS,
        }
        think = False if "thinking" in facts.capabilities else None
        transcriber = OllamaListener(
            self._llm, model, options=options, think=think, keep_alive=self._keep_alive
        )
        return Listener(transcriber, settings.voice_language)

    async def hearing_model(self, chosen: str | None) -> str | None:
        """AUDIO_MODEL if it hears; without it the user's model (`chosen`, or the default) if
        it hears, else the first installed model that does; None when there is none."""
        if self._audio_model is not None:
            try:
                return self._audio_model if await self._hears(self._audio_model) else None
            except ModelNotFound:
                return None
        try:
            users = (await self._models.model_for(chosen)).model
        except LLMError:
            users = None
        if users is not None and await self._may_hear(users):
            return users
        for installed in await self._llm.installed_models():
            if await self._may_hear(installed.name):
                return installed.name
        return None

    async def _hears(self, model: str) -> bool:
        return HEARING in (await self._llm.model_facts(model)).capabilities

    async def _may_hear(self, model: str) -> bool:
        """Whether `model` hears; one model Ollama cannot describe (a broken or half-deleted
        one) is passed over for the next, while a server that is down fails them all."""
        try:
            return await self._hears(model)
        except OllamaUnavailable:
            raise
        except LLMError:
            log.warning("skipped a model whose facts could not be read", exc_info=True)
            return False

    async def transcribe(self, listener: Listener, data: bytes, name: str) -> str:
        """The words said in `data`: UnreadableFile (damaged), VoiceTooLong (past the limit
        whatever the file claimed), NothingHeard (silence, or no words understood),
        TranscriptionFailed."""
        started = time.monotonic()
        samples = await audio.decode(data, name, max_seconds=self.max_seconds)
        spoken = [piece for piece in audio.pieces(samples) if not audio.is_silent(piece)]
        decoded = time.monotonic()
        texts = []
        for piece in spoken:
            try:
                texts.append(
                    await listener.transcriber.transcribe(audio.wav_bytes(piece), listener.language)
                )
            except LLMError as err:
                if listener.by_server:
                    raise ServerTranscriptionFailed(name, err) from err
                raise TranscriptionFailed(name, err) from err
        log.info(
            "voice heard seconds=%.1f pieces=%d decode_s=%.2f transcribe_s=%.2f",
            audio.seconds(samples),
            len(spoken),
            decoded - started,
            time.monotonic() - decoded,
        )  # figures only, never the words
        if not (text := joined(texts)):
            raise NothingHeard(name)
        return text
