"""Inputs of the client API (reference page): ``start()`` parameters and ``end()`` data.

Each model accepts JavaScript spelling and Python spelling; a bad value raises
``TrackerValidationError`` naming the field in JavaScript spelling.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Discriminator,
    Field,
    StrictBool,
    StringConstraints,
    Tag,
    field_validator,
    model_validator,
)

from .course import CourseSelector
from .retry import DEFAULT_RETRY_DELAYS_MS, RetryPolicy
from .validation import FieldValueError, WireModel, not_bool

# Slugs are used verbatim in the canonical activity URL (wire §2), so only RFC 3986 unreserved
# characters are allowed.
Slug = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._~-]*$")]
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Count = Annotated[int, BeforeValidator(not_bool), Field(ge=0)]
Milliseconds = Annotated[int, BeforeValidator(not_bool), Field(ge=0)]
Callback = Callable[..., Any]
# Largest integer a JavaScript number holds exactly; larger values cannot come from a browser and
# would overflow a database's 64-bit integers or sum to infinity.
MAX_SAFE_INTEGER = 2**53 - 1


def _whole_ms(value: Any) -> Any:
    """JavaScript numbers may arrive as floats (``1500.0``, or ``1e4``); keep whole ms exact."""
    value = not_bool(value)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


def _uuid(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("must be a UUID string")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError("must be a UUID, e.g. f47ac10b-58cc-4372-a567-0e02b2c3d479") from None


def _number(value: Any) -> Any:
    """A finite JSON number; whole floats become ints so ``8`` stays ``8`` on the wire."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        if value.is_integer() and abs(value) <= MAX_SAFE_INTEGER:
            value = int(value)
    if abs(value) > MAX_SAFE_INTEGER:
        raise ValueError(f"must be between -{MAX_SAFE_INTEGER} and {MAX_SAFE_INTEGER}")
    return value


def _at_least_zero(value: float) -> float:
    if value < 0:
        raise ValueError("must be at least 0")
    return value


def _percent(value: float) -> float:
    if not 0 <= value <= 100:
        raise ValueError("must be between 0 and 100")
    return value


RunId = Annotated[str, BeforeValidator(_uuid)]
Number = Annotated[int | float, BeforeValidator(_number)]
XpAmount = Annotated[Number, AfterValidator(_at_least_zero)]
Percent = Annotated[Number, AfterValidator(_percent)]
WholeMs = Annotated[int, BeforeValidator(_whole_ms)]


class TimeOptions(WireModel):
    """The seven ``time`` options of ``start()``, with the reference's defaults."""

    # 100 ms is a floor against accidental request floods (a value in seconds, say).
    flush_interval_ms: Annotated[WholeMs, Field(ge=100)] = 15_000
    visibility_aware: StrictBool = True
    flush_on_visibility_hidden: StrictBool = True
    flush_on_page_hide: StrictBool = True
    # None (or Infinity from JavaScript) disables the hidden timeout.
    hidden_timeout_ms: float | None = 600_000
    retry_attempts: Annotated[WholeMs, Field(ge=0, le=20)] = 0
    retry_delays_ms: Annotated[list[Annotated[WholeMs, Field(ge=0)]], Field(min_length=1)] = list(
        DEFAULT_RETRY_DELAYS_MS
    )

    @field_validator("hidden_timeout_ms", mode="before")
    @classmethod
    def _timeout(cls, value: Any) -> Any:
        value = not_bool(value)
        if value is None:
            return None
        # At least 1 whole ms: 0.5 would become 0 and pause the moment the tab hides.
        if not isinstance(value, int | float) or math.isnan(value) or value < 1:
            raise ValueError("must be at least 1 millisecond, null or Infinity")
        return None if math.isinf(value) else float(int(value))

    @property
    def hidden_timeout(self) -> int | None:
        """The timeout in whole ms, or ``None`` when disabled."""
        return None if self.hidden_timeout_ms is None else int(self.hidden_timeout_ms)

    @property
    def retry_policy(self) -> RetryPolicy:
        """R1: ``retryAttempts`` retries with ``retryDelaysMs`` (the last delay repeats)."""
        return RetryPolicy(self.retry_attempts, tuple(self.retry_delays_ms))


def _time_shape(value: Any) -> str:
    return "flag" if isinstance(value, bool) else "options"


# A tagged union, so that an error inside the options names ``time.flushIntervalMs`` and
# not every branch of the union.
TimeSetting = Annotated[
    Annotated[TimeOptions, Tag("options")] | Annotated[bool, Tag("flag")],
    Discriminator(_time_shape),
]


class StartParams(WireModel):
    """Parameters of ``activity.start()``."""

    model_config = WireModel.model_config | {"arbitrary_types_allowed": True}

    id: Slug
    name: DisplayName
    course: CourseSelector
    run_id: RunId | None = None
    # ``False`` disables client-side time tracking (H3); ``None``/``True`` mean the defaults.
    time: TimeSetting = Field(default_factory=TimeOptions)
    # ``False``: the server records the completion without XP/mastery processing (wire §1,
    # issue 9); sent in the submit body as given.
    process: StrictBool = True
    on_error: Callback | None = None
    on_pause: Callback | None = None
    on_resume: Callback | None = None
    on_flush: Callback | None = None

    @field_validator("time", mode="before")
    @classmethod
    def _time(cls, value: Any) -> Any:
        if value is None or value is True:
            return TimeOptions()
        return value

    @property
    def time_options(self) -> TimeOptions | None:
        """``None`` when time tracking is disabled (``time: false``)."""
        return self.time if isinstance(self.time, TimeOptions) else None


def check_question_pair(total: int | None, correct: int | None) -> None:
    """Reference and wire §1: given together or not at all, and correct <= total."""
    if (total is None) != (correct is None):
        missing = "correctQuestions" if correct is None else "totalQuestions"
        raise FieldValueError(
            missing, "is required: totalQuestions and correctQuestions come together"
        )
    if total is not None and correct is not None and correct > total:
        raise FieldValueError("correctQuestions", "must not exceed totalQuestions")


class TimeOverride(WireModel):
    """``end({time: {active, inactive}})``: explicit totals instead of the tracked time."""

    active: Milliseconds | None = None
    inactive: Milliseconds | None = None


class CompletionData(WireModel):
    """Data of ``end(data)``: the completion metrics."""

    xp_earned: XpAmount
    total_questions: Count | None = None
    correct_questions: Count | None = None
    mastered_units: Count | None = None
    pct_complete: Percent | None = None
    time: TimeOverride | None = None

    @model_validator(mode="after")
    def _questions_pair(self) -> CompletionData:
        check_question_pair(self.total_questions, self.correct_questions)
        return self
