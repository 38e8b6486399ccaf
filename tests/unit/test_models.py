"""Inputs of the reference page: start() parameters, every time option with its default, and
completion data; both spellings; errors that name the field."""

from __future__ import annotations

import math
from typing import Any

import pytest

from tracker.errors import TrackerValidationError
from tracker.models import CompletionData, StartParams, TimeOptions
from tracker.validation import validate

from .fakes import BASE_PARAMS


def start(**overrides: Any) -> StartParams:
    return validate(StartParams, {**BASE_PARAMS, **overrides})


def error_of(model: type[Any], data: Any) -> TrackerValidationError:
    with pytest.raises(TrackerValidationError) as err:
        validate(model, data)
    return err.value


def test_time_option_defaults_are_the_reference_defaults() -> None:
    options = start().time_options
    assert options is not None
    assert options.flush_interval_ms == 15_000
    assert options.visibility_aware is True
    assert options.flush_on_visibility_hidden is True
    assert options.flush_on_page_hide is True
    assert options.hidden_timeout == 600_000
    assert options.retry_attempts == 0
    assert options.retry_delays_ms == [100, 300, 1000]


def test_time_false_disables_tracking_and_true_or_null_mean_defaults() -> None:
    assert start(time=False).time_options is None
    assert start(time=True).time_options == TimeOptions()
    assert start(time=None).time_options == TimeOptions()


def test_both_spellings_are_accepted() -> None:
    camel = TimeOptions.model_validate(
        {"flushIntervalMs": 30_000, "visibilityAware": False, "retryDelaysMs": [50]}
    )
    snake = TimeOptions.model_validate(
        {"flush_interval_ms": 30_000, "visibility_aware": False, "retry_delays_ms": [50]}
    )
    assert camel == snake


@pytest.mark.parametrize("value", [None, math.inf])
def test_hidden_timeout_null_or_infinity_disables_it(value: float | None) -> None:
    assert TimeOptions.model_validate({"hiddenTimeoutMs": value}).hidden_timeout is None


def test_whole_ms_from_javascript_floats() -> None:
    assert TimeOptions.model_validate({"flushIntervalMs": 1e4}).flush_interval_ms == 10_000


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"flushIntervalMs": 0}, "time.flushIntervalMs"),
        ({"flushIntervalMs": 99}, "time.flushIntervalMs"),
        ({"flushIntervalMs": 1500.5}, "time.flushIntervalMs"),
        ({"flushIntervalMs": True}, "time.flushIntervalMs"),
        ({"hiddenTimeoutMs": -1}, "time.hiddenTimeoutMs"),
        ({"hiddenTimeoutMs": 0.5}, "time.hiddenTimeoutMs"),  # would truncate to 0
        ({"hiddenTimeoutMs": math.nan}, "time.hiddenTimeoutMs"),
        ({"hiddenTimeoutMs": "10m"}, "time.hiddenTimeoutMs"),
        ({"retryAttempts": -1}, "time.retryAttempts"),
        ({"retryDelaysMs": []}, "time.retryDelaysMs"),
        ({"retryDelaysMs": [100, -1]}, "time.retryDelaysMs[1]"),
        ({"visibilityAware": "yes"}, "time.visibilityAware"),
        ({"flushEvery": 5}, "time.flushEvery"),
    ],
)
def test_bad_time_options_name_the_field(options: dict[str, Any], field: str) -> None:
    assert error_of(StartParams, {**BASE_PARAMS, "time": options}).field == field


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"id": "has space"}, "id"),
        ({"id": ""}, "id"),
        ({"id": "a/b"}, "id"),
        ({"name": ""}, "name"),
        ({"course": {"subject": "Math"}}, "course.grade"),
        ({"course": {"subject": "Cooking", "grade": 3}}, "course.subject"),
        ({"course": {"subject": "Math", "grade": 14}}, "course.grade"),
        ({"course": {"code": ""}}, "course.code"),
        ({"course": {"code": "X", "grade": 3}}, "course.grade"),
        ({"course": "MATH-3"}, "course"),
        ({"runId": "not-a-uuid"}, "runId"),
        ({"runId": 12}, "runId"),
        ({"onPause": "showOverlay"}, "onPause"),
    ],
)
def test_bad_start_params_name_the_field(overrides: dict[str, Any], field: str) -> None:
    err = error_of(StartParams, {**BASE_PARAMS, **overrides})
    assert err.field == field
    assert str(err).startswith(field)


def test_missing_required_params_are_named() -> None:
    assert error_of(StartParams, {"name": "x", "course": {"code": "X"}}).field == "id"
    assert error_of(StartParams, {"id": "x", "course": {"code": "X"}}).field == "name"
    assert error_of(StartParams, {"id": "x", "name": "x"}).field == "course"


def test_run_id_is_normalized() -> None:
    params = start(runId="F47AC10B-58CC-4372-A567-0E02B2C3D479")
    assert params.run_id == "f47ac10b-58cc-4372-a567-0e02b2c3d479"


def test_course_selectors_of_both_shapes() -> None:
    assert start(course={"subject": "Social Studies", "grade": -1}).course.key() == (
        "Social Studies G-1"
    )
    assert start(course={"code": "MATH-3"}).course.key() == "MATH-3"


def test_retry_delay_reuses_the_last_value() -> None:
    policy = TimeOptions.model_validate(
        {"retryAttempts": 3, "retryDelaysMs": [10, 20]}
    ).retry_policy
    assert policy.attempts == 3
    assert [policy.delay(i) for i in range(4)] == [10, 20, 20, 20]


def test_completion_data_minimal_and_full() -> None:
    assert validate(CompletionData, {"xpEarned": 0}).xp_earned == 0
    full = validate(
        CompletionData,
        {
            "xpEarned": 12.5,
            "totalQuestions": 10,
            "correctQuestions": 10,
            "masteredUnits": 2,
            "pctComplete": 100,
            "time": {"active": 1000, "inactive": 0},
        },
    )
    assert (full.xp_earned, full.pct_complete, full.time and full.time.active) == (12.5, 100, 1000)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "xpEarned"),
        ({"xpEarned": -1}, "xpEarned"),
        ({"xpEarned": "8"}, "xpEarned"),
        ({"xpEarned": math.inf}, "xpEarned"),
        ({"xpEarned": True}, "xpEarned"),
        ({"xpEarned": 1, "totalQuestions": 3}, "correctQuestions"),
        ({"xpEarned": 1, "correctQuestions": 3}, "totalQuestions"),
        ({"xpEarned": 1, "totalQuestions": 3, "correctQuestions": 4}, "correctQuestions"),
        ({"xpEarned": 1, "totalQuestions": -3, "correctQuestions": 0}, "totalQuestions"),
        ({"xpEarned": 1, "masteredUnits": -1}, "masteredUnits"),
        ({"xpEarned": 1, "masteredUnits": 0.5}, "masteredUnits"),
        ({"xpEarned": 1, "pctComplete": 100.5}, "pctComplete"),
        ({"xpEarned": 1, "pctComplete": -1}, "pctComplete"),
        ({"xpEarned": 1, "time": {"active": -5}}, "time.active"),
        ({"xpEarned": 1, "bonus": 5}, "bonus"),
    ],
)
def test_bad_completion_data_names_the_field(data: dict[str, Any], field: str) -> None:
    assert error_of(CompletionData, data).field == field


def test_all_errors_are_listed_not_only_the_first() -> None:
    err = error_of(StartParams, {"id": "bad id", "name": "", "course": {"code": "X"}})
    assert [e["field"] for e in err.errors] == ["id", "name"]
