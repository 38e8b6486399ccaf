"""``timeback.config.json``: the app's courses, and matching a course selector to one (wire §4)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, ClassVar
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from .course import CourseByCode, CourseBySubjectGrade, CourseCode, Grade, Subject
from .errors import TrackerValidationError, UnknownCourseError
from .validation import FieldValueError, WireModel, validate


def _absolute_url(value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an absolute http(s) URL")
    return value.rstrip("/")


# The file is read leniently (parse_config): an unknown key is ignored with a warning that
# names it; ``quiet_keys`` are documented keys this project does not use (no warning).
class CourseMetrics(WireModel):
    quiet_keys: ClassVar[frozenset[str]] = frozenset({"totalGrades"})

    total_lessons: Annotated[int, Field(ge=0)] | None = None
    total_xp: Annotated[float, Field(ge=0)] | None = None


class CourseGoals(WireModel):
    quiet_keys: ClassVar[frozenset[str]] = frozenset(
        {"dailyLessons", "dailyAccuracy", "dailyMasteredUnits"}
    )

    daily_xp: Annotated[float, Field(ge=0)] | None = None
    daily_active_minutes: Annotated[float, Field(ge=0)] | None = None


class CourseMetadata(WireModel):
    quiet_keys: ClassVar[frozenset[str]] = frozenset(
        {"courseType", "isSupplemental", "isCustom", "publishStatus", "contactEmail"}
    )

    metrics: CourseMetrics | None = None
    goals: CourseGoals | None = None


class CourseOverride(WireModel):
    quiet_keys: ClassVar[frozenset[str]] = frozenset({"level", "launchUrl"})

    sensor: str | None = None
    metadata: CourseMetadata | None = None

    _sensor = field_validator("sensor")(_absolute_url)


class CourseConfig(WireModel):
    quiet_keys: ClassVar[frozenset[str]] = frozenset({"level", "launchUrl"})

    subject: Subject
    grade: Grade | None = None
    course_code: CourseCode | None = None
    sensor: str | None = None
    ids: dict[str, str] = {}
    metadata: CourseMetadata | None = None
    overrides: dict[str, CourseOverride] = {}

    _sensor = field_validator("sensor")(_absolute_url)

    @model_validator(mode="after")
    def _identifiable(self) -> CourseConfig:
        if self.grade is None and self.course_code is None:
            raise FieldValueError("grade", "a course needs grade or courseCode (or both)")
        return self

    @property
    def display_name(self) -> str:
        """wire §2: the course code when there is one, else ``"{subject} G{grade}"``."""
        return self.course_code or f"{self.subject} G{self.grade}"

    def total_lessons(self, env: str | None = None) -> int | None:
        """wire §4: ``totalLessons`` of the env override first, then of the course."""
        override = self.overrides.get(env) if env else None
        for metadata in (override.metadata if override else None, self.metadata):
            if metadata and metadata.metrics and metadata.metrics.total_lessons is not None:
                return metadata.metrics.total_lessons
        return None

    def matches(self, selector: CourseBySubjectGrade | CourseByCode) -> bool:
        if isinstance(selector, CourseByCode):
            return self.course_code == selector.code
        return self.subject == selector.subject and self.grade == selector.grade


class AppConfig(WireModel):
    quiet_keys: ClassVar[frozenset[str]] = frozenset({"$schema"})

    name: Annotated[str, Field(min_length=1)]
    sensor: str | None = None
    launch_url: str | None = None
    courses: list[CourseConfig] = Field(min_length=1)

    _urls = field_validator("sensor", "launch_url")(_absolute_url)

    @model_validator(mode="after")
    def _unique(self) -> AppConfig:
        pairs: set[tuple[str, int]] = set()
        codes: set[str] = set()
        for index, course in enumerate(self.courses):
            if course.grade is not None:
                pair = (course.subject, course.grade)
                if pair in pairs:
                    raise FieldValueError(
                        f"courses[{index}]",
                        f"{course.subject} grade {course.grade} is listed twice",
                    )
                pairs.add(pair)
            if course.course_code is not None:
                if course.course_code in codes:
                    raise FieldValueError(
                        f"courses[{index}].courseCode", f"{course.course_code} is listed twice"
                    )
                codes.add(course.course_code)
        if not self.sensor and not self.launch_url:
            for index, course in enumerate(self.courses):
                if not course.sensor:
                    raise FieldValueError(
                        f"courses[{index}].sensor",
                        "no sensor: give sensor (course or root) or launchUrl",
                    )
        return self

    def find_course(self, selector: CourseBySubjectGrade | CourseByCode) -> CourseConfig:
        """The course the selector names, or ``UnknownCourseError``."""
        for course in self.courses:
            if course.matches(selector):
                return course
        raise UnknownCourseError("course", f"no course {selector.key()} in timeback.config.json")

    def sensor_for(self, course: CourseConfig, env: str | None = None) -> str:
        """wire §4: env override -> course sensor -> root sensor -> origin of launchUrl."""
        override = course.overrides.get(env) if env else None
        for candidate in (override.sensor if override else None, course.sensor, self.sensor):
            if candidate:
                return candidate
        assert self.launch_url is not None  # guaranteed by _unique
        parts = urlsplit(self.launch_url)
        return f"{parts.scheme}://{parts.netloc}"


def parse_config(data: Any) -> AppConfig:
    return validate(AppConfig, data, lenient="timeback.config.json")


def load_config(path: str | Path) -> AppConfig:
    """Reads and validates a config file; errors name the file and the field."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TrackerValidationError("config", f"{path}: file not found") from None
    except json.JSONDecodeError as exc:
        raise TrackerValidationError("config", f"{path}: not valid JSON ({exc})") from None
    try:
        return parse_config(data)
    except TrackerValidationError as exc:
        raise TrackerValidationError(exc.field, f"{exc.message} (in {path})", exc.errors) from None
