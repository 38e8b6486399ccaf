"""``Tx``: the statements of one transaction, written once for both dialects.

SQL is written with ``?`` placeholders (SQLite's); the PostgreSQL transaction rewrites them to
psycopg's ``%s``. Only the outbox lease and the per-user serialisation differ by dialect.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any, Protocol

from ..ledger import check_showable
from .schema import OutboxItem, PriorCompletion, Progress, StoredEvent


class Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    def execute(self, sql: Any, params: Any = ...) -> Any: ...


# Any constant: the outbox claimers of every process on this database share it.
OUTBOX_CLAIM_LOCK = 0x6F75_7462_6F78


@functools.lru_cache(maxsize=512)
def pyformat(sql: str) -> str:
    """``?`` placeholders -> ``%s`` (and a literal ``%`` escaped), for psycopg."""
    return sql.replace("%", "%%").replace("?", "%s")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=True, allow_nan=False, separators=(",", ":"))


class Tx:
    """The statements of one transaction. Only a store creates it."""

    dialect = "sqlite"

    def __init__(self, conn: Any, *, forward: bool) -> None:
        self._conn = conn
        self._forward = forward

    def _sql(self, sql: str) -> str:
        return sql

    def _cursor(self, sql: str, params: Sequence[Any]) -> Cursor:
        cursor: Cursor = self._conn.execute(self._sql(sql), tuple(params))
        return cursor

    def one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._cursor(sql, params).fetchone()

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self._cursor(sql, params).fetchall()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Runs one statement; returns the number of rows it changed."""
        return self._cursor(sql, params).rowcount

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._conn.executemany(self._sql(sql), rows)

    def json_text(self, column: str, *path: str) -> str:
        """An SQL expression: the text at ``path`` inside the JSON document in ``column``."""
        return f"json_extract({column}, '$.{'.'.join(path)}')"

    def lock_user(self, user_email: str) -> None:
        """Serialises this user's writes until commit. SQLite: ``BEGIN IMMEDIATE`` already
        holds the only write lock."""

    # -- events -----------------------------------------------------------------------------

    def insert_event(self, event: StoredEvent, now_ms: int) -> None:
        row = self.one(
            "INSERT INTO events (id, type, sensor, user_email, run_id, event_time, body,"
            " created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq",
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
            self.execute(
                "INSERT INTO outbox (event_seq, sensor) VALUES (?, ?)", (row[0], event.sensor)
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
        check_showable("startedAt", started_at_ms)
        check_showable("endedAt", ended_at_ms)
        changed = self.execute(
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
        return changed == 1

    def counted_spans(self, user_email: str, start_ms: int, end_ms: int) -> list[tuple[int, int]]:
        """Spans of the user's counted windows that overlap [start, end) (index on ended_at).

        What counts of the next window depends on these rows: the user is locked first."""
        self.lock_user(user_email)
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
        # The completion's attempt, XP allowance and progress read this user's rows.
        self.lock_user(user_email)
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
        check_showable("endedAt", ended_at_ms)
        score = (
            correct_questions / total_questions
            if total_questions and correct_questions is not None
            else None
        )
        self.execute(
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
        changed = self.execute(
            "INSERT INTO gradebook (kind, user_email, course_key, pct_complete, event_id,"
            " recorded_at_ms) VALUES ('course', ?, ?, 100, ?, ?)"
            " ON CONFLICT (user_email, course_key) WHERE kind = 'course' DO NOTHING",
            (user_email, course_key, event_id, now_ms),
        )
        return changed == 1

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
        check_showable("endedAt", occurred_at_ms)
        self.execute(
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
        self.execute(
            "INSERT INTO course_progress (user_email, course_key, mastered_units, pct_complete,"
            " completed_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (user_email, course_key) DO UPDATE SET"
            " mastered_units = excluded.mastered_units,"
            " pct_complete = COALESCE(excluded.pct_complete, course_progress.pct_complete),"
            " completed_at_ms ="
            " COALESCE(course_progress.completed_at_ms, excluded.completed_at_ms),"
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
        file skips them. Stopping at the first event that is not due keeps delivery in order
        (on SQLite one worker delivers at a time: the head's lease gates the others)."""
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
            due.append(row)
        return self._lease(due, now + lease_s)

    def _lease(self, rows: Sequence[Any], until: float) -> list[OutboxItem]:
        self.executemany(
            "UPDATE outbox SET next_attempt_at = ? WHERE event_seq = ?",
            [(until, row[0]) for row in rows],
        )
        return [OutboxItem(int(r[0]), str(r[1]), int(r[2]), str(r[4]), until) for r in rows]

    def renew(self, items: Sequence[OutboxItem], until: float) -> list[OutboxItem]:
        """Extends the lease of the items still held under their lease (issue 10: a batch
        that alternates sensors outlasted one lease and a second worker sent it again).
        Items whose lease ran out and was taken by another worker are not returned."""
        held = []
        for item in items:
            row = self.one(
                "UPDATE outbox SET next_attempt_at = ? WHERE event_seq = ?"
                " AND status = 'pending' AND next_attempt_at = ? RETURNING event_seq",
                (until, item.seq, item.lease_until),
            )
            if row is not None:
                held.append(OutboxItem(item.seq, item.sensor, item.attempts, item.body, until))
        return held

    def release(self, seqs: Sequence[int]) -> None:
        """Ends the lease of events whose delivery was interrupted (server shutting down)."""
        self.executemany(
            "UPDATE outbox SET next_attempt_at = 0 WHERE event_seq = ? AND status = 'pending'",
            [(seq,) for seq in seqs],
        )

    def mark_sent(self, seqs: Sequence[int], now_ms: int) -> None:
        self.executemany(
            "UPDATE outbox SET status = 'sent', sent_at_ms = ?, attempts = attempts + 1,"
            " last_error = NULL WHERE event_seq = ?",
            [(now_ms, seq) for seq in seqs],
        )

    def reschedule(self, seqs: Sequence[int], at: float, error: str, *, count: bool) -> None:
        self.executemany(
            "UPDATE outbox SET next_attempt_at = ?, last_error = ?,"
            " attempts = attempts + ? WHERE event_seq = ?",
            [(at, error, 1 if count else 0, seq) for seq in seqs],
        )

    def mark_failed(self, seqs: Sequence[int], error: str) -> None:
        self.executemany(
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


class PostgresTx(Tx):
    """PostgreSQL: psycopg placeholders, jsonb paths, advisory locks, locked outbox claims."""

    dialect = "postgresql"

    def _sql(self, sql: str) -> str:
        return pyformat(sql)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            with self._conn.cursor() as cursor:
                cursor.executemany(self._sql(sql), rows)

    def json_text(self, column: str, *path: str) -> str:
        return f"({column}::jsonb #>> '{{{','.join(path)}}}')"

    def lock_user(self, user_email: str) -> None:
        # Under READ COMMITTED two workers could both read "nothing covers this span" and
        # both count it; one advisory lock per user (held to commit) orders their writes.
        self.one("SELECT pg_advisory_xact_lock(hashtextextended(?, 7))", (user_email,))

    def claim_outbox(self, now: float, limit: int, lease_s: float) -> list[OutboxItem]:
        """As on SQLite (in order, the head's lease gates the rest), made safe for READ
        COMMITTED: one claimer at a time (a try-lock: a worker that finds another claiming
        skips this round instead of waiting), and the rows locked ``FOR UPDATE`` so a
        reschedule or release in flight is seen committed. A worker whose lease outlives it
        (crash) leaves the rows due again when the lease ends."""
        if not self.one("SELECT pg_try_advisory_xact_lock(?)", (OUTBOX_CLAIM_LOCK,))[0]:
            return []
        rows = self.all(
            "SELECT o.event_seq, o.sensor, o.attempts, o.next_attempt_at, e.body FROM outbox o"
            " JOIN events e ON e.seq = o.event_seq"
            " WHERE o.status = 'pending' ORDER BY o.event_seq LIMIT ? FOR UPDATE OF o",
            (limit,),
        )
        due = []
        for row in rows:
            if row[3] > now:
                break
            due.append(row)
        return self._lease(due, now + lease_s)
