"""Who may use the bot: the pure rules behind the gate."""

from __future__ import annotations

from bot.refusals import RefusalMemory
from bot.telegram.access import AccessPolicy
from bot.telegram.ingress import retry_delay
from bot.telegram.pacing import SendBudget

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


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_stranger_is_refused_once_per_window() -> None:
    clock = Clock()
    memory = RefusalMemory(window=300, clock=clock)
    assert memory.claim(6666), "the first message is answered with the refusal"
    clock.now += 299
    assert not memory.claim(6666), "the next ones within five minutes are not"
    assert memory.claim(7777), "another stranger is told all the same"
    clock.now += 2
    assert memory.claim(6666), "after the window the stranger is told again"


def test_a_refusal_never_sent_can_be_tried_again() -> None:
    memory = RefusalMemory(clock=Clock())
    assert memory.claim(6666)
    memory.release(6666)
    assert memory.claim(6666)


def test_thousands_of_strangers_are_remembered_within_the_capacity() -> None:
    clock = Clock()
    memory = RefusalMemory(window=300, capacity=500, clock=clock)
    for stranger in range(10_000, 15_000):
        memory.claim(stranger)
        clock.now += 0.01
    assert len(memory) == 500, "never more than the capacity"
    assert not memory.claim(14_999), "the newest are the ones kept"
    clock.now += 301
    assert len(memory) == 0, "everything is forgotten once the window is over"


def test_retry_pause_grows_then_stays_at_half_a_minute() -> None:
    assert [retry_delay(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert retry_delay(20) == 30.0


async def test_refusals_leave_most_of_the_overall_budget_to_allowed_users() -> None:
    budget = SendBudget(30, 1.1)
    granted = sum(budget.try_take(spare=20) for _ in range(30))
    assert granted == 10
    await budget.take(urgent=True)  # an answer's first words still go at once
