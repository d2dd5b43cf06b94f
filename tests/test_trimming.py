"""Trimming history to the model's context window."""

from __future__ import annotations

from bot.chat import estimate_tokens, trim_to_context
from bot.llm import ChatMessage


def turns(count: int, size: int = 300) -> list[ChatMessage]:
    return [
        ChatMessage("user" if i % 2 == 0 else "assistant", f"turn {i} " + "x" * size)
        for i in range(count)
    ]


def test_everything_kept_when_it_fits() -> None:
    history = turns(4, size=10)
    result = trim_to_context(
        ChatMessage("system", "be kind"), history, ChatMessage("user", "q"), 10_000
    )
    assert result == [ChatMessage("system", "be kind"), *history, ChatMessage("user", "q")]


def test_oldest_turns_dropped_first_system_and_question_kept() -> None:
    history = turns(40)
    system = ChatMessage("system", "You are helpful.")
    question = ChatMessage("user", "latest question")
    result = trim_to_context(system, history, question, budget_tokens=1000)
    assert result[0] == system
    assert result[-1] == question
    kept = result[1:-1]
    assert kept, "some history fits"
    assert kept == history[len(history) - len(kept) :], "the newest turns, in order"
    assert sum(estimate_tokens(m.content) for m in result) <= 1000


def test_kept_history_starts_with_a_user_turn() -> None:
    history = turns(9)
    result = trim_to_context(None, history, ChatMessage("user", "q"), budget_tokens=500)
    assert result[0].role == "user"


def test_question_alone_when_nothing_else_fits() -> None:
    question = ChatMessage("user", "y" * 5000)
    result = trim_to_context(ChatMessage("system", "s"), turns(6), question, budget_tokens=100)
    assert result == [ChatMessage("system", "s"), question]


def test_chinese_is_estimated_at_least_one_token_per_character() -> None:
    assert estimate_tokens("中文" * 100) >= 200
