"""The window of history sent to the model: it fits, and its front moves rarely."""

from __future__ import annotations

from bot.context import HistoryEntry, Window, estimate_tokens, message_tokens, stable_window
from bot.llm import ChatMessage

SYSTEM = ChatMessage("system", "You are helpful.")


def turns(count: int, size: int = 300, first_id: int = 1) -> list[HistoryEntry]:
    return [
        HistoryEntry(
            first_id + i,
            ChatMessage("user" if i % 2 == 0 else "assistant", f"turn {i} " + "x" * size),
        )
        for i in range(count)
    ]


def window(
    history: list[HistoryEntry], start: int | None, budget: int, question: str = "q"
) -> Window:
    next_id = history[-1].id + 1 if history else 1
    return stable_window(
        SYSTEM,
        history,
        ChatMessage("user", question),
        budget_tokens=budget,
        start_id=start,
        question_id=next_id,
    )


def tokens(messages: list[ChatMessage]) -> int:
    return sum(message_tokens(m) for m in messages)


def test_everything_kept_while_it_fits_and_the_start_does_not_move() -> None:
    history = turns(4, size=10)
    result = window(history, None, 10_000)
    assert result.messages == [SYSTEM, *(e.message for e in history), ChatMessage("user", "q")]
    assert not result.moved
    assert result.start_id is None


def test_a_full_window_is_cut_to_half_the_budget_keeping_system_and_question() -> None:
    history = turns(40)
    result = window(history, None, budget=1000)
    assert result.moved
    assert result.messages[0] == SYSTEM
    assert result.messages[-1] == ChatMessage("user", "q")
    kept = result.messages[1:-1]
    assert kept, "some history fits"
    assert kept == [e.message for e in history[len(history) - len(kept) :]], "newest, in order"
    assert tokens(result.messages) <= 500, "cut to half the budget, not just under it"
    assert result.start_id == history[len(history) - len(kept)].id


def test_the_front_stays_put_until_the_window_fills_again() -> None:
    history = turns(12)
    first = window(history, None, budget=1000)
    assert first.moved
    assert first.start_id is not None
    start = first.start_id
    fronts = []
    # The conversation grows turn by turn: the same start, the same front, until it is full.
    while True:
        history += turns(2, first_id=history[-1].id + 1)
        result = window(history, start, budget=1000)
        if result.moved:
            break
        assert result.start_id == start
        fronts.append(result.messages[1])
        assert tokens(result.messages) <= 1000
    assert len(fronts) >= 2, "several turns went by on one front"
    assert len(set(fronts)) == 1, "the oldest message sent did not change"
    assert result.start_id is not None
    assert result.start_id > start, "then it jumped forward, once"


def test_kept_history_starts_with_a_user_turn() -> None:
    history = turns(9)
    result = window(history, None, budget=500)
    assert result.messages[1].role == "user"
    assert result.start_id is not None
    assert next(e for e in history if e.id == result.start_id).message.role == "user"


def test_question_alone_when_nothing_else_fits_and_the_start_is_the_question() -> None:
    history = turns(6)
    result = window(history, None, budget=100, question="y" * 5000)
    assert result.messages == [SYSTEM, ChatMessage("user", "y" * 5000)]
    assert result.start_id == history[-1].id + 1


def test_images_count_toward_the_window() -> None:
    photo = HistoryEntry(1, ChatMessage("user", "look", (b"jpeg",)))
    answer = HistoryEntry(2, ChatMessage("assistant", "a cat"))
    kept = stable_window(
        None,
        [photo, answer],
        ChatMessage("user", "and now?"),
        budget_tokens=1000,
        start_id=None,
        question_id=3,
        image_tokens=2880,
    )
    assert kept.messages == [ChatMessage("user", "and now?")], "the photo does not fit"


def test_chinese_is_estimated_at_least_one_token_per_character() -> None:
    assert estimate_tokens("中文" * 100) >= 200


def test_history_that_does_not_reach_the_start_counts_as_a_full_window() -> None:
    # Only the newest turns were read: a start that followed them would move every question.
    history = turns(10, size=10, first_id=500)
    result = stable_window(
        SYSTEM,
        history,
        ChatMessage("user", "q"),
        budget_tokens=10_000,
        start_id=None,
        question_id=510,
        reaches_start=False,
    )
    assert result.moved
    assert result.start_id == 500, "everything read fits half the window: it all stays"
    again = stable_window(
        SYSTEM,
        [*history, *turns(2, size=10, first_id=510)],
        ChatMessage("user", "q2"),
        budget_tokens=10_000,
        start_id=result.start_id,
        question_id=512,
    )
    assert not again.moved, "from then on the kept start holds"
    assert again.messages[1] == history[0].message
