"""What each inline button carries: one typed value per kind of button, with its codec.

A button's `callback_data` is input like any other (an old client, a cut or forged button can
send anything up to 64 bytes), so each kind reads it back strictly: `parse` gives the value the
bot built, or None for anything else, and the handler refuses None (see
`bot.telegram.handlers.common.refuse_button`). `build` is the only way the bot writes one.
`PATTERN` is what the kind's CallbackQueryHandler matches: the prefix only, so that a malformed
press still reaches the handler of its menu, which refuses it (after its own admin check).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar, Self

from bot.roles import MAX_NAME_CHARS

MAX_DATA_BYTES = 64  # Telegram's limit for callback_data

_SHORT_ID = r"[0-9a-f]{12}"  # bot.models.model_id
_USER_ID = r"(?:0|[1-9]\d{0,19})"  # as the bot writes it: no sign, no leading zero
_PAGE = r"\d{1,4}"
_ROLE_NAME = rf"[a-z0-9][a-z0-9_-]{{0,{MAX_NAME_CHARS - 1}}}"  # as bot.roles allows them


def _checked(data: str) -> str:
    if len(data.encode("utf-8")) > MAX_DATA_BYTES:
        raise ValueError(f"callback_data over {MAX_DATA_BYTES} bytes: {data!r}")
    return data


def _match(shape: re.Pattern[str], data: str | None) -> re.Match[str] | None:
    return shape.fullmatch(data or "")


def _int_or_none(text: str | None) -> int | None:
    return None if text is None else int(text)


def _one_of(**fields: object) -> None:
    """A button stands for one press: exactly one of `fields` is given."""
    if sum(value is not None for value in fields.values()) != 1:
        raise ValueError(f"a button needs exactly one of {', '.join(fields)}")


@dataclass(frozen=True, slots=True)
class ModelButton:
    """/model menu: switch to the model with this short id, or show another page."""

    PATTERN: ClassVar[str] = r"^model:"
    _SHAPE: ClassVar[re.Pattern[str]] = re.compile(
        rf"model:(?:use:(?P<id>{_SHORT_ID})|page:(?P<page>{_PAGE}))"
    )

    model_id: str | None = None
    page: int | None = None

    def __post_init__(self) -> None:
        _one_of(model_id=self.model_id, page=self.page)

    def build(self) -> str:
        """The callback_data for this press."""
        if self.model_id is not None:
            return _checked(f"model:use:{self.model_id}")
        return _checked(f"model:page:{self.page}")

    @classmethod
    def parse(cls, data: str | None) -> Self | None:
        """The press `data` stands for; None when no /model menu makes it."""
        if (found := _match(cls._SHAPE, data)) is None:
            return None
        return cls(model_id=found["id"], page=_int_or_none(found["page"]))


@dataclass(frozen=True, slots=True)
class PullButton:
    """Pull the model with this short id (on the host numbered `host`), or cancel the running
    pull numbered `cancel` (a stale Cancel cancels nothing)."""

    PATTERN: ClassVar[str] = r"^pull:"
    _SHAPE: ClassVar[re.Pattern[str]] = re.compile(
        rf"pull:(?:cancel:(?P<pull>\d{{1,9}})|(?P<id>{_SHORT_ID})(?::(?P<host>\d{{1,3}}))?)"
    )

    model_id: str | None = None
    host: int | None = None
    cancel: int | None = None

    def __post_init__(self) -> None:
        _one_of(model_id=self.model_id, cancel=self.cancel)

    def build(self) -> str:
        """The callback_data for this press."""
        if self.cancel is not None:
            return _checked(f"pull:cancel:{self.cancel}")
        host = "" if self.host is None else f":{self.host}"
        return _checked(f"pull:{self.model_id}{host}")

    @classmethod
    def parse(cls, data: str | None) -> Self | None:
        """The press `data` stands for; None when no pull button makes it."""
        if (found := _match(cls._SHAPE, data)) is None:
            return None
        return cls(
            model_id=found["id"],
            host=_int_or_none(found["host"]),
            cancel=_int_or_none(found["pull"]),
        )


@dataclass(frozen=True, slots=True)
class RemoveButton:
    """Remove the model with this short id (from the host numbered `host`), or keep it."""

    PATTERN: ClassVar[str] = r"^rm:"
    _SHAPE: ClassVar[re.Pattern[str]] = re.compile(
        rf"rm:(?P<choice>yes|no):(?P<id>{_SHORT_ID})(?::(?P<host>\d{{1,3}}))?"
    )

    remove: bool
    model_id: str
    host: int | None = None

    def build(self) -> str:
        """The callback_data for this press."""
        host = "" if self.host is None else f":{self.host}"
        return _checked(f"rm:{'yes' if self.remove else 'no'}:{self.model_id}{host}")

    @classmethod
    def parse(cls, data: str | None) -> Self | None:
        """The press `data` stands for; None when no /rm question makes it."""
        if (found := _match(cls._SHAPE, data)) is None:
            return None
        return cls(found["choice"] == "yes", found["id"], _int_or_none(found["host"]))


@dataclass(frozen=True, slots=True)
class RoleButton:
    """/role menu of the user `owner`: switch to the role `name`, or show another page."""

    PATTERN: ClassVar[str] = r"^role:"
    _SHAPE: ClassVar[re.Pattern[str]] = re.compile(
        rf"role:(?P<owner>{_USER_ID}):(?:use:(?P<name>{_ROLE_NAME})|page:(?P<page>{_PAGE}))"
    )

    owner: int
    name: str | None = None
    page: int | None = None

    def __post_init__(self) -> None:
        _one_of(name=self.name, page=self.page)

    def build(self) -> str:
        """The callback_data for this press."""
        if self.name is not None:
            return _checked(f"role:{self.owner}:use:{self.name}")
        return _checked(f"role:{self.owner}:page:{self.page}")

    @classmethod
    def parse(cls, data: str | None) -> Self | None:
        """The press `data` stands for; None when no /role menu makes it."""
        if (found := _match(cls._SHAPE, data)) is None:
            return None
        return cls(int(found["owner"]), found["name"], _int_or_none(found["page"]))


@dataclass(frozen=True, slots=True)
class SettingsButton:
    """/settings menu of the user `owner`: set `name` to `value`, or (no name) reset all. A
    value is checked like a typed one, by the preferences."""

    PATTERN: ClassVar[str] = r"^set:"
    NAMES: ClassVar[tuple[str, ...]] = ("temperature", "context", "thinking", "footer")
    _SHAPE: ClassVar[re.Pattern[str]] = re.compile(
        rf"set:(?P<owner>{_USER_ID}):(?:(?P<reset>reset)"
        rf"|(?P<name>{'|'.join(NAMES)}):(?P<value>[0-9a-z.]{{1,24}}))"
    )

    owner: int
    name: str | None = None
    value: str = ""

    def build(self) -> str:
        """The callback_data for this press."""
        if self.name is None:
            return _checked(f"set:{self.owner}:reset")
        return _checked(f"set:{self.owner}:{self.name}:{self.value}")

    @classmethod
    def parse(cls, data: str | None) -> Self | None:
        """The press `data` stands for; None when no /settings menu makes it."""
        if (found := _match(cls._SHAPE, data)) is None:
            return None
        return cls(int(found["owner"]), found["name"], found["value"] or "")


@dataclass(frozen=True, slots=True)
class ForgetButton:
    """/forget question of the user `owner`: delete everything, or keep it."""

    PATTERN: ClassVar[str] = r"^forget:"
    _SHAPE: ClassVar[re.Pattern[str]] = re.compile(
        rf"forget:(?P<choice>yes|no):(?P<owner>{_USER_ID})"
    )

    erase: bool
    owner: int

    def build(self) -> str:
        """The callback_data for this press."""
        return _checked(f"forget:{'yes' if self.erase else 'no'}:{self.owner}")

    @classmethod
    def parse(cls, data: str | None) -> Self | None:
        """The press `data` stands for; None when no /forget question makes it."""
        if (found := _match(cls._SHAPE, data)) is None:
            return None
        return cls(found["choice"] == "yes", int(found["owner"]))


@dataclass(frozen=True, slots=True)
class LanguageButton:
    """/lang menu: this language code, or "auto" (Telegram's language). Whether the bot speaks
    it is the handler's to check."""

    PATTERN: ClassVar[str] = r"^lang:"
    _SHAPE: ClassVar[re.Pattern[str]] = re.compile(r"lang:(?P<code>[a-z]{2,8})")

    code: str

    def build(self) -> str:
        """The callback_data for this press."""
        return _checked(f"lang:{self.code}")

    @classmethod
    def parse(cls, data: str | None) -> Self | None:
        """The press `data` stands for; None when no /lang menu makes it."""
        if (found := _match(cls._SHAPE, data)) is None:
            return None
        return cls(found["code"])


_ROW_ID = r"[1-9]\d{0,18}"  # a database row id


@dataclass(frozen=True, slots=True)
class AnswerButton:
    """Under a conversation's last answer: write it again (`again`) or go on with it (`more`);
    `answer_id` is the stored answer's row."""

    PATTERN: ClassVar[str] = r"^ans:"
    _SHAPE: ClassVar[re.Pattern[str]] = re.compile(rf"ans:(?P<act>again|more):(?P<id>{_ROW_ID})")

    action: str
    answer_id: int

    def __post_init__(self) -> None:
        if self.action not in ("again", "more") or self.answer_id < 1:
            raise ValueError(f"not an answer button: {self.action} {self.answer_id}")

    def build(self) -> str:
        """The callback_data for this press."""
        return _checked(f"ans:{self.action}:{self.answer_id}")

    @classmethod
    def parse(cls, data: str | None) -> Self | None:
        """The press `data` stands for; None when no answer button makes it."""
        if (found := _match(cls._SHAPE, data)) is None:
            return None
        return cls(found["act"], int(found["id"]))


@dataclass(frozen=True, slots=True)
class ChatsButton:
    """/chats: show the list (`list`), one conversation (`show`), or switch to, rename, delete
    (`del`: asks first; `delok`: confirmed) the conversation numbered `conversation`."""

    PATTERN: ClassVar[str] = r"^chats:"
    ACTIONS: ClassVar[tuple[str, ...]] = ("show", "use", "name", "del", "delok")
    _SHAPE: ClassVar[re.Pattern[str]] = re.compile(
        rf"chats:(?:list|(?P<act>show|use|name|del|delok):(?P<id>{_ROW_ID}))"
    )

    action: str
    conversation: int | None = None

    def __post_init__(self) -> None:
        listing = self.action == "list" and self.conversation is None
        one = self.action in self.ACTIONS and self.conversation is not None
        if not (listing or one):
            raise ValueError(f"not a /chats button: {self.action} {self.conversation}")

    def build(self) -> str:
        """The callback_data for this press."""
        if self.conversation is None:
            return _checked("chats:list")
        return _checked(f"chats:{self.action}:{self.conversation}")

    @classmethod
    def parse(cls, data: str | None) -> Self | None:
        """The press `data` stands for; None when no /chats menu makes it."""
        if (found := _match(cls._SHAPE, data)) is None:
            return None
        if found["act"] is None:
            return cls("list")
        return cls(found["act"], int(found["id"]))
