"""RefusalMemory: whom the bot told recently that they may not use it, so a stranger who writes
a hundred times is told once, and a crowd of strangers cannot make the bot remember without end.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

REFUSAL_WINDOW_S = 300.0  # a stranger is told at most once in five minutes
MOST_REMEMBERED = 10_000


class RefusalMemory:
    """At most one refusal per key (a user) in any `window` seconds; never more than `capacity`
    keys held, the oldest forgotten first."""

    def __init__(
        self,
        *,
        window: float = REFUSAL_WINDOW_S,
        capacity: int = MOST_REMEMBERED,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._window = window
        self._capacity = capacity
        self._clock = clock
        # Key → when it was refused, oldest first: refusal times only grow, so insertion order
        # is time order and expiry only ever looks at the front.
        self._refused_at: OrderedDict[int, float] = OrderedDict()

    def claim(self, key: int) -> bool:
        """True (and remembered from now) when `key` was not refused within the window: the
        caller refuses now. False when it was: the caller stays silent."""
        now = self._clock()
        self._forget_expired(now)
        if key in self._refused_at:
            return False
        if len(self._refused_at) >= self._capacity:
            self._refused_at.popitem(last=False)
        self._refused_at[key] = now
        return True

    def release(self, key: int) -> None:
        """Forget `key`'s refusal: it was never delivered (the next message may try again)."""
        self._refused_at.pop(key, None)

    def __len__(self) -> int:
        """How many keys are held now, expired ones not counted."""
        self._forget_expired(self._clock())
        return len(self._refused_at)

    def _forget_expired(self, now: float) -> None:
        while self._refused_at:
            key, refused_at = next(iter(self._refused_at.items()))
            if refused_at > now - self._window:
                return
            del self._refused_at[key]
