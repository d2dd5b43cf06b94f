"""Benchmarks (`make bench`): figures for the README, not timed tests."""

from __future__ import annotations

from collections.abc import Sequence


def p50_p95(values: Sequence[float]) -> tuple[float, float]:
    """The median and the 95th percentile (nearest rank) of `values`."""
    ordered = sorted(values)
    last = len(ordered) - 1
    return ordered[round(0.5 * last)], ordered[round(0.95 * last)]
