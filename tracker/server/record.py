"""``activity.record()``: a completion recorded from the backend (reference "Server"; wire §3).

Accepts the reference page's dict in JavaScript or Python spelling, or keyword arguments, and
runs the same pipeline as ``POST /activity/submit``. Only a given ``time`` adds a
TimeSpentEvent (do not pass it when the page sends heartbeats: time would count twice).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from ..course import CourseSelector
from ..ids import new_uuid
from ..models import DisplayName, Percent, RunId, Slug, XpAmount
from ..timefmt import epoch_ms_from_iso
from ..validation import FieldValueError, WireModel, validate
from ..wire import IsoTime, SubmitMetrics, WireCount
from .identity import check_email
from .pipeline import Completion, CompletionResult, Pipeline, TimeTotals, now_ms

Email = Annotated[str, BeforeValidator(check_email)]
TimebackId = Annotated[str, Field(min_length=1, max_length=200)]


def _check_iso(value: str | None) -> str | None:
    if value is not None:
        epoch_ms_from_iso(value)
    return value


class RecordUser(WireModel):
    email: Email
    timeback_id: TimebackId | None = None


class RecordActivity(WireModel):
    id: Slug
    name: DisplayName
    course: CourseSelector


class RecordMetrics(SubmitMetrics):
    # Unlike the wire (where negative XP is a correction), record() takes earned XP only.
    xp_earned: XpAmount
    pct_complete: Percent | None = None


class RecordTime(WireModel):
    started_at: Annotated[IsoTime | None, AfterValidator(_check_iso)] = None
    ended_at: Annotated[IsoTime | None, AfterValidator(_check_iso)] = None
    active_ms: WireCount | None = None
    inactive_ms: WireCount | None = None

    @model_validator(mode="after")
    def _bounds(self) -> RecordTime:
        started, ended = self.started_at, self.ended_at
        if started and ended and epoch_ms_from_iso(ended) < epoch_ms_from_iso(started):
            raise FieldValueError("endedAt", "must not be before startedAt")
        return self

    def totals(self) -> TimeTotals | None:
        """Active time given, or else derived from the bounds; None when there is none."""
        inactive = self.inactive_ms or 0
        started = epoch_ms_from_iso(self.started_at) if self.started_at else None
        active = self.active_ms
        if active is None and started is not None and self.ended_at:
            active = max(0, epoch_ms_from_iso(self.ended_at) - started - inactive)
        active = active or 0
        if active + inactive == 0:
            return None
        return TimeTotals(active, inactive, started, trusted=True)


class RecordParams(WireModel):
    user: RecordUser
    activity: RecordActivity
    metrics: RecordMetrics
    time: RecordTime | None = None
    run_id: RunId | None = None

    @field_validator("time", mode="before")
    @classmethod
    def _no_false(cls, value: Any) -> Any:
        # ``time: false`` belongs to start(); here it simply means "no time".
        return None if value is False else value


def camel_keys(value: Any) -> Any:
    """``{"xp_earned": 1}`` -> ``{"xpEarned": 1}``, recursively: one spelling before validation,
    so errors name fields the JavaScript way and a keyword can override either spelling."""
    if isinstance(value, Mapping):
        return {
            (to_camel(key) if isinstance(key, str) and "_" in key else key): camel_keys(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [camel_keys(item) for item in value]
    return value


class ActivityApi:
    """``server.activity``: the reference page's ``timeback.activity`` on the backend."""

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        before: Callable[[], Awaitable[None]] | None = None,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self._pipeline = pipeline
        self._before = before
        self._clock = clock

    async def record(
        self, params: Mapping[str, Any] | RecordParams | None = None, /, **kwargs: Any
    ) -> CompletionResult:
        """Records one completion; raises TrackerValidationError naming the bad field.

        ``await server.activity.record({"user": {"email": ...}, "activity": {...},
        "metrics": {"xpEarned": 8}})`` or the same with snake_case keys or as keywords.
        Pass ``time.endedAt`` (with ``runId``) to make a retry idempotent: the same run and
        end time are the same attempt.
        """
        if isinstance(params, RecordParams):
            params = params.model_dump(by_alias=True, exclude_none=True)
        if params is None or isinstance(params, Mapping):
            data: Any = {**camel_keys(params or {}), **camel_keys(kwargs)}
        else:
            data = params  # not a mapping: validation says so
        parsed = validate(RecordParams, data)
        if self._before is not None:
            await self._before()
        pipeline = self._pipeline
        course = pipeline.course(parsed.activity.course, field="activity.course")
        ctx = pipeline.context(
            course,
            slug=parsed.activity.id,
            name=parsed.activity.name,
            selector=parsed.activity.course,
        )
        ended = self._clock()
        totals = None
        if parsed.time is not None:
            if parsed.time.ended_at:
                ended = epoch_ms_from_iso(parsed.time.ended_at)
            totals = parsed.time.totals()
        metrics = parsed.metrics
        # Platform mode: the course must be on the platform and the actor is the OneRoster
        # user (the given timebackId, else looked up by email); embedded: mailto:.
        pipeline.actors.check_course(course, pipeline.settings.env)
        completion = Completion(
            actor=await pipeline.actors.backend_actor(parsed.user.email, parsed.user.timeback_id),
            ctx=ctx,
            run_id=parsed.run_id or new_uuid(),
            ended_at_ms=ended,
            xp_earned=metrics.xp_earned,
            total_questions=metrics.total_questions,
            correct_questions=metrics.correct_questions,
            mastered_units=metrics.mastered_units,
            pct_complete=metrics.pct_complete,
            time=totals,
            total_lessons=course.total_lessons(pipeline.settings.env),
            trusted=True,
        )
        return await pipeline.complete(completion)
