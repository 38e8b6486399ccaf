"""The in-memory store of the static demo (issue 13): the file store's rules, no threads."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable

import pytest

from tracker.server.store import SCHEMA_VERSION, StoreError, Tx
from tracker.server.store.memory import MemoryStore


def _progress(email: str) -> Callable[[Tx], int]:
    return lambda tx: tx.execute(
        "INSERT INTO course_progress (user_email, course_key, updated_at_ms) VALUES (?, 'c', 0)",
        (email,),
    )


def _count(store: MemoryStore) -> int:
    return int(store.read(lambda tx: tx.one("SELECT COUNT(*) FROM course_progress")[0]))


def test_writes_commit_in_the_calling_thread_and_start_no_thread() -> None:
    before = threading.active_count()
    store = MemoryStore()
    try:
        assert threading.active_count() == before  # Pyodide could not start one
        assert store.schema_version == SCHEMA_VERSION
        assert store.write(_progress("a@example.com")) == 1
        assert _count(store) == 1
    finally:
        store.close()


def test_a_failing_write_rolls_back_alone_and_raises_its_own_error() -> None:
    store = MemoryStore()

    def bad(tx: Tx) -> None:
        _progress("bad@example.com")(tx)
        raise ValueError("this job fails")

    try:
        store.write(_progress("a@example.com"))
        with pytest.raises(ValueError, match="this job fails"):
            store.write(bad)
        assert _count(store) == 1
    finally:
        store.close()


async def test_async_calls_run_inline() -> None:
    store = MemoryStore()
    try:
        assert await store.awrite(_progress("a@example.com")) == 1
        assert await store.aread(lambda tx: tx.one("SELECT COUNT(*) FROM course_progress")[0]) == 1
    finally:
        store.close()


def test_the_image_reopens_as_the_same_database() -> None:
    store = MemoryStore()
    store.write(_progress("a@example.com"))
    image = store.image()
    store.close()
    again = MemoryStore(image)
    try:
        assert _count(again) == 1
        assert again.schema_version == SCHEMA_VERSION
    finally:
        again.close()


def test_an_image_that_is_no_database_is_refused_by_name() -> None:
    with pytest.raises(StoreError, match="in-memory database"):
        MemoryStore(b"not a database at all" * 300)


def test_an_image_of_a_newer_schema_is_refused() -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    image = conn.serialize()
    conn.close()
    with pytest.raises(StoreError, match="newer than this server"):
        MemoryStore(image)


def test_a_closed_store_takes_no_write() -> None:
    store = MemoryStore()
    store.close()
    store.close()  # twice is harmless
    with pytest.raises(RuntimeError, match="closed"):
        store.write(_progress("a@example.com"))
