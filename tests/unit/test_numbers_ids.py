"""The one number tidier and the one id maker that the browser core and the server share."""

from __future__ import annotations

import os
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


def test_ids_from_the_pooled_random_bytes_are_all_distinct_and_canonical_issue_12() -> None:
    ids = [new_uuid() for _ in range(2000)]  # several refills of the 4 KiB pool
    assert len(set(ids)) == len(ids)
    assert all(str(uuid.UUID(i)) == i and uuid.UUID(i).variant == uuid.RFC_4122 for i in ids)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_worker_does_not_repeat_its_parents_next_ids_issue_12() -> None:
    new_uuid()  # the parent's pool now holds unread bytes
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next id, to the parent
        os.write(write, new_uuid().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    os.close(read)
    assert uuid.UUID(child).version == 4
    assert child != new_uuid()
