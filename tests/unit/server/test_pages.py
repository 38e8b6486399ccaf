"""Cursor pagination of the demo's lists (issue 10: bounded reads), on both stores.

The gradebook and the minutes per activity are read a page at a time: ``limit`` rows after
the cursor key of the last page, ``nextCursor`` None on the last one. Rows here share one
``recorded_at_ms`` (the server's clock is fixed), so the tie-break on ``id`` is what keeps
pages apart.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tracker.demo.pages import decode_cursor, encode_cursor
from tracker.demo.queries import (
    ACTIVITIES_KEY,
    GRADEBOOK_KEY,
    gradebook,
    mastered_before,
    minutes_per_activity,
)
from tracker.errors import TrackerValidationError
from tracker.server import TimebackServer

from .helpers import new_run, submit_body, window

USER = "student@example.com"


def _pages(read: Any, key: tuple[type, ...], field: str, limit: int) -> list[list[Any]]:
    pages: list[list[Any]] = []
    cursor: str | None = None
    while True:
        after = decode_cursor(cursor, key) if cursor else None
        page = read(after, limit)
        pages.append(page[field])
        cursor = page["nextCursor"]
        if cursor is None:
            return pages


async def _complete(client: httpx.AsyncClient, count: int) -> None:
    for index in range(count):
        body = submit_body(runId=new_run(), endedAt=f"2026-01-27T10:{index:02d}:00.000Z")
        assert (await client.post("/activity/submit", json=body)).status_code == 204


async def test_gradebook_pages_cover_every_entry_once_newest_first(
    server: TimebackServer, client: httpx.AsyncClient, backend: str
) -> None:
    await _complete(client, 7)
    store = server.store

    def read(after: Any, limit: int) -> dict[str, Any]:
        return store.read(lambda tx: gradebook(tx, USER, after=after, limit=limit))

    whole = read(None, 200)
    assert whole["nextCursor"] is None and len(whole["gradebook"]) == 7
    pages = _pages(read, GRADEBOOK_KEY, "gradebook", 3)
    assert [len(page) for page in pages] == [3, 3, 1]
    assert [entry for page in pages for entry in page] == whole["gradebook"]
    assert [e["attempt"] for e in whole["gradebook"]] == list(range(7, 0, -1))  # newest first
    exact = _pages(read, GRADEBOOK_KEY, "gradebook", 7)
    assert exact == [whole["gradebook"]]  # a full last page says there is no next one


async def test_a_completion_added_between_pages_does_not_shift_the_next_page(
    server: TimebackServer, client: httpx.AsyncClient, backend: str
) -> None:
    await _complete(client, 4)
    store = server.store
    first = store.read(lambda tx: gradebook(tx, USER, limit=2))
    await _complete(client, 1)  # newer than every page: it goes on top, not into page 2
    after = decode_cursor(first["nextCursor"], GRADEBOOK_KEY)
    second = store.read(lambda tx: gradebook(tx, USER, after=after, limit=2))
    assert [e["attempt"] for e in first["gradebook"] + second["gradebook"]] == [4, 3, 2, 1]


async def test_activity_pages_go_by_time_then_url(
    server: TimebackServer, client: httpx.AsyncClient, backend: str
) -> None:
    # Five activities, two of them with the same time: the URL orders the tie.
    for index, windows in enumerate([3, 1, 2, 2, 1]):
        run = new_run()
        for n in range(windows):
            body = window(n + 10 * index, run_id=run, id=f"lesson-{index}", name=f"L{index}")
            assert (await client.post("/activity/heartbeat", json=body)).status_code == 204
    store = server.store

    def read(after: Any, limit: int) -> dict[str, Any]:
        return store.read(lambda tx: minutes_per_activity(tx, USER, after=after, limit=limit))

    whole = read(None, 200)["activities"]
    assert [a["windows"] for a in whole] == [3, 2, 2, 1, 1]
    assert whole[1]["activityUrl"] < whole[2]["activityUrl"]
    pages = _pages(read, ACTIVITIES_KEY, "activities", 2)
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [a for page in pages for a in page] == whole


async def test_mastered_before_reads_the_whole_gradebook(
    server: TimebackServer, client: httpx.AsyncClient, backend: str
) -> None:
    mastered = submit_body(
        runId=new_run(),
        metrics={"xpEarned": 8, "totalQuestions": 10, "correctQuestions": 10, "masteredUnits": 1},
    )
    assert (await client.post("/activity/submit", json=mastered)).status_code == 204
    await _complete(client, 3)  # later completions, none mastered
    store = server.store
    assert store.read(lambda tx: mastered_before(tx, USER, "fractions-with-like-denominators"))
    assert not store.read(lambda tx: mastered_before(tx, USER, "fractions-with-like"))
    # LIKE wildcards in an id are literal.
    assert not store.read(lambda tx: mastered_before(tx, USER, "fractions_with_like_denominators"))


@pytest.mark.parametrize(
    "cursor",
    ["", "not base64!", encode_cursor((1,)), encode_cursor(("a", 1)), encode_cursor((True, 1))],
)
def test_a_cursor_of_another_shape_is_refused_naming_the_field(cursor: str) -> None:
    with pytest.raises(TrackerValidationError) as caught:
        decode_cursor(cursor, GRADEBOOK_KEY)
    assert caught.value.field == "cursor"


def test_a_cursor_round_trips() -> None:
    assert decode_cursor(encode_cursor((5, "https://a/x")), ACTIVITIES_KEY) == (5, "https://a/x")
