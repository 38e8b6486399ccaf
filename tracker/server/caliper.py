"""Caliper events and envelopes exactly as wire §2 writes them.

Pure functions: the pipeline decides the numbers, these only shape them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ..config import AppConfig, CourseConfig
from ..course import CourseByCode, CourseBySubjectGrade
from ..ids import new_uuid
from ..timefmt import iso_from_epoch_ms

CALIPER_CONTEXT = "http://purl.imsglobal.org/ctx/caliper/v1p2"
PROFILE = "TimebackProfile"
TIME_SPENT = "TimeSpentEvent"
COMPLETED = "ActivityEvent"

# RFC 6068 lets these stand unescaped in a mailto: address.
_MAILTO_SAFE = "@!$&'*+-._~=/?^`{|}"


def normalize_email(email: str) -> str:
    """Emails compare case-insensitively in practice; one spelling keeps one ledger per user."""
    return email.strip().lower()


def actor_iri(email: str) -> str:
    """The user's IRI: ``mailto:{email}`` — one id per person across courses, sensors and envs."""
    return "mailto:" + quote(normalize_email(email), safe=_MAILTO_SAFE)


def new_urn() -> str:
    return f"urn:uuid:{new_uuid()}"


def seconds(ms: int) -> int | float:
    """Metric values are seconds (wire §2); whole seconds stay integers."""
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


@dataclass(frozen=True)
class Actor:
    email: str
    timeback_id: str | None = None
    # Platform mode: the OneRoster user URL, the actor id the official server sends.
    iri: str | None = None

    def caliper(self) -> dict[str, Any]:
        if self.iri is not None:
            # Exactly the official actor: the URL already names the Timeback user.
            return {"id": self.iri, "type": "TimebackUser", "email": normalize_email(self.email)}
        actor: dict[str, Any] = {
            "id": actor_iri(self.email),
            "type": "TimebackUser",
            "email": normalize_email(self.email),
        }
        if self.timeback_id:
            actor["timebackId"] = self.timeback_id
        return actor


def selector_path(selector: CourseBySubjectGrade | CourseByCode) -> str:
    """The activity URL's course part as the official server builds it: from the selector.

    ``{code}`` for a code selector, ``{subject}/g{grade}`` otherwise, both as given (trimmed,
    not percent-encoded: the official puts them in the path verbatim, and the platform derives
    the activity's line item, hence its attempt count, from that exact string).
    """
    if isinstance(selector, CourseByCode):
        return selector.code
    return f"{selector.subject}/g{selector.grade}"


def course_key(course: CourseConfig) -> str:
    """The course's key in the store: ``{subject}/g{grade}``, or ``{code}`` without grade.

    It is chosen from the config, not from the selector a client used, so that progress and the
    gradebook's course rows stay one per course whichever way the course is addressed.
    """
    if course.grade is not None:
        return f"{quote(course.subject, safe='')}/g{course.grade}"
    assert course.course_code is not None  # a course has a grade or a code
    return quote(course.course_code, safe="")


@dataclass(frozen=True)
class ActivityContext:
    """Everything an event says about the activity, resolved once per request."""

    app_name: str
    sensor: str
    subject: str
    course_key: str
    # The selector's part of the activity URL (see selector_path).
    activity_path: str
    course_iri: str
    course_id: str | None
    course_name: str
    slug: str
    name: str
    process: bool = True

    @classmethod
    def resolve(
        cls,
        config: AppConfig,
        course: CourseConfig,
        *,
        env: str,
        slug: str,
        name: str,
        selector: CourseBySubjectGrade | CourseByCode | None = None,
        process: bool = True,
        roster_courses_url: str | None = None,
    ) -> ActivityContext:
        """``selector`` None (backend record()): the config's own key stands for it.

        ``roster_courses_url`` (platform mode): the course IRI is the OneRoster course URL
        ``{roster}/courses/{ids[env]}``, as the official sends it.
        """
        sensor = config.sensor_for(course, env).rstrip("/")
        key = course_key(course)
        course_id = course.ids.get(env)
        iri_tail = quote(course_id, safe="") if course_id else key
        if roster_courses_url is not None and course_id:
            course_iri = f"{roster_courses_url}/{course_id}"
        else:
            course_iri = f"{sensor}/courses/{iri_tail}"
        if selector is None:
            selector = (
                CourseBySubjectGrade(subject=course.subject, grade=course.grade)
                if course.grade is not None
                else CourseByCode(code=course.course_code or "")
            )
        return cls(
            app_name=config.name,
            sensor=sensor,
            subject=course.subject,
            course_key=key,
            activity_path=selector_path(selector),
            course_iri=course_iri,
            course_id=course_id,
            course_name=course.display_name,
            slug=slug,
            name=name,
            process=process,
        )

    @property
    def activity_url(self) -> str:
        """``{sensor}/activities/{selector path}/{slug}``: the official's object id."""
        return f"{self.sensor}/activities/{self.activity_path}/{quote(self.slug, safe='')}"

    def caliper_object(self) -> dict[str, Any]:
        return {
            "id": self.activity_url,
            "type": "TimebackActivityContext",
            "subject": self.subject,
            "app": {"name": self.app_name},
            "course": {"id": self.course_iri, "name": self.course_name},
            "activity": {"name": self.name},
            "process": self.process,
        }


def _event(
    kind: str,
    action: str,
    actor: Actor,
    ctx: ActivityContext,
    run_id: str,
    event_time_ms: int,
    generated: dict[str, Any],
    extra_extensions: dict[str, Any] | None = None,
) -> dict[str, Any]:
    extensions: dict[str, Any] = {}
    if ctx.course_id:
        extensions["courseId"] = ctx.course_id
    extensions.update(extra_extensions or {})
    event: dict[str, Any] = {
        "@context": CALIPER_CONTEXT,
        "id": new_urn(),
        "type": kind,
        "action": action,
        "profile": PROFILE,
        "actor": actor.caliper(),
        "object": ctx.caliper_object(),
        "eventTime": iso_from_epoch_ms(event_time_ms),
        "generated": generated,
        "session": f"urn:uuid:{run_id}",
    }
    if extensions:
        event["extensions"] = extensions
    return event


def time_spent_event(
    actor: Actor,
    ctx: ActivityContext,
    *,
    run_id: str,
    ended_at_ms: int,
    active_ms: int,
    inactive_ms: int,
) -> dict[str, Any]:
    """One TimeSpentEvent; ``inactive`` only when there was inactive time."""
    items: list[dict[str, Any]] = [{"type": "active", "value": seconds(active_ms)}]
    if inactive_ms > 0:
        items.append({"type": "inactive", "value": seconds(inactive_ms)})
    generated = {"id": new_urn(), "type": "TimebackTimeSpentMetricsCollection", "items": items}
    return _event(TIME_SPENT, "SpentTime", actor, ctx, run_id, ended_at_ms, generated)


def completed_event(
    actor: Actor,
    ctx: ActivityContext,
    *,
    run_id: str,
    ended_at_ms: int,
    xp_earned: int | float,
    total_questions: int | None,
    correct_questions: int | None,
    mastered_units: int | None,
    attempt: int,
    pct_complete: int | float | None,
    xp_claimed: int | float | None = None,
) -> dict[str, Any]:
    """One ActivityEvent/Completed; items only for the metrics given, in the spec's order.

    ``xp_claimed`` is set only when the XP policy credited less than the app asked for.
    """
    items: list[dict[str, Any]] = []
    if total_questions is not None:
        items.append({"type": "totalQuestions", "value": total_questions})
    if correct_questions is not None:
        items.append({"type": "correctQuestions", "value": correct_questions})
    items.append({"type": "xpEarned", "value": xp_earned})
    if mastered_units is not None:
        items.append({"type": "masteredUnits", "value": mastered_units})
    generated: dict[str, Any] = {
        "id": new_urn(),
        "type": "TimebackActivityMetricsCollection",
        "items": items,
        "attempt": attempt,
    }
    if pct_complete is not None:
        generated["extensions"] = {"pctCompleteApp": pct_complete}
    extra = {"xpClaimed": xp_claimed} if xp_claimed is not None else None
    return _event(COMPLETED, "Completed", actor, ctx, run_id, ended_at_ms, generated, extra)


def envelope(sensor: str, events: list[dict[str, Any]], send_time_ms: int) -> dict[str, Any]:
    return {
        "sensor": sensor,
        "sendTime": iso_from_epoch_ms(send_time_ms),
        "dataVersion": CALIPER_CONTEXT,
        "data": events,
    }
