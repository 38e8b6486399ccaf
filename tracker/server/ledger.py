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


# Every stored time must be shown as a local date in every time zone, and that date's next
# day computed (a day's end): two days of margin inside years 1-9999, the range of datetime.
SHOWABLE_MIN_MS = -62135424000000  # 0001-01-03T00:00:00Z
SHOWABLE_MAX_MS = 253402041600000 - 1  # 9999-12-28T23:59:59.999Z


def check_showable(field: str, moment: int | None) -> None:
    """Raises (-> 400 naming the field) for a time that some time zone could not show."""
    if moment is not None and not SHOWABLE_MIN_MS <= moment <= SHOWABLE_MAX_MS:
        raise TrackerValidationError(field, "is outside the years 1-9999 in some time zone")
