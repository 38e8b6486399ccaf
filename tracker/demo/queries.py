"""Read-only views of the tracker's store for the dashboard and the event feed.

Everything here runs inside ``store.aread`` (one read transaction) and only reads the tables
that the pipeline writes: the time ledger, the gradebook, the XP ledger, course progress and
the Caliper events themselves.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ..config import AppConfig
from ..numbers import tidy_number
from ..server.ledger import SHOWABLE_MAX_MS, SHOWABLE_MIN_MS
from ..server.profile import Day, minutes, profile
from ..server.store import Tx
from ..timefmt import iso_from_epoch_ms
from .pages import DEFAULT_LIMIT, Key, page_of

# The sort keys behind the cursors of the two lists (pages.py).
GRADEBOOK_KEY = (int, int)  # recorded_at_ms, id: newest first
ACTIVITIES_KEY = (int, str)  # counted ms, activity URL: most time first


def _name(tx: Tx) -> str:
    return tx.json_text("e.body", "object", "activity", "name")


def _course(tx: Tx) -> str:
    return tx.json_text("e.body", "object", "course", "name")


def _keyset(after: Key | None, condition: str) -> tuple[str, tuple[int | str, ...]]:
    """The condition that starts a page after the cursor key ``after`` (its parameters: the
    first value twice, then the second), or nothing for the first page."""
    if after is None:
        return "", ()
    return condition, (after[0], after[0], after[1])


def _local_date(epoch_ms: int, zone: ZoneInfo) -> date:
    # Rows stored before the store refused unshowable times (issue 10) are shown at the edge
    # of the years datetime can represent instead of failing the whole dashboard.
    clamped = min(max(epoch_ms, SHOWABLE_MIN_MS), SHOWABLE_MAX_MS)
    return datetime.fromtimestamp(clamped / 1000, zone).date()


def _day_start_ms(day: date, zone: ZoneInfo) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=zone).timestamp() * 1000)


def minutes_per_day(
    tx: Tx, email: str, zone: ZoneInfo, today: date, days: int
) -> list[dict[str, Any]]:
    """Active minutes and credited XP of each of the last ``days`` local days, oldest first."""
    first = today - timedelta(days=days - 1)
    since = _day_start_ms(first, zone)
    active: dict[date, float] = {}
    for ended, ms in tx.all(
        "SELECT ended_at_ms, counted_ms FROM time_ledger WHERE user_email = ? AND ended_at_ms >= ?",
        (email, since),
    ):
        key = _local_date(int(ended), zone)
        active[key] = active.get(key, 0) + float(ms)
    xp: dict[date, float] = {}
    for occurred, credited in tx.all(
        "SELECT occurred_at_ms, credited FROM xp_ledger"
        " WHERE user_email = ? AND occurred_at_ms >= ?",
        (email, since),
    ):
        key = _local_date(int(occurred), zone)
        xp[key] = xp.get(key, 0) + float(credited)
    result = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        result.append(
            {
                "date": day.isoformat(),
                "activeMinutes": minutes(active.get(day, 0)),
                "xp": tidy_number(xp.get(day, 0), 2),
            }
        )
    return result


def minutes_per_activity(
    tx: Tx, email: str, *, after: Key | None = None, limit: int = DEFAULT_LIMIT
) -> dict[str, Any]:
    """All-time active minutes per activity, most first, a page of ``limit`` after the
    cursor key ``after``; the name comes from its events."""
    # Totals come from the covering index alone; the name is read from one event per
    # activity, not joined to every window (a 200k-window user, issue 10).
    where, params = _keyset(after, " WHERE a.ms < ? OR (a.ms = ? AND a.activity_url > ?)")
    rows = tx.all(
        f"SELECT a.activity_url, a.ms, {_name(tx)}, {_course(tx)}, a.runs, a.windows FROM"
        " (SELECT activity_url, SUM(counted_ms) AS ms, COUNT(DISTINCT run_id) AS runs,"
        " COUNT(*) AS windows, MAX(event_id) AS event_id FROM time_ledger"
        " WHERE user_email = ? GROUP BY activity_url) a"
        f" LEFT JOIN events e ON e.id = a.event_id{where}"
        " ORDER BY a.ms DESC, a.activity_url LIMIT ?",
        (email, *params, limit + 1),
    )
    shown, cursor = page_of(rows, limit, lambda row: (int(row[1]), str(row[0])))
    activities = [
        {
            "activityUrl": str(url),
            "name": str(name or url.rsplit("/", 1)[-1]),
            "course": course,
            "activeMinutes": minutes(float(ms)),
            "activeMs": int(ms),
            "runs": int(runs),
            "windows": int(windows),
        }
        for url, ms, name, course, runs, windows in shown
    ]
    return {"activities": activities, "nextCursor": cursor}


def gradebook(
    tx: Tx, email: str, *, after: Key | None = None, limit: int = DEFAULT_LIMIT
) -> dict[str, Any]:
    """Completions (newest first) with score and XP, and course-completion entries: a page
    of ``limit`` after the cursor key ``after``."""
    where, params = _keyset(
        after, " AND (g.recorded_at_ms < ? OR (g.recorded_at_ms = ? AND g.id < ?))"
    )
    rows = tx.all(
        f"SELECT g.kind, g.course_key, g.activity_url, g.run_id, g.ended_at_ms, g.attempt,"
        f" g.total_questions, g.correct_questions, g.score, g.mastered_units, g.pct_complete,"
        f" g.recorded_at_ms, {_name(tx)}, {_course(tx)}, x.claimed, x.credited, x.policy, g.id"
        " FROM gradebook g LEFT JOIN events e ON e.id = g.event_id"
        " LEFT JOIN xp_ledger x ON x.event_id = g.event_id AND g.kind = 'activity'"
        f" WHERE g.user_email = ?{where} ORDER BY g.recorded_at_ms DESC, g.id DESC LIMIT ?",
        (email, *params, limit + 1),
    )
    shown, cursor = page_of(rows, limit, lambda row: (int(row[11]), int(row[17])))
    entries = []
    for (
        kind,
        course_key,
        url,
        run_id,
        ended,
        attempt,
        total,
        correct,
        score,
        mastered,
        pct,
        recorded,
        name,
        course,
        claimed,
        credited,
        policy,
        _id,
    ) in shown:
        entries.append(
            {
                "kind": kind,
                "courseKey": course_key,
                "course": course,
                "activityUrl": url,
                "name": name,
                "runId": run_id,
                "endedAt": iso_from_epoch_ms(int(ended)) if ended is not None else None,
                "recordedAt": iso_from_epoch_ms(int(recorded)),
                "attempt": attempt,
                "totalQuestions": total,
                "correctQuestions": correct,
                "score": None if score is None else tidy_number(float(score) * 100, 1),
                "masteredUnits": mastered,
                "pctComplete": None if pct is None else tidy_number(float(pct), 2),
                "xpClaimed": None if claimed is None else tidy_number(float(claimed), 2),
                "xpCredited": None if credited is None else tidy_number(float(credited), 2),
                # Issue 9: XP accepted above the run's counted minutes (xp_flag).
                "xpFlagged": bool(policy and str(policy).endswith("+flagged")),
            }
        )
    return {"gradebook": entries, "nextCursor": cursor}


def mastered_before(tx: Tx, email: str, lesson_id: str) -> bool:
    """Whether a completion of the lesson (its URL ends in ``/lesson_id``) mastered units."""
    pattern = "%/" + lesson_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    row = tx.one(
        "SELECT 1 FROM gradebook WHERE user_email = ? AND kind = 'activity'"
        " AND mastered_units > 0 AND activity_url LIKE ? ESCAPE '\\' LIMIT 1",
        (email, pattern),
    )
    return row is not None


def dashboard(
    tx: Tx, config: AppConfig, env: str, email: str, zone: ZoneInfo, now_ms: int, days: int = 7
) -> dict[str, Any]:
    today = Day.containing(now_ms, zone)
    summary = profile(tx, config, env, email, today)
    # The first page of each list; the client follows nextCursor (routes of app.py).
    activities = minutes_per_activity(tx, email)
    grades = gradebook(tx, email)
    return {
        "email": email,
        "timeZone": zone.key,
        "xp": summary["xp"],
        "activeMinutes": summary["activeMinutes"],
        "courses": summary["courses"],
        "days": minutes_per_day(tx, email, zone, _local_date(now_ms, zone), days),
        "activities": activities["activities"],
        "activitiesNextCursor": activities["nextCursor"],
        "gradebook": grades["gradebook"],
        "gradebookNextCursor": grades["nextCursor"],
    }


def events_after(tx: Tx, email: str, after: int, limit: int) -> dict[str, Any]:
    """The user's Caliper events with ``seq > after``: the newest ``limit``, oldest first."""
    rows = tx.all(
        "SELECT seq, type, event_time, created_at_ms, body FROM events"
        " WHERE user_email = ? AND seq > ? ORDER BY seq DESC LIMIT ?",
        (email, after, limit),
    )
    rows.reverse()
    last = tx.one("SELECT COALESCE(MAX(seq), 0) FROM events WHERE user_email = ?", (email,))
    return {
        "last": max(int(last[0]), after),
        "events": [
            {
                "seq": int(seq),
                "type": str(kind),
                "eventTime": str(event_time),
                "storedAt": iso_from_epoch_ms(int(created)),
                "event": json.loads(body),
            }
            for seq, kind, event_time, created, body in rows
        ],
    }
