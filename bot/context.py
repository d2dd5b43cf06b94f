"""What of a conversation the model is sent: how one request asks the model (Generation), token
estimates, the room a document and photos may take, and the window of history. Pure: no I/O.

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
from dataclasses import dataclass, replace
from typing import Any

from bot.llm.types import ChatMessage, ModelFacts
from bot.records import StoredImage, StoredMessage, UserSettings
from bot.roles import Role

# What one image costs in the context: LLaVA 1.6 (llava:latest) takes up to 2,880 tokens; models
# whose architecture says otherwise are looked up, by /api/show's general.architecture.
IMAGE_TOKENS = 2880
IMAGE_TOKENS_BY_ARCHITECTURE = {"gemma3": 256, "gemma3n": 256, "mllama": 1601, "qwen25vl": 2304}
# A thinking model may write this many times MAX_ANSWER_TOKENS in all, reasoning included
# (qwen3 and deepseek-r1 often think for several thousand tokens before they answer).
REASONING_ALLOWANCE = 4
REFILL_SHARE = 0.5  # after a cut, the history left takes at most this share of the budget
DOCUMENT_MARGIN_TOKENS = 64  # the delimiters around a document's text, and rounding


@dataclass(frozen=True, slots=True)
class ChatDefaults:
    """Configured defaults for users who chose nothing."""

    temperature: float = 0.7
    num_ctx: int = 8192
    think: bool = True  # for models that can think: Ollama's own default
    keep_alive: str | int | None = None
    compare_models: int = 3  # how many models /compare asks when the user chose none
    compare_concurrency: int = 1
    concurrent_answers: int = 1  # generations at once, for everyone (MAX_CONCURRENT_ANSWERS)
    log_content: bool = False  # LOG_CONTENT: questions and answers in the log
    max_answer_tokens: int | None = None  # MAX_ANSWER_TOKENS
    auto_titles: bool = True  # AUTO_TITLES: the model names each new conversation


@dataclass(frozen=True, slots=True)
class Generation:
    """How one request asks the model: Ollama's `options` and `think`, and the window the
    user's history is trimmed to (`context_tokens`: their context setting, never more than the
    model's runner window, `runner_tokens`)."""

    temperature: float
    runner_tokens: int  # Ollama's num_ctx: the same for every request to the model
    think: bool | None  # None for models that cannot think: Ollama refuses `think` for them
    context_tokens: int
    image_tokens: int = IMAGE_TOKENS  # what one image costs this model
    answer_tokens: int | None = None  # Ollama's num_predict (MAX_ANSWER_TOKENS)

    @property
    def options(self) -> dict[str, Any]:
        """Ollama's `options` for this request. `num_predict` counts every token the model
        writes, its reasoning too: a thinking model gets room to think on top of the answer."""
        options: dict[str, Any] = {"temperature": self.temperature, "num_ctx": self.runner_tokens}
        if self.answer_tokens:
            share = REASONING_ALLOWANCE if self.think else 1
            options["num_predict"] = self.answer_tokens * share
        return options

    @property
    def budget_tokens(self) -> int:
        """What the prompt may take: the window less a quarter for the answer, which Ollama
        needs in the same context."""
        return self.context_tokens - self.context_tokens // 4


def effective_generation(
    facts: ModelFacts, settings: UserSettings, defaults: ChatDefaults
) -> Generation:
    """The user's temperature, context size and thinking, as they apply to this model.

    The runner's window is NUM_CTX capped at the model's own, the same for every request to
    that model whoever asks: Ollama reloads a loaded model when a request's runner options
    differ, so one family member's setting would cost the other seconds. The user's context
    size only limits how much history is sent. `think` is None for a model that cannot think.
    """
    runner = defaults.num_ctx
    if facts.context_length:
        runner = min(runner, facts.context_length)
    think = None
    if "thinking" in facts.capabilities:
        think = defaults.think if settings.think is None else settings.think
    return Generation(
        temperature=defaults.temperature if settings.temperature is None else settings.temperature,
        runner_tokens=runner,
        think=think,
        context_tokens=min(settings.num_ctx or runner, runner),
        image_tokens=IMAGE_TOKENS_BY_ARCHITECTURE.get(facts.architecture, IMAGE_TOKENS),
        answer_tokens=defaults.max_answer_tokens,
    )


def default_generation(defaults: ChatDefaults) -> Generation:
    """The configured defaults, for when the model cannot be asked what it takes."""
    return effective_generation(ModelFacts(context_length=None), UserSettings(), defaults)


@dataclass(frozen=True, slots=True)
class AttachedText:
    """A document's text, sent along with the question."""

    name: str
    text: str


def with_document(
    question: str, document: AttachedText, room_tokens: int | None
) -> tuple[str, bool]:
    """The question followed by the document's text, cut to `room_tokens` (None: whole);
    True when the text was cut."""
    text = document.text.strip()
    cut = False
    if room_tokens is not None and estimate_tokens(text) > room_tokens:
        keep_bytes = max(room_tokens - 4, 0) * 3
        text = text.encode("utf-8")[:keep_bytes].decode("utf-8", errors="ignore").rstrip()
        cut = True
    name = document.name
    return f"{question}\n\n--- {name} ---\n{text}\n--- end of {name} ---", cut


def document_room(
    question: str, images: Sequence[StoredImage], generation: Generation, role: Role | None
) -> int:
    """Tokens a document may take: half of what the prompt may hold less the role, the question
    and its images, so the next question still has the document and its answer in context."""
    used = estimate_tokens(question) + generation.image_tokens * len(images)
    used += estimate_tokens(role.prompt) if role else 0
    return max(generation.budget_tokens // 2 - used - DOCUMENT_MARGIN_TOKENS, 0)


@dataclass(frozen=True, slots=True)
class FittedQuestion:
    """A question as it fits the window: its text (with the document's beginning) and the
    photos that fit, and whether either was cut."""

    text: str
    images: tuple[StoredImage, ...]
    images_cut: bool
    document_cut: bool


def fit_question(
    said: str,
    images: tuple[StoredImage, ...],
    document: AttachedText | None,
    role: Role,
    generation: Generation,
) -> FittedQuestion:
    """The question with the first photos that fit (an album larger than the window loses the
    rest) and the document's text cut to its room (`document_room`)."""
    kept = images[: images_that_fit(said, role, generation)]
    text, cut = said, False
    if document is not None:
        text, cut = with_document(said, document, document_room(said, kept, generation, role))
    return FittedQuestion(text, kept, len(kept) < len(images), cut)


def images_that_fit(question: str, role: Role, generation: Generation) -> int:
    """How many images one message can carry in this window (at least one)."""
    room = generation.budget_tokens - estimate_tokens(question) - estimate_tokens(role.prompt)
    return max(room // generation.image_tokens, 1)


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
    reaches_start: bool = True,
) -> Window:
    """System prompt + the history since `start_id` + the question, if that fits
    `budget_tokens`; else the start moves forward, oldest turns first, until the history left
    takes at most half the budget (all of it goes when the question alone is that large:
    the start is then `question_id`). `reaches_start` False says `history` does not go back
    as far as the start (only the newest turns were read): the window then counts as full,
    since a start that followed what was read would move on every question.

    The system prompt and the question are always kept, since Ollama itself would silently cut
    the front of an over-long context, system prompt included.
    """
    fixed = message_tokens(question, image_tokens)
    fixed += estimate_tokens(system.content) if system else 0
    since = since_all = [entry for entry in history if start_id is None or entry.id >= start_id]
    used = fixed + sum(message_tokens(entry.message, image_tokens) for entry in since)
    moved = used > budget_tokens or not reaches_start
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


def _newest(history: Sequence[HistoryEntry], room: int, image_tokens: int) -> list[HistoryEntry]:
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


def history_of(earlier: Sequence[StoredMessage]) -> list[HistoryEntry]:
    """The stored turns as the model gets them: failed answers left out, images kept with the
    message they came with."""
    return [
        HistoryEntry(m.id, ChatMessage(m.role, m.content, tuple(i.data for i in m.images)))
        for m in earlier
        if (m.content or m.images) and not (m.role == "assistant" and m.status == "error")
    ]


def conversation_window(
    role: Role,
    earlier: Sequence[StoredMessage],
    question: ChatMessage,
    generation: Generation,
    *,
    start_id: int | None,
    question_id: int,
    reaches_start: bool = True,
) -> Window:
    """The messages for `/api/chat`: the role, the history since the window's start, the
    question (as the user wrote it: the role wraps it here). Each image goes with the message
    it came with, and only there."""
    system_prompt = role.system_prompt()
    history = [
        # A template role wraps every message of its conversation, not only the newest.
        HistoryEntry(e.id, replace(e.message, content=role.wrap(e.message.content)))
        if e.message.role == "user"
        else e
        for e in history_of(earlier)
    ]
    return stable_window(
        ChatMessage("system", system_prompt) if system_prompt else None,
        history,
        replace(question, content=role.wrap(question.content)),
        budget_tokens=generation.budget_tokens,
        start_id=start_id,
        question_id=question_id,
        image_tokens=generation.image_tokens,
        reaches_start=reaches_start,
    )


def holds_images(window: Window) -> bool:
    """Whether any message of the window carries an image (then a model that can see must
    answer)."""
    return any(message.images for message in window.messages)
