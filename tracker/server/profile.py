"""``GET /user/me``: XP and active minutes (today and all time) and per-course progress.

The official SDK's profile keys (``id``, ``email``, ``name``, ``grade``, ``courses[{id, code,
name}]``, ``goals``, ``xp {today, all}``) come first, ours beside them, so that a client of
the official server reads this answer unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ..config import AppConfig
from ..numbers import tidy_number
from ..timefmt import iso_from_epoch_ms
from .caliper import actor_iri, course_key
from .platform.roster import RosterUser
from .store import Tx


@dataclass(frozen=True)
class Day:
    """[start, end) of the user's current day in ``zone``, as epoch ms."""

    start_ms: int
    end_ms: int
    zone: str

    @classmethod
    def containing(cls, moment_ms: int, zone: ZoneInfo) -> Day:
        local = datetime.fromtimestamp(moment_ms / 1000, zone)
        start = local.replace(hour=0, minute=0, second=0, microsecond=0)
        # Add a day on the calendar, then re-attach the zone: days with a DST change last 23
        # or 25 hours.
        end = (start.replace(tzinfo=None) + timedelta(days=1)).replace(tzinfo=zone)
        return cls(int(start.timestamp() * 1000), int(end.timestamp() * 1000), zone.key)


def _number(value: Any) -> int | float:
    return tidy_number(float(value or 0), 2)


def minutes(ms: Any) -> int | float:
    """Milliseconds as the minutes answers show them (2 decimals; the demo's too)."""
    return tidy_number(float(ms or 0) / 60_000, 2)


def _xp(all_time: Any, today: Any) -> dict[str, int | float]:
    # "all" is the official key, "allTime" ours (the dashboard reads it).
    total = _number(all_time)
    return {"today": _number(today), "all": total, "allTime": total}


def _first_goals(config: AppConfig) -> dict[str, float] | None:
    """The official answer takes the goals of the first enrollment that has some."""
    for course in config.courses:
        goals = course.metadata.goals if course.metadata else None
        if goals is None:
            continue
        found = {
            key: value
            for key, value in (
                ("dailyXp", goals.daily_xp),
                ("dailyActiveMinutes", goals.daily_active_minutes),
            )
            if value is not None
        }
        if found:
            return found
    return None


def profile(
    tx: Tx,
    config: AppConfig,
    env: str,
    email: str,
    day: Day,
    timeback_id: str | None = None,
    user: RosterUser | None = None,
) -> dict[str, Any]:
    """``timeback_id`` is the user's Timeback (OneRoster) id; embedded mode has none.

    ``user`` (platform mode): the roster record, which gives id, name and grade.
    """
    if user is not None:
        timeback_id = user.sourced_id
    xp_by_course = {
        str(row[0]): (row[1], row[2])
        for row in tx.all(
            "SELECT course_key, SUM(credited),"
            " SUM(CASE WHEN occurred_at_ms >= ? AND occurred_at_ms < ? THEN credited END)"
            " FROM xp_ledger WHERE user_email = ? GROUP BY course_key",
            (day.start_ms, day.end_ms, email),
        )
    }
    time_by_course = {
        str(row[0]): (row[1], row[2])
        for row in tx.all(
            "SELECT course_key, SUM(counted_ms),"
            " SUM(CASE WHEN ended_at_ms >= ? AND ended_at_ms < ? THEN counted_ms END)"
            " FROM time_ledger WHERE user_email = ? GROUP BY course_key",
            (day.start_ms, day.end_ms, email),
        )
    }
    progress = {
        str(row[0]): (int(row[1]), row[2], row[3])
        for row in tx.all(
            "SELECT course_key, mastered_units, pct_complete, completed_at_ms"
            " FROM course_progress WHERE user_email = ?",
            (email,),
        )
    }
    courses: list[dict[str, Any]] = []
    for course in config.courses:
        key = course_key(course)
        xp_all, xp_today = xp_by_course.get(key, (0, 0))
        active_all, active_today = time_by_course.get(key, (0, 0))
        mastered, pct, completed_at = progress.get(key, (0, None, None))
        goals = course.metadata.goals if course.metadata else None
        courses.append(
            {
                # The official course id is ids[env]; without one, the course's own path
                # below the sensor: stable, and never mistaken for a platform id.
                "id": course.ids.get(env) or key,
                "name": course.display_name,
                "subject": course.subject,
                "grade": course.grade,
                "code": course.course_code,
                "courseId": course.ids.get(env),
                "pctComplete": None if pct is None else _number(pct),
                "masteredUnits": mastered,
                "totalLessons": course.total_lessons(env),
                "completed": completed_at is not None,
                "completedAt": None if completed_at is None else iso_from_epoch_ms(completed_at),
                "xp": _xp(xp_all, xp_today),
                "activeMinutes": {"today": minutes(active_today), "allTime": minutes(active_all)},
                "goals": {
                    "dailyXp": goals.daily_xp if goals else None,
                    "dailyActiveMinutes": goals.daily_active_minutes if goals else None,
                },
            }
        )
    return {
        "id": timeback_id,
        "email": email,
        # Name and grade come from the roster in the official server; embedded mode has none.
        "name": user.name if user else None,
        "grade": user.grade if user else None,
        "goals": _first_goals(config),
        "actorId": actor_iri(email),
        "day": {
            "start": iso_from_epoch_ms(day.start_ms),
            "end": iso_from_epoch_ms(day.end_ms),
            "timeZone": day.zone,
        },
        "xp": _xp(
            sum(float(total or 0) for total, _ in xp_by_course.values()),
            sum(float(today or 0) for _, today in xp_by_course.values()),
        ),
        "activeMinutes": {
            "today": minutes(sum(float(today or 0) for _, today in time_by_course.values())),
            "allTime": minutes(sum(float(total or 0) for total, _ in time_by_course.values())),
        },
        "courses": courses,
    }
