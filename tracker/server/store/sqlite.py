"""The embedded store: one SQLite file in WAL mode, schema versioned by ``PRAGMA user_version``.

One writer connection (the group committer's) takes the write lock with ``BEGIN IMMEDIATE``,
so concurrent servers on the same file serialise on SQLite's lock; readers use their own
connections and, in WAL mode, never wait for it.

Durability: ``synchronous = FULL``. In WAL mode NORMAL does not fsync the log at each COMMIT,
so a power cut can lose the last transactions although they were acknowledged, and the
browser does not resend a window it got a 204 for. Group commit makes FULL cheap instead: one
fsync covers every window of the batch.
"""

from __future__ import annotations

import contextlib
import errno
import os
import queue
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ..private_files import create_private
from . import schema
from .base import READ_CONNECTIONS, Store
from .group_commit import LoopStatementsCommitter, WriteSession
from .schema import StoreError
from .tx import Tx

T = TypeVar("T")
BUSY_TIMEOUT_S = 10.0
# Start-up refuses a data folder with less room than this: the first writes would fail.
MIN_FREE_BYTES = 1 << 20


def check_data_folder(folder: Path) -> None:
    """Fails (StoreError naming the folder) when it cannot take a write: read-only, full."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".tracker-write-probe-{os.getpid()}"
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"\0" * 4096)
            os.fsync(fd)
        finally:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(probe)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise StoreError(f"data folder {folder} is full (no space left)") from None
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise StoreError(f"data folder {folder} is not writable ({exc.strerror})") from None
        raise StoreError(f"data folder {folder}: {exc.strerror or exc}") from None
    with contextlib.suppress(OSError):
        stats = os.statvfs(folder)
        if stats.f_bavail * stats.f_frsize < MIN_FREE_BYTES:
            raise StoreError(f"data folder {folder} is full (less than 1 MiB free)")


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def check_integrity(conn: sqlite3.Connection, label: object) -> None:
    """``PRAGMA quick_check`` before serving (issue 10: a zeroed page was served 204s)."""
    try:
        rows = conn.execute("PRAGMA quick_check(1)").fetchall()
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreError(
            f"{label}: the database is corrupt ({exc}); restore it from a backup"
        ) from None
    if rows != [("ok",)]:
        conn.close()
        # quick_check's report spans lines: one line for the operator.
        detail = " ".join(str(rows[0][0]).split()) if rows else "no answer"
        raise StoreError(
            f"{label}: the database is corrupt (quick_check: {detail}); restore it from a backup"
        )


def migrate(conn: sqlite3.Connection, label: object) -> None:
    """Brings the schema to ``SCHEMA_VERSION`` (``label`` names the database in errors)."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > schema.SCHEMA_VERSION:
        raise StoreError(
            f"{label}: schema version {version} is newer than this server "
            f"({schema.SCHEMA_VERSION}); upgrade the server"
        )
    while version < schema.SCHEMA_VERSION:
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated while we waited for the lock.
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version < schema.SCHEMA_VERSION:
                for statement in schema.SQLITE_MIGRATIONS[version]:
                    conn.execute(statement)
                version += 1
                conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


class SqliteSession(WriteSession):
    def __init__(self, conn: sqlite3.Connection, *, forward: bool) -> None:
        self.conn = conn
        self._forward = forward

    def begin(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def begin_now(self) -> None:
        self.conn.execute("PRAGMA busy_timeout = 0")
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        finally:
            self.conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")

    def execute(self, sql: str) -> None:
        self.conn.execute(sql)

    def tx(self) -> Tx:
        return Tx(self.conn, forward=self._forward)

    def retriable(self, exc: BaseException) -> bool:
        # Another process held the file's write lock past the busy timeout.
        return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)

    def close(self) -> None:
        self.conn.close()


class SqliteStore(Store):
    dialect = "sqlite"

    def __init__(self, location: Path | str, *, forward: bool = False) -> None:
        path = Path(location)
        self.location = path
        self.forward = forward
        self._readers: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._all_readers: list[sqlite3.Connection] = []
        # Closing a connection while another thread runs a query on it crashes the process
        # (sqlite3 with check_same_thread off): close() closes idle readers only, and a
        # reader busy at that moment is closed by its own read() when the query is done.
        self._readers_lock = threading.Lock()
        self._busy: set[sqlite3.Connection] = set()
        self._closed = False
        check_data_folder(path.parent)
        try:
            create_private(path)
            conn = _connect(path)
            check_integrity(conn, path)
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"{path}: cannot switch the database to WAL mode ({mode})")
            # FULL: a window acknowledged with 204 must survive a power cut (module doc).
            conn.execute("PRAGMA synchronous = FULL")
            migrate(conn, path)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: cannot open the database ({exc})") from None
        except OSError as exc:
            raise StoreError(f"{path}: cannot open the database ({exc.strerror or exc})") from None
        self._writer = LoopStatementsCommitter(
            SqliteSession(conn, forward=forward), name=f"tracker-store-writer {path.name}"
        )

    @property
    def schema_version(self) -> int:
        return self.read(lambda tx: int(tx.one("PRAGMA user_version")[0]))

    def read(self, fn: Callable[[Tx], T]) -> T:
        with self._readers_lock:
            if self._closed:
                raise StoreError(f"{self.location}: the store is closed")
            try:
                conn = self._readers.get_nowait()
            except queue.Empty:
                conn = _connect(self.location if isinstance(self.location, Path) else Path())
                conn.execute("PRAGMA query_only = ON")
                self._all_readers.append(conn)
            self._busy.add(conn)
        try:
            conn.execute("BEGIN")
            try:
                return fn(Tx(conn, forward=self.forward))
            finally:
                conn.execute("COMMIT")
        finally:
            with self._readers_lock:
                self._busy.discard(conn)
                if not self._closed and self._readers.qsize() < READ_CONNECTIONS:
                    self._readers.put(conn)
                else:
                    with contextlib.suppress(sqlite3.Error):
                        conn.close()
                    self._all_readers.remove(conn)

    def close(self) -> None:
        self._writer.close()
        with self._readers_lock:
            self._closed = True
            for conn in [c for c in self._all_readers if c not in self._busy]:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
                self._all_readers.remove(conn)
