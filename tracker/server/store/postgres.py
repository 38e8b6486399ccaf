"""The PostgreSQL store, for deployments with several workers or hosts (``TRACKER_DB=
postgresql://user:password@host/db``). Needs the ``postgres`` extra (psycopg 3 and its pool).

The transaction functions the pipeline passes are the same synchronous functions as on
SQLite, so psycopg runs in its blocking mode: one writer connection per process commits
batches (group commit), and a small pool serves reads in worker threads. Dedupe is the same
UNIQUE keys; the outbox is claimed with ``FOR UPDATE SKIP LOCKED``; a user's writes are
ordered by an advisory lock, so any number of processes give the same result as one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

from .base import READ_CONNECTIONS, Store
from .group_commit import GroupCommitter, WriteSession
from .schema import POSTGRES_MIGRATIONS, SCHEMA_VERSION, StoreError
from .tx import PostgresTx, Tx

T = TypeVar("T")
# Any constant: every process that migrates this database takes the same lock.
MIGRATION_LOCK = 0x7472_6163_6B65_72
CONNECT_TIMEOUT_S = 10.0


def _driver() -> Any:
    try:
        import psycopg
    except ImportError:
        raise StoreError(
            "TRACKER_DB is a postgresql:// URL but psycopg is not installed: "
            "pip install 'lesson-time-tracker[postgres]'"
        ) from None
    return psycopg


def _configure(conn: Any) -> None:
    """SUM over BIGINT is NUMERIC in PostgreSQL: read it as float, as SQLite gives it."""
    from psycopg.types.numeric import FloatLoader

    conn.adapters.register_loader("numeric", FloatLoader)


def _redacted(url: str) -> str:
    """The URL without its password, for error messages."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


class PostgresSession(WriteSession):
    def __init__(self, url: str, *, forward: bool) -> None:
        self._url = url
        self._forward = forward
        self.conn = self._connect()

    def _connect(self) -> Any:
        psycopg = _driver()
        conn = psycopg.connect(self._url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
        _configure(conn)
        return conn

    def begin(self) -> None:
        self.conn.execute("BEGIN")

    def execute(self, sql: str) -> None:
        self.conn.execute(sql)

    def tx(self) -> Tx:
        return PostgresTx(self.conn, forward=self._forward)

    def retriable(self, exc: BaseException) -> bool:
        from psycopg import OperationalError, errors

        return isinstance(
            exc, errors.DeadlockDetected | errors.SerializationFailure | OperationalError
        )

    def recover(self) -> None:
        if self.conn.closed or self.conn.broken:
            with contextlib.suppress(Exception):
                self.conn.close()
            self.conn = self._connect()

    def close(self) -> None:
        self.conn.close()


class PostgresStore(Store):
    dialect = "postgresql"

    def __init__(self, location: str, *, forward: bool = False) -> None:
        psycopg = _driver()
        from psycopg_pool import ConnectionPool

        self.location = location
        self.forward = forward
        shown = _redacted(location)
        try:
            session = PostgresSession(location, forward=forward)
        except psycopg.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StoreError(f"{shown}: cannot connect ({first})") from None
        try:
            self._migrate(session.conn)
        except psycopg.Error as exc:
            session.close()
            raise StoreError(f"{shown}: cannot migrate the database ({exc})") from None
        self._pool = ConnectionPool(
            location,
            min_size=1,
            max_size=READ_CONNECTIONS,
            configure=_configure,
            kwargs={"autocommit": False, "connect_timeout": CONNECT_TIMEOUT_S},
            name="tracker-read",
            open=True,
        )
        self._writer = GroupCommitter(session, name="tracker-store-writer postgresql")

    @property
    def allows_many_processes(self) -> bool:
        return True

    def _migrate(self, conn: Any) -> None:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            conn.execute("CREATE TABLE IF NOT EXISTS tracker_schema (version INTEGER NOT NULL)")
            row = conn.execute("SELECT version FROM tracker_schema").fetchone()
            if row is None:
                conn.execute("INSERT INTO tracker_schema (version) VALUES (0)")
                version = 0
            else:
                version = int(row[0])
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{_redacted(str(self.location))}: schema version {version} is newer than this "
                    f"server ({SCHEMA_VERSION}); upgrade the server"
                )
            # DDL is transactional here: all steps land, or none.
            while version < SCHEMA_VERSION:
                for statement in POSTGRES_MIGRATIONS[version]:
                    conn.execute(statement)
                version += 1
            conn.execute("UPDATE tracker_schema SET version = %s", (version,))

    @property
    def schema_version(self) -> int:
        return self.read(lambda tx: int(tx.one("SELECT version FROM tracker_schema")[0]))

    def read(self, fn: Callable[[Tx], T]) -> T:
        with self._pool.connection() as conn:
            # The pool commits when the block ends (rolls back on an error).
            return fn(PostgresTx(conn, forward=self.forward))

    def close(self) -> None:
        self._writer.close()
        self._pool.close()
