"""The error body of every route (wire §1): ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from ..errors import TrackerValidationError, UnknownCourseError

INVALID_PAYLOAD = "INVALID_PAYLOAD"
UNKNOWN_COURSE = "UNKNOWN_COURSE"
UNAUTHORIZED = "UNAUTHORIZED"
FORBIDDEN_ORIGIN = "FORBIDDEN_ORIGIN"
PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
NOT_FOUND = "NOT_FOUND"
METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
INTERNAL_ERROR = "INTERNAL_ERROR"

# The field named when the body as a whole is wrong (not JSON, not an object).
BODY_FIELD = "body"


class ApiError(Exception):
    """An answer other than success; raised anywhere in a request, rendered by the route."""

    def __init__(
        self, status: int, code: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        super().__init__(f"{status} {code}: {message}")

    def response(self) -> Response:
        return error_response(self.status, self.code, self.message, self.details)


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
