"""The embedded store: one SQLite file in WAL mode, schema versioned by ``PRAGMA user_version``.

All SQL lives here. Callers pass a function that runs inside one transaction (``write`` takes
the write lock up front with ``BEGIN IMMEDIATE``), so a pipeline step either lands completely
or not at all, and concurrent servers on the same file serialise on SQLite's lock.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread

from ..errors import TrackerError
from .private_files import create_private

T = TypeVar("T")

# Each entry upgrades the schema by one version; never edit a released entry, append one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            type TEXT NOT NULL,
            sensor TEXT NOT NULL,
            user_email TEXT NOT NULL,
            run_id TEXT NOT NULL,
            event_time TEXT NOT NULL,
            body TEXT NOT NULL,
            created_at_ms INTEGER NOT NULL)""",
        "CREATE INDEX events_user ON events (user_email, seq)",
        # Heartbeat windows (key_ms = startedAt) and completion time totals (key_ms = endedAt).
        # The UNIQUE constraint is the dedupe: a resent window cannot land twice.
        """CREATE TABLE time_ledger (
            id INTEGER PRIMARY KEY,
            user_email TEXT NOT NULL,
            run_id TEXT NOT NULL,
            source TEXT NOT NULL CHECK (source IN ('heartbeat', 'completion')),
            key_ms INTEGER NOT NULL,
            started_at_ms INTEGER,
            ended_at_ms INTEGER NOT NULL,
            active_ms INTEGER NOT NULL CHECK (active_ms >= 0),
            inactive_ms INTEGER NOT NULL CHECK (inactive_ms >= 0),
            activity_url TEXT NOT NULL,
            course_key TEXT NOT NULL,
            event_id TEXT NOT NULL REFERENCES events (id) DEFERRABLE INITIALLY DEFERRED,
            UNIQUE (user_email, run_id, source, key_ms))""",
        "CREATE INDEX time_ledger_user ON time_ledger (user_email, ended_at_ms)",
        # kind 'activity': one row per completion (attempt, score); kind 'course': the course
        # was completed (pct reached 100), at most once per user and course.
        """CREATE TABLE gradebook (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('activity', 'course')),
            user_email TEXT NOT NULL,
            course_key TEXT NOT NULL,
            activity_url TEXT,
            run_id TEXT,
            ended_at_ms INTEGER,
            attempt INTEGER,
            total_questions INTEGER,
            correct_questions INTEGER,
            score REAL,
            mastered_units INTEGER,
            pct_complete REAL,
            event_id TEXT REFERENCES events (id) DEFERRABLE INITIALLY DEFERRED,
            recorded_at_ms INTEGER NOT NULL)""",
        """CREATE UNIQUE INDEX gradebook_completion ON gradebook (user_email, run_id, ended_at_ms)
            WHERE kind = 'activity'""",
        """CREATE UNIQUE INDEX gradebook_attempt ON gradebook (user_email, activity_url, attempt)
            WHERE kind = 'activity'""",
        """CREATE UNIQUE INDEX gradebook_course ON gradebook (user_email, course_key)
            WHERE kind = 'course'""",
        """CREATE TABLE xp_ledger (
            id INTEGER PRIMARY KEY,
            user_email TEXT NOT NULL,
            course_key TEXT NOT NULL,
            run_id TEXT NOT NULL,
            occurred_at_ms INTEGER NOT NULL,
            claimed REAL NOT NULL,
            credited REAL NOT NULL,
            policy TEXT NOT NULL,
            event_id TEXT NOT NULL REFERENCES events (id) DEFERRABLE INITIALLY DEFERRED)""",
        "CREATE INDEX xp_ledger_user ON xp_ledger (user_email, occurred_at_ms)",
        "CREATE INDEX xp_ledger_run ON xp_ledger (user_email, run_id)",
        """CREATE TABLE course_progress (
            user_email TEXT NOT NULL,
            course_key TEXT NOT NULL,
            mastered_units INTEGER NOT NULL DEFAULT 0,
            pct_complete REAL,
            completed_at_ms INTEGER,
            updated_at_ms INTEGER NOT NULL,
            PRIMARY KEY (user_email, course_key))""",
        # Events waiting for the remote Caliper endpoint; written in the same transaction as
        # the event, so an event is never acknowledged without being queued.
        """CREATE TABLE outbox (
            event_seq INTEGER PRIMARY KEY REFERENCES events (seq),
            sensor TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'sent', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL DEFAULT 0,
            last_error TEXT,
            sent_at_ms INTEGER)""",
        "CREATE INDEX outbox_due ON outbox (status, next_attempt_at)",
    ),
    (
        # What a time row counts towards minutes and the XP cap (issue 10): active time clipped
        # so that a user's counted time never exceeds wall time. active_ms keeps what the
        # client reported. Rows stored before: clipped to their own span, when it is known.
        """ALTER TABLE time_ledger ADD COLUMN counted_ms INTEGER NOT NULL DEFAULT 0
            CHECK (counted_ms >= 0)""",
        """UPDATE time_ledger SET counted_ms = CASE WHEN started_at_ms IS NULL THEN active_ms
            ELSE MIN(active_ms, MAX(0, ended_at_ms - started_at_ms)) END""",
    ),
    # A run's owner (ownership.py, issue 10): the user of its first event, found by run_id.
    ("CREATE INDEX events_run ON events (run_id)",),
)
SCHEMA_VERSION = len(MIGRATIONS)
TABLES = ("events", "time_ledger", "gradebook", "xp_ledger", "course_progress", "outbox")


class StoreError(TrackerError):
    """The database cannot be used (newer schema, unreadable file)."""


@dataclass(frozen=True)
class StoredEvent:
    id: str
    type: str
    sensor: str
    user_email: str
    run_id: str
    event_time: str
    body: dict[str, Any]


@dataclass(frozen=True)
class PriorCompletion:
    attempt: int
    pct_complete: float | None
    event_id: str


@dataclass(frozen=True)
class Progress:
    mastered_units: int
    pct_complete: float | None
    completed: bool


@dataclass(frozen=True)
class OutboxItem:
    seq: int
    sensor: str
    attempts: int
    body: str


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=True, allow_nan=False, separators=(",", ":"))


class Tx:
    """The statements of one transaction. Only ``Store`` creates it."""

    def __init__(self, conn: sqlite3.Connection, *, forward: bool) -> None:
        self._conn = conn
        self._forward = forward

    def one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._conn.execute(sql, params).fetchone()

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self._conn.execute(sql, params).fetchall()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Runs one statement; returns the number of rows it changed."""
        return self._conn.execute(sql, params).rowcount

    # -- events -----------------------------------------------------------------------------

    def insert_event(self, event: StoredEvent, now_ms: int) -> None:
        cursor = self._conn.execute(
            "INSERT INTO events (id, type, sensor, user_email, run_id, event_time, body,"
            " created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                event.id,
                event.type,
                event.sensor,
                event.user_email,
                event.run_id,
                event.event_time,
                _dumps(event.body),
                now_ms,
            ),
        )
        if self._forward:
            self._conn.execute(
                "INSERT INTO outbox (event_seq, sensor) VALUES (?, ?)",
                (cursor.lastrowid, event.sensor),
            )

    # -- time ------------------------------------------------------------------------------

    def insert_time(
        self,
        *,
        user_email: str,
        run_id: str,
        source: str,
        key_ms: int,
        started_at_ms: int | None,
        ended_at_ms: int,
        active_ms: int,
        inactive_ms: int,
        counted_ms: int,
        activity_url: str,
        course_key: str,
        event_id: str,
    ) -> bool:
        """False when this window (user, run, source, key) is already stored."""
        cursor = self._conn.execute(
            "INSERT INTO time_ledger (user_email, run_id, source, key_ms, started_at_ms,"
            " ended_at_ms, active_ms, inactive_ms, counted_ms, activity_url, course_key,"
            " event_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (user_email, run_id, source, key_ms) DO NOTHING",
            (
                user_email,
                run_id,
                source,
                key_ms,
                started_at_ms,
                ended_at_ms,
                active_ms,
                inactive_ms,
                counted_ms,
                activity_url,
                course_key,
                event_id,
            ),
        )
        return cursor.rowcount == 1

    def counted_spans(self, user_email: str, start_ms: int, end_ms: int) -> list[tuple[int, int]]:
        """Spans of the user's counted windows that overlap [start, end) (index on ended_at)."""
        rows = self.all(
            "SELECT started_at_ms, ended_at_ms FROM time_ledger WHERE user_email = ?"
            " AND ended_at_ms > ? AND started_at_ms < ? AND source = 'heartbeat'"
            " AND counted_ms > 0",
            (user_email, start_ms, end_ms),
        )
        return [(int(row[0]), int(row[1])) for row in rows]

    def run_active_ms(self, user_email: str, run_id: str) -> tuple[int, int]:
        """(counted active ms, number of time rows) the server has seen for this run."""
        row = self.one(
            "SELECT COALESCE(SUM(counted_ms), 0), COUNT(*) FROM time_ledger"
            " WHERE user_email = ? AND run_id = ?",
            (user_email, run_id),
        )
        return int(row[0]), int(row[1])

    # -- completions -----------------------------------------------------------------------

    def find_completion(
        self, user_email: str, run_id: str, ended_at_ms: int
    ) -> PriorCompletion | None:
        row = self.one(
            "SELECT attempt, pct_complete, event_id FROM gradebook WHERE kind = 'activity'"
            " AND user_email = ? AND run_id = ? AND ended_at_ms = ?",
            (user_email, run_id, ended_at_ms),
        )
        return PriorCompletion(int(row[0]), row[1], str(row[2])) if row else None

    def next_attempt(self, user_email: str, activity_url: str) -> int:
        row = self.one(
            "SELECT COALESCE(MAX(attempt), 0) FROM gradebook WHERE kind = 'activity'"
            " AND user_email = ? AND activity_url = ?",
            (user_email, activity_url),
        )
        return int(row[0]) + 1

    def insert_completion(
        self,
        *,
        user_email: str,
        course_key: str,
        activity_url: str,
        run_id: str,
        ended_at_ms: int,
        attempt: int,
        total_questions: int | None,
        correct_questions: int | None,
        mastered_units: int | None,
        pct_complete: float | None,
        event_id: str,
        now_ms: int,
    ) -> None:
        score = (
            correct_questions / total_questions
            if total_questions and correct_questions is not None
            else None
        )
        self._conn.execute(
            "INSERT INTO gradebook (kind, user_email, course_key, activity_url, run_id,"
            " ended_at_ms, attempt, total_questions, correct_questions, score, mastered_units,"
            " pct_complete, event_id, recorded_at_ms)"
            " VALUES ('activity', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                user_email,
                course_key,
                activity_url,
                run_id,
                ended_at_ms,
                attempt,
                total_questions,
                correct_questions,
                score,
                mastered_units,
                pct_complete,
                event_id,
                now_ms,
            ),
        )

    def insert_course_completion(
        self, user_email: str, course_key: str, event_id: str, now_ms: int
    ) -> bool:
        """The course-completion entry; False when the user had already completed the course."""
        cursor = self._conn.execute(
            "INSERT INTO gradebook (kind, user_email, course_key, pct_complete, event_id,"
            " recorded_at_ms) VALUES ('course', ?, ?, 100, ?, ?)"
            " ON CONFLICT (user_email, course_key) WHERE kind = 'course' DO NOTHING",
            (user_email, course_key, event_id, now_ms),
        )
        return cursor.rowcount == 1

    # -- xp and progress -------------------------------------------------------------------

    def run_xp_credited(self, user_email: str, run_id: str) -> float:
        """XP credited to the run so far; corrections (negative XP) do not restore allowance."""
        row = self.one(
            "SELECT COALESCE(SUM(credited), 0) FROM xp_ledger WHERE user_email = ? AND run_id = ?"
            " AND credited > 0",
            (user_email, run_id),
        )
        return float(row[0])

    def run_mastered_units(self, user_email: str, run_id: str) -> int:
        """The most units any completion of this run reported (a run masters them once)."""
        row = self.one(
            "SELECT COALESCE(MAX(mastered_units), 0) FROM gradebook WHERE kind = 'activity'"
            " AND user_email = ? AND run_id = ?",
            (user_email, run_id),
        )
        return int(row[0])

    def insert_xp(
        self,
        *,
        user_email: str,
        course_key: str,
        run_id: str,
        occurred_at_ms: int,
        claimed: float,
        credited: float,
        policy: str,
        event_id: str,
    ) -> None:
        self._conn.execute(
            "INSERT INTO xp_ledger (user_email, course_key, run_id, occurred_at_ms, claimed,"
            " credited, policy, event_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (user_email, course_key, run_id, occurred_at_ms, claimed, credited, policy, event_id),
        )

    def progress(self, user_email: str, course_key: str) -> Progress:
        row = self.one(
            "SELECT mastered_units, pct_complete, completed_at_ms FROM course_progress"
            " WHERE user_email = ? AND course_key = ?",
            (user_email, course_key),
        )
        if row is None:
            return Progress(0, None, False)
        return Progress(int(row[0]), row[1], row[2] is not None)

    def save_progress(
        self,
        *,
        user_email: str,
        course_key: str,
        mastered_units: int,
        pct_complete: float | None,
        completed: bool,
        now_ms: int,
    ) -> None:
        self._conn.execute(
            "INSERT INTO course_progress (user_email, course_key, mastered_units, pct_complete,"
            " completed_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (user_email, course_key) DO UPDATE SET"
            " mastered_units = excluded.mastered_units,"
            " pct_complete = COALESCE(excluded.pct_complete, pct_complete),"
            " completed_at_ms = COALESCE(completed_at_ms, excluded.completed_at_ms),"
            " updated_at_ms = excluded.updated_at_ms",
            (
                user_email,
                course_key,
                mastered_units,
                pct_complete,
                now_ms if completed else None,
                now_ms,
            ),
        )

    # -- outbox ----------------------------------------------------------------------------

    def claim_outbox(self, now: float, limit: int, lease_s: float) -> list[OutboxItem]:
        """The oldest pending events while they are due, leased so that another worker on the
        file skips them. Stopping at the first event that is not due keeps delivery in order."""
        rows = self.all(
            "SELECT o.event_seq, o.sensor, o.attempts, o.next_attempt_at, e.body FROM outbox o"
            " JOIN events e ON e.seq = o.event_seq"
            " WHERE o.status = 'pending' ORDER BY o.event_seq LIMIT ?",
            (limit,),
        )
        due = []
        for row in rows:
            if row[3] > now:
                break
            due.append(OutboxItem(int(row[0]), str(row[1]), int(row[2]), str(row[4])))
        self._conn.executemany(
            "UPDATE outbox SET next_attempt_at = ? WHERE event_seq = ?",
            [(now + lease_s, item.seq) for item in due],
        )
        return due

    def release(self, seqs: Sequence[int]) -> None:
        """Ends the lease of events whose delivery was interrupted (server shutting down)."""
        self._conn.executemany(
            "UPDATE outbox SET next_attempt_at = 0 WHERE event_seq = ? AND status = 'pending'",
            [(seq,) for seq in seqs],
        )

    def mark_sent(self, seqs: Sequence[int], now_ms: int) -> None:
        self._conn.executemany(
            "UPDATE outbox SET status = 'sent', sent_at_ms = ?, attempts = attempts + 1,"
            " last_error = NULL WHERE event_seq = ?",
            [(now_ms, seq) for seq in seqs],
        )

    def reschedule(self, seqs: Sequence[int], at: float, error: str, *, count: bool) -> None:
        self._conn.executemany(
            "UPDATE outbox SET next_attempt_at = ?, last_error = ?,"
            " attempts = attempts + ? WHERE event_seq = ?",
            [(at, error, 1 if count else 0, seq) for seq in seqs],
        )

    def mark_failed(self, seqs: Sequence[int], error: str) -> None:
        self._conn.executemany(
            "UPDATE outbox SET status = 'failed', last_error = ?, attempts = attempts + 1"
            " WHERE event_seq = ?",
            [(error, seq) for seq in seqs],
        )

    def next_due(self) -> float | None:
        """When the oldest pending event is due (delivery is in order, so it gates the rest)."""
        row = self.one(
            "SELECT next_attempt_at FROM outbox WHERE status = 'pending' ORDER BY event_seq LIMIT 1"
        )
        return None if row is None else float(row[0])


class Store:
    """One connection, one lock; blocking calls, with ``awrite``/``aread`` for async callers."""

    def __init__(self, path: Path, *, forward: bool = False) -> None:
        self.path = path
        self.forward = forward
        self._lock = threading.Lock()
        try:
            create_private(path)
            self._conn = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=10.0
            )
            mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"{path}: cannot switch the database to WAL mode ({mode})")
            # FULL: a window acknowledged with 204 must survive a power cut; the client will
            # not send it again.
            self._conn.execute("PRAGMA synchronous = FULL")
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"{path}: cannot open the database ({exc})") from None

    def _migrate(self) -> None:
        conn = self._conn
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: schema version {version} is newer than this server "
                f"({SCHEMA_VERSION}); upgrade the server"
            )
        while version < SCHEMA_VERSION:
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Another process may have migrated while we waited for the lock.
                version = int(conn.execute("PRAGMA user_version").fetchone()[0])
                if version < SCHEMA_VERSION:
                    for statement in MIGRATIONS[version]:
                        conn.execute(statement)
                    version += 1
                    conn.execute(f"PRAGMA user_version = {version}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def _run(self, begin: str, fn: Callable[[Tx], T]) -> T:
        with self._lock:
            self._conn.execute(begin)
            try:
                result = fn(Tx(self._conn, forward=self.forward))
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            return result

    def write(self, fn: Callable[[Tx], T]) -> T:
        return self._run("BEGIN IMMEDIATE", fn)

    def read(self, fn: Callable[[Tx], T]) -> T:
        return self._run("BEGIN", fn)

    async def awrite(self, fn: Callable[[Tx], T]) -> T:
        return await anyio.to_thread.run_sync(self.write, fn)

    async def aread(self, fn: Callable[[Tx], T]) -> T:
        return await anyio.to_thread.run_sync(self.read, fn)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- inspection (tests, operators) -----------------------------------------------------

    def row_counts(self) -> dict[str, int]:
        def count(tx: Tx) -> dict[str, int]:
            return {table: int(tx.one(f"SELECT COUNT(*) FROM {table}")[0]) for table in TABLES}

        return self.read(count)

    def events(self, *, user_email: str | None = None) -> list[dict[str, Any]]:
        def fetch(tx: Tx) -> list[dict[str, Any]]:
            if user_email is None:
                rows = tx.all("SELECT body FROM events ORDER BY seq")
            else:
                rows = tx.all(
                    "SELECT body FROM events WHERE user_email = ? ORDER BY seq", (user_email,)
                )
            return [json.loads(row[0]) for row in rows]

        return self.read(fetch)

    def outbox_counts(self) -> dict[str, int]:
        def fetch(tx: Tx) -> dict[str, int]:
            rows = tx.all("SELECT status, COUNT(*) FROM outbox GROUP BY status")
            counts = {"pending": 0, "sent": 0, "failed": 0}
            counts.update({str(row[0]): int(row[1]) for row in rows})
            return counts

        return self.read(fetch)

    def requeue_failed(self) -> int:
        """Puts events that the Caliper endpoint refused back in the queue (after a fix)."""

        def requeue(tx: Tx) -> int:
            return tx.execute(
                "UPDATE outbox SET status = 'pending', next_attempt_at = 0 WHERE status = 'failed'"
            )

        return self.write(requeue)
