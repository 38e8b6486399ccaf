"""The schema, once per dialect: the same tables, keys, constraints and versions.

SQLite and PostgreSQL differ only in types (BIGINT epoch ms, identity columns, DOUBLE
PRECISION) and in one scalar function (MIN/MAX of two values vs LEAST/GREATEST); the UNIQUE
keys that turn a resend into a duplicate are the same, so dedupe behaves the same on both.
Each entry upgrades the schema by one version; never edit a released entry, append one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...errors import TrackerError

# Version 3 comes from the integrity branch (issue 10): a run's owner is the user of its first
# event, found by run_id. Kept here verbatim so both branches agree on version numbers.
RUN_OWNER_INDEX: tuple[str, ...] = ("CREATE INDEX events_run ON events (run_id)",)

# The demo's gradebook pages (cursor on recorded_at_ms, id; issue 10): each page an index range.
GRADEBOOK_PAGE_INDEX: tuple[str, ...] = (
    "CREATE INDEX gradebook_recent ON gradebook (user_email, recorded_at_ms, id)",
)

EVENT_ID_INDEXES: tuple[str, ...] = (
    "CREATE INDEX time_ledger_event ON time_ledger (event_id)",
    "CREATE INDEX gradebook_event ON gradebook (event_id)",
    "CREATE INDEX xp_ledger_event ON xp_ledger (event_id)",
    """CREATE INDEX time_ledger_activity ON time_ledger
        (user_email, activity_url, counted_ms, run_id, event_id)""",
)

SQLITE_MIGRATIONS: tuple[tuple[str, ...], ...] = (
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
    # Heartbeats slowed as the store filled (server-speed notes): with foreign keys on, each new
    # event made SQLite scan every table that references events(id), for want of an index.
    # time_ledger_activity serves the dashboard's per-activity totals from the index alone.
    RUN_OWNER_INDEX,
    EVENT_ID_INDEXES,
    GRADEBOOK_PAGE_INDEX,
)

POSTGRES_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE events (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            type TEXT NOT NULL,
            sensor TEXT NOT NULL,
            user_email TEXT NOT NULL,
            run_id TEXT NOT NULL,
            event_time TEXT NOT NULL,
            body TEXT NOT NULL,
            created_at_ms BIGINT NOT NULL)""",
        "CREATE INDEX events_user ON events (user_email, seq)",
        """CREATE TABLE time_ledger (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            user_email TEXT NOT NULL,
            run_id TEXT NOT NULL,
            source TEXT NOT NULL CHECK (source IN ('heartbeat', 'completion')),
            key_ms BIGINT NOT NULL,
            started_at_ms BIGINT,
            ended_at_ms BIGINT NOT NULL,
            active_ms BIGINT NOT NULL CHECK (active_ms >= 0),
            inactive_ms BIGINT NOT NULL CHECK (inactive_ms >= 0),
            activity_url TEXT NOT NULL,
            course_key TEXT NOT NULL,
            event_id TEXT NOT NULL REFERENCES events (id) DEFERRABLE INITIALLY DEFERRED,
            UNIQUE (user_email, run_id, source, key_ms))""",
        "CREATE INDEX time_ledger_user ON time_ledger (user_email, ended_at_ms)",
        """CREATE TABLE gradebook (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('activity', 'course')),
            user_email TEXT NOT NULL,
            course_key TEXT NOT NULL,
            activity_url TEXT,
            run_id TEXT,
            ended_at_ms BIGINT,
            attempt INTEGER,
            total_questions INTEGER,
            correct_questions INTEGER,
            score DOUBLE PRECISION,
            mastered_units INTEGER,
            pct_complete DOUBLE PRECISION,
            event_id TEXT REFERENCES events (id) DEFERRABLE INITIALLY DEFERRED,
            recorded_at_ms BIGINT NOT NULL)""",
        """CREATE UNIQUE INDEX gradebook_completion ON gradebook (user_email, run_id, ended_at_ms)
            WHERE kind = 'activity'""",
        """CREATE UNIQUE INDEX gradebook_attempt ON gradebook (user_email, activity_url, attempt)
            WHERE kind = 'activity'""",
        """CREATE UNIQUE INDEX gradebook_course ON gradebook (user_email, course_key)
            WHERE kind = 'course'""",
        """CREATE TABLE xp_ledger (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            user_email TEXT NOT NULL,
            course_key TEXT NOT NULL,
            run_id TEXT NOT NULL,
            occurred_at_ms BIGINT NOT NULL,
            claimed DOUBLE PRECISION NOT NULL,
            credited DOUBLE PRECISION NOT NULL,
            policy TEXT NOT NULL,
            event_id TEXT NOT NULL REFERENCES events (id) DEFERRABLE INITIALLY DEFERRED)""",
        "CREATE INDEX xp_ledger_user ON xp_ledger (user_email, occurred_at_ms)",
        "CREATE INDEX xp_ledger_run ON xp_ledger (user_email, run_id)",
        """CREATE TABLE course_progress (
            user_email TEXT NOT NULL,
            course_key TEXT NOT NULL,
            mastered_units INTEGER NOT NULL DEFAULT 0,
            pct_complete DOUBLE PRECISION,
            completed_at_ms BIGINT,
            updated_at_ms BIGINT NOT NULL,
            PRIMARY KEY (user_email, course_key))""",
        """CREATE TABLE outbox (
            event_seq BIGINT PRIMARY KEY REFERENCES events (seq),
            sensor TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'sent', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at DOUBLE PRECISION NOT NULL DEFAULT 0,
            last_error TEXT,
            sent_at_ms BIGINT)""",
        "CREATE INDEX outbox_due ON outbox (status, next_attempt_at)",
    ),
    (
        """ALTER TABLE time_ledger ADD COLUMN counted_ms BIGINT NOT NULL DEFAULT 0
            CHECK (counted_ms >= 0)""",
        """UPDATE time_ledger SET counted_ms = CASE WHEN started_at_ms IS NULL THEN active_ms
            ELSE LEAST(active_ms, GREATEST(0, ended_at_ms - started_at_ms)) END""",
    ),
    RUN_OWNER_INDEX,
    EVENT_ID_INDEXES,
    GRADEBOOK_PAGE_INDEX,
)
# What older code imported: the SQLite list.
MIGRATIONS = SQLITE_MIGRATIONS
SCHEMA_VERSION = len(SQLITE_MIGRATIONS)
assert len(POSTGRES_MIGRATIONS) == SCHEMA_VERSION, "both dialects share one version history"
TABLES = ("events", "time_ledger", "gradebook", "xp_ledger", "course_progress", "outbox")


class StoreError(TrackerError):
    """The database cannot be used (newer schema, unreadable or corrupt file, no space)."""


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
    # The lease this worker holds (epoch s); renewals and releases name it, so a worker whose
    # lease was taken over cannot touch (or send) the row again.
    lease_until: float = 0.0
