"""The demo site mounted at ``/`` of ``tracker serve``: pages, and JSON routes under /demo/api.

    GET  /demo/api/session                     {"email": ... | null}
    GET  /demo/api/dashboard?tz=Area/City      XP, minutes per day and activity, gradebook,
                                               course progress (of the signed-in user); the
                                               first page of each list and its nextCursor
    GET  /demo/api/gradebook?cursor=C&limit=N  a page of the gradebook, newest first
    GET  /demo/api/activities?cursor=C&limit=N a page of minutes per activity, most first
    GET  /demo/api/events?after=SEQ&limit=N    the user's Caliper events after SEQ
    GET  /demo/api/runs                        the user's stateful runs (no visit counted)
    GET  /demo/api/lessons/{id}/run            a stateful lesson's run to resume (counts a visit)
    PUT  /demo/api/lessons/{id}/run            {"step", "answers"}: where the learner is
    POST /demo/api/lessons/{id}/run/restart    forget the run: the next visit gets a new runId
    POST /demo/api/lessons/{id}/complete       the server completes the run: activity.record()
    GET  /...                                  web/demo (catalogue, sign-in, lessons, dashboard)

Identity is the site's (``TimebackServer.identity``: the demo sign-in of ``/auth/login`` under
``tracker demo``, or what ``tracker serve`` was configured with), so the pages, the API and
these routes agree on who is learning.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send

from ..server.errors import (
    ERROR_HANDLERS,
    UNAUTHORIZED,
    ApiError,
    ErrorBoundary,
    invalid,
    json_response,
)
from ..server.guards import JsonBodies, json_body
from ..server.headers import DEMO_CSP, PYSCRIPT_CSP, PYSCRIPT_MARKER
from ..server.pipeline import now_ms
from ..server.server import TimebackServer
from ..server.static import BundleFiles
from .catalogue import Catalogue, DemoError, Lesson
from .pages import DEFAULT_LIMIT, MAX_LIMIT, Key, decode_cursor
from .queries import (
    ACTIVITIES_KEY,
    GRADEBOOK_KEY,
    dashboard,
    events_after,
    gradebook,
    mastered_before,
    minutes_per_activity,
)
from .state import DemoState, LessonRun

log = logging.getLogger("tracker.demo")

NO_STORE = {"Cache-Control": "no-store"}
# XP rules of the demo app (wire §5 leaves them to the app): 1 XP per focused minute, none
# below 80 % accuracy, a unit mastered at 90 % or more.
XP_MIN_ACCURACY = 0.8
MASTERY = 0.9
API = "/demo/api"
RUN_PATH = f"{API}/lessons/{{lesson}}/run"
# {"step", "answers"} of a lesson of a few parts.
RUN_BODY_LIMIT = 16 * 1024


def xp_for(active_ms: int, correct: int, total: int) -> int:
    """1 XP per focused minute (at least 1 for a finished lesson), 0 below 80 % accuracy."""
    if total and correct / total < XP_MIN_ACCURACY:
        return 0
    return max(1, round(active_ms / 60_000))


class PageFiles(BundleFiles):
    """The demo's pages: revalidated on every load, so an edited page shows at once."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["cache-control"] = "no-cache"
        if response.media_type == "text/html":
            path = Path(str(args[0] if args else kwargs["full_path"]))
            response.headers["content-security-policy"] = csp_for(path)
        return response


def csp_for(page: Path) -> str:
    """The CSP of a demo page: PyScript pages also need 'unsafe-eval' (headers.py)."""
    try:
        runs_pyscript = PYSCRIPT_MARKER in page.read_text(encoding="utf-8", errors="replace")
    except OSError:
        runs_pyscript = False
    return PYSCRIPT_CSP if runs_pyscript else DEMO_CSP


class DemoSite:
    """The ASGI app of the demo; ``bind(server)`` once the TimebackServer exists."""

    def __init__(self, web: Path, state: DemoState) -> None:
        self.web = web
        self.state = state
        self.catalogue = Catalogue.load(web)
        self._server: TimebackServer | None = None
        self._stories: dict[str, dict[str, Any]] = {}
        api = API
        # The origin check of the POST/PUT routes is the site's (tracker.server.main).
        self.app = Starlette(
            routes=[
                Route(f"{api}/session", self.session, methods=["GET"]),
                Route(f"{api}/dashboard", self.dashboard, methods=["GET"]),
                Route(f"{api}/gradebook", self.gradebook, methods=["GET"]),
                Route(f"{api}/activities", self.activities, methods=["GET"]),
                Route(f"{api}/events", self.events, methods=["GET"]),
                Route(f"{api}/runs", self.runs, methods=["GET"]),
                Route(RUN_PATH, self.run, methods=["GET", "PUT"]),
                Route(f"{RUN_PATH}/restart", self.restart, methods=["POST"]),
                Route(f"{api}/lessons/{{lesson}}/complete", self.complete, methods=["POST"]),
                Mount("/", app=PageFiles(directory=web, html=True)),
            ],
            middleware=[
                Middleware(ErrorBoundary),
                Middleware(JsonBodies, limit=RUN_BODY_LIMIT, routes=[("PUT", RUN_PATH)]),
            ],
            exception_handlers=dict(ERROR_HANDLERS),
        )

    def bind(self, server: TimebackServer) -> None:
        self._server = server
        missing = [
            lesson.id
            for lesson in self.catalogue.lessons
            if lesson not in self.catalogue.runnable(server.config)
        ]
        if missing:
            log.warning(
                "demo lessons %s name courses that this timeback.config.json lacks",
                ", ".join(missing),
            )

    @property
    def server(self) -> TimebackServer:
        if self._server is None:
            raise RuntimeError("DemoSite.bind(server) was not called")
        return self._server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    def close(self) -> None:
        self.state.close()

    # -- helpers -----------------------------------------------------------------------

    async def _email(self, request: Request) -> str:
        email = await self.server.identity.email(request)
        if email is None:
            raise ApiError(401, UNAUTHORIZED, "sign in first")
        return email

    def _lesson(self, request: Request, *, stateful: bool = False) -> Lesson:
        lesson = self.catalogue.find(request.path_params["lesson"])
        if lesson is None or (stateful and not lesson.stateful):
            raise ApiError(404, "NOT_FOUND", f"no stateful lesson {request.path_params['lesson']}")
        return lesson

    def _story(self, lesson: Lesson) -> dict[str, Any]:
        """A stateful lesson's parts and answer key (read once)."""
        if lesson.id not in self._stories:
            if not lesson.content:
                raise DemoError(f"lesson {lesson.id} has no content file")
            path = self.web / lesson.content
            self._stories[lesson.id] = json.loads(path.read_text(encoding="utf-8"))
        return self._stories[lesson.id]

    def _score(self, lesson: Lesson, answers: dict[str, int]) -> tuple[int, int]:
        """(correct, total) of the saved answers; question keys are "part.question"."""
        total = correct = 0
        for p, part in enumerate(self._story(lesson)["parts"]):
            for q, question in enumerate(part["questions"]):
                total += 1
                correct += answers.get(f"{p}.{q}") == question["answer"]
        return correct, total

    # -- routes ------------------------------------------------------------------------

    async def session(self, request: Request) -> Response:
        return json_response(200, {"email": await self.server.identity.email(request)}, NO_STORE)

    async def dashboard(self, request: Request) -> Response:
        email = await self._email(request)
        zone = _zone(request.query_params.get("tz"))
        server = self.server
        data = await server.store.aread(
            lambda tx: dashboard(tx, server.config, server.settings.env, email, zone, now_ms())
        )
        data["lessons"] = [
            lesson.model_dump(by_alias=True, exclude_none=True)
            for lesson in self.catalogue.runnable(server.config)
        ]
        return json_response(200, data, NO_STORE)

    async def gradebook(self, request: Request) -> Response:
        return await self._page(request, GRADEBOOK_KEY, gradebook)

    async def activities(self, request: Request) -> Response:
        return await self._page(request, ACTIVITIES_KEY, minutes_per_activity)

    async def _page(
        self, request: Request, shape: tuple[type, ...], read: Callable[..., dict[str, Any]]
    ) -> Response:
        """One page of a list (``read(tx, email, after=, limit=)``): docs/api.md."""
        email = await self._email(request)
        after, limit = _page_params(request, shape)
        data = await self.server.store.aread(lambda tx: read(tx, email, after=after, limit=limit))
        return json_response(200, data, NO_STORE)

    async def events(self, request: Request) -> Response:
        email = await self._email(request)
        after = _int_param(request, "after", 0, 0, 2**53)
        limit = _int_param(request, "limit", 50, 1, 200)
        data = await self.server.store.aread(lambda tx: events_after(tx, email, after, limit))
        return json_response(200, data, NO_STORE)

    async def runs(self, request: Request) -> Response:
        email = await self._email(request)
        found = {}
        for current in await self.state.aruns(email):
            lesson = self.catalogue.find(current.lesson_id)
            if lesson is not None and lesson.stateful:
                found[lesson.id] = self._run_json(lesson, current)
        return json_response(200, {"runs": found}, NO_STORE)

    async def run(self, request: Request) -> Response:
        email = await self._email(request)
        lesson = self._lesson(request, stateful=True)
        if request.method == "GET":
            found = await self.state.avisit(email, lesson.id)
            return json_response(200, self._run_json(lesson, found), NO_STORE)
        body = json_body(request)
        parts = len(self._story(lesson)["parts"])
        if not isinstance(body, dict):
            raise invalid("body", "must be an object")
        step = body.get("step")
        answers = body.get("answers")
        if not isinstance(step, int) or isinstance(step, bool) or not 0 <= step <= parts:
            raise invalid("step", f"must be a whole number from 0 to {parts}")
        if not isinstance(answers, dict) or not all(
            isinstance(key, str) and isinstance(value, int) and not isinstance(value, bool)
            for key, value in answers.items()
        ):
            raise invalid("answers", 'must map "part.question" to a choice number')
        await self.state.asave(email, lesson.id, step, answers)
        saved = await self.state.aget(email, lesson.id)
        assert saved is not None
        return json_response(200, self._run_json(lesson, saved), NO_STORE)

    async def restart(self, request: Request) -> Response:
        email = await self._email(request)
        lesson = self._lesson(request, stateful=True)
        await self.state.arestart(email, lesson.id)
        return Response(status_code=204)

    async def complete(self, request: Request) -> Response:
        """The server completes the run: score from the saved answers, XP from the active
        minutes the server itself saw for this run, then ``activity.record()``."""
        email = await self._email(request)
        lesson = self._lesson(request, stateful=True)
        found = await self.state.aget(email, lesson.id)
        if found is None:
            raise ApiError(409, "NOT_STARTED", "this lesson has no run to complete")
        if found.completed:
            return json_response(200, self._run_json(lesson, found), NO_STORE)
        parts = len(self._story(lesson)["parts"])
        if found.step < parts:
            raise ApiError(409, "NOT_FINISHED", f"part {found.step + 1} of {parts} is not done yet")
        correct, total = self._score(lesson, found.answers)
        server = self.server
        active_ms, _ = await server.store.aread(lambda tx: tx.run_active_ms(email, found.run_id))
        xp = xp_for(active_ms, correct, total)
        masters = bool(total) and correct / total >= MASTERY
        # masteredUnits is an increment: a story mastered in an earlier run is not again.
        before = await server.store.aread(lambda tx: mastered_before(tx, email, lesson.id))
        mastered = 1 if masters and not before else 0
        result = await server.activity.record(
            {
                "user": {"email": email},
                "activity": {"id": lesson.id, "name": lesson.name, "course": lesson.selector()},
                "metrics": {
                    "xpEarned": xp,
                    "totalQuestions": total,
                    "correctQuestions": correct,
                    "masteredUnits": mastered,
                },
                "runId": found.run_id,
            }
        )
        summary = {
            "attempt": result.attempt,
            "xpEarned": xp,
            "xpCredited": result.xp_credited,
            "correctQuestions": correct,
            "totalQuestions": total,
            "masteredUnits": mastered,
            "activeMinutes": math.floor(active_ms / 600) / 100,
            "pctComplete": result.pct_complete,
            "eventIds": list(result.event_ids),
        }
        await self.state.acomplete(email, lesson.id, summary)
        done = await self.state.aget(email, lesson.id)
        assert done is not None
        return json_response(200, self._run_json(lesson, done), NO_STORE)

    def _run_json(self, lesson: Lesson, found: LessonRun) -> dict[str, Any]:
        data = found.as_json()
        data["parts"] = len(self._story(lesson)["parts"])
        return data


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise invalid("tz", "is not an IANA time zone, e.g. Europe/Berlin") from None


def _page_params(request: Request, shape: tuple[type, ...]) -> tuple[Key | None, int]:
    """``cursor`` (from the last page's nextCursor) and ``limit`` of a list route."""
    limit = _int_param(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    cursor = request.query_params.get("cursor")
    # A bad cursor raises TrackerValidationError: 400 INVALID_PAYLOAD naming "cursor".
    return (decode_cursor(cursor, shape) if cursor else None), limit


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid(name, "must be a whole number") from None
    if not low <= value <= high:
        raise invalid(name, f"must be between {low} and {high}")
    return value
