"""R1: how often and after which delays a failed send is tried again."""

from __future__ import annotations

from dataclasses import dataclass

# The reference page's default for ``retryDelaysMs``.
DEFAULT_RETRY_DELAYS_MS = (100, 300, 1000)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``attempts`` retries after the first try, waiting ``delays_ms[i]`` before retry i;
    the last delay repeats."""

    attempts: int = 0
    delays_ms: tuple[int, ...] = DEFAULT_RETRY_DELAYS_MS

    def delay(self, retry: int) -> int:
        return self.delays_ms[min(retry, len(self.delays_ms) - 1)]
