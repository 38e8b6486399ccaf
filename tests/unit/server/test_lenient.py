"""What other Timeback clients may send is accepted (issue 9): unknown keys, trimmed ids,
code-and-grade selectors, clamped pctComplete, ``process: null``, untyped beacons, env local.

The browser's own options stay strict: a typo in ``start()``/``end()`` is still an error.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from tracker.config import parse_config
from tracker.errors import TrackerValidationError
from tracker.models import CompletionData, StartParams
from tracker.server import Settings, TimebackServer
from tracker.validation import validate

from .helpers import CONFIG, heartbeat_body, submit_body, window

HEARTBEAT = "/activity/heartbeat"
SUBMIT = "/activity/submit"


def events(server: TimebackServer, kind: str) -> list[dict[str, Any]]:
    return [e for e in server.store.events() if e["type"] == kind]


def warnings(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


async def test_unknown_heartbeat_keys_are_ignored_with_a_warning(
    server: TimebackServer, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    body = heartbeat_body(
        course={"subject": "Math", "grade": 3, "level": "x"}, sdkVersion="0.4.0", runid="typo"
    )
    with caplog.at_level(logging.WARNING):
        response = await client.post(HEARTBEAT, json=body)
    assert response.status_code == 204, response.text
    [event] = events(server, "TimeSpentEvent")
    assert event["object"]["id"].endswith("/activities/Math/g3/fractions-with-like-denominators")
    logged = warnings(caplog)
    assert "heartbeat body" in logged
    for key in ("sdkVersion", "runid", "course.level"):
        assert key in logged


async def test_unknown_submit_keys_are_ignored_with_a_warning(
    server: TimebackServer, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    for index in range(28):  # 7 minutes on record: 8 XP is within the cap (issue 10)
        assert (await client.post(HEARTBEAT, json=window(index))).status_code == 204
    body = submit_body(
        metrics={"xpEarned": 8, "totalQuestions": 10, "correctQuestions": 8, "pctComplete": 5},
        course={"code": "MATH-3", "extra": 1},
        time={"activeMs": 600_000, "active": 5},
        user="someone@example.com",
    )
    with caplog.at_level(logging.WARNING):
        response = await client.post(SUBMIT, json=body)
    assert response.status_code == 204, response.text
    [event] = events(server, "ActivityEvent")
    assert event["generated"]["items"][2] == {"type": "xpEarned", "value": 8}
    assert event["actor"]["id"] == "mailto:student@example.com"  # identity is the session's
    logged = warnings(caplog)
    for key in ("metrics.pctComplete", "course.extra", "time.active", "user"):
        assert key in logged


async def test_any_non_blank_id_is_trimmed_and_quoted(
    server: TimebackServer, client: httpx.AsyncClient
) -> None:
    body = heartbeat_body(id="  Lesson 1/ä?x  ", name="  Fractions  ")
    response = await client.post(HEARTBEAT, json=body)
    assert response.status_code == 204, response.text
    [event] = events(server, "TimeSpentEvent")
    assert event["object"]["id"].endswith("/activities/Math/g3/Lesson%201%2F%C3%A4%3Fx")
    assert event["object"]["activity"]["name"] == "Fractions"
    for blank in ("   ", ""):
        response = await client.post(HEARTBEAT, json=heartbeat_body(id=blank))
        assert response.status_code == 400
        assert response.json()["error"]["details"]["field"] == "id"
    response = await client.post(HEARTBEAT, json=heartbeat_body(name=" "))
    assert response.json()["error"]["details"]["field"] == "name"


async def test_course_code_is_trimmed_and_wins_over_subject_grade(
    server: TimebackServer, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    # Reading G2 exists too: the code decides, as the official server does.
    course = {"code": "  SS 101 ", "subject": "Reading", "grade": 2}
    with caplog.at_level(logging.WARNING):
        response = await client.post(SUBMIT, json=submit_body(course=course))
    assert response.status_code == 204, response.text
    [event] = events(server, "ActivityEvent")
    assert event["object"]["id"].endswith("/activities/SS 101/fractions-with-like-denominators")
    assert "course.subject" not in warnings(caplog)  # another client's spelling, not a typo


@pytest.mark.parametrize(("given", "stored"), [(150, 100), (-5, 0), (100.5, 100), (42.5, 42.5)])
async def test_pct_complete_is_clamped(
    server: TimebackServer, client: httpx.AsyncClient, given: float, stored: float
) -> None:
    response = await client.post(SUBMIT, json=submit_body(pctComplete=given))
    assert response.status_code == 204, response.text
    [event] = events(server, "ActivityEvent")
    assert event["generated"]["extensions"] == {"pctCompleteApp": stored}


async def test_process_null_means_absent(server: TimebackServer, client: httpx.AsyncClient) -> None:
    response = await client.post(SUBMIT, json=submit_body(process=None))
    assert response.status_code == 204, response.text
    [event] = events(server, "ActivityEvent")
    assert event["extensions"].get("process", True) is True
    assert event["generated"]["attempt"] == 1


async def test_untyped_body_is_read_as_json(
    server: TimebackServer, client: httpx.AsyncClient
) -> None:
    # sendBeacon(url, new Blob([json])) sends no Content-Type at all.
    raw = json.dumps(heartbeat_body()).encode()
    response = await client.post(HEARTBEAT, content=raw)
    assert "content-type" not in response.request.headers
    assert response.status_code == 204, response.text
    response = await client.post(
        SUBMIT, content=json.dumps(submit_body()).encode(), headers={"content-type": "text/xml"}
    )
    assert response.status_code == 415
    assert len(events(server, "ActivityEvent")) == 0


def test_env_local_is_staging(tmp_path: Path) -> None:
    settings = Settings.from_env({"TIMEBACK_ENV": "local", "TRACKER_CONFIG": "x.json"})
    assert settings.env == "staging"
    config = parse_config(CONFIG)
    assert config.courses[0].total_lessons(settings.env) == 4  # the staging override


def test_documented_config_keys_load_silently(caplog: pytest.LogCaptureFixture) -> None:
    data = json.loads(json.dumps(CONFIG))
    math = data["courses"][0]
    math.update(level="Elementary", launchUrl="https://app.example.com/math")
    math["metadata"].update(
        courseType="base",
        isSupplemental=False,
        isCustom=False,
        publishStatus="published",
        contactEmail="team@example.com",
    )
    math["metadata"]["goals"].update(dailyLessons=2, dailyAccuracy=80, dailyMasteredUnits=1)
    math["metadata"]["metrics"]["totalGrades"] = 4
    staging = math["overrides"]["staging"]
    staging.update(level="x", launchUrl="https://staging.example.com/math")
    staging["metadata"].update(courseType="base", goals={"dailyLessons": 1})
    staging["metadata"]["metrics"]["totalGrades"] = 2
    with caplog.at_level(logging.WARNING):
        config = parse_config(data)
    assert config.courses[0].total_lessons("staging") == 4
    assert warnings(caplog) == ""


def test_config_typo_is_a_warning_naming_the_key(caplog: pytest.LogCaptureFixture) -> None:
    data = json.loads(json.dumps(CONFIG))
    data["courses"][0]["metadata"]["goals"]["dailyXP"] = 30
    data["courses"][0]["overrides"]["staging"]["sensr"] = "https://x.example.com"
    data["courses"][1]["totalLessons"] = 3
    with caplog.at_level(logging.WARNING):
        parse_config(data)
    logged = warnings(caplog)
    assert "timeback.config.json" in logged
    for key in (
        "courses[0].metadata.goals.dailyXP",
        "courses[0].overrides.staging.sensr",
        "courses[1].totalLessons",
    ):
        assert key in logged


START: dict[str, Any] = {
    "id": "fractions",
    "name": "Fractions",
    "course": {"subject": "Math", "grade": 3},
}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"flushIntervalMS": 5000}, "flushIntervalMS"),
        ({"course": {"subject": "Math", "grade": 3, "levl": 1}}, "course.levl"),
        ({"course": {"code": "MATH-3", "subject": "Math", "grade": 3}}, "course.subject"),
        ({"id": "has space"}, "id"),
    ],
)
def test_browser_start_options_stay_strict(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(TrackerValidationError) as err:
        validate(StartParams, {**START, **changes})
    assert err.value.field == field


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"xpEarned": 1, "pctComplete": 101}, "pctComplete"),
        ({"xpEarned": 1, "xpearned": 1}, "xpearned"),
    ],
)
def test_browser_end_data_stays_strict(data: dict[str, Any], field: str) -> None:
    with pytest.raises(TrackerValidationError) as err:
        validate(CompletionData, data)
    assert err.value.field == field
