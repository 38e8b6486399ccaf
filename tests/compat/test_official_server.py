"""Our server and the official ``timeback-sdk`` 0.4.0 on the same bodies and scenarios (issue 9).

Both run against the same fake platform (``fake_platform.py``); ours in platform mode. Each
test sends the same requests to both and compares what a client and the platform see: the
status class of every answer, the Caliper events field by field (random ids and sendTime
aside), and the verify/me fields. Differences that remain on purpose are listed in
docs/compatibility.md; the tests that pin them say so.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from .conftest import KID_ID, STRANGER, TWIN, Pair

HEARTBEAT = "/activity/heartbeat"
SUBMIT = "/activity/submit"
Body = dict[str, Any]


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def recent(seconds_ago: float) -> str:
    """Windows are dated now: our server refuses windows older than 30 days (issue 10)."""
    return iso(datetime.now(UTC) - timedelta(seconds=seconds_ago))


def heartbeat(run_id: str | None = None, **changes: Any) -> Body:
    body: Body = {
        "id": f"fractions-{uuid.uuid4().hex[:8]}",
        "name": "Fractions with Like Denominators",
        "course": {"subject": "Math", "grade": 3},
        "runId": run_id or str(uuid.uuid4()),
        "startedAt": recent(75),
        "endedAt": recent(60),
        "elapsedMs": 14200,
        "pausedMs": 800,
    }
    body.update(changes)
    return body


def submit(run_id: str | None = None, **changes: Any) -> Body:
    body: Body = {
        "id": f"fractions-{uuid.uuid4().hex[:8]}",
        "name": "Fractions with Like Denominators",
        "course": {"code": "MATH-3"},
        "runId": run_id or str(uuid.uuid4()),
        "endedAt": recent(30),
        "metrics": {"xpEarned": 8, "totalQuestions": 10, "correctQuestions": 8},
    }
    body.update(changes)
    return body


def without(body: Body, *keys: str) -> Body:
    return {key: value for key, value in body.items() if key not in keys}


def status_class(status: int) -> str:
    return f"{status // 100}xx"


def comparable(event: dict[str, Any]) -> dict[str, Any]:
    """The event without what is random per send: its id and its metrics collection's id."""
    event = copy.deepcopy(event)
    event.pop("id")
    event["generated"].pop("id")
    return event


# -- every body: the same status class ------------------------------------------------------

Mutation = Callable[[Body], Body]
HEARTBEAT_BODIES: dict[str, Mutation] = {
    "valid": lambda b: b,
    "unknown keys everywhere": lambda b: {
        **b,
        "extra": 1,
        "course": {**b["course"], "level": "x"},
    },
    "code and subject/grade": lambda b: {
        **b,
        "course": {"code": " MATH-3 ", "subject": "Math", "grade": 3},
    },
    "code selector": lambda b: {**b, "course": {"code": "SS 101"}},
    "id with spaces and slashes": lambda b: {**b, "id": " maps / globes 1 "},
    "blank id": lambda b: {**b, "id": "  "},
    "missing name": lambda b: without(b, "name"),
    "runId not a UUID": lambda b: {**b, "runId": "run-1"},
    "startedAt not ISO": lambda b: {**b, "startedAt": "yesterday"},
    "endedAt missing": lambda b: without(b, "endedAt"),
    "elapsedMs negative": lambda b: {**b, "elapsedMs": -1},
    "elapsedMs float": lambda b: {**b, "elapsedMs": 1.5},
    "pausedMs boolean": lambda b: {**b, "pausedMs": True},
    "inverted window": lambda b: {**b, "startedAt": b["endedAt"], "endedAt": b["startedAt"]},
    "overfull window": lambda b: {**b, "elapsedMs": 600_000},
    "unknown course": lambda b: {**b, "course": {"subject": "Science", "grade": 9}},
    "grade out of range": lambda b: {**b, "course": {"subject": "Math", "grade": 14}},
    "course not an object": lambda b: {**b, "course": "MATH-3"},
    "course not pushed (no ids)": lambda b: {**b, "course": {"subject": "Reading", "grade": 2}},
}
SUBMIT_BODIES: dict[str, Mutation] = {
    "valid": lambda b: b,
    "unknown keys everywhere": lambda b: {
        **b,
        "extra": True,
        "metrics": {**b["metrics"], "totalGrades": 3},
        "course": {**b["course"], "launchUrl": "x"},
    },
    "process false": lambda b: {**b, "process": False},
    "process null": lambda b: {**b, "process": None},
    "process a string": lambda b: {**b, "process": "no"},
    "pctComplete in range": lambda b: {**b, "pctComplete": 40},
    "pctComplete a string": lambda b: {**b, "pctComplete": "40"},
    "negative XP (a correction)": lambda b: {**b, "metrics": {"xpEarned": -3}},
    "float XP": lambda b: {**b, "metrics": {"xpEarned": 2.5}},
    "xpEarned missing": lambda b: {**b, "metrics": {"totalQuestions": 1, "correctQuestions": 1}},
    "xpEarned a string": lambda b: {**b, "metrics": {"xpEarned": "8"}},
    "correct > total": lambda b: {
        **b,
        "metrics": {"xpEarned": 1, "totalQuestions": 2, "correctQuestions": 3},
    },
    "total without correct": lambda b: {**b, "metrics": {"xpEarned": 1, "totalQuestions": 2}},
    "masteredUnits negative": lambda b: {**b, "metrics": {"xpEarned": 1, "masteredUnits": -1}},
    "metrics missing": lambda b: without(b, "metrics"),
    "metrics not an object": lambda b: {**b, "metrics": [1]},
    "endedAt not ISO": lambda b: {**b, "endedAt": "2026-13-01"},
    "subject/grade selector": lambda b: {**b, "course": {"subject": "Math", "grade": 3}},
    "unknown course": lambda b: {**b, "course": {"code": "NOPE"}},
    "course not pushed (no ids)": lambda b: {**b, "course": {"subject": "Reading", "grade": 2}},
}


@pytest.mark.parametrize("name", HEARTBEAT_BODIES)
def test_heartbeat_bodies_get_the_same_status_class(pair: Pair, name: str) -> None:
    body = HEARTBEAT_BODIES[name](heartbeat())
    official, ours = pair.send("POST", HEARTBEAT, json=body)
    assert status_class(ours.status_code) == status_class(official.status_code), (
        name,
        official.text,
        ours.text,
    )


@pytest.mark.parametrize("name", SUBMIT_BODIES)
def test_submit_bodies_get_the_same_status_class(pair: Pair, name: str) -> None:
    body = SUBMIT_BODIES[name](submit())
    official, ours = pair.send("POST", SUBMIT, json=body)
    assert status_class(ours.status_code) == status_class(official.status_code), (
        name,
        official.text,
        ours.text,
    )


@pytest.mark.parametrize(
    ("path", "content", "headers"),
    [
        (HEARTBEAT, b"{not json", {"content-type": "application/json"}),
        (SUBMIT, b"", {"content-type": "application/json"}),
    ],
)
def test_malformed_json_is_a_400_on_both(
    pair: Pair, path: str, content: bytes, headers: dict[str, str]
) -> None:
    official, ours = pair.send("POST", path, content=content, headers=headers)
    assert (official.status_code, ours.status_code) == (400, 400)


def test_a_json_array_body_is_a_difference_official_bug_not_copied(pair: Pair) -> None:
    """docs/compatibility.md: the official answers 502 INTERNAL_ERROR to a non-object body."""
    official, ours = pair.send("POST", HEARTBEAT, json=[1])
    assert official.status_code == 502
    assert ours.status_code == 400


def test_no_content_type_is_read_as_json_on_both(pair: Pair) -> None:
    """sendBeacon with an untyped Blob sends no Content-Type."""
    import json

    official, ours = pair.send("POST", HEARTBEAT, content=json.dumps(heartbeat()).encode())
    assert (official.status_code, ours.status_code) == (204, 204)


# -- users ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "status", "code"),
    [(STRANGER, 404, "USER_RESOLUTION_FAILED"), (TWIN, 409, "USER_RESOLUTION_FAILED")],
)
def test_unknown_and_ambiguous_users_on_heartbeat_and_submit(
    pair: Pair, email: str, status: int, code: str
) -> None:
    for path, body in ((HEARTBEAT, heartbeat()), (SUBMIT, submit())):
        official, ours = pair.send("POST", path, json=body, email=email)
        assert official.status_code == ours.status_code == status
        assert official.json()["error"]["code"] == ours.json()["error"]["code"] == code


def test_no_user_is_401_on_both(pair: Pair) -> None:
    official, ours = pair.send("POST", HEARTBEAT, json=heartbeat(), email=None)
    assert official.status_code == ours.status_code == 401


def test_course_without_ids_for_the_env_is_503_on_both(pair: Pair) -> None:
    body = submit(course={"subject": "Reading", "grade": 2})
    official, ours = pair.send("POST", SUBMIT, json=body)
    assert official.status_code == ours.status_code == 503
    assert official.json()["error"]["code"] == ours.json()["error"]["code"]
    assert ours.json()["error"]["code"] == "MISSING_SYNCED_COURSE_ID"


def test_verify_found_unknown_and_ambiguous(pair: Pair) -> None:
    official, ours = pair.send("GET", "/user/verify")
    assert official.json() == {"verified": True, "timebackId": KID_ID}
    assert {k: ours.json()[k] for k in ("verified", "timebackId")} == official.json()
    official, ours = pair.send("GET", "/user/verify", email=STRANGER)
    assert official.json() == ours.json() == {"verified": False}
    official, ours = pair.send("GET", "/user/verify", email=TWIN)
    assert official.status_code == ours.status_code == 409
    assert official.json()["error"]["code"] == ours.json()["error"]["code"] == "USER_AMBIGUOUS"


def test_me_has_the_official_fields(pair: Pair) -> None:
    official, ours = pair.send("GET", "/user/me")
    assert official.status_code == ours.status_code == 200
    theirs, mine = official.json(), ours.json()
    for key in ("id", "email", "name", "grade"):
        assert mine[key] == theirs.get(key), key
    assert set(mine["xp"]) >= {"today", "all"}
    official, ours = pair.send("GET", "/user/me", email=STRANGER)
    assert official.status_code == ours.status_code == 404


# -- events, field by field -----------------------------------------------------------------


def _same_events(pair: Pair, run_id: str, expected: int) -> list[dict[str, Any]]:
    theirs, mine = pair.run_events(run_id, expected=expected)
    assert len(theirs) == expected, theirs
    assert [comparable(e) for e in mine] == [comparable(e) for e in theirs]
    return mine


@pytest.mark.parametrize(
    "course",
    [
        {"subject": "Math", "grade": 3},
        {"code": "MATH-3"},
        {"code": "SS 101"},
        {"code": "MATH-3", "subject": "Reading", "grade": 2},
    ],
    ids=["subject-grade", "code", "code with a space", "code wins"],
)
def test_heartbeat_events_are_the_same(pair: Pair, course: Body) -> None:
    run = str(uuid.uuid4())
    slug = f"maps and globes {uuid.uuid4().hex[:6]}"
    first = heartbeat(run, id=slug, course=course)
    second = heartbeat(
        run,
        id=slug,
        course=course,
        startedAt=first["endedAt"],
        endedAt=recent(45),
        elapsedMs=15000,
        pausedMs=0,
    )
    for body in (first, second, first):  # the third is a resend: no event on either
        official, ours = pair.send("POST", HEARTBEAT, json=body)
        assert status_class(official.status_code) == status_class(ours.status_code) == "2xx"
    [one, two] = _same_events(pair, run, 2)
    assert one["actor"]["id"].endswith(f"/ims/oneroster/rostering/v1p2/users/{KID_ID}")
    assert two["generated"]["items"] == [{"type": "active", "value": 15}]


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"process": False},
        {"pctComplete": 40},
        {"metrics": {"xpEarned": 2.5, "masteredUnits": 1}},
        {"metrics": {"xpEarned": -3}},
        {"course": {"subject": "Math", "grade": 3}},
        {"course": {"code": "SS 101"}, "id": "maps/globes 1"},
    ],
    ids=["plain", "process false", "pctComplete", "mastered", "correction", "by grade", "SS"],
)
def test_completion_events_are_the_same(pair: Pair, changes: Body) -> None:
    run = str(uuid.uuid4())
    official, ours = pair.send("POST", SUBMIT, json=submit(run, **changes))
    assert (official.status_code, ours.status_code) == (204, 204), (official.text, ours.text)
    [event] = _same_events(pair, run, 1)
    course_id = event["extensions"]["courseId"]
    assert event["object"]["course"]["id"].endswith(f"/rostering/v1p2/courses/{course_id}")


def attempt_numbers(events: list[dict[str, Any]]) -> list[int]:
    return [event["generated"]["attempt"] for event in events]


def test_attempts_count_per_activity_and_a_retry_keeps_its_attempt(pair: Pair) -> None:
    slug = f"quiz-{uuid.uuid4().hex[:8]}"
    runs = [str(uuid.uuid4()) for _ in range(3)]
    bodies = [submit(run, id=slug, endedAt=recent(50 - i)) for i, run in enumerate(runs)]
    for body in (*bodies, bodies[1]):  # the last is a retry of the second
        official, ours = pair.send("POST", SUBMIT, json=body)
        assert (official.status_code, ours.status_code) == (204, 204)
    attempts = []
    for run in runs:
        theirs, mine = pair.run_events(run, expected=1, timeout_s=5)
        attempts.append(
            ([e["generated"]["attempt"] for e in theirs], [e["generated"]["attempt"] for e in mine])
        )
    assert attempts[0] == ([1], [1])
    assert attempts[2] == ([3], [3])
    # The retry: the official resends the event with the same attempt; ours sends nothing.
    assert attempts[1] == ([2, 2], [2])


# -- lasting dedupe (contract item 4) -------------------------------------------------------


def test_only_our_heartbeat_answers_advertise_lasting_dedupe(pair: Pair) -> None:
    body = heartbeat()
    for expected in (204, 200):  # first send, then a resend
        official, ours = pair.send("POST", HEARTBEAT, json=body)
        assert (official.status_code, ours.status_code) == (expected, expected)
        assert ours.headers["x-tracker-dedupe"] == "lasting"
        assert "x-tracker-dedupe" not in official.headers


# -- end({time}) : the form both servers take (issue 9) --------------------------------------


def override_window(
    run_id: str, slug: str, ended_at: str, active_ms: int, inactive_ms: int
) -> Body:
    """The override's time as one heartbeat window that ends with the completion.

    Its span is the override's total, so our ledger counts its active time in full when no
    other window of the run covers that span; its startedAt is new, so neither server's
    dedupe takes it for a resend.
    """
    end = datetime.fromisoformat(ended_at.replace("Z", "+00:00"))
    start = end - timedelta(milliseconds=active_ms + inactive_ms)
    return heartbeat(
        run_id,
        id=slug,
        course={"code": "MATH-3"},
        startedAt=iso(start),
        endedAt=ended_at,
        elapsedMs=active_ms,
        pausedMs=inactive_ms,
    )


def test_time_override_as_a_final_window_reaches_caliper_once_on_both(pair: Pair) -> None:
    run, slug, ended = str(uuid.uuid4()), f"essay-{uuid.uuid4().hex[:6]}", recent(20)
    window = override_window(run, slug, ended, active_ms=90_000, inactive_ms=12_000)
    completion = submit(run, id=slug, endedAt=ended, metrics={"xpEarned": 2})
    for path, body in ((HEARTBEAT, window), (SUBMIT, completion)):
        official, ours = pair.send("POST", path, json=body)
        assert (official.status_code, ours.status_code) == (204, 204), (official.text, ours.text)
    events = _same_events(pair, run, 2)
    spent = [e for e in events if e["type"] == "TimeSpentEvent"]
    assert len(spent) == 1
    assert spent[0]["generated"]["items"] == [
        {"type": "active", "value": 90},
        {"type": "inactive", "value": 12},
    ]
    assert spent[0]["eventTime"] == ended


def test_time_in_the_submit_body_is_lost_on_the_official_server(pair: Pair) -> None:
    """Why the override must not travel in the submit: the official drops ``time``."""
    run = str(uuid.uuid4())
    body = submit(run, time={"activeMs": 90_000, "inactiveMs": 12_000})
    official, ours = pair.send("POST", SUBMIT, json=body)
    assert (official.status_code, ours.status_code) == (204, 204)
    theirs, mine = pair.run_events(run, expected=2)
    assert [e["type"] for e in theirs] == ["ActivityEvent"]
    assert sorted(e["type"] for e in mine) == ["ActivityEvent", "TimeSpentEvent"]


def test_pct_complete_out_of_range_is_clamped_here_not_there(pair: Pair) -> None:
    """docs/compatibility.md: the official validates a clamped value but sends the raw one."""
    run = str(uuid.uuid4())
    official, ours = pair.send("POST", SUBMIT, json=submit(run, pctComplete=140))
    assert (official.status_code, ours.status_code) == (204, 204)
    theirs, mine = pair.run_events(run, expected=1)
    assert theirs[0]["generated"]["extensions"] == {"pctCompleteApp": 140}
    assert mine[0]["generated"]["extensions"] == {"pctCompleteApp": 100}
