"""What ChatService tells a user besides the answer itself; the Telegram side words it."""

from __future__ import annotations

from dataclasses import dataclass

from bot.records import AnswerFigures


@dataclass(frozen=True, slots=True)
class ModelReplaced:
    """The user's model was removed from the server; `now` answers instead."""

    removed: str
    now: str


@dataclass(frozen=True, slots=True)
class RoleReplaced:
    """The user's role was deleted; they are back to `now`."""

    removed: str
    now: str


@dataclass(frozen=True, slots=True)
class DocumentCut:
    """A document was longer than the model's context: only its beginning was sent."""

    name: str


@dataclass(frozen=True, slots=True)
class ImagesCut:
    """More photos came together than the model's window holds: the first `kept` were sent."""

    kept: int
    sent: int


@dataclass(frozen=True, slots=True)
class ContextTrimmed:
    """The conversation outgrew the model's window: its oldest messages are no longer sent."""


Notice = ModelReplaced | RoleReplaced | DocumentCut | ImagesCut | ContextTrimmed


@dataclass(frozen=True, slots=True)
class AnswerFooter:
    """A line under an answer: which model wrote it and how fast. `detailed` (in /compare)
    adds the token count and the whole duration."""

    model: str
    figures: AnswerFigures
    detailed: bool = False

    @property
    def tokens_per_second(self) -> float | None:
        """Ollama's generation speed: eval_count over eval_duration."""
        tokens, duration_ns = self.figures.completion_tokens, self.figures.eval_duration_ns
        if not tokens or not duration_ns:
            return None
        return tokens / (duration_ns / 1e9)

    @property
    def seconds(self) -> float | None:
        """The whole request as Ollama timed it (loading included)."""
        total = self.figures.total_duration_ns
        return total / 1e9 if total else None
