"""The in-page store of the static demo: SQLite in memory, written in the calling task.

Pyodide has no threads, so the group committer's writer thread and the pool of read
connections have no place in a page. ``MemoryStore`` keeps one connection to an in-memory
database, runs the same migrations and integrity check as the file store, and commits each
write at once with the committer's own rules (``InlineCommitter``). ``image()`` is the
database as bytes (sqlite3 ``serialize``): the page keeps it in the browser's storage and
opens the next page's store from it (``MemoryStore(image)``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TypeVar

from .base import Store
from .group_commit import InlineCommitter
from .schema import StoreError
from .sqlite import SqliteSession, check_integrity, migrate
from .tx import Tx

T = TypeVar("T")
LABEL = "in-memory database"


def open_memory(image: bytes | None, label: str = LABEL) -> sqlite3.Connection:
    """A connection to an in-memory database, filled from ``image`` when there is one."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    if image:
        try:
            conn.deserialize(image)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"{label}: the saved image is not a database ({exc})") from None
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


class MemoryStore(Store):
    dialect = "sqlite"

    def __new__(cls, image: bytes | None = None, *, forward: bool = False) -> MemoryStore:
        # Not Store.__new__, which picks a backend from a location: this one has none.
        return object.__new__(cls)

    def __init__(self, image: bytes | None = None, *, forward: bool = False) -> None:
        self.location = ":memory:"
        self.forward = forward
        conn = open_memory(image)
        check_integrity(conn, LABEL)
        try:
            migrate(conn, LABEL)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"{LABEL}: cannot open the database ({exc})") from None
        self._conn = conn
        self._writer = InlineCommitter(SqliteSession(conn, forward=forward))

    @property
    def schema_version(self) -> int:
        return self.read(lambda tx: int(tx.one("PRAGMA user_version")[0]))

    def read(self, fn: Callable[[Tx], T]) -> T:
        self._conn.execute("BEGIN")
        try:
            return fn(Tx(self._conn, forward=self.forward))
        finally:
            self._conn.execute("COMMIT")

    async def aread(self, fn: Callable[[Tx], T]) -> T:
        return self.read(fn)

    async def awrite(self, fn: Callable[[Tx], T]) -> T:
        return self.write(fn)

    def image(self) -> bytes:
        """The whole database as bytes, for ``MemoryStore(image)`` on the next page."""
        return self._conn.serialize()

    def close(self) -> None:
        self._writer.close()
