"""Course selectors: ``{subject, grade}`` or ``{code}`` (reference ``course``; wire §4)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Discriminator, Field, StringConstraints, Tag

from .validation import WireModel, not_bool

Subject = Literal[
    "Reading",
    "Language",
    "Vocabulary",
    "Social Studies",
    "Writing",
    "Science",
    "FastMath",
    "Math",
    "None",
    "Other",
]

# -1 is pre-K, 0 is K, 13 is AP (wire §4).
Grade = Annotated[int, BeforeValidator(not_bool), Field(ge=-1, le=13)]
# Trimmed first (as the official server does), so only a blank code is refused.
CourseCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class CourseBySubjectGrade(WireModel):
    subject: Subject
    grade: Grade

    def key(self) -> str:
        return f"{self.subject} G{self.grade}"


class CourseByCode(WireModel):
    # A lenient read takes {code, subject, grade} as the official server does: the code wins.
    quiet_keys: ClassVar[frozenset[str]] = frozenset({"subject", "grade"})

    code: CourseCode

    def key(self) -> str:
        return self.code


def _course_shape(value: Any) -> str | None:
    """Picks the branch from the keys, so that errors name the fields of one shape, not both."""
    if isinstance(value, CourseBySubjectGrade):
        return "bySubjectGrade"
    if isinstance(value, CourseByCode):
        return "byCode"
    if isinstance(value, dict):
        return "byCode" if "code" in value else "bySubjectGrade"
    return None


CourseSelector = Annotated[
    Annotated[CourseBySubjectGrade, Tag("bySubjectGrade")] | Annotated[CourseByCode, Tag("byCode")],
    Discriminator(
        _course_shape,
        custom_error_type="course_shape",
        custom_error_message="must be an object: { subject, grade } or { code }",
    ),
]
