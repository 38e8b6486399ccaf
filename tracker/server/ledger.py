"""The time ledger's policy: when a window may be stored and how much of it counts (issue 10).

Counted time never exceeds wall time: per user, a window counts only the part of its span that
no counted window of that user already covers, and at most its active time. Summed over a
user's windows, counted time is therefore at most the length of the union of their spans,
whatever the order the windows arrive in and whatever their ``startedAt``.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import TrackerValidationError

# A client clock may run a little ahead of the server's; more than this is not a real window.
FUTURE_SKEW_MS = 5 * 60_000
# Kept windows are resent within days; older ones are refused rather than credited late.
MAX_AGE_MS = 30 * 24 * 3_600_000


def check_window_time(fields: Iterable[tuple[str, int]], now_ms: int) -> None:
    """Raises (-> 400 INVALID_PAYLOAD naming the field) for a time in the future or too old."""
    for field, moment in fields:
        if moment > now_ms + FUTURE_SKEW_MS:
            raise TrackerValidationError(
                field, "is in the future (more than 5 minutes ahead of the server clock)"
            )
        if moment < now_ms - MAX_AGE_MS:
            raise TrackerValidationError(field, "is more than 30 days in the past")


def uncovered_ms(start: int, end: int, covered: Iterable[tuple[int, int]]) -> int:
    """The length of [start, end) that none of the ``covered`` spans overlaps."""
    spans = sorted((max(s, start), min(e, end)) for s, e in covered)
    free = 0
    cursor = start
    for s, e in spans:
        # A span that lies outside [start, end) (clipped empty) or behind the cursor covers nothing.
        if e <= max(s, cursor):
            continue
        free += max(0, s - cursor)
        cursor = e
    return free + max(0, end - cursor)
