"""POST /activity/submit: Completed events, attempts, retries, progress, gradebook and XP."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from tracker.server import TimebackServer

from .conftest import ServerFactory, client_for
from .helpers import RUN_ID, new_run, submit_body, window

SUBMIT = "/activity/submit"
HEARTBEAT = "/activity/heartbeat"


def completions(server: TimebackServer) -> list[dict[str, Any]]:
    return [e for e in server.store.events() if e["type"] == "ActivityEvent"]


def gradebook(server: TimebackServer, kind: str = "activity") -> list[tuple[Any, ...]]:
    return server.store.read(
        lambda tx: tx.all(
            "SELECT attempt, total_questions, correct_questions, score, mastered_units,"
            " pct_complete, course_key FROM gradebook WHERE kind = ? ORDER BY id",
            (kind,),
        )
    )


async def test_completion_event_exact_shape(
    server: TimebackServer, client: httpx.AsyncClient
) -> None:
    await _run_with_minutes(client, RUN_ID, 40)  # 10 minutes: the XP is not capped
    body = submit_body(
        metrics={"xpEarned": 8, "totalQuestions": 10, "correctQuestions": 8, "masteredUnits": 1},
        pctComplete=67,
    )
    response = await client.post(SUBMIT, json=body)
    assert response.status_code == 204
    [event] = completions(server)
    assert event["type"] == "ActivityEvent"
    assert event["action"] == "Completed"
    assert event["profile"] == "TimebackProfile"
    assert event["eventTime"] == "2026-01-27T10:03:00.000Z"
    assert event["session"] == f"urn:uuid:{RUN_ID}"
    # The selector was {code: MATH-3}: the official builds object.id from it (issue 9).
    assert event["object"]["id"].endswith("/activities/MATH-3/fractions-with-like-denominators")
    generated = event["generated"]
    assert generated["type"] == "TimebackActivityMetricsCollection"
    assert generated["items"] == [
        {"type": "totalQuestions", "value": 10},
        {"type": "correctQuestions", "value": 8},
        {"type": "xpEarned", "value": 8},
        {"type": "masteredUnits", "value": 1},
    ]
    assert generated["attempt"] == 1
    assert generated["extensions"] == {"pctCompleteApp": 67}
    assert event["extensions"] == {"courseId": "math3-prod"}
    assert gradebook(server) == [(1, 10, 8, 0.8, 1, 67.0, "Math/g3")]


async def test_items_only_for_given_metrics(
    server: TimebackServer, client: httpx.AsyncClient
) -> None:
    await _run_with_minutes(client, RUN_ID, 8)  # 2 minutes: 3 XP is within the cap
    response = await client.post(SUBMIT, json=submit_body(metrics={"xpEarned": 3}))
    assert response.status_code == 204
    [event] = completions(server)
    assert event["generated"]["items"] == [{"type": "xpEarned", "value": 3}]
    assert "extensions" not in event["generated"]  # no pctComplete, nothing to compute from
    assert gradebook(server)[0][3] is None  # no questions: no score


async def test_retry_is_the_same_attempt_and_new_completions_count_up(
    server: TimebackServer, client: httpx.AsyncClient
) -> None:
    first = submit_body()
    assert (await client.post(SUBMIT, json=first)).status_code == 204
    counts = server.store.row_counts()
    # A retry with the same runId + endedAt (even with other numbers) writes nothing.
    retry = await client.post(SUBMIT, json={**first, "metrics": {"xpEarned": 1}})
    assert retry.status_code == 204
    assert server.store.row_counts() == counts

    second = submit_body(runId=new_run(), endedAt="2026-01-28T10:00:00.000Z")
    third = submit_body(endedAt="2026-01-29T10:00:00.000Z")  # same run, later completion
    for body in (second, third):
        assert (await client.post(SUBMIT, json=body)).status_code == 204
    assert [e["generated"]["attempt"] for e in completions(server)] == [1, 2, 3]
    # Another activity, or another user, counts from 1.
    await client.post(SUBMIT, json=submit_body(id="other-lesson", runId=new_run()))
    async with client_for(server, "b@example.com") as other:
        # In a run of their own: the first user's run is not theirs (issue 10).
        assert (await other.post(SUBMIT, json=submit_body(runId=new_run()))).status_code == 204
    assert [e["generated"]["attempt"] for e in completions(server)] == [1, 2, 3, 1, 1]


async def test_progress_is_computed_from_mastered_units(
    server: TimebackServer, client: httpx.AsyncClient
) -> None:
    # totalLessons is 8 for MATH-3 in production.
    pcts = []
    for day, mastered in ((1, 1), (2, 2), (3, 0), (4, 1)):
        body = submit_body(
            runId=new_run(),
            endedAt=f"2026-02-0{day}T10:00:00.000Z",
            metrics={"xpEarned": 5, "masteredUnits": mastered},
        )
        assert (await client.post(SUBMIT, json=body)).status_code == 204
        pcts.append(completions(server)[-1]["generated"].get("extensions"))
    # 1/8 = 12.5 rounds half to even, to 12, as the official SDK; 0 mastered computes nothing.
    assert pcts == [{"pctCompleteApp": 12}, {"pctCompleteApp": 38}, None, {"pctCompleteApp": 50}]


async def test_retried_completion_counts_its_mastered_units_once(
    server: TimebackServer, client: httpx.AsyncClient
) -> None:
    body = submit_body(metrics={"xpEarned": 5, "masteredUnits": 2})
    await client.post(SUBMIT, json=body)
    await client.post(SUBMIT, json=body)
    await client.post(
        SUBMIT,
        json=submit_body(
            runId=new_run(),
            metrics={"xpEarned": 5, "masteredUnits": 2},
            endedAt="2026-02-01T00:00:00Z",
        ),
    )
    assert [e["generated"]["extensions"]["pctCompleteApp"] for e in completions(server)] == [25, 50]


async def test_explicit_pct_wins_and_100_writes_one_course_entry(
    server: TimebackServer, client: httpx.AsyncClient
) -> None:
    explicit = submit_body(metrics={"xpEarned": 5, "masteredUnits": 1}, pctComplete=42.5)
    await client.post(SUBMIT, json=explicit)
    assert completions(server)[-1]["generated"]["extensions"] == {"pctCompleteApp": 42.5}
    assert gradebook(server, "course") == []

    # 1 + 8 mastered of 8 lessons: clamped to 100, and the course is complete.
    done = submit_body(
        runId=new_run(), endedAt="2026-02-01T00:00:00Z", metrics={"xpEarned": 5, "masteredUnits": 8}
    )
    await client.post(SUBMIT, json=done)
    assert completions(server)[-1]["generated"]["extensions"] == {"pctCompleteApp": 100}
    assert len(gradebook(server, "course")) == 1

    again = submit_body(runId=new_run(), endedAt="2026-02-02T00:00:00Z", pctComplete=100)
    await client.post(SUBMIT, json=again)
    assert len(gradebook(server, "course")) == 1
    me = (await client.get("/user/me")).json()
    math = next(c for c in me["courses"] if c["code"] == "MATH-3")
    assert math["completed"] is True
    assert math["pctComplete"] == 100
    assert math["masteredUnits"] == 9


async def test_no_progress_without_total_lessons(
    server: TimebackServer, client: httpx.AsyncClient
) -> None:
    body = submit_body(
        course={"subject": "Reading", "grade": 2}, metrics={"xpEarned": 1, "masteredUnits": 3}
    )
    await client.post(SUBMIT, json=body)
    assert "extensions" not in completions(server)[0]["generated"]


async def test_staging_total_lessons_override(make_server: ServerFactory) -> None:
    server = make_server(env="staging")
    async with client_for(server) as client:
        await client.post(SUBMIT, json=submit_body(metrics={"xpEarned": 1, "masteredUnits": 1}))
    assert completions(server)[0]["generated"]["extensions"] == {"pctCompleteApp": 25}


async def test_submit_time_override_emits_one_time_spent_event(
    server: TimebackServer, client: httpx.AsyncClient
) -> None:
    body = submit_body(time={"activeMs": 90000, "inactiveMs": 0})
    await client.post(SUBMIT, json=body)
    await client.post(SUBMIT, json=body)  # retry: nothing new
    spent, completed = server.store.events()
    assert spent["type"] == "TimeSpentEvent"
    assert spent["generated"]["items"] == [{"type": "active", "value": 90}]
    assert spent["eventTime"] == completed["eventTime"]
    assert spent["session"] == completed["session"]
    assert completed["type"] == "ActivityEvent"


# -- XP policy ------------------------------------------------------------------------------


async def _run_with_minutes(client: httpx.AsyncClient, run_id: str, windows: int) -> None:
    for index in range(windows):
        response = await client.post(HEARTBEAT, json=window(index, run_id=run_id))
        assert response.status_code == 204


def xp_ledger(server: TimebackServer) -> list[tuple[Any, ...]]:
    return server.store.read(
        lambda tx: tx.all("SELECT claimed, credited, policy FROM xp_ledger ORDER BY id")
    )


async def test_cap_policy_holds_xp_against_active_minutes(make_server: ServerFactory) -> None:
    server = make_server(xp_policy="cap")
    async with client_for(server) as client:
        await _capped_claims(server, client)


async def _capped_claims(server: TimebackServer, client: httpx.AsyncClient) -> None:
    run = new_run()
    await _run_with_minutes(client, run, 12)  # 12 x 15 s = 3 active minutes
    body = submit_body(runId=run, metrics={"xpEarned": 50})
    assert (await client.post(SUBMIT, json=body)).status_code == 204
    [event] = completions(server)
    # ceil(3 minutes) + tolerance 1 = 4 XP credited; the claim is kept for audit.
    assert {"type": "xpEarned", "value": 4} in event["generated"]["items"]
    assert event["extensions"] == {"courseId": "math3-prod", "xpClaimed": 50}
    assert xp_ledger(server) == [(50.0, 4.0, "cap")]

    # A second completion in the same run cannot credit the same minutes again.
    more = submit_body(runId=run, endedAt="2026-01-27T11:00:00.000Z", metrics={"xpEarned": 3})
    await client.post(SUBMIT, json=more)
    assert xp_ledger(server)[-1] == (3.0, 0.0, "cap")


async def test_cap_policy_leaves_honest_claims_and_runs_without_time_alone(
    make_server: ServerFactory,
) -> None:
    server = make_server(xp_policy="cap")
    async with client_for(server) as client:
        await _honest_claims(server, client)


async def _honest_claims(server: TimebackServer, client: httpx.AsyncClient) -> None:
    run = new_run()
    await _run_with_minutes(client, run, 8)  # 2 minutes
    await client.post(SUBMIT, json=submit_body(runId=run, metrics={"xpEarned": 2}))
    # No heartbeats (time: false): 0 observed minutes, so only the tolerance (issue 10).
    await client.post(SUBMIT, json=submit_body(runId=new_run(), metrics={"xpEarned": 120}))
    # Negative XP is a correction and is never capped.
    await client.post(
        SUBMIT,
        json=submit_body(runId=run, endedAt="2026-01-28T00:00:00Z", metrics={"xpEarned": -2}),
    )
    assert xp_ledger(server) == [(2.0, 2.0, "cap"), (120.0, 1.0, "cap"), (-2.0, -2.0, "cap")]


async def test_reject_policy_refuses_and_stores_nothing(make_server: ServerFactory) -> None:
    server = make_server(xp_policy="reject")
    run = new_run()
    async with client_for(server) as client:
        await _run_with_minutes(client, run, 4)  # 1 minute
        counts = server.store.row_counts()
        response = await client.post(SUBMIT, json=submit_body(runId=run, metrics={"xpEarned": 9}))
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "INVALID_PAYLOAD"
        assert error["details"]["field"] == "metrics.xpEarned"
        assert server.store.row_counts() == counts
        ok = await client.post(SUBMIT, json=submit_body(runId=run, metrics={"xpEarned": 2}))
        assert ok.status_code == 204


async def test_accept_policy_is_the_default_and_flags_a_claim_above_the_minutes(
    server: TimebackServer, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 9: the claim goes out as given (as the official); store and log mark it."""
    assert (server.settings.xp_policy, server.settings.xp_flag) == ("accept", True)
    run = new_run()
    await _run_with_minutes(client, run, 4)  # 1 minute: 2 XP would be within the minutes
    await client.post(SUBMIT, json=submit_body(runId=run, metrics={"xpEarned": 2}))
    with caplog.at_level(logging.WARNING, logger="tracker.server"):
        late = submit_body(runId=run, endedAt="2026-01-27T11:00:00.000Z", metrics={"xpEarned": 99})
        await client.post(SUBMIT, json=late)
    assert xp_ledger(server) == [(2.0, 2.0, "accept"), (99.0, 99.0, "accept+flagged")]
    _, flagged = completions(server)
    assert {"type": "xpEarned", "value": 99} in flagged["generated"]["items"]
    assert "xpClaimed" not in flagged["extensions"]  # the claim is unchanged: nothing to audit
    assert any("xp flagged" in record.getMessage() for record in caplog.records)


async def test_accept_without_flag_marks_nothing(make_server: ServerFactory) -> None:
    server = make_server(xp_policy="accept", xp_flag=False)
    run = new_run()
    async with client_for(server) as client:
        await _run_with_minutes(client, run, 1)
        await client.post(SUBMIT, json=submit_body(runId=run, metrics={"xpEarned": 99}))
    assert xp_ledger(server) == [(99.0, 99.0, "accept")]


async def test_user_me_reports_xp_minutes_and_courses(
    server: TimebackServer, client: httpx.AsyncClient
) -> None:
    from tracker.timefmt import iso_from_epoch_ms

    from .conftest import NOW_MS
    from .helpers import heartbeat_body

    run = new_run()
    await _run_with_minutes(client, run, 8)  # 2 active minutes, long ago
    await client.post(
        SUBMIT, json=submit_body(runId=run, metrics={"xpEarned": 2, "masteredUnits": 2})
    )
    today_run = new_run()
    for start in range(NOW_MS - 150_000, NOW_MS, 15_000):  # 2.5 minutes today
        window_today = heartbeat_body(
            runId=today_run,
            startedAt=iso_from_epoch_ms(start),
            endedAt=iso_from_epoch_ms(start + 15_000),
            elapsedMs=15_000,
            pausedMs=0,
        )
        assert (await client.post(HEARTBEAT, json=window_today)).status_code == 204
    today = iso_from_epoch_ms(NOW_MS)
    await client.post(
        SUBMIT, json=submit_body(runId=today_run, endedAt=today, metrics={"xpEarned": 3})
    )
    response = await client.get("/user/me")
    assert response.status_code == 200
    me = response.json()
    assert me["email"] == "student@example.com"
    assert me["actorId"] == "mailto:student@example.com"
    assert me["xp"] == {"today": 3, "all": 5, "allTime": 5}
    assert me["activeMinutes"] == {"today": 2.5, "allTime": 4.5}
    math = next(c for c in me["courses"] if c["code"] == "MATH-3")
    assert math["pctComplete"] == 25
    assert math["masteredUnits"] == 2
    assert math["totalLessons"] == 8
    assert math["xp"] == {"today": 3, "all": 5, "allTime": 5}
    assert math["goals"] == {"dailyXp": 20, "dailyActiveMinutes": 25}
    assert math["completed"] is False
    reading = next(c for c in me["courses"] if c["name"] == "Reading G2")
    assert reading["xp"] == {"today": 0, "all": 0, "allTime": 0}
    assert reading["pctComplete"] is None

    zoned = await client.get("/user/me", params={"tz": "America/New_York"})
    assert zoned.json()["day"]["timeZone"] == "America/New_York"
    bad = await client.get("/user/me", params={"tz": "Not/AZone"})
    assert bad.status_code == 400
    assert bad.json()["error"]["details"]["field"] == "tz"


async def test_user_me_carries_the_official_profile_fields(
    server: TimebackServer, client: httpx.AsyncClient
) -> None:
    """The official SDK's profile keys, beside ours: an official client reads this answer."""
    body = submit_body(runId=new_run(), metrics={"xpEarned": 1, "masteredUnits": 1})
    assert (await client.post(SUBMIT, json=body)).status_code == 204
    me = (await client.get("/user/me")).json()
    # Embedded mode: no Timeback account, so no Timeback id, name or grade to report.
    assert (me["id"], me["name"], me["grade"]) == (None, None, None)
    assert me["email"] == "student@example.com"
    assert me["xp"] == {"today": 0, "all": 1, "allTime": 1}
    # Goals of the first course that has some, in the official key names.
    assert me["goals"] == {"dailyXp": 20, "dailyActiveMinutes": 25}
    official = [{k: c[k] for k in ("id", "code", "name")} for c in me["courses"]]
    assert official == [
        # ids[env] when the config has one, else the course's own stable path.
        {"id": "math3-prod", "code": "MATH-3", "name": "MATH-3"},
        {"id": "Reading/g2", "code": None, "name": "Reading G2"},
        {"id": "SS%20101", "code": "SS 101", "name": "SS 101"},
    ]
    math = me["courses"][0]
    assert math["courseId"] == "math3-prod"
    assert math["xp"] == {"today": 0, "all": 1, "allTime": 1}


async def test_user_verify(server: TimebackServer, client: httpx.AsyncClient) -> None:
    response = await client.get("/user/verify")
    assert response.status_code == 200
    # The official answer is {verified, timebackId}; embedded mode has no Timeback account.
    assert response.json() == {
        "verified": True,
        "timebackId": None,
        "email": "student@example.com",
        "actorId": "mailto:student@example.com",
    }
