"""Who may use the bot: the pure rules behind the gate."""

from __future__ import annotations

from bot.access import AccessPolicy

POLICY = AccessPolicy(
    allowed_users=frozenset({1, 2}), admins=frozenset({9}), allowed_chats=frozenset({-100})
)


def test_allowed_users_and_admins_chat_others_do_not() -> None:
    assert POLICY.may_chat(1)
    assert POLICY.may_chat(9), "admins are always allowed"
    assert not POLICY.may_chat(3)


def test_only_admins_are_admins() -> None:
    assert POLICY.is_admin(9)
    assert not POLICY.is_admin(1)


def test_private_chats_are_open_groups_only_when_listed() -> None:
    assert POLICY.chat_open(3, "private")
    assert POLICY.chat_open(-100, "supergroup")
    assert not POLICY.chat_open(-200, "group")


def test_empty_allow_list_means_only_admins() -> None:
    policy = AccessPolicy(frozenset(), frozenset({9}), frozenset())
    assert policy.may_chat(9)
    assert not policy.may_chat(1)
