"""``server.activity.record()``: both spellings, keywords, validation, time, same pipeline."""

from __future__ import annotations

from typing import Any

import pytest

from tracker.errors import TrackerValidationError, UnknownCourseError
from tracker.server import TimebackServer

from .conftest import ServerFactory
from .helpers import RUN_ID, new_run

CAMEL: dict[str, Any] = {
    "user": {"email": "Student@Example.com", "timebackId": "tb-123"},
    "activity": {"id": "lesson-1", "name": "Fractions", "course": {"code": "MATH-3"}},
    "metrics": {
        "totalQuestions": 20,
        "correctQuestions": 16,
        "xpEarned": 150,
        "masteredUnits": 2,
        "pctComplete": 100,
    },
    "runId": RUN_ID,
}
SNAKE: dict[str, Any] = {
    "user": {"email": "student@example.com", "timeback_id": "tb-123"},
    "activity": {"id": "lesson-1", "name": "Fractions", "course": {"code": "MATH-3"}},
    "metrics": {
        "total_questions": 20,
        "correct_questions": 16,
        "xp_earned": 150,
        "mastered_units": 2,
        "pct_complete": 100,
    },
    "run_id": RUN_ID,
}


def activity_events(server: TimebackServer) -> list[dict[str, Any]]:
    return [e for e in server.store.events() if e["type"] == "ActivityEvent"]


@pytest.mark.parametrize("params", [CAMEL, SNAKE], ids=["camelCase", "snake_case"])
async def test_record_runs_the_completion_pipeline(
    server: TimebackServer, params: dict[str, Any]
) -> None:
    result = await server.activity.record(params)
    assert result.duplicate is False
    assert result.attempt == 1
    assert result.pct_complete == 100
    assert result.course_completed is True
    # No time given: only the completion, no TimeSpentEvent.
    [event] = server.store.events()
    assert event["type"] == "ActivityEvent"
    assert event["actor"] == {
        "id": "mailto:student@example.com",
        "type": "TimebackUser",
        "email": "student@example.com",
        "timebackId": "tb-123",
    }
    # The selector given (a code) builds the URL, as in the official record() (issue 9).
    assert (
        event["object"]["id"] == "https://app.example.com/sensors/math/activities/MATH-3/lesson-1"
    )
    assert event["generated"]["items"] == [
        {"type": "totalQuestions", "value": 20},
        {"type": "correctQuestions", "value": 16},
        {"type": "xpEarned", "value": 150},
        {"type": "masteredUnits", "value": 2},
    ]
    assert event["generated"]["extensions"] == {"pctCompleteApp": 100}
    assert event["session"] == f"urn:uuid:{RUN_ID}"


async def test_record_with_keyword_arguments(server: TimebackServer) -> None:
    result = await server.activity.record(
        user={"email": "student@example.com"},
        # The same selector as CAMEL's (a code): attempts count per activity URL (issue 9).
        activity={"id": "lesson-1", "name": "Fractions", "course": {"code": "MATH-3"}},
        metrics={"xp_earned": 5},
    )
    assert result.attempt == 1
    second = await server.activity.record(
        CAMEL, metrics={"xpEarned": 1}, run_id=new_run()
    )  # keywords override the dict
    assert second.attempt == 2
    assert activity_events(server)[1]["generated"]["items"] == [{"type": "xpEarned", "value": 1}]


async def test_record_time_emits_one_time_spent_event(server: TimebackServer) -> None:
    params = {
        **CAMEL,
        "metrics": {"totalQuestions": 20, "correctQuestions": 16, "xpEarned": 15},
        "time": {
            "activeMs": 1_200_000,
            "inactiveMs": 120_000,
            "endedAt": "2026-01-27T10:20:00.000Z",
        },
    }
    result = await server.activity.record(params)
    spent, completed = server.store.events()
    assert spent["type"] == "TimeSpentEvent"
    assert spent["generated"]["items"] == [
        {"type": "active", "value": 1200},
        {"type": "inactive", "value": 120},
    ]
    assert spent["eventTime"] == completed["eventTime"] == "2026-01-27T10:20:00.000Z"
    assert result.event_ids == (spent["id"], completed["id"])
    # 20 active minutes allow the 15 XP.
    assert result.xp_credited == 15

    # With runId and time.endedAt a retry is the same attempt and writes nothing.
    counts = server.store.row_counts()
    again = await server.activity.record(params)
    assert again.duplicate is True
    assert again.attempt == result.attempt
    assert server.store.row_counts() == counts


async def test_record_time_from_bounds(server: TimebackServer) -> None:
    await server.activity.record(
        {
            **SNAKE,
            "time": {
                "started_at": "2026-01-27T10:00:00.000Z",
                "ended_at": "2026-01-27T10:10:00.000Z",
                "inactive_ms": 60_000,
            },
        }
    )
    spent = server.store.events()[0]
    assert spent["generated"]["items"] == [
        {"type": "active", "value": 540},
        {"type": "inactive", "value": 60},
    ]


async def test_record_without_run_id_is_a_new_run_each_time(server: TimebackServer) -> None:
    params = {key: value for key, value in CAMEL.items() if key != "runId"}
    first = await server.activity.record(params)
    second = await server.activity.record(params)
    assert (first.attempt, second.attempt) == (1, 2)
    sessions = {event["session"] for event in activity_events(server)}
    assert len(sessions) == 2


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"user": {}}, "user.email"),
        ({"user": {"email": "not an email"}}, "user.email"),
        ({"user": None}, "user"),
        ({"activity": {"id": "x", "name": "X"}}, "activity.course"),
        ({"activity": {"id": "", "name": "X", "course": {"code": "MATH-3"}}}, "activity.id"),
        ({"metrics": {"xpEarned": -1}}, "metrics.xpEarned"),
        ({"metrics": {"xp_earned": -0.5}}, "metrics.xpEarned"),
        ({"metrics": {}}, "metrics.xpEarned"),
        ({"metrics": {"xpEarned": 1, "totalQuestions": 3}}, "metrics.correctQuestions"),
        (
            {"metrics": {"xpEarned": 1, "totalQuestions": 3, "correctQuestions": 4}},
            "metrics.correctQuestions",
        ),
        ({"metrics": {"xpEarned": 1, "pctComplete": 120}}, "metrics.pctComplete"),
        ({"metrics": {"xpEarned": 1, "masteredUnits": "2"}}, "metrics.masteredUnits"),
        ({"time": {"activeMs": -1}}, "time.activeMs"),
        ({"time": {"endedAt": "soon"}}, "time.endedAt"),
        (
            {"time": {"startedAt": "2026-01-27T10:00:00Z", "endedAt": "2026-01-27T09:00:00Z"}},
            "time.endedAt",
        ),
        ({"runId": "nope"}, "runId"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
async def test_record_validation_names_the_field(
    server: TimebackServer, changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(TrackerValidationError) as caught:
        await server.activity.record({**CAMEL, **changes})
    assert caught.value.field == field
    assert server.store.row_counts()["events"] == 0


async def test_record_unknown_course(server: TimebackServer) -> None:
    params = {**CAMEL, "activity": {"id": "x", "name": "X", "course": {"code": "NOPE"}}}
    with pytest.raises(UnknownCourseError) as caught:
        await server.activity.record(params)
    assert caught.value.field == "activity.course"


async def test_record_and_heartbeats_share_the_run(make_server: ServerFactory) -> None:
    """record() holds XP against the heartbeats the page sent for the same runId."""
    from .conftest import client_for
    from .helpers import window

    server = make_server(xp_policy="cap")
    run = new_run()
    async with client_for(server) as client:
        for index in range(4):  # 1 active minute
            await client.post("/activity/heartbeat", json=window(index, run_id=run))
    result = await server.activity.record({**CAMEL, "runId": run, "metrics": {"xpEarned": 30}})
    assert result.xp_claimed == 30
    assert result.xp_credited == 2
