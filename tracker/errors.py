"""Exceptions raised by the tracker; each says which field or rule it is about."""

from __future__ import annotations

from typing import Any


class TrackerError(Exception):
    """Base class of every error the tracker raises on purpose."""


class TrackerValidationError(TrackerError, ValueError):
    """Bad input. ``field`` is the dotted name of the first offending field (JS spelling)."""

    def __init__(self, field: str, message: str, errors: list[dict[str, Any]] | None = None):
        self.field = field
        self.message = message
        self.errors = errors or [{"field": field, "message": message}]
        super().__init__(f"{field}: {message}" if field else message)


class UnknownCourseError(TrackerValidationError):
    """The course selector matches no course of ``timeback.config.json`` (wire §4)."""


class ActivityAlreadyRunningError(TrackerError, RuntimeError):
    """``start()`` while another activity is running: only one may be active at a time."""


class DeliveryError(TrackerError):
    """A request to the app server failed: no answer, or a status other than 2xx.

    ``status`` is ``None`` when no answer came (network error, server down).
    """

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        self.status = status
        self.code = code
        super().__init__(message)

    def _identity(self) -> tuple[str, int | None, str | None]:
        return (str(self), self.status, self.code)

    def __eq__(self, other: object) -> bool:
        """Errors of the same answer are equal: the delivery queue's effects are values."""
        if not isinstance(other, DeliveryError):
            return NotImplemented
        return self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())

    @property
    def retryable(self) -> bool:
        """P3: a 4xx other than 408/429 is final; no answer, 408, 429 and 5xx may succeed later."""
        if self.status is None:
            return True
        return not (400 <= self.status < 500) or self.status in (408, 429)
