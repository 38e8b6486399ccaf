"""The four routes of wire §1 as a Starlette app, to mount at ``/api/timeback``."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import TrackerValidationError
from ..validation import validate
from ..wire import HEARTBEAT_PATH, ME_PATH, SUBMIT_PATH, VERIFY_PATH, HeartbeatBody, SubmitBody
from .errors import (
    INTERNAL_ERROR,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    UNAUTHORIZED,
    ApiError,
    error_response,
    from_validation,
    invalid,
    json_response,
)
from .guards import check_origin, read_json
from .identity import resolve_email
from .profile import Day, profile

if TYPE_CHECKING:
    from .server import TimebackServer

log = logging.getLogger("tracker.server")

Handler = Callable[[Request], Awaitable[Response]]
NO_STORE = {"Cache-Control": "no-store"}
# Contract item 4 (issue 9): this server's window dedupe never forgets (the time ledger's
# UNIQUE key), so a tracker may resend a kept window of any age here. The official server
# forgets after 5 minutes and sends no such header.
LASTING_DEDUPE = {"X-Tracker-Dedupe": "lasting"}


def api_endpoint(handler: Handler) -> Handler:
    """Turns every failure into the wire's error body; nothing escapes as a bare 500."""

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except ApiError as exc:
            return exc.response()
        except TrackerValidationError as exc:
            return from_validation(exc).response()
        except Exception:
            log.exception("%s %s failed", request.method, request.url.path)
            return error_response(500, INTERNAL_ERROR, "internal error")

    return endpoint


class Routes:
    def __init__(self, server: TimebackServer) -> None:
        self.server = server

    async def _user(self, request: Request) -> str:
        """Origin first (403), then identity (401): a foreign page learns nothing more."""
        check_origin(request, self.server.settings.allowed_origins)
        await self.server.ensure_started()
        email = await resolve_email(self.server.get_email, request)
        if email is None:
            raise ApiError(401, UNAUTHORIZED, "sign in first: no user for this request")
        return email

    async def heartbeat(self, request: Request) -> Response:
        email = await self._user(request)
        data = await read_json(request, self.server.settings.max_body_bytes)
        body = validate(HeartbeatBody, data, lenient="heartbeat body")
        if await self.server.pipeline.heartbeat(email, body):
            return json_response(200, {"duplicate": True}, LASTING_DEDUPE)
        return Response(status_code=204, headers=LASTING_DEDUPE)

    async def submit(self, request: Request) -> Response:
        email = await self._user(request)
        data = await read_json(request, self.server.settings.max_body_bytes)
        body = validate(SubmitBody, data, lenient="submit body")
        await self.server.pipeline.submit(email, body)
        return Response(status_code=204)

    async def verify(self, request: Request) -> Response:
        email = await self._user(request)
        # The official answer {verified, timebackId}, and ours (email, actorId) beside it.
        answer = await self.server.actors.verify(email)
        return json_response(200, answer, NO_STORE)

    async def me(self, request: Request) -> Response:
        email = await self._user(request)
        zone_name = request.query_params.get("tz") or "UTC"
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise invalid("tz", "is not an IANA time zone, e.g. Europe/Berlin") from None
        day = Day.containing(self.server.pipeline.now(), zone)
        server = self.server
        user = await server.actors.roster_user(email)
        data = await server.store.aread(
            lambda tx: profile(tx, server.config, server.settings.env, email, day, user=user)
        )
        return json_response(200, data, NO_STORE)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return error_response(405, METHOD_NOT_ALLOWED, f"{request.method} is not allowed here")
    if exc.status_code == 404:
        return error_response(404, NOT_FOUND, f"no route {request.url.path}")
    return error_response(exc.status_code, "HTTP_ERROR", str(exc.detail))


def build_app(server: TimebackServer) -> Starlette:
    routes = Routes(server)
    return Starlette(
        routes=[
            Route(HEARTBEAT_PATH, api_endpoint(routes.heartbeat), methods=["POST"]),
            Route(SUBMIT_PATH, api_endpoint(routes.submit), methods=["POST"]),
            Route(VERIFY_PATH, api_endpoint(routes.verify), methods=["GET"]),
            Route(ME_PATH, api_endpoint(routes.me), methods=["GET"]),
        ],
        exception_handlers={HTTPException: _http_error},
        lifespan=server.lifespan,
    )
