"""SendBudget: Telegram's overall limit for one bot (about 30 messages a second, across all
chats), shared so that what users wait for goes first.

A sliding window, not a token bucket: a bucket that is full lets 30 calls out at once and then
30 more within the same second, which is the flood Telegram answers with 429. Urgent calls (an
answer's first words, its final message, a reply to a command) are granted before routine ones
(a growing answer shown again with more words); routine ones are first come, first served, so
every streaming answer gets its share. A routine refresh that waits loses nothing: it shows the
newest text when its turn comes.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import deque

URGENT = 0
ROUTINE = 1


class SendBudget:
    """At most `calls` grants in any `window` seconds, urgent ones first."""

    def __init__(self, calls: int, window: float) -> None:
        self._calls = calls
        self._window = window
        self._granted: deque[float] = deque()  # loop times of the grants still in the window
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._arrivals = itertools.count()
        self._timer: asyncio.Handle | None = None

    async def take(self, *, urgent: bool) -> None:
        """Wait until a call may be made now, and count it."""
        loop = asyncio.get_running_loop()
        if not self._waiting and self._room(loop.time()):
            self._granted.append(loop.time())
            return
        grant: asyncio.Future[None] = loop.create_future()
        heapq.heappush(
            self._waiting, (URGENT if urgent else ROUTINE, next(self._arrivals), grant)
        )
        self._schedule(loop)
        await grant  # a caller cancelled while waiting is skipped when its turn comes

    def try_take(self, *, spare: int = 0) -> bool:
        """Count a call that may be made now without waiting behind anyone and still leaves
        `spare` calls of the window to others; False (nothing counted) otherwise."""
        now = asyncio.get_running_loop().time()
        if self._waiting or not self._room(now) or len(self._granted) + spare >= self._calls:
            return False
        self._granted.append(now)
        return True

    def _room(self, now: float) -> bool:
        while self._granted and self._granted[0] <= now - self._window:
            self._granted.popleft()
        return len(self._granted) < self._calls

    def _grant_waiting(self) -> None:
        self._timer = None
        loop = asyncio.get_running_loop()
        while self._waiting and self._room(loop.time()):
            _, _, grant = heapq.heappop(self._waiting)
            if not grant.done():
                self._granted.append(loop.time())
                grant.set_result(None)
        self._schedule(loop)

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wake when the oldest grant leaves the window, if anyone waits for room."""
        if self._timer is not None or not self._waiting:
            return
        if self._room(loop.time()):
            self._timer = loop.call_soon(self._grant_waiting)
        else:
            self._timer = loop.call_at(self._granted[0] + self._window, self._grant_waiting)
