"""ServerHealth: which model servers are resting after a failure, and until when.

A server that did not answer is left alone for a while, the rest doubling with each failure up
to a ceiling, and asked again after it; one answer makes it fully trusted again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(slots=True)
class _Rest:
    length_s: float  # how long the next failure rests the server
    until: float = 0.0  # on the clock; up from then on


class ServerHealth:
    """Each named server's rest after its failures, on `clock` (monotonic seconds)."""

    def __init__(
        self,
        names: Iterable[str],
        *,
        first_rest_s: float,
        longest_rest_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._first_rest_s = first_rest_s
        self._longest_rest_s = longest_rest_s
        self._clock = clock
        self._rests = {name: _Rest(first_rest_s) for name in names}

    def is_up(self, name: str) -> bool:
        """Whether the server may be asked now (it is not resting after a failure)."""
        return self._clock() >= self._rests[name].until

    def failed(self, name: str) -> None:
        """The server did not answer: it rests, twice as long as last time (up to the
        longest rest)."""
        rest = self._rests[name]
        rest.until = self._clock() + rest.length_s
        rest.length_s = min(rest.length_s * 2, self._longest_rest_s)

    def answered(self, name: str) -> None:
        """The server answered: it is up, and its next failure rests it the shortest time."""
        self._rests[name] = _Rest(self._first_rest_s)
