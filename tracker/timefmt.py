"""ISO 8601 UTC timestamps with milliseconds, as the wire protocol writes them."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Accepts what `Date.prototype.toISOString()` produces and any offset; the wire writes `...Z`.
_ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$")


def whole_ms(value: float) -> int:
    """A browser time in whole ms, halves up as ``Math.round`` rounds (T3). The one rounding
    rule for ``performance.now()``, event ``timeStamp``s and ``timeOrigin``: Python's
    ``round`` takes halves to even, and Chromium's times (100 µs steps) often end in exactly
    .5 ms, so a second rule would move a date by 1 ms. Exact: ``value + 0.5`` could round."""
    floor = math.floor(value)
    return floor + 1 if value - floor >= 0.5 else floor


def iso_from_epoch_ms(epoch_ms: int) -> str:
    """``1769508000000`` -> ``"2026-01-27T10:00:00.000Z"`` (integer ms, no float drift)."""
    moment = _EPOCH + timedelta(milliseconds=epoch_ms)
    # isoformat pads the year to 4 digits, as strftime does not everywhere; "+00:00" -> "Z".
    return moment.isoformat(timespec="milliseconds")[:-6] + "Z"


def datetime_from_epoch_ms(epoch_ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=epoch_ms)


def epoch_ms_from_iso(text: str) -> int:
    """Parses an ISO 8601 timestamp that carries a zone; raises ``ValueError`` otherwise."""
    if not _ISO_RE.match(text):
        raise ValueError(
            "must be an ISO 8601 timestamp with a time zone, e.g. 2026-01-27T10:00:00.000Z"
        )
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    delta = moment - _EPOCH
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000
