"""ModelInstaller: pulls and removals of models, in the background, one pull per model.

PullTracker turns Ollama's per-layer status lines into one overall progress (bytes done and
total, speed, time left); the Telegram side shows it through a PullView.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Protocol

from bot.errors import BotError
from bot.llm.types import PullStatus
from bot.models import ModelCatalog, full_name, model_id

log = logging.getLogger(__name__)

SPEED_SMOOTHING = 0.3  # weight of the newest speed sample
MIN_SAMPLE_S = 0.5


@dataclass(frozen=True, slots=True)
class PullProgress:
    """Where a pull stands, over all its layers."""

    model: str
    status: str
    completed: int = 0
    total: int = 0
    bytes_per_s: float | None = None

    @property
    def fraction(self) -> float | None:
        """0.0–1.0 once sizes are known."""
        return min(self.completed / self.total, 1.0) if self.total else None

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the current speed."""
        if not self.total or not self.bytes_per_s:
            return None
        return max(self.total - self.completed, 0) / self.bytes_per_s


@dataclass(slots=True)
class PullTracker:
    """Adds up Ollama's layer lines; pure apart from the clock it is given."""

    model: str
    clock: Callable[[], float] = time.monotonic
    _layers: dict[str, tuple[int, int]] = field(default_factory=dict)
    _speed: float | None = None
    _sample: tuple[float, int] | None = None

    def update(self, line: PullStatus) -> PullProgress:
        """Take one status line; the overall progress after it."""
        if line.digest:
            total = line.total or self._layers.get(line.digest, (0, 0))[0]
            self._layers[line.digest] = (total, line.completed or 0)
        completed = sum(done for _, done in self._layers.values())
        total = sum(size for size, _ in self._layers.values())
        now = self.clock()
        if self._sample is None:
            self._sample = (now, completed)
        elif now - self._sample[0] >= MIN_SAMPLE_S:
            rate = (completed - self._sample[1]) / (now - self._sample[0])
            self._speed = (
                rate
                if self._speed is None
                else SPEED_SMOOTHING * rate + (1 - SPEED_SMOOTHING) * self._speed
            )
            self._sample = (now, completed)
        return PullProgress(self.model, line.status, completed, total, self._speed)


@dataclass(frozen=True, slots=True)
class PullSucceeded:
    """The model is installed."""

    model: str


@dataclass(frozen=True, slots=True)
class PullFailed:
    """Ollama refused or broke off; `error` says why."""

    model: str
    error: BotError


@dataclass(frozen=True, slots=True)
class PullCancelled:
    """Someone pressed Cancel (or the bot is stopping)."""

    model: str


PullOutcome = PullSucceeded | PullFailed | PullCancelled


class PullView(Protocol):
    """Where a pull's progress is shown."""

    def show(self, progress: PullProgress) -> None:
        """The latest progress; must not block."""

    async def finish(self, outcome: PullOutcome) -> None:
        """The end of the pull."""


class PullServer(Protocol):
    """What the installer needs from the model server."""

    def pull(self, model: str, location: str | None = None) -> AsyncIterator[PullStatus]: ...
    async def delete(self, model: str, location: str | None = None) -> None: ...


@dataclass(slots=True)
class _Pull:
    """One pull: reserved first (so a second request is refused at once), then running."""

    model: str
    number: int
    task: asyncio.Task[None] | None = None
    location: str | None = None  # which Ollama host (None: the first)


class ModelInstaller:
    """Runs pulls in the background (one per model at a time) and removals."""

    def __init__(self, server: PullServer, catalog: ModelCatalog) -> None:
        self._server = server
        self._catalog = catalog
        self._pulls: dict[str, _Pull] = {}
        self._numbers = itertools.count(1)
        self._closing = False

    def reserve(self, model: str) -> int | None:
        """Claim the pull of `model`; its number, or None if it is being pulled already."""
        key = model_id(model)
        if key in self._pulls or self._closing:
            return None
        pull = _Pull(full_name(model), next(self._numbers))
        self._pulls[key] = pull
        return pull.number

    def release(self, number: int) -> None:
        """Give up a reservation that was never started."""
        if (pull := self._find(number)) is not None and pull.task is None:
            del self._pulls[model_id(pull.model)]

    def begin(self, number: int, view: PullView, location: str | None = None) -> None:
        """Start the reserved pull `number` in the background on the Ollama host called
        `location` (None: the first), shown through `view`."""
        pull = self._find(number)
        if pull is None or pull.task is not None:
            raise RuntimeError(f"pull {number} was not reserved")
        pull.location = location
        if self._closing:  # the bot began stopping while the progress message was being sent
            self.release(number)
            return
        pull.task = asyncio.create_task(self._pull(pull, view))

    def cancel(self, number: int) -> bool:
        """Cancel pull `number` (a Cancel button); False if it is not running any more."""
        pull = self._find(number)
        if pull is None or pull.task is None:
            return False  # over (its outcome is being shown), or its message not sent yet
        pull.task.cancel()
        return True

    async def stop_all(self) -> None:
        """Cancel every pull and wait until each has told its view; start no new one."""
        self._closing = True
        tasks = [pull.task for pull in self._pulls.values() if pull.task is not None]
        for number in [pull.number for pull in self._pulls.values()]:
            self.cancel(number)
        await asyncio.gather(*tasks, return_exceptions=True)

    async def remove(self, model: str, location: str | None = None) -> None:
        """Delete `model` from the server called `location` (None: the one that has it);
        ModelNotFound if it is not there."""
        try:
            await self._server.delete(model, location)
        finally:
            self._catalog.invalidate()

    def _find(self, number: int) -> _Pull | None:
        return next((p for p in self._pulls.values() if p.number == number), None)

    async def _pull(self, pull: _Pull, view: PullView) -> None:
        tracker = PullTracker(pull.model)
        outcome: PullOutcome
        try:
            async for line in self._server.pull(pull.model, pull.location):
                view.show(tracker.update(line))
            outcome = PullSucceeded(pull.model)
        except asyncio.CancelledError:
            outcome = PullCancelled(pull.model)
        except BotError as err:
            outcome = PullFailed(pull.model, err)
        except Exception:  # a background task: nobody else would see this
            log.exception("the pull of %s failed", pull.model)
            outcome = PullFailed(pull.model, BotError("unexpected failure"))
        finally:
            self._catalog.invalidate()
        # From here on the pull is over: Cancel finds nothing, a new pull of the model may start.
        self._pulls.pop(model_id(pull.model), None)
        log.info("pull of %s ended: %s", pull.model, type(outcome).__name__)
        try:
            await view.finish(outcome)
        except Exception:
            log.exception("could not show the end of the pull of %s", pull.model)
