"""What of a conversation the model is sent: token estimates and the window of history.

Model servers (Ollama's runner, llama.cpp's server, LM Studio, vLLM) keep the previous prompt's
computed state and reuse the longest prefix the next prompt shares with it; only the rest is
evaluated. Dropping the oldest turn on every request would change the prompt's front each time
and have the whole window evaluated again on every message. So the window's start moves rarely
and far: while the conversation since the start fits, it is all sent; when it no longer does, the
start jumps forward until what is left takes at most half the budget, and stays there until the
window fills again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.llm import ChatMessage

# What one image costs in the context: LLaVA 1.6 (llava:latest) takes up to 2,880 tokens; models
# whose architecture says otherwise are looked up, by /api/show's general.architecture.
IMAGE_TOKENS = 2880
REFILL_SHARE = 0.5  # after a cut, the history left takes at most this share of the budget


def estimate_tokens(text: str) -> int:
    """A deliberately high token estimate: English runs ~4 bytes a token, CJK ~3."""
    return len(text.encode("utf-8")) // 3 + 4


def message_tokens(message: ChatMessage, image_tokens: int = IMAGE_TOKENS) -> int:
    """The estimate for a message with its images."""
    return estimate_tokens(message.content) + image_tokens * len(message.images)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """A stored turn as the model gets it, with the id that orders the conversation."""

    id: int
    message: ChatMessage


@dataclass(frozen=True, slots=True)
class Window:
    """The messages of one request, and where the history they hold starts.

    `start_id` is the id of the oldest turn still sent (everything before it is out of the
    context for good); `moved` says that this request moved it, so it is to be kept for the
    next requests.
    """

    messages: list[ChatMessage]
    start_id: int | None
    moved: bool


def stable_window(
    system: ChatMessage | None,
    history: Sequence[HistoryEntry],
    question: ChatMessage,
    *,
    budget_tokens: int,
    start_id: int | None,
    question_id: int,
    image_tokens: int = IMAGE_TOKENS,
) -> Window:
    """System prompt + the history since `start_id` + the question, if that fits
    `budget_tokens`; else the start moves forward, oldest turns first, until the history left
    takes at most half the budget (all of it goes when the question alone is that large:
    the start is then `question_id`).

    The system prompt and the question are always kept, since Ollama itself would silently cut
    the front of an over-long context, system prompt included.
    """
    fixed = message_tokens(question, image_tokens)
    fixed += estimate_tokens(system.content) if system else 0
    since = since_all = [entry for entry in history if start_id is None or entry.id >= start_id]
    used = fixed + sum(message_tokens(entry.message, image_tokens) for entry in since)
    moved = used > budget_tokens
    if moved:
        since = _newest(since, int(budget_tokens * REFILL_SHARE) - fixed, image_tokens)
        if not since:  # a small window: at least the last exchange, if it fits at all
            since = _newest(since_all[-2:], budget_tokens - fixed, image_tokens)
    since = _from_a_question(since)
    if moved:
        start_id = since[0].id if since else question_id
    return Window(
        [*([system] if system else []), *(entry.message for entry in since), question],
        start_id,
        moved,
    )


def _newest(
    history: Sequence[HistoryEntry], room: int, image_tokens: int
) -> list[HistoryEntry]:
    """The newest turns of `history` that fit `room` tokens, starting with a question."""
    kept: list[HistoryEntry] = []
    for entry in reversed(history):
        room -= message_tokens(entry.message, image_tokens)
        if room < 0:
            break
        kept.append(entry)
    kept.reverse()
    return _from_a_question(kept)


def _from_a_question(history: list[HistoryEntry]) -> list[HistoryEntry]:
    """A context that starts with the model's own words reads as if it had spoken unprompted."""
    start = next((i for i, entry in enumerate(history) if entry.message.role != "assistant"), None)
    return [] if start is None else history[start:]
