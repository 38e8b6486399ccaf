"""Cursor pagination of the demo's list answers (issue 10: bounded reads).

A list answer holds at most ``limit`` items and ``nextCursor``: pass it back as ``cursor`` for
the next page, ``null`` on the last one. A cursor is opaque to clients; inside, it is the sort
key of the last item shown (keyset pagination), so a page costs the same however deep it is
and rows added meanwhile neither repeat nor shift the pages after.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from ..errors import TrackerValidationError

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
CURSOR_FIELD = "cursor"

Key = tuple[int | str, ...]


def encode_cursor(key: Key) -> str:
    raw = json.dumps(list(key), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, shape: tuple[type, ...]) -> Key:
    """The key inside a cursor of a list sorted by values of ``shape``'s types; anything
    else is a TrackerValidationError naming ``cursor`` (400 INVALID_PAYLOAD)."""
    try:
        key: Any = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        key = None
    if (
        isinstance(key, list)
        and len(key) == len(shape)
        and all(type(value) is kind for value, kind in zip(key, shape, strict=True))
    ):
        return tuple(key)
    raise TrackerValidationError(CURSOR_FIELD, "is not a cursor of this list (use nextCursor)")


def page_of(rows: list[Any], limit: int, key_of: Any) -> tuple[list[Any], str | None]:
    """The first ``limit`` of ``rows`` (fetched as ``limit + 1``) and the next page's cursor."""
    if len(rows) <= limit:
        return rows, None
    shown = rows[:limit]
    return shown, encode_cursor(key_of(shown[-1]))
