"""In-process fake of the Telegram Bot API for tests.

``FakeTelegram`` is a small aiohttp server that speaks the real Bot API HTTP protocol closely
enough that python-telegram-bot's real HTTP layer (``HTTPXRequest``) works against it, and that
enforces the limits Telegram enforces, so a bot that would be rejected by Telegram is rejected
here too, with the same status codes and (as far as they are known) the same descriptions.

Point the bot at it with::

    Bot(token, base_url=f"{fake.url}/bot", base_file_url=f"{fake.url}/file/bot")

Routes: ``/bot{token}/{method}`` (GET or POST, method names case-insensitive, parameters from
the query string and from urlencoded, multipart or JSON bodies) and
``/file/bot{token}/{file_path}`` (file downloads).

Things worth knowing (see also the docstring of :class:`FakeTelegram`):

* Everything runs on the event loop of the test; the fake keeps no locks because no handler
  awaits in the middle of a state change.
* Waiting (``wait_for``, long polling) re-checks on every state change: after every handled
  request and every injected update. It uses a "generation" ``asyncio.Event`` that is replaced
  on each change instead of an ``asyncio.Condition``, so that the synchronous injection methods
  (``user_sends`` ...) can wake waiters without awaiting.
* ``parse_mode`` is refused (400): the bot sends plain text with ``entities``, which the fake
  checks the way Telegram does.
* Telegram trims leading and trailing whitespace from message texts; the fake keeps the text
  exactly as sent.
* Rate limits count only the calls that succeeded (a request rejected with 400 does not use a
  slot); a 429 blocks the chat's writing methods for ``retry_after`` seconds.
* In groups the bot runs in privacy mode (``can_read_all_group_messages`` is false): a user's
  group message is delivered as an update only if it is a command (to this bot or to no bot in
  particular), a reply to one of the bot's messages, or mentions the bot. Set
  ``fake.privacy_mode = False`` to deliver all of them.
* Topics in private chats (Bot API 9.3/9.4) exist only while ``fake.topics_enabled``: the bot
  creates them with createForumTopic, users with ``user_creates_topic``; a message_thread_id
  naming no live topic of a private chat gets 400 "Bad Request: message thread not found".
  ``messages_in`` / ``bot_texts_in`` read one topic; ``bot_messages`` leaves service messages
  ("topic created") out.
* The bot's ``allowed_updates`` (getUpdates or setWebhook) filter the updates of the newer
  helpers (``user_creates_topic``, ``user_presses_stop``): a type the bot did not list is
  dropped as Telegram drops it (``dropped_updates``). The older helpers and ``inject_update``
  queue whatever they make, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from aiohttp import ClientSession, web

JSON = dict[str, Any]

BOT_ID = 7000001
BOT_USERNAME = "ollagram_test_bot"
BOT_USER: JSON = {
    "id": BOT_ID,
    "is_bot": True,
    "first_name": "Ollagram",
    "username": BOT_USERNAME,
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
#: The bot as it appears in the ``from`` field of its messages.
BOT_FROM: JSON = {"id": BOT_ID, "is_bot": True, "first_name": "Ollagram", "username": BOT_USERNAME}

MAX_TEXT_LENGTH = 4096  # UTF-16 code units, after entities parsing
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_LENGTH = 200
MAX_DOWNLOAD_SIZE = 20 * 1024 * 1024  # getFile refuses bigger files

ENTITY_TYPES = frozenset(
    {
        "mention",
        "hashtag",
        "cashtag",
        "bot_command",
        "url",
        "email",
        "phone_number",
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "blockquote",
        "expandable_blockquote",
        "code",
        "pre",
        "text_link",
        "text_mention",
        "custom_emoji",
        "date_time",
    }
)
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
#: Methods that write messages: they share the per-chat rate limit.
WRITING_METHODS = frozenset(
    {
        "sendMessage",
        "editMessageText",
        "editMessageReplyMarkup",
        "deleteMessage",
        "sendPhoto",
        "sendDocument",
    }
)

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
REJECTED_FORMATTING = (
    "Bad Request: can't parse entities: Can't find end of the entity starting at byte offset 12"
)
#: A message_thread_id that names no topic of the chat (telegram-bot-api Client.cpp,
#: check_message_topic: "Message thread not found" becomes this).
THREAD_NOT_FOUND = "Bad Request: message thread not found"
#: createForumTopic & co. in a chat without topics (reported in NousResearch/hermes-agent#115019:
#: a private chat with a bot whose Threaded Mode is off).
NOT_A_FORUM = "Bad Request: the chat is not a forum"
#: editForumTopic/deleteForumTopic of a topic that does not exist (any more): the MTProto error,
#: passed through (seen by bots in the wild, e.g. deleteForumTopic of a deleted topic).
TOPIC_ID_INVALID = "Bad Request: TOPIC_ID_INVALID"
#: editForumTopic changing nothing: TDLib passes the server's error through to bots
#: (ForumTopicManager.cpp, EditForumTopicQuery::on_error swallows it only for users).
TOPIC_NOT_MODIFIED = "Bad Request: TOPIC_NOT_MODIFIED"
MAX_TOPIC_NAME_LENGTH = 128
#: createForumTopic's icon_color: "Currently, must be one of" these (Bot API, createForumTopic).
TOPIC_ICON_COLORS = (7322096, 16766590, 13338331, 9367192, 16749490, 16478047)
#: Every update type a bot can list in allowed_updates (telegram-bot-api 10.0
#: get_update_type_name, plus Bot API 10.3's stopped_message_generation).
UPDATE_TYPES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
        "message_reaction",
        "message_reaction_count",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "purchased_paid_media",
        "managed_bot",
        "guest_message",
        "stopped_message_generation",
    }
)
#: Left out when allowed_updates was never set or set to an empty list ("all update types except
#: chat_member, message_reaction, and message_reaction_count"; Client.h
#: DEFAULT_ALLOWED_UPDATE_TYPES): stopped_message_generation is in the default set.
NOT_DELIVERED_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
#: "the streamed draft is ephemeral and acts as a temporary 30-second preview" (sendMessageDraft)
DRAFT_LIFETIME = 30.0

_INT_PARAMS = frozenset(
    {
        "chat_id",
        "message_id",
        "offset",
        "limit",
        "timeout",
        "draft_id",
        "message_thread_id",
        "reply_to_message_id",
        "cache_time",
        "user_id",
    }
)
_JSON_PARAMS = frozenset(
    {
        "entities",
        "caption_entities",
        "reply_markup",
        "reply_parameters",
        "commands",
        "allowed_updates",
        "link_preview_options",
        "scope",
        "message_ids",
    }
)
_BOOL_PARAMS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "show_alert",
        "drop_pending_updates",
        "disable_web_page_preview",
        "allow_sending_without_reply",
        "disable_content_type_detection",
        "has_spoiler",
        "show_caption_above_media",
        "can_stop",
        "keep_on_stop",
    }
)
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_MENTION_RE = re.compile(r"@[A-Za-z0-9_]{5,32}")


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit of Telegram's entity offsets."""
    return len(text.encode("utf-16-le")) // 2


# ---------------------------------------------------------------------------------------------
# Public records
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class FakeUser:
    """A Telegram user who talks to the bot."""

    id: int
    first_name: str = "Alice"
    username: str | None = None
    language_code: str | None = "en"
    last_name: str | None = None

    def to_api(self) -> JSON:
        user: JSON = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name is not None:
            user["last_name"] = self.last_name
        if self.username is not None:
            user["username"] = self.username
        if self.language_code is not None:
            user["language_code"] = self.language_code
        return user


@dataclass(slots=True)
class StoredMessage:
    """A message as the fake keeps it (user's and bot's messages alike)."""

    message_id: int
    chat_id: int
    from_bot: bool
    date: int
    text: str | None = None
    entities: list[JSON] = field(default_factory=list)
    reply_markup: JSON | None = None
    reply_to_message_id: int | None = None
    #: Previous texts, oldest first; one per successful editMessageText.
    edits: list[str] = field(default_factory=list)
    #: Successful edits of any kind (text or reply markup).
    edit_count: int = 0
    edit_date: int | None = None
    from_user: FakeUser | None = None
    message_thread_id: int | None = None
    parse_mode: str | None = None
    link_preview_options: JSON | None = None
    caption: str | None = None
    caption_entities: list[JSON] = field(default_factory=list)
    photo: list[JSON] | None = None
    document: JSON | None = None
    media_group_id: str | None = None
    voice: JSON | None = None
    audio: JSON | None = None
    video_note: JSON | None = None
    #: Service messages (ForumTopicCreated / ForumTopicEdited) posted in a topic.
    forum_topic_created: JSON | None = None
    forum_topic_edited: JSON | None = None

    @property
    def is_service(self) -> bool:
        """A service message ("topic created", "topic renamed"), not something anyone wrote."""
        return self.forum_topic_created is not None or self.forum_topic_edited is not None

    @property
    def content(self) -> str:
        """The text, or the caption of a media message ("" when there is neither)."""
        if self.text is not None:
            return self.text
        return self.caption or ""

    @property
    def inline_keyboard(self) -> list[list[JSON]]:
        if self.reply_markup is None:
            return []
        rows: list[list[JSON]] = self.reply_markup.get("inline_keyboard", [])
        return rows

    @property
    def callback_data(self) -> list[str]:
        """The callback_data of every inline button, row by row."""
        return [
            str(button["callback_data"])
            for row in self.inline_keyboard
            for button in row
            if "callback_data" in button
        ]


@dataclass(slots=True)
class SentMessage:
    """What ``user_sends*`` returns: the stored message and the update that carries it."""

    message: StoredMessage
    #: None when the bot does not receive it (privacy mode in groups).
    update_id: int | None

    @property
    def message_id(self) -> int:
        return self.message.message_id

    @property
    def chat_id(self) -> int:
        return self.message.chat_id


@dataclass(slots=True)
class SentCallback:
    """What ``user_presses`` returns."""

    update_id: int
    callback_query_id: str
    chat_id: int
    message_id: int
    data: str


@dataclass(slots=True)
class Draft:
    """One accepted sendMessageDraft call."""

    chat_id: int
    draft_id: int
    text: str
    entities: list[JSON]
    time: float
    parse_mode: str | None = None
    message_thread_id: int | None = None
    #: Bot API 10.3: the user is shown Telegram's Stop button for this draft.
    can_stop: bool = False
    #: Bot API 10.3: the draft stays in the chat when the user presses Stop.
    keep_on_stop: bool = False
    #: The user pressed Stop on this draft (see ``FakeTelegram.user_presses_stop``).
    stopped: bool = False
    #: Sent with the draft_id the user had already stopped: accepted, never shown.
    after_stop: bool = False


@dataclass(slots=True)
class Topic:
    """A topic of a private chat with the bot (Bot API 9.3/9.4)."""

    message_thread_id: int
    name: str
    icon_color: int
    icon_custom_emoji_id: str | None = None
    created_by_bot: bool = True
    deleted: bool = False

    def to_api(self) -> JSON:
        """The ForumTopic object createForumTopic returns."""
        topic: JSON = {
            "message_thread_id": self.message_thread_id,
            "name": self.name,
            "icon_color": self.icon_color,
        }
        if self.icon_custom_emoji_id:
            topic["icon_custom_emoji_id"] = self.icon_custom_emoji_id
        return topic


@dataclass(slots=True)
class TopicRename:
    """One rename of a topic (editForumTopic with a new name)."""

    chat_id: int
    message_thread_id: int
    old_name: str
    new_name: str


@dataclass(slots=True)
class StopPress:
    """What ``user_presses_stop`` returns (and ``stop_presses`` records)."""

    chat_id: int
    message_thread_id: int | None
    draft_id: int
    #: The stopped draft's text (what the user saw when pressing).
    text: str
    #: keep_on_stop: the draft stays shown; otherwise it disappears at once.
    kept: bool
    #: None when the bot did not ask for stopped_message_generation in allowed_updates.
    update_id: int | None


@dataclass(slots=True)
class Call:
    """One request the fake answered."""

    method: str
    params: JSON
    status: int
    time: float
    response: JSON = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass(slots=True)
class CallbackAnswer:
    """One accepted answerCallbackQuery call."""

    callback_query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    time: float


@dataclass(slots=True)
class FakeFile:
    """A file the bot can getFile and download."""

    file_id: str
    file_unique_id: str
    size: int
    file_path: str
    data: bytes | None


@dataclass(slots=True)
class Fault:
    """An injected failure (see ``FakeTelegram.fail_next``)."""

    status: int
    description: str
    retry_after: int | None
    times: int


@dataclass(slots=True)
class ChatState:
    id: int
    type: str
    title: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    next_message_id: int = 1
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    #: Topics of a private chat, by message_thread_id (deleted ones stay, marked).
    topics: dict[int, Topic] = field(default_factory=dict)

    def to_api(self) -> JSON:
        chat: JSON = {"id": self.id, "type": self.type}
        if self.type == "private":
            chat["first_name"] = self.first_name or "User"
            if self.last_name is not None:
                chat["last_name"] = self.last_name
            if self.username is not None:
                chat["username"] = self.username
        else:
            chat["title"] = self.title or "Group"
        return chat


@dataclass(slots=True)
class _RateWindow:
    stamps: deque[float] = field(default_factory=deque)
    blocked_until: float = 0.0


class ApiError(Exception):
    """Raised inside handlers; becomes an ``{"ok": false, ...}`` answer."""

    def __init__(self, status: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


def _bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


# ---------------------------------------------------------------------------------------------
# Formatting: entity validation
# ---------------------------------------------------------------------------------------------


def _entity_error(detail: str) -> ApiError:
    return _bad(f"can't parse entities: {detail}")


def validate_entities(text: str, entities: object) -> list[JSON]:
    """Check entities the way Telegram does and return them as a list of dicts.

    Offsets and lengths are in UTF-16 code units.
    """
    if not isinstance(entities, list):
        raise _bad("can't parse entities JSON object")
    total = utf16_len(text)
    checked: list[JSON] = []
    for entity in entities:
        if not isinstance(entity, dict):
            raise _entity_error("MessageEntity must be an Object")
        kind = entity.get("type")
        offset = entity.get("offset")
        length = entity.get("length")
        if not isinstance(kind, str):
            raise _entity_error('Field "type" must be of type String')
        if not isinstance(offset, int) or isinstance(offset, bool):
            raise _entity_error('Field "offset" must be of type Number')
        if not isinstance(length, int) or isinstance(length, bool):
            raise _entity_error('Field "length" must be of type Number')
        if kind not in ENTITY_TYPES:
            raise _entity_error(f'unsupported entity type "{kind}"')
        if offset < 0:
            raise _entity_error(f"entity offset {offset} must be non-negative")
        if length <= 0:
            raise _entity_error(f"entity at UTF-16 offset {offset} has non-positive length")
        if offset + length > total:
            raise _entity_error(
                f"entity beginning at UTF-16 offset {offset} ends after the end of the text "
                f"at UTF-16 offset {total}"
            )
        if kind == "text_link" and not entity.get("url"):
            raise _entity_error(f"text_link entity at UTF-16 offset {offset} has no URL")
        if kind == "text_mention" and not isinstance(entity.get("user"), dict):
            raise _entity_error(f"text_mention entity at UTF-16 offset {offset} has no user")
        if kind == "custom_emoji" and not entity.get("custom_emoji_id"):
            raise _entity_error(f"custom_emoji entity at UTF-16 offset {offset} has no id")
        checked.append(dict(entity))
    return checked


def _normalized_entities(entities: Iterable[JSON]) -> list[JSON]:
    return sorted(
        (dict(e) for e in entities),
        key=lambda e: (e["offset"], -e["length"], e["type"], json.dumps(e, sort_keys=True)),
    )


def _validate_reply_markup(markup: object) -> JSON:
    if not isinstance(markup, dict):
        raise _bad("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
        for row in rows:
            for button in row:
                if not isinstance(button, dict):
                    raise _bad(
                        "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
                    )
                if not isinstance(button.get("text"), str) or not button["text"]:
                    raise _bad("BUTTON_TEXT_INVALID")
                actions = set(button) - {"text", "style", "icon_custom_emoji_id"}
                if not actions:
                    raise _bad("text buttons are unallowed in the inline keyboard")
                if "callback_data" in button:
                    data = button["callback_data"]
                    size = len(str(data).encode("utf-8"))
                    if not isinstance(data, str) or not 1 <= size <= MAX_CALLBACK_DATA_BYTES:
                        raise _bad("BUTTON_DATA_INVALID")
                if "url" in button and not re.match(r"(https?|tg)://", str(button["url"])):
                    raise _bad("BUTTON_URL_INVALID")
    elif not {"keyboard", "remove_keyboard", "force_reply"} & set(markup):
        raise _bad("can't parse reply keyboard markup JSON object")
    return dict(markup)


def _inline_markup(markup: JSON | None) -> JSON | None:
    """The part of a reply markup that Telegram keeps on (and returns with) a message."""
    if markup is not None and "inline_keyboard" in markup:
        return {"inline_keyboard": markup["inline_keyboard"]}
    return None


# ---------------------------------------------------------------------------------------------
# Request parameters
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Upload:
    filename: str
    content_type: str
    data: bytes


def _decode_param(name: str, value: object) -> object:
    if name in _INT_PARAMS:
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                return int(value.strip())
            if name == "chat_id":
                return value  # "@username": not supported, becomes "chat not found"
        raise _bad(f"invalid {name} specified")
    if name in _JSON_PARAMS:
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                if name in ("reply_markup",):
                    raise _bad("can't parse reply keyboard markup JSON object") from None
                raise _bad(f"can't parse {name} JSON object") from None
        return value
    if name in _BOOL_PARAMS:
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1", "yes")
        return bool(value)
    return value


async def _read_params(request: web.Request) -> tuple[JSON, dict[str, _Upload]]:
    raw: dict[str, object] = dict(request.query)
    uploads: dict[str, _Upload] = {}
    if request.method == "POST" and request.body_exists:
        content_type = request.content_type
        if content_type == "application/json":
            body = await request.read()
            if body.strip():
                try:
                    data = json.loads(body)
                except ValueError:
                    raise _bad("can't parse JSON object") from None
                if not isinstance(data, dict):
                    raise _bad("JSON object expected")
                raw.update(data)
        elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, item in form.items():
                if isinstance(item, web.FileField):
                    uploads[key] = _Upload(item.filename, item.content_type, item.file.read())
                elif isinstance(item, (bytes, bytearray)):
                    raw[key] = bytes(item).decode("utf-8", "replace")
                else:
                    raw[key] = item
    params: JSON = {}
    for key, value in raw.items():
        if isinstance(value, str) and value.startswith("attach://"):
            name = value.removeprefix("attach://")
            if name in uploads:
                uploads[key] = uploads[name]
                continue
        params[key] = _decode_param(key, value)
    for key, upload in uploads.items():
        params.setdefault(key, f"<upload {upload.filename} ({len(upload.data)} bytes)>")
    return params, uploads


class _Params:
    """Typed access to the decoded parameters of one request."""

    __slots__ = ("uploads", "values")

    def __init__(self, values: JSON, uploads: dict[str, _Upload]) -> None:
        self.values = values
        self.uploads = uploads

    def has(self, name: str) -> bool:
        return self.values.get(name) is not None

    def str_or_none(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None:
            return None
        return value if isinstance(value, str) else json.dumps(value)

    def str_(self, name: str) -> str:
        value = self.str_or_none(name)
        if not value:
            raise _bad(f"{name} is empty")
        return value

    def int_or_none(self, name: str) -> int | None:
        value = self.values.get(name)
        if value is None:
            return None
        if not isinstance(value, int):
            raise _bad(f"invalid {name} specified")
        return value

    def int_(self, name: str) -> int:
        value = self.int_or_none(name)
        if value is None:
            raise _bad(f"{name} is empty")
        return value

    def bool_(self, name: str) -> bool:
        return bool(self.values.get(name))

    def obj_or_none(self, name: str) -> Any:
        return self.values.get(name)


# ---------------------------------------------------------------------------------------------
# The fake server
# ---------------------------------------------------------------------------------------------


_Handler = Callable[["_Params"], Any]


class FakeTelegram:
    """Fake Telegram Bot API server.

    Construct with ``FakeTelegram(token=..., private_limit=3, private_window=1.0,
    group_limit=20, group_window=60.0, draft_limit=10, draft_window=1.0, overall_limit=30,
    overall_window=1.0)`` (the last: writes across all chats); every limit is also
    a plain attribute that tests may change at any time.

    Switches and knobs (attributes):

    * ``drafts_supported`` (True): when False every sendMessageDraft gets 400
      "Bad Request: method sendMessageDraft can't be used".
    * ``reject_formatting`` (False) / ``reject_formatting_times`` (0): requests carrying
      entities, caption_entities or parse_mode get 400 ``REJECTED_FORMATTING`` (always, or for
      the next N such requests).
    * ``delay``: ``{method: seconds}`` to hold a method's answer back (simulate timeouts).
    * ``privacy_mode`` (True): see the module docstring.
    * ``fail_next(method, status, description, retry_after=None, times=1)``.
    * ``stall_next(method, seconds, times=1)``: hold the next answers of ``method`` back, then
      carry the call out anyway (Telegram does the work of a call whose client timed out).
    * ``topics_enabled`` (False): the bot's Threaded Mode (getMe ``has_topics_enabled``); topics
      in private chats (createForumTopic, message_thread_id) work only while it is on.
    * ``users_create_topics`` (True): getMe ``allows_users_to_create_topics`` (reported only
      while ``topics_enabled``); users may create and delete topics.
    * ``draft_lifetime`` (30.0 s): how long the user sees a draft after its last update.

    Records: ``calls``, ``drafts``, ``chat_actions``, ``chat_actions_by_thread``,
    ``callback_answers``, ``commands``, ``deleted_messages``, ``too_many_requests``,
    ``too_many_requests_by_chat``, ``topic_renames``, ``deleted_topics``, ``stop_presses``,
    ``dropped_updates`` (updates not delivered because the bot's ``allowed_updates`` leaves their
    type out).
    """

    def __init__(
        self,
        token: str = "123456:TEST-token",  # noqa: S107
        *,
        private_limit: int = 3,
        private_window: float = 1.0,
        group_limit: int = 20,
        group_window: float = 60.0,
        draft_limit: int = 10,
        draft_window: float = 1.0,
        overall_limit: int = 30,
        overall_window: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token
        self.private_limit = private_limit
        self.private_window = private_window
        self.group_limit = group_limit
        self.group_window = group_window
        self.draft_limit = draft_limit
        self.draft_window = draft_window
        # "not more than 30 messages per second" across all chats (Bot API FAQ, bulk sending);
        # drafts counted too
        self.overall_limit = overall_limit
        self.overall_window = overall_window
        self.clock = clock

        self.drafts_supported = True
        #: Set by setWebhook; updates are then POSTed there and getUpdates answers 409.
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None
        #: Real Telegram only calls HTTPS webhooks; tests on loopback allow plain HTTP.
        self.allow_http_webhooks = False
        #: (update_id, HTTP status the bot answered) for every webhook delivery.
        self.webhook_deliveries: list[tuple[int, int]] = []
        self._deliveries: set[asyncio.Task[None]] = set()
        self._webhook_session: ClientSession | None = None
        self.reject_formatting = False
        self.reject_formatting_times = 0
        self.privacy_mode = True
        self.delay: dict[str, float] = {}

        self.calls: list[Call] = []
        self.drafts: list[Draft] = []
        self.chat_actions: list[tuple[int, str]] = []
        self.callback_answers: list[CallbackAnswer] = []
        self.deleted_messages: list[StoredMessage] = []
        self.too_many_requests = 0
        self.too_many_requests_by_chat: dict[int, int] = {}
        self.blocked_by_user: set[int] = set()
        self.allowed_updates: list[str] | None = None
        self.commands_by_scope: dict[tuple[str, str], list[JSON]] = {}

        self.topics_enabled = False
        self.users_create_topics = True
        self.draft_lifetime = DRAFT_LIFETIME
        self.topic_renames: list[TopicRename] = []
        self.deleted_topics: list[tuple[int, Topic]] = []
        self.stop_presses: list[StopPress] = []
        self.dropped_updates: list[JSON] = []
        self.chat_actions_by_thread: list[tuple[int, int | None, str]] = []
        #: The draft each (chat_id, message_thread_id) shows, until a message replaces it.
        self._draft_views: dict[tuple[int, int | None], Draft] = {}

        self._chats: dict[int, ChatState] = {}
        self._updates: deque[JSON] = deque()
        self._update_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._files: dict[str, FakeFile] = {}
        self._open_callbacks: set[str] = set()
        self._faults: dict[str, list[Fault]] = {}
        self._stalls: dict[str, list[float]] = {}
        self._rates: dict[tuple[str, int], _RateWindow] = {}
        self._overall: deque[float] = deque()
        self._poll_generation = 0

        self._event = asyncio.Event()
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._url: str | None = None

        self._methods: dict[str, tuple[str, _Handler]] = {}
        for name, handler in (
            ("getMe", self._get_me),
            ("logOut", self._true),
            ("close", self._true),
            ("deleteWebhook", self._delete_webhook),
            ("setWebhook", self._set_webhook),
            ("getWebhookInfo", self._get_webhook_info),
            ("getUpdates", self._get_updates),
            ("setMyCommands", self._set_my_commands),
            ("getMyCommands", self._get_my_commands),
            ("deleteMyCommands", self._delete_my_commands),
            ("setMyDescription", self._true),
            ("setMyShortDescription", self._true),
            ("setChatMenuButton", self._true),
            ("sendMessage", self._send_message),
            ("editMessageText", self._edit_message_text),
            ("editMessageReplyMarkup", self._edit_message_reply_markup),
            ("deleteMessage", self._delete_message),
            ("sendMessageDraft", self._send_message_draft),
            ("sendChatAction", self._send_chat_action),
            ("answerCallbackQuery", self._answer_callback_query),
            ("getFile", self._get_file),
            ("sendDocument", self._send_document),
            ("sendPhoto", self._send_photo),
            ("createForumTopic", self._create_forum_topic),
            ("editForumTopic", self._edit_forum_topic),
            ("deleteForumTopic", self._delete_forum_topic),
        ):
            self._methods[name.lower()] = (name, handler)

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("FakeTelegram is not started")
        return self._url

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_route("GET", "/file/bot{token}/{file_path:.+}", self._handle_file)
        app.router.add_route("*", "/{tail:.*}", self._handle_unknown)
        self._stopping.clear()
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self._url = f"http://{host}:{port}"

    async def stop(self) -> None:
        self._stopping.set()
        self._changed()
        for task in list(self._deliveries):
            task.cancel()
        await asyncio.gather(*self._deliveries, return_exceptions=True)
        if self._webhook_session is not None:
            session, self._webhook_session = self._webhook_session, None
            await session.close()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- state change notification ---------------------------------------------------------------

    def _changed(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def _wait_change(self, event: asyncio.Event, timeout: float) -> None:
        if timeout <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until ``predicate()`` is true, re-checking after every state change."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._event
            if predicate():
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"FakeTelegram.wait_for: condition not met within {timeout} s\n{self.dump()}"
                )
            await self._wait_change(event, remaining)

    async def wait_for_bot_messages(
        self, chat_id: int, count: int = 1, timeout: float = 5.0
    ) -> list[StoredMessage]:
        """Wait until the chat holds at least ``count`` bot messages; return them all."""
        await self.wait_for(lambda: len(self.bot_messages(chat_id)) >= count, timeout)
        return self.bot_messages(chat_id)

    # -- injection ----------------------------------------------------------------------------

    def add_chat(
        self,
        chat_id: int,
        *,
        chat_type: str | None = None,
        title: str | None = None,
        user: FakeUser | None = None,
    ) -> ChatState:
        """Make a chat known (the bot gets "chat not found" for chats it has never seen)."""
        chat = self._chats.get(chat_id)
        if chat is None:
            kind = chat_type or ("private" if chat_id > 0 else "group")
            chat = ChatState(id=chat_id, type=kind, title=title)
            if kind == "private":
                who = user or FakeUser(id=chat_id)
                chat.first_name = who.first_name
                chat.last_name = who.last_name
                chat.username = who.username
            self._chats[chat_id] = chat
        elif title is not None:
            chat.title = title
        return chat

    def _queue_update(self, payload: JSON) -> int:
        update_id = next(self._update_ids)
        update = {"update_id": update_id, **payload}
        if self.webhook_url is not None:
            # With a webhook set, Telegram POSTs each update to it instead of queueing it.
            task = asyncio.get_running_loop().create_task(self._deliver_to_webhook(update))
            self._deliveries.add(task)
            task.add_done_callback(self._deliveries.discard)
        else:
            self._updates.append(update)
        self._changed()
        return update_id

    async def _deliver_to_webhook(self, update: JSON) -> None:
        """POST one update as Telegram does, with the secret header; retried a few times."""
        assert self.webhook_url is not None
        headers = {"Content-Type": "application/json"}
        if self.webhook_secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook_secret
        if self._webhook_session is None:
            self._webhook_session = ClientSession()
        status = 0
        for _ in range(3):
            try:
                async with self._webhook_session.post(
                    self.webhook_url, data=json.dumps(update), headers=headers
                ) as response:
                    status = response.status
            except OSError:
                status = 0
            if status == 200:
                break
            await asyncio.sleep(0.1)
        self.webhook_deliveries.append((int(update["update_id"]), status))
        self._changed()

    def inject_update(self, payload: JSON) -> int:
        """Queue a raw update (without update_id, which is assigned); return its update_id."""
        return self._queue_update(payload)

    def wants(self, kind: str) -> bool:
        """Whether Telegram would create an update of this type for the bot now.

        The bot's last ``allowed_updates`` (getUpdates or setWebhook) decides; never set, empty,
        or naming no known type means the default: every type but chat_member, message_reaction
        and message_reaction_count (Client.cpp get_allowed_update_types). Telegram drops the
        others when they happen: they are not delivered later either.
        """
        listed = [kind for kind in self.allowed_updates or () if kind in UPDATE_TYPES]
        if not listed:
            return kind not in NOT_DELIVERED_BY_DEFAULT
        return kind in listed

    def _queue_wanted(self, kind: str, payload: JSON) -> int | None:
        """Queue an update of ``kind`` if the bot's allowed_updates lets it through.

        Only the newer helpers (topics, Stop) filter; the older ones (``user_sends``,
        ``user_edits``, ``user_presses``, ``inject_update``) queue whatever they make.
        """
        if not self.wants(kind):
            self.dropped_updates.append({kind: payload})
            self._changed()
            return None
        return self._queue_update({kind: payload})

    def _user_chat(
        self, user: FakeUser, chat_id: int | None, chat_type: str, chat_title: str | None
    ) -> ChatState:
        if chat_type == "private":
            if chat_id is not None and chat_id != user.id:
                raise AssertionError("a private chat's id is the user's id")
            return self.add_chat(user.id, chat_type="private", user=user)
        if chat_id is None or chat_id >= 0:
            raise AssertionError(f"a {chat_type} chat needs a negative chat_id")
        return self.add_chat(chat_id, chat_type=chat_type, title=chat_title or "Test Group")

    def _new_message(self, chat: ChatState, **fields: Any) -> StoredMessage:
        message = StoredMessage(
            message_id=chat.next_message_id, chat_id=chat.id, date=int(time.time()), **fields
        )
        chat.next_message_id += 1
        chat.messages[message.message_id] = message
        return message

    def _deliver_user_message(self, message: StoredMessage, chat: ChatState) -> int | None:
        if chat.type != "private" and self.privacy_mode and not self._bot_sees(message, chat):
            self._changed()
            return None
        return self._queue_update({"message": self.render(message)})

    def _bot_sees(self, message: StoredMessage, chat: ChatState) -> bool:
        text = message.content
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            _, _, addressee = command.partition("@")
            if not addressee or addressee.lower() == BOT_USERNAME.lower():
                return True
        if f"@{BOT_USERNAME}".lower() in text.lower():
            return True
        if message.reply_to_message_id is not None:
            replied = chat.messages.get(message.reply_to_message_id)
            return replied is not None and replied.from_bot
        return False

    @staticmethod
    def _auto_entities(text: str) -> list[JSON]:
        entities: list[JSON] = []
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(command)})
        for match in _MENTION_RE.finditer(text):
            entities.append(
                {
                    "type": "mention",
                    "offset": utf16_len(text[: match.start()]),
                    "length": utf16_len(match.group()),
                }
            )
        return entities

    def _check_reply_to(self, chat: ChatState, reply_to: int | None) -> None:
        if reply_to is not None and reply_to not in chat.messages:
            raise AssertionError(f"chat {chat.id} has no message {reply_to} to reply to")

    def _live_topic(self, chat: ChatState, message_thread_id: int) -> Topic | None:
        topic = chat.topics.get(message_thread_id)
        if topic is None or topic.deleted or not self.topics_enabled:
            return None
        return topic

    def _check_user_thread(self, chat: ChatState, message_thread_id: int | None) -> None:
        if message_thread_id is None or chat.type != "private":
            return
        if self._live_topic(chat, message_thread_id) is None:
            raise AssertionError(
                f"chat {chat.id} has no topic {message_thread_id} to write in "
                f"(topics: {self.topics_of(chat.id)}, topics_enabled={self.topics_enabled})"
            )

    def user_sends(
        self,
        user: FakeUser,
        text: str,
        *,
        chat_id: int | None = None,
        chat_type: str = "private",
        chat_title: str | None = None,
        reply_to: int | None = None,
        entities: list[JSON] | None = None,
        message_thread_id: int | None = None,
    ) -> SentMessage:
        """A user writes ``text``; queue the update (commands get a bot_command entity).

        In a private chat ``message_thread_id`` must name a live topic (the message then carries
        ``message_thread_id`` and ``is_topic_message``)."""
        chat = self._user_chat(user, chat_id, chat_type, chat_title)
        self._check_reply_to(chat, reply_to)
        self._check_user_thread(chat, message_thread_id)
        message = self._new_message(
            chat,
            from_bot=False,
            from_user=user,
            text=text,
            entities=self._auto_entities(text) if entities is None else entities,
            reply_to_message_id=reply_to,
            message_thread_id=message_thread_id,
        )
        return SentMessage(message, self._deliver_user_message(message, chat))

    def user_edits(
        self, user: FakeUser, message_id: int, text: str, *, chat_id: int | None = None
    ) -> int:
        """A user edits one of their messages; queue an edited_message update."""
        chat = self._chats[user.id if chat_id is None else chat_id]
        message = chat.messages[message_id]
        if message.text is not None:
            message.edits.append(message.text)
        message.text = text
        message.entities = self._auto_entities(text)
        message.edit_count += 1
        message.edit_date = int(time.time())
        return self._queue_update({"edited_message": self.render(message)})

    def add_file(
        self,
        data: bytes | None = None,
        *,
        size: int | None = None,
        file_path: str | None = None,
    ) -> str:
        """Register a file; return its file_id. ``size`` alone declares a file without bytes."""
        if data is None and size is None:
            raise ValueError("add_file needs data or size")
        number = next(self._file_ids)
        file_id = f"BQACAgIAAxkFILE{number:06d}"
        self._files[file_id] = FakeFile(
            file_id=file_id,
            file_unique_id=f"AgAD{number:06d}",
            size=len(data) if size is None and data is not None else int(size or 0),
            file_path=file_path or f"documents/file_{number}.bin",
            data=data,
        )
        return file_id

    def file(self, file_id: str) -> FakeFile:
        return self._files[file_id]

    def user_sends_photo(
        self,
        user: FakeUser,
        file_ids: Sequence[str],
        caption: str | None = None,
        *,
        media_group_id: str | None = None,
        chat_id: int | None = None,
        chat_type: str = "private",
        chat_title: str | None = None,
        reply_to: int | None = None,
        message_thread_id: int | None = None,
    ) -> SentMessage:
        """A user sends a photo; ``file_ids`` (from add_file) are its sizes, smallest first."""
        chat = self._user_chat(user, chat_id, chat_type, chat_title)
        self._check_reply_to(chat, reply_to)
        self._check_user_thread(chat, message_thread_id)
        sizes: list[JSON] = []
        for index, file_id in enumerate(file_ids):
            stored = self._files[file_id]
            side = 90 * 2 ** min(index, 4)
            sizes.append(
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "width": side,
                    "height": side * 3 // 4,
                    "file_size": stored.size,
                }
            )
        message = self._new_message(
            chat,
            from_bot=False,
            from_user=user,
            photo=sizes,
            caption=caption,
            caption_entities=self._auto_entities(caption) if caption else [],
            media_group_id=media_group_id,
            reply_to_message_id=reply_to,
            message_thread_id=message_thread_id,
        )
        return SentMessage(message, self._deliver_user_message(message, chat))

    def user_sends_document(
        self,
        user: FakeUser,
        file_id: str,
        *,
        file_name: str = "file.txt",
        mime_type: str = "text/plain",
        caption: str | None = None,
        chat_id: int | None = None,
        chat_type: str = "private",
        chat_title: str | None = None,
        reply_to: int | None = None,
        message_thread_id: int | None = None,
    ) -> SentMessage:
        chat = self._user_chat(user, chat_id, chat_type, chat_title)
        self._check_reply_to(chat, reply_to)
        self._check_user_thread(chat, message_thread_id)
        stored = self._files[file_id]
        message = self._new_message(
            chat,
            from_bot=False,
            from_user=user,
            document={
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_name": file_name,
                "mime_type": mime_type,
                "file_size": stored.size,
            },
            caption=caption,
            caption_entities=self._auto_entities(caption) if caption else [],
            reply_to_message_id=reply_to,
            message_thread_id=message_thread_id,
        )
        return SentMessage(message, self._deliver_user_message(message, chat))

    def user_sends_voice(
        self,
        user: FakeUser,
        file_id: str,
        *,
        duration: int,
        kind: str = "voice",
        mime_type: str | None = None,
        file_name: str | None = None,
        caption: str | None = None,
        chat_id: int | None = None,
        chat_type: str = "private",
        chat_title: str | None = None,
        reply_to: int | None = None,
        message_thread_id: int | None = None,
    ) -> SentMessage:
        """A user sends a voice note (``kind="voice"``: Voice), an audio file (``"audio"``:
        Audio, with file_name and mime_type) or a round video note (``"video_note"``:
        VideoNote, with ``length``); ``duration`` is in seconds, as the sender declares it."""
        if kind not in ("voice", "audio", "video_note"):
            raise ValueError(f"unknown kind {kind!r}")
        chat = self._user_chat(user, chat_id, chat_type, chat_title)
        self._check_reply_to(chat, reply_to)
        self._check_user_thread(chat, message_thread_id)
        stored = self._files[file_id]
        media: JSON = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "duration": duration,
            "file_size": stored.size,
        }
        if kind == "voice":
            media["mime_type"] = mime_type or "audio/ogg"
        elif kind == "audio":
            media["mime_type"] = mime_type or "audio/mpeg"
            media["file_name"] = file_name or "audio.mp3"
        else:
            media["length"] = 240
        message = self._new_message(
            chat,
            from_bot=False,
            from_user=user,
            caption=caption,
            caption_entities=self._auto_entities(caption) if caption else [],
            reply_to_message_id=reply_to,
            message_thread_id=message_thread_id,
            **{kind: media},
        )
        return SentMessage(message, self._deliver_user_message(message, chat))

    def user_presses(
        self,
        user: FakeUser,
        message_id: int,
        data: str,
        chat_id: int | None = None,
        *,
        check_button: bool = True,
    ) -> SentCallback:
        """A user presses an inline button; queue the callback_query update.

        With ``check_button`` the message must carry a button with that callback_data (pass
        False to simulate a stale client pressing a button that is gone).
        """
        chat = self._chats[user.id if chat_id is None else chat_id]
        message = chat.messages.get(message_id)
        if message is None:
            raise AssertionError(f"chat {chat.id} has no message {message_id}")
        if check_button and data not in message.callback_data:
            raise AssertionError(
                f"message {message_id} has no button with callback_data {data!r} "
                f"(it has {message.callback_data})"
            )
        query_id = str(4_000_000_000_000 + next(self._callback_ids))
        self._open_callbacks.add(query_id)
        update_id = self._queue_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": user.to_api(),
                    "message": self.render(message),
                    "chat_instance": str(-(abs(chat.id) * 7919 % 10**18) - 1),
                    "data": data,
                }
            }
        )
        return SentCallback(update_id, query_id, chat.id, message_id, data)

    def user_blocks_bot(self, user: FakeUser) -> None:
        """From now on writing to this user gets 403 "Forbidden: bot was blocked by the user"."""
        self.blocked_by_user.add(user.id)

    def _open_topic(
        self,
        chat: ChatState,
        name: str,
        icon_color: int,
        icon_custom_emoji_id: str | None,
        *,
        by_bot: bool,
        user: FakeUser | None = None,
    ) -> tuple[Topic, StoredMessage]:
        """Post the forum_topic_created service message; its id is the topic's
        message_thread_id (as in forum supergroups: TDLib's CreateForumTopicQuery takes the topic
        id from the service message)."""
        created: JSON = {"name": name, "icon_color": icon_color}
        if icon_custom_emoji_id:
            created["icon_custom_emoji_id"] = icon_custom_emoji_id
        message = self._new_message(
            chat, from_bot=by_bot, from_user=user, forum_topic_created=created
        )
        message.message_thread_id = message.message_id
        topic = Topic(
            message_thread_id=message.message_id,
            name=name,
            icon_color=icon_color,
            icon_custom_emoji_id=icon_custom_emoji_id,
            created_by_bot=by_bot,
        )
        chat.topics[topic.message_thread_id] = topic
        return topic, message

    def _close_topic(self, chat: ChatState, topic: Topic) -> None:
        """A deleted topic takes its messages (and any draft shown in it) along."""
        topic.deleted = True
        thread = topic.message_thread_id
        for message_id in [i for i, m in chat.messages.items() if m.message_thread_id == thread]:
            del chat.messages[message_id]
        self._draft_views.pop((chat.id, thread), None)
        self.deleted_topics.append((chat.id, topic))

    def user_creates_topic(
        self, user: FakeUser, name: str, *, icon_color: int = TOPIC_ICON_COLORS[0]
    ) -> int:
        """The user creates a topic in their private chat with the bot; return its
        message_thread_id.

        Only while ``topics_enabled`` and ``users_create_topics`` (else AssertionError: the app
        offers no such thing). The bot receives the forum_topic_created service message as a
        ``message`` update (with message_thread_id and is_topic_message), as bots receive the
        service messages users cause; none if its allowed_updates leaves ``message`` out.
        """
        if not (self.topics_enabled and self.users_create_topics):
            raise AssertionError(
                "users can create topics only while topics_enabled and users_create_topics"
            )
        if not 1 <= len(name) <= MAX_TOPIC_NAME_LENGTH:
            raise AssertionError(f"a topic name has 1-{MAX_TOPIC_NAME_LENGTH} characters")
        chat = self._user_chat(user, None, "private", None)
        topic, message = self._open_topic(chat, name, icon_color, None, by_bot=False, user=user)
        self._queue_wanted("message", self.render(message))
        return topic.message_thread_id

    def user_deletes_topic(self, user: FakeUser, message_thread_id: int) -> None:
        """The user deletes a topic of their private chat with the bot, with its messages.

        allows_users_to_create_topics is "True, if the bot allows users to create and delete
        topics in private chats": only while ``users_create_topics`` (else AssertionError). No
        update: the Bot API has none for deleted topics or messages.
        """
        if not (self.topics_enabled and self.users_create_topics):
            raise AssertionError(
                "users can delete topics only while topics_enabled and users_create_topics"
            )
        chat = self._chats.get(user.id)
        topic = None if chat is None else self._live_topic(chat, message_thread_id)
        if chat is None or topic is None:
            raise AssertionError(f"user {user.id} has no topic {message_thread_id}")
        self._close_topic(chat, topic)
        self._changed()

    def shown_draft(self, chat_id: int, message_thread_id: int | None = None) -> Draft | None:
        """The draft the user sees now in this chat (and topic), or None.

        A draft shows from its sendMessageDraft until the bot's next message in the same chat and
        topic replaces it, or ``draft_lifetime`` seconds after its last update ("a temporary
        30-second preview"), or the user presses Stop on it (unless it had keep_on_stop: then it
        stays until the message or the 30 seconds).
        """
        draft = self._draft_views.get((chat_id, message_thread_id))
        if draft is None or self.clock() - draft.time > self.draft_lifetime:
            return None
        if draft.stopped and not draft.keep_on_stop:
            return None
        return draft

    def user_presses_stop(
        self,
        user: FakeUser,
        *,
        draft_id: int | None = None,
        message_thread_id: int | None = None,
    ) -> StopPress:
        """The user presses Telegram's Stop button on the draft shown in their private chat (in
        the topic ``message_thread_id``); ``draft_id`` checks that it is that draft.

        The draft's last sendMessageDraft must have had can_stop (else AssertionError: there is no
        button). Queues a ``stopped_message_generation`` update (MessageGenerationStopped:
        ``chat``, ``message_thread_id`` when in a topic, ``draft_id``) unless the bot's
        allowed_updates leaves it out (then it is dropped, see ``dropped_updates``). Either way
        the user no longer sees the draft, unless it had keep_on_stop; the bot's later drafts with
        that draft_id are accepted but not shown (``Draft.after_stop``).
        """
        draft = self.shown_draft(user.id, message_thread_id)
        if draft is None or draft.stopped:
            raise AssertionError(
                f"no draft is shown to user {user.id} in topic {message_thread_id} to stop\n"
                f"{self.dump()}"
            )
        if draft_id is not None and draft.draft_id != draft_id:
            raise AssertionError(f"the draft shown is {draft.draft_id}, not {draft_id}")
        if not draft.can_stop:
            raise AssertionError(
                f"draft {draft.draft_id} was sent without can_stop: there is no Stop button"
            )
        draft.stopped = True
        chat = self._chats[user.id]
        stopped: JSON = {"chat": chat.to_api()}
        if message_thread_id is not None:
            stopped["message_thread_id"] = message_thread_id
        stopped["draft_id"] = draft.draft_id
        update_id = self._queue_wanted("stopped_message_generation", stopped)
        press = StopPress(
            chat_id=chat.id,
            message_thread_id=message_thread_id,
            draft_id=draft.draft_id,
            text=draft.text,
            kept=draft.keep_on_stop,
            update_id=update_id,
        )
        self.stop_presses.append(press)
        return press

    def fail_next(
        self,
        method: str,
        status: int,
        description: str,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail with this answer."""
        canonical = self._canonical(method)
        self._faults.setdefault(canonical, []).append(
            Fault(status, description, retry_after, times)
        )

    def stall_next(self, method: str, seconds: float, *, times: int = 1) -> None:
        """Answer the next `times` calls of `method` only after `seconds` (then carry them out)."""
        self._stalls.setdefault(self._canonical(method), []).extend([seconds] * times)

    # -- reading ------------------------------------------------------------------------------

    @property
    def chats(self) -> dict[int, ChatState]:
        return self._chats

    def messages(self, chat_id: int) -> list[StoredMessage]:
        chat = self._chats.get(chat_id)
        return [] if chat is None else list(chat.messages.values())

    def message(self, chat_id: int, message_id: int) -> StoredMessage:
        return self._chats[chat_id].messages[message_id]

    def bot_messages(self, chat_id: int) -> list[StoredMessage]:
        """The bot's messages in the chat (all topics), service messages left out."""
        return [m for m in self.messages(chat_id) if m.from_bot and not m.is_service]

    def bot_texts(self, chat_id: int) -> list[str]:
        return [m.content for m in self.bot_messages(chat_id)]

    def messages_in(self, chat_id: int, message_thread_id: int | None) -> list[StoredMessage]:
        """What the user sees in one topic (None: outside any topic), service messages too."""
        return [m for m in self.messages(chat_id) if m.message_thread_id == message_thread_id]

    def bot_messages_in(self, chat_id: int, message_thread_id: int | None) -> list[StoredMessage]:
        return [
            m
            for m in self.messages_in(chat_id, message_thread_id)
            if m.from_bot and not m.is_service
        ]

    def bot_texts_in(self, chat_id: int, message_thread_id: int | None) -> list[str]:
        """The texts (or captions) of the bot's messages in one topic (None: outside topics)."""
        return [m.content for m in self.bot_messages_in(chat_id, message_thread_id)]

    def topics_of(self, chat_id: int) -> dict[int, str]:
        """The chat's live topics: {message_thread_id: name}."""
        chat = self._chats.get(chat_id)
        if chat is None:
            return {}
        return {i: t.name for i, t in chat.topics.items() if not t.deleted}

    def topic(self, chat_id: int, message_thread_id: int) -> Topic:
        """A topic of the chat, deleted or not (KeyError if it never existed)."""
        return self._chats[chat_id].topics[message_thread_id]

    def drafts_of(self, chat_id: int) -> list[Draft]:
        return [d for d in self.drafts if d.chat_id == chat_id]

    def drafts_in(self, chat_id: int, message_thread_id: int | None) -> list[Draft]:
        return [d for d in self.drafts_of(chat_id) if d.message_thread_id == message_thread_id]

    def calls_of(self, method: str) -> list[Call]:
        canonical = self._canonical(method)
        return [c for c in self.calls if c.method == canonical]

    @property
    def commands(self) -> list[JSON]:
        """Commands set for the default scope and no language."""
        return self.commands_by_scope.get(('{"type":"default"}', ""), [])

    @property
    def pending_updates(self) -> list[JSON]:
        return list(self._updates)

    @property
    def unanswered_callbacks(self) -> set[str]:
        """Button presses the bot never answered (the user's spinner keeps turning)."""
        return set(self._open_callbacks)

    def render(self, message: StoredMessage, *, with_reply: bool = True) -> JSON:
        """The Bot API Message object for a stored message."""
        chat = self._chats[message.chat_id]
        data: JSON = {"message_id": message.message_id}
        if message.message_thread_id is not None:
            data["message_thread_id"] = message.message_thread_id
            if chat.type == "private":
                # In a private chat only topic messages have a thread (Client.cpp:
                # is_topic_message for a messageTopicForum).
                data["is_topic_message"] = True
        if message.from_bot:
            data["from"] = dict(BOT_FROM)
        elif message.from_user is not None:
            data["from"] = message.from_user.to_api()
        data["date"] = message.date
        data["chat"] = chat.to_api()
        if with_reply and message.reply_to_message_id is not None:
            replied = chat.messages.get(message.reply_to_message_id)
            if replied is not None:
                data["reply_to_message"] = self.render(replied, with_reply=False)
        if message.edit_date is not None:
            data["edit_date"] = message.edit_date
        if message.media_group_id is not None:
            data["media_group_id"] = message.media_group_id
        if message.text is not None:
            data["text"] = message.text
            if message.entities:
                data["entities"] = message.entities
        if message.photo is not None:
            data["photo"] = message.photo
        if message.document is not None:
            data["document"] = message.document
        for kind in ("voice", "audio", "video_note", "forum_topic_created", "forum_topic_edited"):
            media = getattr(message, kind)
            if media is not None:
                data[kind] = media
        if message.caption is not None:
            data["caption"] = message.caption
            if message.caption_entities:
                data["caption_entities"] = message.caption_entities
        markup = _inline_markup(message.reply_markup)
        if markup is not None:
            data["reply_markup"] = markup
        return data

    def dump(self) -> str:
        """A readable summary of the state, for assertion messages."""
        lines: list[str] = []
        for chat in self._chats.values():
            lines.append(f"chat {chat.id} ({chat.type}):")
            for m in chat.messages.values():
                who = "bot " if m.from_bot else "user"
                extra = f" edits={m.edit_count}" if m.edit_count else ""
                if m.reply_markup:
                    extra += f" buttons={m.callback_data}"
                if m.reply_to_message_id is not None:
                    extra += f" reply_to={m.reply_to_message_id}"
                if m.photo is not None:
                    extra += " [photo]"
                if m.document is not None:
                    extra += f" [document {m.document.get('file_name')}]"
                if m.message_thread_id is not None:
                    extra += f" topic={m.message_thread_id}"
                if m.forum_topic_created is not None:
                    extra += f" [topic created {m.forum_topic_created['name']!r}]"
                if m.forum_topic_edited is not None:
                    extra += f" [topic edited {m.forum_topic_edited}]"
                lines.append(f"  #{m.message_id} {who}{extra}: {m.content[:200]!r}")
            drafts = self.drafts_of(chat.id)
            if drafts:
                lines.append(f"  {len(drafts)} drafts, last: {drafts[-1].text[:200]!r}")
        lines.append(f"pending updates: {[u['update_id'] for u in self._updates]}")
        lines.append("last calls:")
        for call in self.calls[-15:]:
            desc = "" if call.ok else f" -> {call.response.get('description')}"
            lines.append(f"  {call.method} {call.status}{desc} {_short(call.params)}")
        return "\n".join(lines)

    # -- HTTP layer ---------------------------------------------------------------------------

    def _canonical(self, method: str) -> str:
        entry = self._methods.get(method.lower())
        return entry[0] if entry else method

    @staticmethod
    def _error(status: int, description: str, parameters: JSON | None = None) -> JSON:
        body: JSON = {"ok": False, "error_code": status, "description": description}
        if parameters:
            body["parameters"] = parameters
        return body

    async def _handle_unknown(self, request: web.Request) -> web.Response:
        return web.json_response(self._error(404, "Not Found"), status=404)

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.json_response(self._error(401, "Unauthorized"), status=401)
        path = request.match_info["file_path"]
        for stored in self._files.values():
            if stored.file_path == path and stored.data is not None:
                return web.Response(body=stored.data, content_type="application/octet-stream")
        return web.json_response(self._error(404, "Not Found"), status=404)

    async def _handle_api(self, request: web.Request) -> web.Response:
        arrived = self.clock()
        method = request.match_info["method"]
        params: JSON = {}
        status = 200
        try:
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            entry = self._methods.get(method.lower())
            if entry is None:
                raise ApiError(404, "Not Found")
            method, handler = entry
            params, uploads = await _read_params(request)
            delay = next((v for k, v in self.delay.items() if k.lower() == method.lower()), 0.0)
            if stalls := self._stalls.get(method):
                delay = max(delay, stalls.pop(0))
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)
            self._inject_fault(method, params)
            result = await self._dispatch(method, handler, _Params(params, uploads))
            body: JSON = {"ok": True, "result": result}
        except ApiError as error:
            status = error.status
            body = self._error(error.status, error.description, error.parameters)
            if status == 429:
                self._count_429(params.get("chat_id"))
        self.calls.append(Call(method, params, status, arrived, body))
        self._changed()
        return web.json_response(body, status=status)

    def _inject_fault(self, method: str, params: JSON) -> None:
        faults = self._faults.get(method)
        if not faults:
            return
        fault = faults[0]
        fault.times -= 1
        if fault.times <= 0:
            faults.pop(0)
        parameters = {"retry_after": fault.retry_after} if fault.retry_after is not None else None
        raise ApiError(fault.status, fault.description, parameters)

    def _count_429(self, chat_id: object) -> None:
        self.too_many_requests += 1
        if isinstance(chat_id, int):
            self.too_many_requests_by_chat[chat_id] = (
                self.too_many_requests_by_chat.get(chat_id, 0) + 1
            )

    async def _dispatch(self, method: str, handler: _Handler, params: _Params) -> Any:
        kind = "draft" if method == "sendMessageDraft" else "write"
        limited = method in WRITING_METHODS or (kind == "draft" and self.drafts_supported)
        chat_id = params.values.get("chat_id")
        if limited and isinstance(chat_id, int):
            self._check_rate(kind, chat_id)
        # Whether drafts count is not published: counted, to hold the bot to the safe side.
        overall = method in WRITING_METHODS or method == "sendMessageDraft"
        if overall:
            self._check_overall()
        result = handler(params)
        if asyncio.iscoroutine(result):
            result = await result
        if limited and isinstance(chat_id, int):
            self._rate(kind, chat_id).stamps.append(self.clock())
        if overall:
            self._overall.append(self.clock())
        return result

    def _check_overall(self) -> None:
        now = self.clock()
        while self._overall and self._overall[0] <= now - self.overall_window:
            self._overall.popleft()
        if len(self._overall) >= self.overall_limit:
            frees_at = self._overall[len(self._overall) - self.overall_limit] + self.overall_window
            self._too_many(max(1, math.ceil(frees_at - now)))

    # -- rate limits --------------------------------------------------------------------------

    def _rate(self, kind: str, chat_id: int) -> _RateWindow:
        return self._rates.setdefault((kind, chat_id), _RateWindow())

    def _limits(self, kind: str, chat_id: int) -> tuple[int, float]:
        if kind == "draft":
            return self.draft_limit, self.draft_window
        if chat_id > 0:
            return self.private_limit, self.private_window
        return self.group_limit, self.group_window

    def _check_rate(self, kind: str, chat_id: int) -> None:
        now = self.clock()
        window_state = self._rate(kind, chat_id)
        if window_state.blocked_until > now:
            self._too_many(max(1, math.ceil(window_state.blocked_until - now)))
        limit, window = self._limits(kind, chat_id)
        stamps = window_state.stamps
        while stamps and stamps[0] <= now - window:
            stamps.popleft()
        if len(stamps) >= limit:
            frees_at = stamps[len(stamps) - limit] + window
            retry_after = max(1, math.ceil(frees_at - now))
            window_state.blocked_until = now + retry_after
            self._too_many(retry_after)

    @staticmethod
    def _too_many(retry_after: int) -> None:
        raise ApiError(
            429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
        )

    # -- shared validation --------------------------------------------------------------------

    def _chat(self, params: _Params) -> ChatState:
        if params.values.get("chat_id") is None:
            raise _bad("chat_id is empty")
        chat_id = params.values["chat_id"]
        chat = self._chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None:
            raise _bad("chat not found")
        if chat.type == "private" and chat.id in self.blocked_by_user:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _formatting_rejected(self, params: _Params) -> None:
        carries = any(
            params.values.get(name) for name in ("entities", "caption_entities", "parse_mode")
        )
        if not carries:
            return
        if self.reject_formatting_times > 0:
            self.reject_formatting_times -= 1
            raise _bad(REJECTED_FORMATTING.removeprefix("Bad Request: "))
        if self.reject_formatting:
            raise _bad(REJECTED_FORMATTING.removeprefix("Bad Request: "))

    def _formatted(
        self,
        params: _Params,
        text: str,
        entities_param: str = "entities",
    ) -> tuple[str, list[JSON], str | None]:
        """Apply entities or parse_mode; return (text, entities, parse_mode)."""
        self._formatting_rejected(params)
        entities = params.obj_or_none(entities_param)
        parse_mode = params.str_or_none("parse_mode")
        if entities is not None:
            return text, validate_entities(text, entities), None
        if parse_mode:
            # The bot never sends parse_mode (bot/render.py makes entities): one that does is a bug.
            raise _bad(f"unsupported parse_mode {parse_mode!r}: this fake takes entities only")
        return text, [], None

    def _message_text(
        self, params: _Params, *, allow_empty: bool = False
    ) -> tuple[str, list[JSON], str | None]:
        raw = params.str_or_none("text")
        if raw is None or raw == "":
            if allow_empty:
                return "", [], None
            raise _bad("message text is empty")
        text, entities, parse_mode = self._formatted(params, raw)
        if not text.strip():
            raise _bad("message text is empty")
        if utf16_len(text) > MAX_TEXT_LENGTH:
            raise _bad("message is too long")
        return text, entities, parse_mode

    def _caption(self, params: _Params) -> tuple[str | None, list[JSON]]:
        raw = params.str_or_none("caption")
        if not raw:
            return None, []
        text, entities, _ = self._formatted(params, raw, "caption_entities")
        if utf16_len(text) > MAX_CAPTION_LENGTH:
            raise _bad("message caption is too long")
        return text, entities

    def _markup(self, params: _Params) -> JSON | None:
        markup = params.obj_or_none("reply_markup")
        return None if markup is None else _validate_reply_markup(markup)

    def _reply_to(self, params: _Params, chat: ChatState) -> int | None:
        reply = params.obj_or_none("reply_parameters")
        allow_without = params.bool_("allow_sending_without_reply")
        if isinstance(reply, dict):
            message_id = reply.get("message_id")
            allow_without = allow_without or bool(reply.get("allow_sending_without_reply"))
            if reply.get("chat_id") not in (None, chat.id):
                raise _bad("cross-chat replies are not supported by the fake")
        elif reply is not None:
            raise _bad("can't parse reply parameters JSON object")
        else:
            message_id = params.int_or_none("reply_to_message_id")
        if message_id is None:
            return None
        if not isinstance(message_id, int):
            raise _bad("invalid reply_parameters specified")
        if message_id not in chat.messages:
            if allow_without:
                return None
            raise _bad("message to be replied not found")
        return message_id

    def _thread(self, params: _Params, chat: ChatState) -> int | None:
        """The message_thread_id of a send; in a private chat it must name a live topic.

        Real Telegram (check_message_topic) looks the topic up in private chats and answers
        "message thread not found" when there is none; in groups that are not forums it ignores
        the parameter (the fake keeps it on the message there, as before). sendMessageDraft and
        sendChatAction skip that lookup in telegram-bot-api and leave it to TDLib, whose answer
        is not published: the fake gives them the same 400 (the strict choice).
        """
        thread = params.int_or_none("message_thread_id")
        if chat.type != "private" or thread is None:
            return thread
        if thread == 0:
            return None  # 0 means no thread (Client.cpp get_forum_topic_id)
        if self._live_topic(chat, thread) is None:
            raise ApiError(400, THREAD_NOT_FOUND)
        return thread

    def _topic_chat(self, params: _Params) -> ChatState:
        """The chat of a topic method: a private chat while the bot has topics."""
        chat = self._chat(params)
        if chat.type != "private" or not self.topics_enabled:
            # Forum supergroups are not modelled: every other chat is "not a forum".
            raise ApiError(400, NOT_A_FORUM)
        return chat

    def _existing_topic(self, params: _Params, chat: ChatState) -> Topic:
        thread = params.int_or_none("message_thread_id")
        if thread is None:
            raise _bad("message thread identifier is not specified")
        topic = self._live_topic(chat, thread)
        if topic is None:
            raise ApiError(400, TOPIC_ID_INVALID)
        return topic

    def _end_draft(self, chat: ChatState, thread: int | None) -> None:
        """The bot's message takes the place of the draft shown in that chat and topic."""
        self._draft_views.pop((chat.id, thread), None)

    def _target_message(self, params: _Params, chat: ChatState, what: str) -> StoredMessage:
        message_id = params.int_or_none("message_id")
        if message_id is None:
            raise _bad("message identifier is not specified")
        message = chat.messages.get(message_id)
        if message is None:
            raise _bad(f"message to {what} not found")
        return message

    # -- methods ------------------------------------------------------------------------------

    def _true(self, params: _Params) -> bool:
        return True

    def _get_me(self, params: _Params) -> JSON:
        me = dict(BOT_USER)
        # Both always present in getMe (telegram-bot-api JsonUser: JsonBool); users may create
        # topics only in a bot with topics (getMe showed both false with Threaded Mode off,
        # NousResearch/hermes-agent#115019).
        me["has_topics_enabled"] = self.topics_enabled
        me["allows_users_to_create_topics"] = self.topics_enabled and self.users_create_topics
        return me

    def _delete_webhook(self, params: _Params) -> bool:
        if params.bool_("drop_pending_updates"):
            self._updates.clear()
        self.webhook_url = None
        self.webhook_secret = None
        return True

    def _set_webhook(self, params: _Params) -> bool:
        url = params.str_("url")
        if not url:
            return self._delete_webhook(params)
        if not url.startswith("https://") and not self.allow_http_webhooks:
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.str_or_none("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise _bad("bad webhook: Secret token contains unallowed characters")
        if params.bool_("drop_pending_updates"):
            self._updates.clear()
        allowed = params.obj_or_none("allowed_updates")
        if isinstance(allowed, list):
            self.allowed_updates = [str(a) for a in allowed]
        self.webhook_url = url
        self.webhook_secret = secret
        return True

    def _get_webhook_info(self, params: _Params) -> JSON:
        return {
            "url": self.webhook_url or "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    async def _get_updates(self, params: _Params) -> list[JSON]:
        if self.webhook_url is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )
        offset = params.int_or_none("offset") or 0
        limit = max(1, min(100, params.int_or_none("limit") or 100))
        timeout = max(0, params.int_or_none("timeout") or 0)
        allowed = params.obj_or_none("allowed_updates")
        if isinstance(allowed, list):
            self.allowed_updates = [str(a) for a in allowed]
        if offset < 0:
            keep = -offset
            while len(self._updates) > keep:
                self._updates.popleft()
        elif offset > 0:
            while self._updates and self._updates[0]["update_id"] < offset:
                self._updates.popleft()
        self._poll_generation += 1
        generation = self._poll_generation
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._event
            if self._updates or self._stopping.is_set():
                return list(itertools.islice(self._updates, limit))
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one "
                    "bot instance is running",
                )
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            await self._wait_change(event, remaining)

    def _set_my_commands(self, params: _Params) -> bool:
        commands = params.obj_or_none("commands")
        if not isinstance(commands, list):
            if commands is None:
                raise _bad("commands is empty")
            raise _bad("can't parse commands JSON object")
        if len(commands) > 100:
            raise _bad("too many commands specified")
        checked: list[JSON] = []
        for command in commands:
            if not isinstance(command, dict):
                raise _bad("can't parse BotCommand: BotCommand must be an Object")
            name = command.get("command")
            description = command.get("description")
            if not isinstance(name, str) or not _COMMAND_RE.fullmatch(name):
                raise _bad("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
            checked.append({"command": name, "description": description})
        self.commands_by_scope[self._scope_key(params)] = checked
        return True

    def _get_my_commands(self, params: _Params) -> list[JSON]:
        return list(self.commands_by_scope.get(self._scope_key(params), []))

    def _delete_my_commands(self, params: _Params) -> bool:
        self.commands_by_scope.pop(self._scope_key(params), None)
        return True

    @staticmethod
    def _scope_key(params: _Params) -> tuple[str, str]:
        scope = params.obj_or_none("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True, separators=(",", ":")), (
            params.str_or_none("language_code") or ""
        )

    def _send_message(self, params: _Params) -> JSON:
        chat = self._chat(params)
        thread = self._thread(params, chat)
        text, entities, parse_mode = self._message_text(params)
        markup = self._markup(params)
        reply_to = self._reply_to(params, chat)
        preview = params.obj_or_none("link_preview_options")
        message = self._new_message(
            chat,
            from_bot=True,
            text=text,
            entities=entities,
            reply_markup=markup,
            reply_to_message_id=reply_to,
            message_thread_id=thread,
            parse_mode=parse_mode,
            link_preview_options=preview if isinstance(preview, dict) else None,
        )
        self._end_draft(chat, thread)
        return self.render(message)

    def _edit_message_text(self, params: _Params) -> JSON:
        if params.has("inline_message_id"):
            raise _bad("inline messages are not supported by the fake")
        chat = self._chat(params)
        message = self._target_message(params, chat, "edit")
        if not message.from_bot:
            raise _bad("message can't be edited")
        if message.text is None:
            raise _bad("there is no text in the message to edit")
        text, entities, parse_mode = self._message_text(params)
        markup = self._markup(params)
        new_inline = _inline_markup(markup)
        if (
            text == message.text
            and _normalized_entities(entities) == _normalized_entities(message.entities)
            and new_inline == _inline_markup(message.reply_markup)
        ):
            raise ApiError(400, NOT_MODIFIED)
        message.edits.append(message.text)
        message.text = text
        message.entities = entities
        message.parse_mode = parse_mode
        message.reply_markup = new_inline  # omitting reply_markup removes the keyboard
        message.edit_count += 1
        message.edit_date = int(time.time())
        return self.render(message)

    def _edit_message_reply_markup(self, params: _Params) -> JSON:
        if params.has("inline_message_id"):
            raise _bad("inline messages are not supported by the fake")
        chat = self._chat(params)
        message = self._target_message(params, chat, "edit")
        if not message.from_bot:
            raise _bad("message can't be edited")
        new_inline = _inline_markup(self._markup(params))
        if new_inline == _inline_markup(message.reply_markup):
            raise ApiError(400, NOT_MODIFIED)
        message.reply_markup = new_inline
        message.edit_count += 1
        message.edit_date = int(time.time())
        return self.render(message)

    def _delete_message(self, params: _Params) -> bool:
        chat = self._chat(params)
        message = self._target_message(params, chat, "delete")
        del chat.messages[message.message_id]
        self.deleted_messages.append(message)
        return True

    def _send_message_draft(self, params: _Params) -> bool:
        if not self.drafts_supported:
            raise _bad("method sendMessageDraft can't be used")
        chat_id = params.values.get("chat_id")
        if chat_id is None:
            raise _bad("chat_id is empty")
        if not isinstance(chat_id, int) or chat_id <= 0:
            raise _bad("TEXTDRAFT_PEER_INVALID")
        chat = self._chat(params)
        if chat.type != "private":
            raise _bad("TEXTDRAFT_PEER_INVALID")
        draft_id = params.int_or_none("draft_id")
        if not draft_id:
            raise _bad("draft_id is empty")
        thread = self._thread(params, chat)
        text, entities, parse_mode = self._message_text(params, allow_empty=True)
        draft = Draft(
            chat_id=chat.id,
            draft_id=draft_id,
            text=text,
            entities=entities,
            time=self.clock(),
            parse_mode=parse_mode,
            message_thread_id=thread,
            can_stop=params.bool_("can_stop"),
            keep_on_stop=params.bool_("keep_on_stop"),
        )
        self.drafts.append(draft)
        shown = self._draft_views.get((chat.id, thread))
        if shown is not None and shown.stopped and shown.draft_id == draft_id:
            # "a button to stop further drafts": the user stopped this one. What Telegram
            # answers to further drafts with that id is not published; accepted, not shown.
            draft.after_stop = True
        else:
            self._draft_views[(chat.id, thread)] = draft
        return True

    def _send_chat_action(self, params: _Params) -> bool:
        chat = self._chat(params)
        action = params.str_("action")
        if action not in CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        thread = self._thread(params, chat)
        self.chat_actions.append((chat.id, action))
        self.chat_actions_by_thread.append((chat.id, thread, action))
        return True

    def _answer_callback_query(self, params: _Params) -> bool:
        query_id = params.str_("callback_query_id")
        if query_id not in self._open_callbacks:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        text = params.str_or_none("text")
        if text is not None and len(text) > MAX_CALLBACK_ANSWER_LENGTH:
            raise _bad("MESSAGE_TOO_LONG")
        self._open_callbacks.discard(query_id)
        self.callback_answers.append(
            CallbackAnswer(
                callback_query_id=query_id,
                text=text,
                show_alert=params.bool_("show_alert"),
                url=params.str_or_none("url"),
                time=self.clock(),
            )
        )
        return True

    def _get_file(self, params: _Params) -> JSON:
        file_id = params.str_or_none("file_id")
        if not file_id:
            raise _bad("file_id is empty")
        stored = self._files.get(file_id)
        if stored is None:
            raise _bad("invalid file_id")
        if stored.size > MAX_DOWNLOAD_SIZE:
            raise _bad("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": stored.file_path,
        }

    def _upload(self, params: _Params, name: str, folder: str) -> FakeFile:
        upload = params.uploads.get(name)
        if upload is not None:
            file_id = self.add_file(upload.data, file_path=f"{folder}/{upload.filename or 'file'}")
            return self._files[file_id]
        existing_id = params.str_or_none(name)
        if not existing_id:
            raise _bad(f"there is no {name} in the request")
        stored = self._files.get(existing_id)
        if stored is None:
            raise _bad("wrong file identifier/HTTP URL specified")
        return stored

    def _send_media(self, params: _Params, **media: Any) -> JSON:
        chat = self._chat(params)
        thread = self._thread(params, chat)
        caption, caption_entities = self._caption(params)
        markup = self._markup(params)
        reply_to = self._reply_to(params, chat)
        message = self._new_message(
            chat,
            from_bot=True,
            caption=caption,
            caption_entities=caption_entities,
            reply_markup=markup,
            reply_to_message_id=reply_to,
            message_thread_id=thread,
            **media,
        )
        self._end_draft(chat, thread)
        return self.render(message)

    def _send_document(self, params: _Params) -> JSON:
        self._thread(params, self._chat(params))
        upload = params.uploads.get("document")
        stored = self._upload(params, "document", "documents")
        document: JSON = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_name": upload.filename if upload else stored.file_path.rsplit("/", 1)[-1],
        }
        if upload is not None and upload.content_type:
            document["mime_type"] = upload.content_type
        return self._send_media(params, document=document)

    def _send_photo(self, params: _Params) -> JSON:
        self._thread(params, self._chat(params))
        stored = self._upload(params, "photo", "photos")
        photo = [
            {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "width": 1280,
                "height": 960,
                "file_size": stored.size,
            }
        ]
        return self._send_media(params, photo=photo)

    # -- topics in private chats (Bot API 9.3/9.4) -----------------------------------------------

    @staticmethod
    def _topic_name(raw: str | None) -> str:
        # TDLib cleans the name (trims it, cuts it to 128 characters: clean_name with
        # MAX_FORUM_TOPIC_TITLE_LENGTH) instead of refusing a longer one.
        return (raw or "").strip()[:MAX_TOPIC_NAME_LENGTH]

    def _create_forum_topic(self, params: _Params) -> JSON:
        chat = self._topic_chat(params)
        name = self._topic_name(params.str_or_none("name"))
        if not name:
            raise _bad("title must be non-empty")  # TDLib: "Title must be non-empty"
        icon_color = params.values.get("icon_color")
        if icon_color is None:
            # Not given: the first documented color (Telegram picks one; which is not published).
            icon_color = TOPIC_ICON_COLORS[0]
        else:
            with contextlib.suppress(ValueError):
                icon_color = int(str(icon_color))
            if icon_color not in TOPIC_ICON_COLORS:
                # "Currently, must be one of ..."; TDLib's text for an invalid color (the
                # server's for a valid RGB outside the list is not published: the strict choice).
                raise _bad("invalid icon color specified")
        emoji = params.str_or_none("icon_custom_emoji_id") or None
        topic, _ = self._open_topic(chat, name, int(icon_color), emoji, by_bot=True)
        return topic.to_api()

    def _edit_forum_topic(self, params: _Params) -> bool:
        chat = self._topic_chat(params)
        # The topic is checked first (strict; old TDLib answered OK to an edit with nothing to
        # change before looking the topic up).
        topic = self._existing_topic(params, chat)
        name = self._topic_name(params.str_or_none("name"))
        edit_emoji = "icon_custom_emoji_id" in params.values
        emoji = params.str_or_none("icon_custom_emoji_id") or None
        if not name and not edit_emoji:
            return True  # "If not specified or empty, the current name of the topic will be kept"
        new_name = name or topic.name
        if new_name == topic.name and (not edit_emoji or emoji == topic.icon_custom_emoji_id):
            raise ApiError(400, TOPIC_NOT_MODIFIED)
        edited: JSON = {}
        if new_name != topic.name:
            edited["name"] = new_name
            self.topic_renames.append(
                TopicRename(chat.id, topic.message_thread_id, topic.name, new_name)
            )
            topic.name = new_name
        if edit_emoji:
            edited["icon_custom_emoji_id"] = emoji or ""
            topic.icon_custom_emoji_id = emoji
        # Editing a topic posts a ForumTopicEdited service message in it, as in forums.
        message = self._new_message(chat, from_bot=True, forum_topic_edited=edited)
        message.message_thread_id = topic.message_thread_id
        return True

    def _delete_forum_topic(self, params: _Params) -> bool:
        chat = self._topic_chat(params)
        topic = self._existing_topic(params, chat)
        self._close_topic(chat, topic)
        return True


def _short(params: Mapping[str, Any]) -> str:
    text = json.dumps(params, ensure_ascii=False, default=str)
    return text if len(text) <= 200 else text[:197] + "..."
