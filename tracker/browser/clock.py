"""T1/T3: durations from ``performance.now()``, wall times from ``performance.timeOrigin``."""

from __future__ import annotations

import math
from typing import Any

import js


def whole_ms(value: Any) -> int:
    """A browser time in whole ms, rounded as ``Math.round`` rounds: halves up. Python's
    ``round`` rounds halves to even, and browser times often end in exactly .5 ms, so the
    embed's boot-time ``startedAt`` and Python's would differ by 1 ms (T3)."""
    return math.floor(float(value) + 0.5)


class PerformanceClock:
    """Integer ms, so that window arithmetic is exact (W2); sub-ms precision is not needed."""

    def __init__(self) -> None:
        # timeOrigin is fixed for the page's life; rounding it once keeps every derived
        # wall time consistent with the monotonic differences.
        self._origin = whole_ms(js.performance.timeOrigin)

    def now(self) -> int:
        return whole_ms(js.performance.now())

    @property
    def time_origin(self) -> int:
        return self._origin
