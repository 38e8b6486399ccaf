"""The one number tidier and the one id maker that the browser core and the server share."""

from __future__ import annotations

import uuid

import pytest

from tracker.ids import new_uuid
from tracker.numbers import tidy_number


@pytest.mark.parametrize(
    ("value", "digits", "expected"),
    [
        (3.0, None, 3),
        (2.5, None, 2.5),
        (7, None, 7),
        (2.999, 2, 3),
        (1.234, 2, 1.23),
        (0.05, 1, 0.1),
    ],
)
def test_whole_numbers_stay_integers(value: float, digits: int | None, expected: float) -> None:
    result = tidy_number(value, digits)
    assert result == expected and type(result) is type(expected)


def test_new_uuid_is_a_random_canonical_uuid() -> None:
    first, second = new_uuid(), new_uuid()
    assert first != second
    assert str(uuid.UUID(first)) == first and uuid.UUID(first).version == 4
