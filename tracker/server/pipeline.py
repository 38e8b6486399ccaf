"""The pipeline: a heartbeat or a completion in, events and ledger rows out, in one transaction.

Rules (wire §1, §2, §5):
- a window is identified by (user, runId, startedAt): the UNIQUE constraint of the time ledger
  turns a resend into ``duplicate``;
- a completion is identified by (user, runId, endedAt): a retry returns the stored attempt and
  writes nothing;
- attempts count completions per (user, activity URL);
- course progress sums ``masteredUnits`` per (user, course); an explicit ``pctComplete`` wins;
  reaching 100 writes one course-completion gradebook entry;
- XP is held against the active minutes of the run (``xp_policy``), as counted by the time
  ledger (``ledger.py``): never a time the browser reports in a submit; a run's
  ``masteredUnits`` count once, however many completions it has.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..config import AppConfig, CourseConfig
from ..course import CourseByCode, CourseBySubjectGrade
from ..errors import TrackerValidationError, UnknownCourseError
from ..numbers import tidy_number
from .caliper import (
    ActivityContext,
    Actor,
    completed_event,
    new_urn,
    normalize_email,
    time_spent_event,
)
from .inbound import CompletionIn, WindowIn
from .ledger import check_window_time, uncovered_ms
from .ownership import check_run_owner
from .platform import ActorSource, EmbeddedActors
from .settings import Settings
from .store import Store, StoredEvent, Tx

log = logging.getLogger("tracker.server")

# Suffix of xp_ledger.policy for a claim credited above the run's counted minutes.
FLAGGED = "+flagged"


@dataclass(frozen=True)
class XpDecision:
    credited: float
    flagged: bool = False


class XpRejectedError(TrackerValidationError):
    """``xp_policy = "reject"`` and the claim exceeds what the run's active minutes allow."""


@dataclass(frozen=True)
class TimeTotals:
    """Explicit time of a completion (``end({time})`` or ``record(time=...)``)."""

    active_ms: int
    inactive_ms: int
    started_at_ms: int | None = None
    # record() from the backend is trusted; a submit from the browser only reports (issue 10).
    trusted: bool = False


@dataclass(frozen=True)
class Completion:
    actor: Actor
    ctx: ActivityContext
    run_id: str
    ended_at_ms: int
    xp_earned: int | float
    total_questions: int | None = None
    correct_questions: int | None = None
    mastered_units: int | None = None
    pct_complete: int | float | None = None
    time: TimeTotals | None = None
    total_lessons: int | None = None
    # From the backend (record()): without any time on record its XP is not held.
    trusted: bool = False


@dataclass(frozen=True)
class CompletionResult:
    duplicate: bool
    attempt: int
    pct_complete: float | None
    event_ids: tuple[str, ...]
    xp_claimed: float | None = None
    xp_credited: float | None = None
    # XP above what the run's counted minutes allow, credited under "accept" with xp_flag.
    xp_flagged: bool = False
    course_completed: bool = False


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def computed_pct(mastered_total: int, total_lessons: int) -> int:
    """clamp(round(mastered / totalLessons x 100), 0, 100), as the official SDK computes it.

    Python's ``round`` on the float percentage: halves go to even (1/8 -> 12), and a float
    error decides a near-half exactly as there (7/200 -> 3.5000000000000004 -> 4).
    """
    return max(0, min(100, round(mastered_total / total_lessons * 100)))


def _stored(event: dict[str, Any], ctx: ActivityContext, user: str, run_id: str) -> StoredEvent:
    return StoredEvent(
        id=event["id"],
        type=event["type"],
        sensor=ctx.sensor,
        user_email=user,
        run_id=run_id,
        event_time=event["eventTime"],
        body=event,
    )


class Pipeline:
    def __init__(
        self,
        config: AppConfig,
        settings: Settings,
        store: Store,
        *,
        on_commit: Callable[[], None] = lambda: None,
        clock: Callable[[], int] = now_ms,
        actors: ActorSource | None = None,
    ) -> None:
        # Who events name: mailto: actors (embedded) or OneRoster users (platform mode).
        self.actors: ActorSource = actors or EmbeddedActors()
        self.config = config
        self.settings = settings
        self.store = store
        self._on_commit = on_commit
        self._clock = clock

    def now(self) -> int:
        """The server's clock (epoch ms)."""
        return self._clock()

    # -- resolution ------------------------------------------------------------------------

    def course(
        self, selector: CourseBySubjectGrade | CourseByCode, *, field: str = "course"
    ) -> CourseConfig:
        try:
            return self.config.find_course(selector)
        except UnknownCourseError as exc:
            raise UnknownCourseError(field, exc.message) from None

    def context(
        self,
        course: CourseConfig,
        *,
        slug: str,
        name: str,
        process: bool = True,
        selector: CourseBySubjectGrade | CourseByCode | None = None,
    ) -> ActivityContext:
        return ActivityContext.resolve(
            self.config,
            course,
            env=self.settings.env,
            slug=slug,
            name=name,
            selector=selector,
            process=process,
            roster_courses_url=self.actors.roster_courses_url,
        )

    # -- heartbeat -------------------------------------------------------------------------

    async def heartbeat(self, window: WindowIn) -> bool:
        """Stores one window; True when it was already stored (a resend)."""
        user, body = window.user, window.body
        course = self.course(body.course)
        ctx = self.context(course, slug=body.id, name=body.name, selector=body.course)
        started, ended = window.started_at_ms, window.ended_at_ms
        check_window_time((("startedAt", started), ("endedAt", ended)), self._clock())
        self.actors.check_course(course, self.settings.env)
        actor = await self.actors.actor(user)
        # The time row names its event; the event itself is built only for a new window
        # (issue 12: a resend does no work it does not need).
        event_id = new_urn()

        def write(tx: Tx) -> bool:
            check_run_owner(tx, user, body.run_id, replay=window.replay)
            # Only the part of the span no counted window of this user covers yet can count.
            free = uncovered_ms(started, ended, tx.counted_spans(user, started, ended))
            inserted = tx.insert_time(
                user_email=user,
                run_id=body.run_id,
                source="heartbeat",
                key_ms=started,
                started_at_ms=started,
                ended_at_ms=ended,
                active_ms=body.elapsed_ms,
                inactive_ms=body.paused_ms,
                counted_ms=min(body.elapsed_ms, free),
                activity_url=ctx.activity_url,
                course_key=ctx.course_key,
                event_id=event_id,
            )
            if inserted:
                event = time_spent_event(
                    actor,
                    ctx,
                    run_id=body.run_id,
                    ended_at_ms=ended,
                    active_ms=body.elapsed_ms,
                    inactive_ms=body.paused_ms,
                )
                event["id"] = event_id
                tx.insert_event(_stored(event, ctx, user, body.run_id), self._clock())
            return not inserted

        duplicate = await self.store.awrite(write)
        if not duplicate:
            self._on_commit()
        return duplicate

    # -- completion ------------------------------------------------------------------------

    async def submit(self, submitted: CompletionIn) -> CompletionResult:
        email, body, ended_at_ms = submitted.user, submitted.body, submitted.ended_at_ms
        course = self.course(body.course)
        check_window_time((("endedAt", ended_at_ms),), self._clock())
        time_totals = None
        if body.time is not None and (body.time.active_ms or body.time.inactive_ms):
            time_totals = TimeTotals(body.time.active_ms or 0, body.time.inactive_ms or 0)
        self.actors.check_course(course, self.settings.env)
        completion = Completion(
            actor=await self.actors.actor(email),
            ctx=self.context(
                course, slug=body.id, name=body.name, process=body.process, selector=body.course
            ),
            run_id=body.run_id,
            ended_at_ms=ended_at_ms,
            xp_earned=body.metrics.xp_earned,
            total_questions=body.metrics.total_questions,
            correct_questions=body.metrics.correct_questions,
            mastered_units=body.metrics.mastered_units,
            pct_complete=body.pct_complete,
            time=time_totals,
            total_lessons=course.total_lessons(self.settings.env),
        )
        return await self.complete(completion)

    async def complete(self, c: Completion) -> CompletionResult:
        def write(tx: Tx) -> CompletionResult:
            if not c.trusted:  # a browser adds only to its own runs; record() is trusted
                check_run_owner(tx, normalize_email(c.actor.email), c.run_id)
            return self._complete(tx, c)

        result = await self.store.awrite(write)
        if not result.duplicate:
            self._on_commit()
        return result

    def _credit(self, tx: Tx, user: str, c: Completion) -> XpDecision:
        """XP to credit under the policy; raises XpRejectedError under "reject".

        ``accept`` (the default, as the official server) credits the claim; with ``xp_flag``
        a claim above what the run's counted minutes allow is credited and marked.
        """
        claimed = float(c.xp_earned)
        policy = self.settings.xp_policy
        if claimed <= 0 or (policy == "accept" and not self.settings.xp_flag):
            return XpDecision(claimed)
        seen_ms, rows = tx.run_active_ms(user, c.run_id)
        if c.time is not None and c.time.trusted:
            seen_ms, rows = seen_ms + c.time.active_ms, rows + 1
        if rows == 0 and c.trusted:
            # record() without time and none seen: the backend vouches for the XP.
            return XpDecision(claimed)
        already = max(0.0, tx.run_xp_credited(user, c.run_id))
        allowance = max(0.0, math.ceil(seen_ms / 60_000) + self.settings.xp_tolerance - already)
        if claimed <= allowance:
            return XpDecision(claimed)
        if policy == "accept":
            # The claim goes out unchanged; the store and the log say it is above the minutes.
            log.warning(
                "xp flagged: %s run %s claims %s XP, its %.1f counted active minutes allow %s",
                user,
                c.run_id,
                tidy_number(claimed),
                seen_ms / 60_000,
                tidy_number(allowance),
            )
            return XpDecision(claimed, flagged=True)
        if policy == "reject":
            raise XpRejectedError(
                "metrics.xpEarned",
                f"{tidy_number(claimed)} XP is more than the {tidy_number(allowance)} XP that the "
                f"{seen_ms / 60_000:.1f} active minutes seen for this run allow",
            )
        return XpDecision(allowance)

    def _complete(self, tx: Tx, c: Completion) -> CompletionResult:
        user = normalize_email(c.actor.email)
        ctx = c.ctx
        prior = tx.find_completion(user, c.run_id, c.ended_at_ms)
        if prior is not None:
            return CompletionResult(True, prior.attempt, prior.pct_complete, (prior.event_id,))

        now = self._clock()
        attempt = tx.next_attempt(user, ctx.activity_url)
        decision = self._credit(tx, user, c)
        credited = decision.credited
        claimed = float(c.xp_earned)

        progress = tx.progress(user, ctx.course_key)
        # Units a run masters count once: a repeated completion adds only what is new.
        new_units = max(0, (c.mastered_units or 0) - tx.run_mastered_units(user, c.run_id))
        mastered_total = progress.mastered_units + new_units
        pct: int | float | None = None
        if c.pct_complete is not None:
            pct = c.pct_complete
        elif c.mastered_units and c.total_lessons:
            pct = computed_pct(mastered_total, c.total_lessons)

        events: list[dict[str, Any]] = []
        if c.time is not None and c.time.active_ms + c.time.inactive_ms > 0:
            spent = time_spent_event(
                c.actor,
                ctx,
                run_id=c.run_id,
                ended_at_ms=c.ended_at_ms,
                active_ms=c.time.active_ms,
                inactive_ms=c.time.inactive_ms,
            )
            tx.insert_time(
                user_email=user,
                run_id=c.run_id,
                source="completion",
                key_ms=c.ended_at_ms,
                started_at_ms=c.time.started_at_ms,
                ended_at_ms=c.ended_at_ms,
                active_ms=c.time.active_ms,
                inactive_ms=c.time.inactive_ms,
                counted_ms=c.time.active_ms if c.time.trusted else 0,
                activity_url=ctx.activity_url,
                course_key=ctx.course_key,
                event_id=spent["id"],
            )
            events.append(spent)

        completed = completed_event(
            c.actor,
            ctx,
            run_id=c.run_id,
            ended_at_ms=c.ended_at_ms,
            xp_earned=tidy_number(credited),
            total_questions=c.total_questions,
            correct_questions=c.correct_questions,
            mastered_units=c.mastered_units,
            attempt=attempt,
            pct_complete=pct,
            xp_claimed=tidy_number(claimed) if credited != claimed else None,
        )
        events.append(completed)
        for event in events:
            tx.insert_event(_stored(event, ctx, user, c.run_id), now)

        tx.insert_completion(
            user_email=user,
            course_key=ctx.course_key,
            activity_url=ctx.activity_url,
            run_id=c.run_id,
            ended_at_ms=c.ended_at_ms,
            attempt=attempt,
            total_questions=c.total_questions,
            correct_questions=c.correct_questions,
            mastered_units=c.mastered_units,
            pct_complete=pct,
            event_id=completed["id"],
            now_ms=now,
        )
        tx.insert_xp(
            user_email=user,
            course_key=ctx.course_key,
            run_id=c.run_id,
            occurred_at_ms=c.ended_at_ms,
            claimed=claimed,
            credited=credited,
            policy=self.settings.xp_policy + (FLAGGED if decision.flagged else ""),
            event_id=completed["id"],
        )
        reached = pct is not None and pct >= 100
        course_completed = reached and tx.insert_course_completion(
            user, ctx.course_key, completed["id"], now
        )
        tx.save_progress(
            user_email=user,
            course_key=ctx.course_key,
            mastered_units=mastered_total,
            pct_complete=pct,
            completed=reached,
            now_ms=now,
        )
        return CompletionResult(
            duplicate=False,
            attempt=attempt,
            pct_complete=pct,
            event_ids=tuple(event["id"] for event in events),
            xp_claimed=claimed,
            xp_credited=credited,
            xp_flagged=decision.flagged,
            course_completed=course_completed,
        )
