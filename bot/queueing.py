"""The fair queue in front of the model: a few generations at once, everyone else in line.

A home GPU serves one model answer at a time best, so generations hold one of a few slots
(MAX_CONCURRENT_ANSWERS). Whoever waits is served first come, first served across users, is
told how many are ahead of them whenever that changes, and leaves the line when they /stop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

AheadListener = Callable[[int], None]


@dataclass(slots=True)
class _Waiter:
    granted: asyncio.Future[None]
    on_ahead: AheadListener
    told: int = -1  # the last count this waiter was told


@dataclass(slots=True)
class SlotQueue:
    """At most `slots` holders; the rest wait in the order they came."""

    slots: int = 1
    _holders: int = 0
    _line: list[_Waiter] = field(default_factory=list)
    _closed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def waiting(self) -> int:
        """How many are in line."""
        return len(self._line)

    @contextlib.asynccontextmanager
    async def slot(self, stop: asyncio.Event, on_ahead: AheadListener) -> AsyncIterator[bool]:
        """Hold a slot for the block: True once it is held, False if `stop` was set first or
        the queue was closed (then nothing is held). While in line, `on_ahead(n)` says how many
        are ahead; `on_ahead(0)` when the turn has come."""
        if self._closed.is_set():
            yield False
            return
        if self._holders < self.slots and not self._line:
            self._holders += 1
            try:
                yield True
            finally:
                self._release()
            return
        waiter = _Waiter(asyncio.get_running_loop().create_future(), on_ahead)
        self._line.append(waiter)
        self._tell_positions()
        stopping = asyncio.ensure_future(stop.wait())
        closing = asyncio.ensure_future(self._closed.wait())
        either: set[asyncio.Future[Any]] = {waiter.granted, stopping, closing}
        try:
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            self._leave(waiter)
            raise
        finally:
            stopping.cancel()
            closing.cancel()
        if not waiter.granted.done():  # stopped while in line
            self._leave(waiter)
            yield False
            return
        try:
            yield True
        finally:
            self._release()

    def close(self) -> None:
        """Shutting down: whoever waits, and whoever comes, gets no slot; holders keep theirs."""
        self._closed.set()

    def _leave(self, waiter: _Waiter) -> None:
        if waiter.granted.done():  # granted in the same moment: hand the slot on
            self._release()
            return
        waiter.granted.cancel()
        self._line.remove(waiter)
        self._tell_positions()

    def _release(self) -> None:
        self._holders -= 1
        while self._line and self._holders < self.slots:
            waiter = self._line.pop(0)
            self._holders += 1
            waiter.granted.set_result(None)
            waiter.on_ahead(0)  # its turn has come
        self._tell_positions()

    def _tell_positions(self) -> None:
        for index, waiter in enumerate(self._line):
            ahead = index + 1
            if waiter.told != ahead:
                waiter.told = ahead
                waiter.on_ahead(ahead)
