"""POST /activity/heartbeat: TimeSpentEvents, the time ledger and dedupe on runId+startedAt."""

from __future__ import annotations

import httpx

from tracker.server import TimebackServer

from .conftest import USER, ServerFactory, client_for
from .helpers import RUN_ID, heartbeat_body, new_run, window

HEARTBEAT = "/activity/heartbeat"


async def test_heartbeat_stores_one_time_spent_event(
    server: TimebackServer, client: httpx.AsyncClient
) -> None:
    response = await client.post(HEARTBEAT, json=heartbeat_body())
    assert response.status_code == 204
    assert response.content == b""

    [event] = server.store.events()
    assert event["@context"] == "http://purl.imsglobal.org/ctx/caliper/v1p2"
    assert event["id"].startswith("urn:uuid:")
    assert event["type"] == "TimeSpentEvent"
    assert event["action"] == "SpentTime"
    assert event["profile"] == "TimebackProfile"
    assert event["actor"] == {
        "id": "mailto:student@example.com",
        "type": "TimebackUser",
        "email": "student@example.com",
    }
    assert event["object"] == {
        "id": "https://app.example.com/sensors/math/activities/Math/g3/"
        "fractions-with-like-denominators",
        "type": "TimebackActivityContext",
        "subject": "Math",
        "app": {"name": "Test App"},
        "course": {
            "id": "https://app.example.com/sensors/math/courses/math3-prod",
            "name": "MATH-3",
        },
        "activity": {"name": "Fractions with Like Denominators"},
        "process": True,
    }
    assert event["eventTime"] == "2026-01-27T10:00:15.000Z"
    assert event["generated"]["type"] == "TimebackTimeSpentMetricsCollection"
    assert event["generated"]["id"].startswith("urn:uuid:")
    assert event["generated"]["items"] == [
        {"type": "active", "value": 14.2},
        {"type": "inactive", "value": 0.8},
    ]
    assert event["session"] == f"urn:uuid:{RUN_ID}"
    assert event["extensions"] == {"courseId": "math3-prod"}


async def test_inactive_item_only_when_there_was_inactive_time(
    server: TimebackServer, client: httpx.AsyncClient
) -> None:
    response = await client.post(HEARTBEAT, json=window(0, active=15000))
    assert response.status_code == 204
    [event] = server.store.events()
    assert event["generated"]["items"] == [{"type": "active", "value": 15}]


async def test_resent_window_is_a_duplicate_and_stores_nothing(
    server: TimebackServer, client: httpx.AsyncClient
) -> None:
    assert (await client.post(HEARTBEAT, json=heartbeat_body())).status_code == 204
    before = server.store.row_counts()
    again = await client.post(HEARTBEAT, json=heartbeat_body())
    assert again.status_code == 200
    assert again.json() == {"duplicate": True}
    assert server.store.row_counts() == before
    # The same instant written differently is the same window.
    same = await client.post(HEARTBEAT, json=heartbeat_body(startedAt="2026-01-27T10:00:00Z"))
    assert same.json() == {"duplicate": True}


async def test_windows_of_a_run_and_other_runs_and_users_are_distinct(
    server: TimebackServer, client: httpx.AsyncClient
) -> None:
    other_run = new_run()
    for body in (window(0), window(1), window(0, run_id=other_run)):
        assert (await client.post(HEARTBEAT, json=body)).status_code == 204
    async with client_for(server, "someone.else@example.com") as other:
        # The same times in a run of their own are their own window; the first user's run is
        # not theirs to add to (issue 10: runs belong to one user; test_ownership_limits.py).
        assert (await other.post(HEARTBEAT, json=window(0, run_id=new_run()))).status_code == 204
        assert (await other.post(HEARTBEAT, json=window(2))).status_code == 403
    assert server.store.row_counts()["time_ledger"] == 4
    assert len(server.store.events(user_email="student@example.com")) == 3


async def test_code_course_and_quoted_url(
    server: TimebackServer, client: httpx.AsyncClient
) -> None:
    # Issue 9: the course part is the selector's code verbatim, as the official builds it
    # (the platform keys attempts on that exact string); only the slug is percent-encoded.
    body = heartbeat_body(course={"code": "SS 101"}, id="maps and-globes.1~x")
    assert (await client.post(HEARTBEAT, json=body)).status_code == 204
    [event] = server.store.events()
    assert event["object"]["id"] == (
        "https://app.example.com/sensors/default/activities/SS 101/maps%20and-globes.1~x"
    )
    assert event["object"]["course"] == {
        "id": "https://app.example.com/sensors/default/courses/SS%20101",
        "name": "SS 101",
    }
    assert event["object"]["subject"] == "Social Studies"
    assert "extensions" not in event  # no course id configured for this env


async def test_subject_grade_course_without_code(
    server: TimebackServer, client: httpx.AsyncClient
) -> None:
    body = heartbeat_body(course={"subject": "Reading", "grade": 2})
    assert (await client.post(HEARTBEAT, json=body)).status_code == 204
    [event] = server.store.events()
    assert event["object"]["id"].startswith(
        "https://app.example.com/sensors/default/activities/Reading/g2/"
    )
    assert event["object"]["course"]["name"] == "Reading G2"


async def test_object_id_follows_the_selector_the_course_stays_one(
    server: TimebackServer, client: httpx.AsyncClient
) -> None:
    # Issue 9: object.id is built from the page's selector, as the official server builds it
    # ({code} or {subject}/g{grade}); the course it names is the same either way.
    await client.post(HEARTBEAT, json=window(0, course={"code": "MATH-3"}))
    await client.post(HEARTBEAT, json=window(1, course={"subject": "Math", "grade": 3}))
    first, second = server.store.events()
    sensor = "https://app.example.com/sensors/math"
    assert first["object"]["id"] == f"{sensor}/activities/MATH-3/fractions-with-like-denominators"
    assert second["object"]["id"] == f"{sensor}/activities/Math/g3/fractions-with-like-denominators"
    assert first["object"]["course"] == second["object"]["course"]


async def test_staging_env_uses_overrides(make_server: ServerFactory) -> None:
    server = make_server(env="staging")
    async with client_for(server) as client:
        assert (await client.post(HEARTBEAT, json=heartbeat_body())).status_code == 204
    [event] = server.store.events()
    assert event["object"]["id"].startswith("https://staging.example.com/sensors/math/activities/")
    assert event["extensions"] == {"courseId": "math3-staging"}


async def test_restarted_server_on_the_same_file_still_dedupes(
    make_server: ServerFactory,
) -> None:
    first = make_server()
    async with client_for(first) as client:
        for index in range(3):
            assert (await client.post(HEARTBEAT, json=window(index))).status_code == 204
    await first.aclose()
    first.close()

    second = make_server()
    async with client_for(second) as client:
        # The page resends what it never saw acknowledged, then carries on.
        for index in range(3):
            response = await client.post(HEARTBEAT, json=window(index))
            assert response.json() == {"duplicate": True}
        assert (await client.post(HEARTBEAT, json=window(3))).status_code == 204
    assert second.store.row_counts()["time_ledger"] == 4
    assert second.store.row_counts()["events"] == 4


async def test_sendbeacon_text_plain_body_is_accepted(
    server: TimebackServer, client: httpx.AsyncClient
) -> None:
    import json

    response = await client.post(
        HEARTBEAT,
        content=json.dumps(heartbeat_body()).encode(),
        headers={"content-type": "text/plain;charset=UTF-8"},
    )
    assert response.status_code == 204
    assert server.store.row_counts()["events"] == 1


async def test_async_identity_hook(make_server: ServerFactory) -> None:
    async def get_email(request: object) -> str:
        return USER

    server = make_server(get_email=get_email)
    async with client_for(server, user=None) as client:
        assert (await client.post(HEARTBEAT, json=heartbeat_body())).status_code == 204
    assert server.store.events()[0]["actor"]["email"] == "student@example.com"
