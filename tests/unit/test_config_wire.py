"""timeback.config.json (wire §4) and the wire bodies (wire §1) shared by client and server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tracker.config import AppConfig, load_config, parse_config
from tracker.course import CourseByCode, CourseBySubjectGrade
from tracker.errors import DeliveryError, TrackerValidationError, UnknownCourseError
from tracker.timefmt import epoch_ms_from_iso, iso_from_epoch_ms, whole_ms
from tracker.validation import validate
from tracker.wire import HeartbeatBody, SubmitBody, dump

CONFIG: dict[str, Any] = {
    "name": "My Learning App",
    "sensor": "https://app.example.com/sensors/default",
    "launchUrl": "https://app.example.com/start",
    "courses": [
        {
            "subject": "Math",
            "grade": 3,
            "courseCode": "MATH-3",
            "sensor": "https://app.example.com/sensors/math",
            "ids": {"staging": "s-1", "production": "p-1"},
            "metadata": {
                "metrics": {"totalLessons": 42, "totalXp": 2500},
                "goals": {"dailyXp": 100, "dailyActiveMinutes": 25},
            },
            "overrides": {
                "staging": {
                    "sensor": "https://staging.example.com/sensors/math",
                    "metadata": {"metrics": {"totalLessons": 10}},
                }
            },
        },
        {"subject": "Reading", "courseCode": "READ-1"},
        {"subject": "Science", "grade": 0},
    ],
}


def config(**changes: Any) -> AppConfig:
    return parse_config({**CONFIG, **changes})


def test_matching_by_subject_grade_and_by_code() -> None:
    app = config()
    assert app.find_course(CourseBySubjectGrade(subject="Math", grade=3)).course_code == "MATH-3"
    assert app.find_course(CourseByCode(code="MATH-3")).grade == 3
    assert app.find_course(CourseByCode(code="READ-1")).subject == "Reading"
    with pytest.raises(UnknownCourseError):
        app.find_course(CourseBySubjectGrade(subject="Math", grade=4))
    with pytest.raises(UnknownCourseError):
        app.find_course(CourseBySubjectGrade(subject="Reading", grade=3))


def test_sensor_resolution_order() -> None:
    app = config()
    math, reading = app.courses[0], app.courses[1]
    assert app.sensor_for(math, "staging") == "https://staging.example.com/sensors/math"
    assert app.sensor_for(math, "production") == "https://app.example.com/sensors/math"
    assert app.sensor_for(reading) == "https://app.example.com/sensors/default"
    no_root = config(sensor=None)
    assert no_root.sensor_for(no_root.courses[1]) == "https://app.example.com"


def test_total_lessons_override_first_and_display_names() -> None:
    math, reading, science = config().courses
    assert math.total_lessons("staging") == 10
    assert math.total_lessons("production") == 42
    assert reading.total_lessons() is None
    assert (math.display_name, reading.display_name, science.display_name) == (
        "MATH-3",
        "READ-1",
        "Science G0",
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"courses": []}, "courses"),
        ({"courses": [{"subject": "Math"}]}, "courses[0].grade"),
        ({"courses": [{"subject": "Math", "grade": 3}] * 2}, "courses[1]"),
        (
            {"courses": [{"subject": "Math", "courseCode": "A"}, {"subject": "Art"}]},
            "courses[1].subject",
        ),
        (
            {"courses": [{"subject": "Math", "courseCode": "A"}] * 2},
            "courses[1].courseCode",
        ),
        ({"sensor": "not a url"}, "sensor"),
        (
            {"sensor": None, "launchUrl": None, "courses": [{"subject": "Math", "grade": 3}]},
            "courses[0].sensor",
        ),
    ],
)
def test_bad_config_names_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(TrackerValidationError) as err:
        config(**changes)
    assert err.value.field == field


def test_load_config_from_file_with_clear_errors(tmp_path: Path) -> None:
    good = tmp_path / "timeback.config.json"
    good.write_text(json.dumps(CONFIG))
    assert load_config(good).name == "My Learning App"
    with pytest.raises(TrackerValidationError, match="file not found"):
        load_config(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(TrackerValidationError, match="not valid JSON"):
        load_config(broken)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**CONFIG, "courses": [{"subject": "Math"}]}))
    with pytest.raises(TrackerValidationError, match=r"bad\.json") as err:
        load_config(bad)
    assert err.value.field == "courses[0].grade"


HEARTBEAT: dict[str, Any] = {
    "id": "fractions-with-like-denominators",
    "name": "Fractions with Like Denominators",
    "course": {"subject": "Math", "grade": 3},
    "runId": "f47ac10b-58cc-4372-a567-0e02b2c3d479",
    "startedAt": "2026-01-27T10:00:00.000Z",
    "endedAt": "2026-01-27T10:00:15.000Z",
    "elapsedMs": 14200,
    "pausedMs": 800,
}


def test_heartbeat_round_trips_exactly() -> None:
    assert dump(validate(HeartbeatBody, HEARTBEAT)) == HEARTBEAT


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"elapsedMs": 14200.0}, "elapsedMs"),  # floats are rejected on the wire
        ({"pausedMs": -1}, "pausedMs"),
        ({"runId": "abc"}, "runId"),
        ({"startedAt": "2026-01-27 10:00"}, "startedAt"),
        ({"endedAt": "2026-01-27T09:59:00.000Z"}, "endedAt"),
        ({"elapsedMs": 60_000}, "elapsedMs"),
        ({"course": {"code": "M", "subject": "Math"}}, "course.subject"),
        ({"extra": 1}, "extra"),
    ],
)
def test_bad_heartbeat_names_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(TrackerValidationError) as err:
        validate(HeartbeatBody, {**HEARTBEAT, **changes})
    assert err.value.field == field


SUBMIT: dict[str, Any] = {
    "id": "fractions-with-like-denominators",
    "name": "Fractions",
    "course": {"code": "MATH-3"},
    "runId": "f47ac10b-58cc-4372-a567-0e02b2c3d479",
    "endedAt": "2026-01-27T10:03:00.000Z",
    "metrics": {"xpEarned": 8, "totalQuestions": 10, "correctQuestions": 8, "masteredUnits": 1},
    "pctComplete": 67,
    "process": True,
}


def test_submit_round_trips_exactly() -> None:
    assert dump(validate(SubmitBody, SUBMIT)) == SUBMIT


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"metrics": {}}, "metrics.xpEarned"),
        ({"metrics": {"xpEarned": 1, "totalQuestions": 2}}, "metrics.correctQuestions"),
        (
            {"metrics": {"xpEarned": 1, "totalQuestions": 2, "correctQuestions": 3}},
            "metrics.correctQuestions",
        ),
        ({"metrics": {"xpEarned": 1, "masteredUnits": 1.0}}, "metrics.masteredUnits"),
        ({"pctComplete": 101}, "pctComplete"),
        ({"endedAt": "yesterday"}, "endedAt"),
    ],
)
def test_bad_submit_names_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(TrackerValidationError) as err:
        validate(SubmitBody, {**SUBMIT, **changes})
    assert err.value.field == field


def test_iso_times_are_exact_to_the_millisecond() -> None:
    for ms in (0, 1_769_508_000_000, 1_769_508_000_999, 1_769_508_015_001):
        assert epoch_ms_from_iso(iso_from_epoch_ms(ms)) == ms
    assert iso_from_epoch_ms(1_769_508_000_007) == "2026-01-27T10:00:00.007Z"
    assert epoch_ms_from_iso("2026-01-27T11:00:00.000+01:00") == 1_769_508_000_000
    with pytest.raises(ValueError):
        epoch_ms_from_iso("2026-01-27T10:00:00")  # no zone: ambiguous


def test_browser_times_round_halves_up_as_math_round_does() -> None:
    """T3: one rule for every browser time, the same as timeback.js's Math.round; Python's
    round() would give 12344 and 1764678928254 for the halves below."""
    assert [whole_ms(t) for t in (12344.5, 12345.5, 12345.4, 12345.6, 0.0, 7)] == [
        12345,
        12346,
        12345,
        12346,
        0,
        7,
    ]
    assert whole_ms(1_764_678_928_254.5) == 1_764_678_928_255
    assert whole_ms(0.49999999999999994) == 0  # floor(x + 0.5) would round this to 1


def test_delivery_error_retryable_classification() -> None:
    assert DeliveryError("x").retryable
    assert DeliveryError("x", status=503).retryable
    assert DeliveryError("x", status=429).retryable
    assert DeliveryError("x", status=408).retryable
    assert not DeliveryError("x", status=400).retryable
    assert not DeliveryError("x", status=401).retryable
