"""Bodies that travel from the browser to the app server (wire-protocol.md §1).

The client builds them, the server validates them with the same models, so both sides agree
on every field name and unit. Numbers are strict here: the wire rejects ``1.0`` for a count.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

from pydantic import (
    BeforeValidator,
    Field,
    Strict,
    StringConstraints,
    ValidationInfo,
    WrapValidator,
    field_validator,
    model_validator,
)
from pydantic_core.core_schema import ValidatorFunctionWrapHandler

from .course import CourseSelector
from .models import (
    MAX_SAFE_INTEGER,
    CompletionData,
    DisplayName,
    Number,
    Percent,
    RunId,
    check_question_pair,
)
from .timefmt import epoch_ms_from_iso, iso_from_epoch_ms
from .validation import FieldValueError, WireModel, is_lenient

HEARTBEAT_PATH = "/activity/heartbeat"
SUBMIT_PATH = "/activity/submit"
VERIFY_PATH = "/user/verify"
ME_PATH = "/user/me"
# A kept window of another page that carries no identity tag (made before that page's first
# answer) is sent with this header: the server stores it only into a run of the caller's.
REPLAY_HEADER = "X-Tracker-Replay"
REPLAY_UNTAGGED = "untagged"

WireCount = Annotated[int, Strict(), Field(ge=0, le=MAX_SAFE_INTEGER)]
IsoTime = Annotated[str, Field(max_length=40)]
# Any non-blank string, trimmed, as the official server takes it; it is quoted where it goes
# into a URL (wire §2), so it needs no character rules of its own.
ActivityId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
# A window's counts may be off by rounding; more active time than the window lasted is not.
ACTIVE_SLACK_MS = 1000


def _check_iso(value: str) -> str:
    epoch_ms_from_iso(value)
    return value


def _clamp_percent(value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
    """A lenient read clamps a number outside 0-100 (another client's rounding, say)."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    # Only finite numbers: 1e400 parses to infinity, which stays an error naming the field.
    if is_lenient(info) and number and math.isfinite(value):
        value = min(max(value, 0), 100)
    return handler(value)


def _absent_if_null(value: Any) -> Any:
    return True if value is None else value


WirePercent = Annotated[Percent, WrapValidator(_clamp_percent)]


class HeartbeatBody(WireModel):
    """One time window. Identity on the server: ``runId`` + ``startedAt``."""

    id: ActivityId
    name: DisplayName
    course: CourseSelector
    run_id: RunId
    started_at: IsoTime
    ended_at: IsoTime
    elapsed_ms: WireCount
    paused_ms: WireCount

    _iso = field_validator("started_at", "ended_at")(_check_iso)

    @model_validator(mode="after")
    def _bounds(self, info: ValidationInfo) -> HeartbeatBody:
        if is_lenient(info):
            # The server stores such a window as what it can be worth: its counted time never
            # exceeds its span (issue 9/10); a 400 would make the tracker drop it for good.
            return self
        duration = epoch_ms_from_iso(self.ended_at) - epoch_ms_from_iso(self.started_at)
        if duration < 0:
            raise FieldValueError("endedAt", "must not be before startedAt")
        if self.elapsed_ms > duration + ACTIVE_SLACK_MS:
            raise FieldValueError("elapsedMs", "is longer than the window (endedAt - startedAt)")
        return self


class SubmitMetrics(WireModel):
    # Any finite number; negative XP is a correction (wire §2: events are immutable).
    xp_earned: Number
    total_questions: WireCount | None = None
    correct_questions: WireCount | None = None
    mastered_units: WireCount | None = None

    @model_validator(mode="after")
    def _questions_pair(self) -> SubmitMetrics:
        check_question_pair(self.total_questions, self.correct_questions)
        return self


class SubmitTime(WireModel):
    """Explicit time totals of ``end({time})`` (this project's extension; see docs)."""

    active_ms: WireCount | None = None
    inactive_ms: WireCount | None = None


class SubmitBody(WireModel):
    """One completion. A retry with the same ``runId`` + ``endedAt`` is the same attempt."""

    id: ActivityId
    name: DisplayName
    course: CourseSelector
    run_id: RunId
    ended_at: IsoTime
    metrics: SubmitMetrics
    pct_complete: WirePercent | None = None
    # ``null`` means absent, as for the official server.
    process: Annotated[bool, Strict(), BeforeValidator(_absent_if_null)] = True
    time: SubmitTime | None = None

    _iso = field_validator("ended_at")(_check_iso)


def dump(body: WireModel) -> dict[str, Any]:
    """The JSON object of a body: camelCase keys, absent optionals left out."""
    return body.model_dump(by_alias=True, exclude_none=True, mode="json")


# -- the client's bodies, built once, from the same models the server validates with ----------


def compact_json(body: WireModel) -> str:
    """The body as the tracker sends it: compact, and byte-identical on every resend."""
    return json.dumps(dump(body), separators=(",", ":"), ensure_ascii=False)


def heartbeat_json(
    *,
    activity_id: str,
    name: str,
    course: CourseSelector,
    run_id: str,
    started_at: int,
    ended_at: int,
    elapsed_ms: int,
    paused_ms: int,
) -> str:
    """wire §1 heartbeat; times are epoch ms (from the monotonic clock, T3)."""
    body = HeartbeatBody(
        id=activity_id,
        name=name,
        course=course,
        run_id=run_id,
        started_at=iso_from_epoch_ms(started_at),
        ended_at=iso_from_epoch_ms(ended_at),
        elapsed_ms=elapsed_ms,
        paused_ms=paused_ms,
    )
    return compact_json(body)


def submit_json(
    *,
    activity_id: str,
    name: str,
    course: CourseSelector,
    run_id: str,
    ended_at_iso: str,
    completion: CompletionData,
    process: bool,
) -> str:
    """wire §1 submit of ``end(data)``; ``process: false`` is sent as given (issue 9).

    A ``time`` override is not in it: the tracker sends it as a final window before the
    submit (Activity._send_override), the form both this project's server and the official
    one count exactly once.
    """
    body = SubmitBody(
        id=activity_id,
        name=name,
        course=course,
        run_id=run_id,
        ended_at=ended_at_iso,
        metrics=SubmitMetrics(
            xp_earned=completion.xp_earned,
            total_questions=completion.total_questions,
            correct_questions=completion.correct_questions,
            mastered_units=completion.mastered_units,
        ),
        pct_complete=completion.pct_complete,
        process=process,
    )
    return compact_json(body)
