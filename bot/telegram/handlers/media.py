"""Photos, albums and documents: downloaded through getFile, made into a question.

A photo (or an image sent as a file) goes to a model that can see, with the caption as the
question; photos sent together (one media group) become one question. Text files and PDFs
become text sent along with the caption (a PDF is read in a worker process that /stop and
shutdown end at once). The download happens when the question's turn comes, so answers keep
the order in which things were sent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from telegram import Document, InlineKeyboardMarkup, Message, PhotoSize, Update, User
from telegram.constants import ChatType
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes, ExtBot

from bot.chat import ChatService, Question
from bot.context import AttachedText
from bot.errors import DownloadFailed, FileTooBig, LLMError, NoVisionModel
from bot.languages import LanguageChoices
from bot.media import (
    PreparedImage,
    document_text,
    is_image,
    is_pdf,
    is_readable_document,
    prepare_image,
)
from bot.pdf_worker import pdf_text
from bot.records import StoredImage
from bot.telegram.answer_streams import AnswerStreams
from bot.telegram.handlers.chat import addressed_text, open_stream
from bot.telegram.handlers.common import Speaking, profile_of, topic_of
from bot.telegram.streaming import AnswerStream
from bot.texts import describe_error, say

TELEGRAM_DOWNLOAD_LIMIT = 20 * 1024 * 1024  # getFile hands bots files up to 20 MB
ALBUM_WAIT_S = 1.0  # Telegram sends an album's photos as separate messages, close together
DEFAULT_PHOTO_QUESTION = "Describe this image."
DEFAULT_ALBUM_QUESTION = "Describe these images."
DEFAULT_DOCUMENT_QUESTION = "Read this file and tell me briefly what it is about."

PullOffer = Callable[[str, int, str | None], InlineKeyboardMarkup | None]


@dataclass(slots=True)
class _Album:
    """The photos of one media group seen so far."""

    messages: list[Message]
    last_part_at: float
    complete: bool = False


@dataclass(slots=True)
class Albums:
    """Collects the messages of each media group until no new part came for `wait_s`."""

    wait_s: float = ALBUM_WAIT_S
    _open: dict[tuple[int, str], _Album] = field(default_factory=dict)

    def add(self, message: Message, group_id: str) -> _Album | None:
        """Add a part; the album when this part opened it (its handler answers for all)."""
        key = (message.chat_id, group_id)
        album = self._open.get(key)
        if album is not None and not album.complete:
            album.messages.append(message)
            album.last_part_at = time.monotonic()
            return None
        album = _Album([message], time.monotonic())
        self._open[key] = album
        return album

    async def parts(self, album: _Album) -> list[Message]:
        """Every part, once no new one came for `wait_s`, in the order they were sent."""
        # A debounce: each new part pushes the end further, so a timed sleep is the point here.
        while (quiet := time.monotonic() - album.last_part_at) < self.wait_s:  # noqa: ASYNC110
            await asyncio.sleep(self.wait_s - quiet)
        self.close(album)
        return sorted(album.messages, key=lambda m: m.message_id)

    def close(self, album: _Album) -> None:
        """Take no more parts into `album` and forget it (a later part starts a new one)."""
        album.complete = True
        for key, value in list(self._open.items()):
            if value is album:
                del self._open[key]


def largest_photo(sizes: Sequence[PhotoSize], limit: int) -> PhotoSize | None:
    """The biggest size of a photo Telegram will hand over (None if every size is too big)."""
    fitting = [p for p in sizes if (p.file_size or 0) <= limit]
    return max(fitting, key=lambda p: p.width * p.height, default=None)


async def download(
    bot: ExtBot[Any], file_id: str, name: str, size: int | None, limit: int
) -> bytes:
    """The file's bytes through getFile; FileTooBig past `limit`, DownloadFailed otherwise."""
    if size is not None and size > limit:
        raise FileTooBig(name, size, limit)
    try:
        telegram_file = await bot.get_file(file_id)
        data = bytes(await telegram_file.download_as_bytearray())
    except BadRequest as err:
        if "too big" in err.message.lower():
            raise FileTooBig(name, size or TELEGRAM_DOWNLOAD_LIMIT + 1, limit) from err
        raise DownloadFailed(name, err.message) from err
    except TelegramError as err:
        raise DownloadFailed(name, str(err)) from err
    if len(data) > limit:
        raise FileTooBig(name, len(data), limit)
    return data


def stored(image: PreparedImage) -> StoredImage:
    """A prepared image as the conversation keeps it."""
    return StoredImage(image.sha256, image.data, image.width, image.height)


class MediaHandlers(Speaking):
    """Callbacks for photos and documents."""

    def __init__(
        self,
        chat: ChatService,
        streams: AnswerStreams,
        langs: LanguageChoices,
        *,
        offer_pull: PullOffer,
        max_document_bytes: int,
        albums: Albums | None = None,
    ) -> None:
        super().__init__(langs)
        self._chat = chat
        self._streams = streams
        self._offer_pull = offer_pull
        self._max_document_bytes = max_document_bytes
        self._albums = albums or Albums()

    async def on_photo(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A photo, or one photo of an album: answered by a model that can see."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None or not message.photo:
            return
        if message.media_group_id is not None:
            album = self._albums.add(message, message.media_group_id)
            if album is None:
                return  # another part's handler answers the whole album
            try:
                await self._answer_album(message, user, album, context)
            finally:
                self._albums.close(album)
            return
        if not self._addressed(message, context):
            return

        async def load_photo() -> Question | None:
            if not await self._can_see(message, user):
                return None
            image = await self._photo(context.bot, message)
            caption = self._caption(message, context)
            return self._question(message, user, caption, DEFAULT_PHOTO_QUESTION, [image])

        await self._chat.answer(
            self._placeholder(message, user), self._stream(message, user), load=load_photo
        )

    async def on_document(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """An image sent as a file (like a photo), a text file or a PDF (read as text), or
        anything else (told what is supported)."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None or message.document is None:
            return
        if not self._addressed(message, context):
            return
        document = message.document
        name = document.file_name or "file"
        if is_image(document.mime_type, name):
            await self._answer_image_file(message, user, document, context)
        elif is_readable_document(document.mime_type, name):
            await self._answer_text_file(message, user, document, context)
        else:
            await message.reply_text(say("unsupported_file", self._lang(user), name=name))

    async def _answer_image_file(
        self, message: Message, user: User, document: Document, context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        name = document.file_name or "file"

        async def load_image() -> Question | None:
            if not await self._can_see(message, user):
                return None
            data = await download(
                context.bot, document.file_id, name, document.file_size, TELEGRAM_DOWNLOAD_LIMIT
            )
            image = await asyncio.to_thread(prepare_image, data, name)
            caption = self._caption(message, context)
            return self._question(message, user, caption, DEFAULT_PHOTO_QUESTION, [image])

        await self._chat.answer(
            self._placeholder(message, user), self._stream(message, user), load=load_image
        )

    async def _answer_text_file(
        self, message: Message, user: User, document: Document, context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        name = document.file_name or "file"
        size, limit = document.file_size, self._max_document_bytes
        if size is not None and size > limit:  # refused before anything is downloaded
            err = FileTooBig(name, size, limit)
            await message.reply_text(describe_error(err, self._lang(user)))
            return

        async def load_document() -> Question:
            data = await download(context.bot, document.file_id, name, size, limit)
            if is_pdf(document.mime_type, name):
                text = await pdf_text(data, name)
            else:
                text = await asyncio.to_thread(document_text, data, document.mime_type, name)
            return Question(
                message.chat_id,
                profile_of(user),
                self._caption(message, context) or DEFAULT_DOCUMENT_QUESTION,
                document=AttachedText(name, text),
                topic=topic_of(message),
            )

        await self._chat.answer(
            self._placeholder(message, user), self._stream(message, user), load=load_document
        )

    async def _answer_album(
        self, first: Message, user: User, album: _Album, context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        if first.chat.type != ChatType.PRIVATE:
            # In a group any part may carry the mention: wait for all of them to decide.
            parts = await self._albums.parts(album)
            if not any(self._addressed(part, context) for part in parts):
                return

        async def load_album() -> Question | None:
            if not await self._can_see(first, user):
                return None
            parts = await self._albums.parts(album)
            images = [await self._photo(context.bot, part) for part in parts]
            captioned = next((p for p in parts if p.caption), None)
            caption = self._caption(captioned, context) if captioned else ""
            return self._question(first, user, caption, DEFAULT_ALBUM_QUESTION, images)

        await self._chat.answer(
            self._placeholder(first, user), self._stream(first, user), load=load_album
        )

    # -- helpers ----------------------------------------------------------------------------

    def _addressed(self, message: Message, context: ContextTypes.DEFAULT_TYPE) -> bool:
        """Private chats always; in a group only a caption that mentions the bot, or a reply."""
        if message.chat.type == ChatType.PRIVATE:
            return True
        return addressed_text(message, context.bot.bot) is not None

    def _caption(self, message: Message, context: ContextTypes.DEFAULT_TYPE) -> str:
        """The caption without the bot's @mention."""
        if message.chat.type == ChatType.PRIVATE:
            return (message.caption or "").strip()
        return addressed_text(message, context.bot.bot) or ""

    async def _can_see(self, message: Message, user: User) -> bool:
        """Whether a model can answer a photo now; if none can, say so (with a Pull button
        for admins) and answer nothing. Asked in the photo's turn, before downloading."""
        try:
            await self._chat.vision_model(user.id)
        except NoVisionModel as err:
            keyboard = (
                None if err.installed else self._offer_pull(err.model, user.id, self._lang(user))
            )
            await message.reply_text(describe_error(err, self._lang(user)), reply_markup=keyboard)
            return False
        except LLMError:
            pass  # Ollama down or the like: the answer itself says so
        return True

    async def _photo(self, bot: ExtBot[Any], message: Message) -> PreparedImage:
        name = "photo"
        size = largest_photo(message.photo, TELEGRAM_DOWNLOAD_LIMIT)
        if size is None:
            biggest = max(message.photo, key=lambda p: p.file_size or 0)
            raise FileTooBig(name, biggest.file_size or 0, TELEGRAM_DOWNLOAD_LIMIT)
        data = await download(bot, size.file_id, name, size.file_size, TELEGRAM_DOWNLOAD_LIMIT)
        return await asyncio.to_thread(prepare_image, data, name)

    @staticmethod
    def _question(
        message: Message, user: User, caption: str, default: str, images: Sequence[PreparedImage]
    ) -> Question:
        return Question(
            message.chat_id,
            profile_of(user),
            caption or default,
            images=tuple(stored(image) for image in images),
            topic=topic_of(message),
        )

    @staticmethod
    def _placeholder(message: Message, user: User) -> Question:
        """Who asked where, until the turn comes and the files are fetched."""
        return Question(message.chat_id, profile_of(user), "", topic=topic_of(message))

    def _stream(self, message: Message, user: User) -> AnswerStream:
        return open_stream(self._streams, message, self._lang(user), follow_ups=True)
