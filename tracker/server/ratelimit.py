"""Per-user rate limits on the POST routes: a token bucket per user, in memory, per process.

A tracker sends a window every 15 s or so and, on a page load, a burst of kept windows; the
defaults (a burst of 120, then 60 a minute) never touch that, but they stop one user (or a
script with their cookie) from flooding the write path that every other user shares. Over the
limit: 429 RATE_LIMITED with ``Retry-After`` (whole seconds), which the tracker honours
(contract item 3). Each process counts for itself, so N processes allow N times the rate.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from .errors import RATE_LIMITED, ApiError

# Above this many users in memory, buckets that have refilled are dropped (they are full,
# so forgetting them changes nothing): memory stays bounded by the users active right now.
PRUNE_ABOVE = 10_000


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """``take(user)``: 0 when the request may go ahead, else the seconds to wait."""

    def __init__(
        self, *, burst: int, per_minute: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.burst = burst
        self.rate_per_s = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    @property
    def enabled(self) -> bool:
        return self.burst > 0 and self.rate_per_s > 0

    def take(self, user: str) -> float:
        if not self.enabled:
            return 0.0
        now = self._clock()
        bucket = self._buckets.get(user)
        if bucket is None:
            if len(self._buckets) >= PRUNE_ABOVE:
                self._prune(now)
            bucket = self._buckets[user] = _Bucket(float(self.burst), now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate_per_s)
        bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate_per_s

    def _prune(self, now: float) -> None:
        full_after = self.burst / self.rate_per_s
        self._buckets = {user: b for user, b in self._buckets.items() if now - b.at < full_after}


def check_rate(limiter: RateLimiter, user: str) -> None:
    """429 RATE_LIMITED with Retry-After (whole seconds) for a user over their limit."""
    wait = limiter.take(user)
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        raise ApiError(
            429,
            RATE_LIMITED,
            f"too many requests; try again in {seconds} s",
            {"retryAfterSeconds": seconds},
            headers={"Retry-After": str(seconds)},
        )
