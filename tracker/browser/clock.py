"""T1/T3: durations from ``performance.now()``, wall times from ``performance.timeOrigin``."""

from __future__ import annotations

import js

from ..timefmt import whole_ms


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
