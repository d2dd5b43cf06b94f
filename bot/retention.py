"""HISTORY_RETENTION_DAYS: messages older than that are deleted, at start and then daily."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Protocol

log = logging.getLogger(__name__)

DAY_S = 86_400.0


class PurgingStore(Protocol):
    """What retention needs from the database."""

    async def purge_before(self, cutoff: float) -> int: ...


class Retention:
    """Deletes what is older than `days`, now and every `interval_s` after, while running."""

    def __init__(self, store: PurgingStore, days: float, interval_s: float = DAY_S) -> None:
        self._store = store
        self._days = days
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def purge_once(self) -> int:
        """Delete the messages past the retention period; how many went."""
        deleted = await self._store.purge_before(time.time() - self._days * DAY_S)
        log.info("retention: deleted %d message(s) older than %g day(s)", deleted, self._days)
        return deleted

    def start(self) -> None:
        """Purge in the background from now on."""
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop purging; a purge under way finishes first (cut mid-way, its half-done
        transaction would ride along with the next commit)."""
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.purge_once()
            except Exception:  # a locked or broken database: try again next time
                log.exception("retention: the purge failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval_s):
                    await self._stopping.wait()
