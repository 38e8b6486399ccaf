"""A get_email hook for the ``identity=callback`` test (TRACKER_GET_EMAIL points here)."""

from __future__ import annotations

from starlette.requests import Request


def from_test_header(request: Request) -> str | None:
    return request.headers.get("x-test-user")
