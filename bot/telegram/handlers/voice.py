"""Voice messages, audio files and round video messages: transcribed, shown, then answered.

In a private chat every one is heard, and so is audio sent as a file (a .wav); in a group, one
that replies to the bot (or an audio file whose caption mentions it). A caption is asked of the
words said: it goes before the transcript in the question. Audio longer than MAX_VOICE_SECONDS,
or over getFile's 20 MB, is refused at once, before anything is downloaded. The rest waits for
its turn like any question: then it is downloaded, transcribed (bot.voice), shown as
"🎙 You said:" over the transcript in a collapsed quote, and answered like the same text typed.
/stop while it is transcribed ends the decoding and the requests, and nothing goes to the model.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from datetime import timedelta
from functools import reduce
from pathlib import PurePath

from telegram import Message, MessageEntity, Update
from telegram.constants import ChatType
from telegram.ext import ContextTypes, filters

from bot.chat import ChatService, Question
from bot.languages import LanguageChoices
from bot.telegram.answer_streams import AnswerStreams
from bot.telegram.handlers.chat import addressed_text, open_stream
from bot.telegram.handlers.common import Speaking, profile_of, topic_of
from bot.telegram.handlers.media import TELEGRAM_DOWNLOAD_LIMIT, download
from bot.texts import describe_error, say
from bot.voice import VoiceService, transcript_view

# Audio sent "as a file" (and every .wav) comes as a Document; these are heard, not read.
AUDIO_EXTENSIONS = ("wav", "mp3", "m4a", "ogg", "oga", "opus", "flac", "aac")
AUDIO_DOCUMENTS: filters.BaseFilter = reduce(
    operator.or_,
    (filters.Document.FileExtension(extension) for extension in AUDIO_EXTENSIONS),
    filters.Document.AUDIO,
)


def is_audio_file(mime_type: str | None, file_name: str | None) -> bool:
    """Whether a document is audio: an audio/* type, or a known audio file's extension."""
    if mime_type is not None and mime_type.startswith("audio/"):
        return True
    return PurePath(file_name or "").suffix.lower().lstrip(".") in AUDIO_EXTENSIONS


@dataclass(frozen=True, slots=True)
class _Clip:
    """The audio a message carries, as Telegram describes it."""

    file_id: str
    name: str
    seconds: int | None
    size: int | None


def _seconds(duration: int | timedelta) -> int:
    """A duration as PTB gives it (seconds, or a timedelta with PTB_TIMEDELTA) in seconds."""
    return int(duration.total_seconds()) if isinstance(duration, timedelta) else duration


def _clip(message: Message, lang: str | None) -> _Clip | None:
    """The voice message, audio file or video message of `message`, if it has one."""
    if (voice := message.voice) is not None:
        name = say("voice_name_voice", lang)
        return _Clip(voice.file_id, name, _seconds(voice.duration), voice.file_size)
    if (note := message.video_note) is not None:
        name = say("voice_name_video_note", lang)
        return _Clip(note.file_id, name, _seconds(note.duration), note.file_size)
    if (track := message.audio) is not None:
        name = track.file_name or say("voice_name_voice", lang)
        return _Clip(track.file_id, name, _seconds(track.duration), track.file_size)
    if (file := message.document) is not None and is_audio_file(file.mime_type, file.file_name):
        name = file.file_name or say("voice_name_voice", lang)
        return _Clip(file.file_id, name, None, file.file_size)  # a document states no length
    return None


class VoiceHandlers(Speaking):
    """Callbacks for voice messages, audio files and video messages."""

    def __init__(
        self, chat: ChatService, streams: AnswerStreams, langs: LanguageChoices, voice: VoiceService
    ) -> None:
        super().__init__(langs)
        self._chat = chat
        self._streams = streams
        self._voice = voice

    async def on_voice(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Transcribe in the message's turn, show the transcript, answer it as text."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        lang = self._lang(user)
        clip = _clip(message, lang)
        if clip is None or not self._addressed(message, context):
            return
        if (refusal := self._voice.refusal(clip.name, clip.seconds, clip.size)) is not None:
            await message.reply_text(describe_error(refusal, lang))
            return

        async def load_voice() -> Question:
            listener = await self._voice.listener(
                user.id, clip.name, chat_id=message.chat_id, topic=topic_of(message)
            )
            data = await download(
                context.bot, clip.file_id, clip.name, clip.size, TELEGRAM_DOWNLOAD_LIMIT
            )
            text = await self._voice.transcribe(listener, data, clip.name)
            await self._show(message, text, lang)
            # The caption ("translate this") is what is asked of the words said.
            if caption := self._caption(message, context):
                text = f"{caption}\n\n{text}"
            return Question(message.chat_id, profile_of(user), text, topic=topic_of(message))

        await self._chat.answer(
            # who asked where, until the turn comes
            Question(message.chat_id, profile_of(user), "", topic=topic_of(message)),
            open_stream(self._streams, message, lang, follow_ups=True),
            load=load_voice,
        )

    @staticmethod
    def _addressed(message: Message, context: ContextTypes.DEFAULT_TYPE) -> bool:
        """Private chats always; in a group a reply to the bot, or a caption mentioning it."""
        if message.chat.type == ChatType.PRIVATE:
            return True
        return addressed_text(message, context.bot.bot) is not None

    @staticmethod
    def _caption(message: Message, context: ContextTypes.DEFAULT_TYPE) -> str:
        """The caption without the bot's @mention."""
        if message.chat.type == ChatType.PRIVATE:
            return (message.caption or "").strip()
        return addressed_text(message, context.bot.bot) or ""

    @staticmethod
    async def _show(message: Message, transcript: str, lang: str | None) -> None:
        """ "🎙 You said:" and the transcript, collapsed (in a group, replying to the voice)."""
        view = transcript_view(say("voice_you_said", lang), transcript)
        entities = [MessageEntity(e.type, e.offset, e.length) for e in view.entities]
        await message.reply_text(
            view.text, entities=entities, do_quote=message.chat.type != ChatType.PRIVATE
        )
