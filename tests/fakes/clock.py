"""A clock of the test's own: time moves only when every task waits for it, and then straight
to the next moment someone sleeps until. Pacing is asserted in its seconds, never the wall's."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable
from typing import Any, TypeVar

T = TypeVar("T")
_SETTLE_STEPS = 50  # loop passes for every task to run until it waits


class FakeClock:
    """`clock()` is the time now; `sleep(s)` waits until the clock has moved `s` further."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        """Wait until the clock reaches now + `seconds` (at once for nothing or less)."""
        wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), next(self._order), wake))
        await wake

    async def settle(self) -> None:
        """Let every task run until it waits."""
        for _ in range(_SETTLE_STEPS):
            await asyncio.sleep(0)

    async def advance(self, seconds: float) -> None:
        """Move the clock `seconds` on, waking every sleeper due on the way, in time order."""
        until = self.now + seconds
        await self.settle()
        while self._sleepers and self._sleepers[0][0] <= until:
            self._wake_next()
            await self.settle()
        self.now = until

    async def run(self, *work: Awaitable[T]) -> list[T]:
        """Await all of `work`, moving the clock whenever nothing else can happen."""
        tasks: list[asyncio.Future[Any]] = [asyncio.ensure_future(w) for w in work]
        await self.settle()
        while not all(t.done() for t in tasks):
            if not self._sleepers:
                raise AssertionError("nothing sleeps, yet the work is not done: stuck")
            self._wake_next()
            await self.settle()
        return [t.result() for t in tasks]

    def _wake_next(self) -> None:
        when, _, wake = heapq.heappop(self._sleepers)
        self.now = max(self.now, when)
        if not wake.done():
            wake.set_result(None)
