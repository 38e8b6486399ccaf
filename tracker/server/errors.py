"""The error body of every route (wire §1): ``{"error": {"code", "message", "details"}}``.

One shape, one map: ``ERROR_HANDLERS`` renders every exception a request can raise (Starlette's
``exception_handlers`` for what routes raise, ``ErrorBoundary`` for what middleware raises and
for anything unexpected, which becomes a logged 500 INTERNAL_ERROR instead of a traceback page).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import TrackerValidationError, UnknownCourseError
from .ownership import RunOwnedByAnotherUserError, UnverifiedReplayError

INVALID_PAYLOAD = "INVALID_PAYLOAD"
UNKNOWN_COURSE = "UNKNOWN_COURSE"
UNAUTHORIZED = "UNAUTHORIZED"
FORBIDDEN_ORIGIN = "FORBIDDEN_ORIGIN"
RUN_OWNED_BY_ANOTHER_USER = "RUN_OWNED_BY_ANOTHER_USER"
UNVERIFIED_REPLAY = "UNVERIFIED_REPLAY"
PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
RATE_LIMITED = "RATE_LIMITED"
BAD_HOST = "BAD_HOST"
NOT_FOUND = "NOT_FOUND"
METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
INTERNAL_ERROR = "INTERNAL_ERROR"

# The field named when the body as a whole is wrong (not JSON, not an object).
BODY_FIELD = "body"

log = logging.getLogger("tracker.server")


class ApiError(Exception):
    """An answer other than success; raised anywhere in a request, rendered by ERROR_HANDLERS."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.headers = headers or {}
        super().__init__(f"{status} {code}: {message}")

    def response(self) -> Response:
        response = error_response(self.status, self.code, self.message, self.details)
        response.headers.update(self.headers)
        return response


def json_response(status: int, content: Any, headers: dict[str, str] | None = None) -> Response:
    # ASCII escapes keep lone surrogates from a client's strings from breaking the encoder.
    body = json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> Response:
    error = {"code": code, "message": message, "details": details or {}}
    return json_response(status, {"error": error}, headers={"Cache-Control": "no-store"})


def invalid(field: str, message: str) -> ApiError:
    field = field or BODY_FIELD
    return ApiError(
        400, INVALID_PAYLOAD, f"{field}: {message}", {"field": field, "message": message}
    )


def from_validation(exc: TrackerValidationError) -> ApiError:
    """INVALID_PAYLOAD, or UNKNOWN_COURSE for a course that timeback.config.json lacks."""
    if isinstance(exc, UnknownCourseError):
        field = exc.field or "course"
        return ApiError(400, UNKNOWN_COURSE, exc.message, {"field": field, "message": exc.message})
    return invalid(exc.field, exc.message)


# -- the one exception -> response map ------------------------------------------------------

ErrorHandler = Callable[[Request, Exception], Awaitable[Response]]


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TrackerValidationError)
    return from_validation(exc).response()


async def _run_owned(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RunOwnedByAnotherUserError)
    return error_response(403, RUN_OWNED_BY_ANOTHER_USER, str(exc), {"runId": exc.run_id})


async def _unverified_replay(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, UnverifiedReplayError)
    return error_response(403, UNVERIFIED_REPLAY, str(exc), {"runId": exc.run_id})


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405 (no route, wrong method) in the wire's shape."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        response = error_response(405, METHOD_NOT_ALLOWED, f"{request.method} is not allowed here")
    elif exc.status_code == 404:
        response = error_response(404, NOT_FOUND, f"no route {request.url.path}")
    else:
        response = error_response(exc.status_code, "HTTP_ERROR", str(exc.detail))
    response.headers.update(exc.headers or {})
    return response


ERROR_HANDLERS: Mapping[Any, ErrorHandler] = {
    ApiError: _api_error,
    TrackerValidationError: _validation_error,
    RunOwnedByAnotherUserError: _run_owned,
    UnverifiedReplayError: _unverified_replay,
    HTTPException: _http_error,
}


def handler_for(exc: Exception) -> ErrorHandler | None:
    """The handler of the nearest class of ``exc`` in ERROR_HANDLERS, as Starlette looks up."""
    for cls in type(exc).__mro__:
        if cls in ERROR_HANDLERS:
            return ERROR_HANDLERS[cls]
    return None


class ErrorBoundary:
    """Outermost API middleware: what the guards (middleware) raise gets the same error body as
    what routes raise; anything else is logged and answered 500 INTERNAL_ERROR (no traceback
    reaches the client, and the ASGI server does not see a crash)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                raise  # half a response is out: nothing sensible to add
            response = await response_for(Request(scope), exc)
            await response(scope, receive, send)


async def response_for(request: Request, exc: Exception) -> Response:
    """The error answer for ``exc`` (ERROR_HANDLERS); anything else is logged, 500."""
    handler = handler_for(exc)
    if handler is None:
        log.exception("%s %s failed", request.method, request.url.path)
        return error_response(500, INTERNAL_ERROR, "internal error")
    return await handler(request, exc)
