"""The button codecs: what the bot builds reads back as the same press, fits Telegram's 64 bytes
and is routed to its kind's handler; anything else is refused."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.models import model_id
from bot.roles import MAX_NAME_CHARS
from bot.telegram.buttons import (
    MAX_DATA_BYTES,
    AnswerButton,
    ChatsButton,
    ForgetButton,
    LanguageButton,
    ModelButton,
    PullButton,
    RemoveButton,
    RoleButton,
    SettingsButton,
)

ME = 1001
SHORT_ID = model_id("llama3.2:latest")
JUNK = "é" * 32  # 64 bytes of UTF-8, the most callback_data may hold
BIGGEST_USER_ID = 10**20 - 1

BUILT: list[Any] = [
    ModelButton(model_id=SHORT_ID),
    ModelButton(page=0),
    ModelButton(page=9999),
    PullButton(model_id=SHORT_ID),
    PullButton(model_id=SHORT_ID, host=2),
    PullButton(cancel=123456789),
    RemoveButton(True, SHORT_ID),
    RemoveButton(False, SHORT_ID),
    RemoveButton(True, SHORT_ID, 999),
    RoleButton(ME, name="assistant"),
    RoleButton(BIGGEST_USER_ID, name="a" * MAX_NAME_CHARS),
    RoleButton(ME, page=3),
    SettingsButton(ME, "temperature", "1.5"),
    SettingsButton(ME, "context", "131072"),
    SettingsButton(ME, "thinking", "off"),
    SettingsButton(ME, "footer", "on"),
    SettingsButton(BIGGEST_USER_ID),
    ForgetButton(True, ME),
    ForgetButton(False, ME),
    LanguageButton("en"),
    LanguageButton("auto"),
    AnswerButton("again", 1),
    AnswerButton("more", 10**19 - 1),
    ChatsButton("list"),
    ChatsButton("show", 7),
    ChatsButton("use", 7),
    ChatsButton("name", 7),
    ChatsButton("del", 7),
    ChatsButton("delok", 10**19 - 1),
]

KINDS: list[Any] = [
    ModelButton,
    PullButton,
    RemoveButton,
    RoleButton,
    SettingsButton,
    ForgetButton,
    LanguageButton,
    AnswerButton,
    ChatsButton,
]

# Data no menu makes, by kind (the end-to-end suite presses the same ones).
MALFORMED: dict[type[Any], list[str]] = {
    ModelButton: [
        "model:",
        "model:x",
        "model:page:abc",
        "model:page:-1",
        "model:page:" + "9" * 50,
        "model:page:1:2",
        "model:use:",
        f"model:use:{SHORT_ID}:extra",
        "model:use:" + "Z" * 12,
        "model:" + JUNK,
        "MODEL:page:0",
    ],
    RoleButton: [
        "role:",
        "role:1:x",
        f"role:{ME}:x",
        f"role:{ME}:page:abc",
        f"role:{ME}:page:" + "9" * 40,
        f"role:{ME}:use:",
        f"role:{ME}:use:Assistant",
        f"role:{ME}:drop:assistant",
        f"role:{ME}:use:assistant:extra",
        f"role:0{ME}:page:0",  # not how the bot writes an id
    ],
    SettingsButton: [
        "set:",
        f"set:{ME}",
        f"set:{ME}:temperature",
        f"set:{ME}:temperature:1.5:extra",
        f"set:{ME}::",
        f"set:{ME}:reset:now",
        f"set:{ME}:colour:red",
        f"set:{ME}:" + JUNK,
    ],
    ForgetButton: [
        "forget:",
        "forget:yes",
        "forget:yes:abc",
        f"forget:maybe:{ME}",
        f"forget:yes:{ME}:again",
    ],
    AnswerButton: [
        "ans:",
        "ans:again",
        "ans:again:",
        "ans:again:0",
        "ans:again:01",
        "ans:again:-1",
        "ans:again:x",
        "ans:redo:5",
        "ans:more:5:extra",
        "ans:more:" + "9" * 20,
    ],
    ChatsButton: [
        "chats:",
        "chats:list:1",
        "chats:show",
        "chats:show:",
        "chats:show:0",
        "chats:drop:3",
        "chats:use:3:x",
        "chats:" + JUNK,
    ],
    LanguageButton: ["lang:", "lang:en:extra", "lang:" + "a" * 59, "lang:" + JUNK, "lang:EN"],
    RemoveButton: [
        "rm:",
        "rm:yes",
        "rm:yes:",
        f"rm:maybe:{SHORT_ID}",
        f"rm:yes:{SHORT_ID}:x",
        f"rm:yes:{SHORT_ID}:1234",
    ],
    PullButton: [
        "pull:",
        "pull:cancel",
        "pull:cancel:abc",
        "pull:cancel:" + "9" * 10,
        "pull:" + "Z" * 12,
        f"pull:{SHORT_ID}:x",
        "pull:" + JUNK,
    ],
}


@pytest.mark.parametrize("press", BUILT, ids=repr)
def test_what_the_bot_builds_reads_back_as_the_same_press_within_64_bytes(press: Any) -> None:
    data = press.build()
    assert len(data.encode("utf-8")) <= MAX_DATA_BYTES
    assert type(press).parse(data) == press
    assert re.match(type(press).PATTERN, data), "the press reaches its kind's handler"
    others = [kind for kind in KINDS if kind is not type(press)]
    assert not any(re.match(kind.PATTERN, data) for kind in others), "and no other"


@pytest.mark.parametrize(
    ("kind", "data"), [(kind, data) for kind, datas in MALFORMED.items() for data in datas]
)
def test_data_no_menu_makes_is_refused(kind: type[Any], data: str) -> None:
    assert kind.parse(data) is None


@pytest.mark.parametrize("data", ["", None, "x", "stop:1", ":" * 64, JUNK])
def test_foreign_data_is_refused_by_every_kind(data: str | None) -> None:
    assert all(kind.parse(data) is None for kind in KINDS)


@given(st.text(max_size=64))
def test_any_text_either_is_refused_or_reads_as_a_press_that_builds_it_back(data: str) -> None:
    for kind in KINDS:
        press = kind.parse(data)
        if press is not None:
            assert kind.parse(press.build()) == press


def test_a_button_stands_for_one_press() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        ModelButton()
    with pytest.raises(ValueError, match="exactly one"):
        ModelButton(model_id=SHORT_ID, page=1)
    with pytest.raises(ValueError, match="exactly one"):
        PullButton(model_id=SHORT_ID, cancel=1)
    with pytest.raises(ValueError, match="exactly one"):
        RoleButton(ME)
    with pytest.raises(ValueError, match="not an answer button"):
        AnswerButton("again", 0)
    with pytest.raises(ValueError, match="not a /chats button"):
        ChatsButton("list", 3)
    with pytest.raises(ValueError, match="not a /chats button"):
        ChatsButton("use")


def test_data_over_64_bytes_is_never_built() -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        SettingsButton(ME, "temperature", "9" * 60).build()
