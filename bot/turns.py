"""First come, first served turns whose place is taken the moment one joins.

asyncio.Lock queues a waiter only once `acquire()` runs, which may be after other awaits; a
TurnQueue place is taken synchronously by `join()`, so a caller can join, then do slow things
(answer a button press, look something up), and still keep the order in which users acted.
"""

from __future__ import annotations

import asyncio
from types import TracebackType


class Turn:
    """One place in a TurnQueue: `async with turn:` waits for the places ahead, then holds it.

    A turn that is never entered must be `abandon()`ed, or the queue stops behind it.
    """

    def __init__(self, ahead: asyncio.Future[None] | None, done: asyncio.Future[None]) -> None:
        self._ahead = ahead
        self._done = done

    async def __aenter__(self) -> None:
        if self._ahead is None or self._ahead.done():
            return
        try:
            # Shielded: our being cancelled must not end the turn of the one ahead.
            await asyncio.shield(self._ahead)
        except asyncio.CancelledError:
            self.abandon()
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._end()

    def abandon(self) -> None:
        """Give the place up: the turn passes on as soon as the ones ahead are done."""
        if self._ahead is None or self._ahead.done():
            self._end()
        else:
            self._ahead.add_done_callback(lambda _: self._end())

    def _end(self) -> None:
        if not self._done.done():
            self._done.set_result(None)


class TurnQueue:
    """Turns in the order `join()` was called."""

    def __init__(self) -> None:
        self._last: asyncio.Future[None] | None = None

    def join(self) -> Turn:
        """Take the next place now (no await happens here)."""
        done = asyncio.get_running_loop().create_future()
        turn = Turn(self._last, done)
        self._last = done
        return turn

    def idle(self) -> bool:
        """True when nobody holds or waits for a turn."""
        return self._last is None or self._last.done()
