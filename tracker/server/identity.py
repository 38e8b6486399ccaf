"""Who the user is: only ever from the request, through the app's ``get_email`` hook (wire §1)."""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request

from .caliper import normalize_email
from .errors import UNAUTHORIZED, ApiError

# A sync or async callable: request -> email, or None when nobody is signed in.
GetEmail = Callable[[Request], "str | Awaitable[str | None] | None"]

# Deliberately loose: one @, something on each side, no spaces. Mail servers decide the rest.
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")
MAX_EMAIL_LENGTH = 320


def is_email(value: Any) -> bool:
    return (
        isinstance(value, str)
        and len(value) <= MAX_EMAIL_LENGTH
        and _EMAIL_RE.match(value.strip()) is not None
        and value.isprintable()
    )


def check_email(value: Any) -> str:
    """A pydantic-friendly check: the normalised email, or ValueError."""
    if not is_email(value):
        raise ValueError("must be an email address, e.g. student@example.com")
    return normalize_email(value)


class IdentityHookError(Exception):
    """The app's ``get_email`` returned something that is not an email (an app bug)."""


async def resolve_email(hook: GetEmail, request: Request) -> str | None:
    result: Any = hook(request)
    if inspect.isawaitable(result):
        result = await result
    if result is None or result == "":
        return None
    if not is_email(result):
        raise IdentityHookError(f"get_email returned {type(result).__name__}, not an email")
    return normalize_email(result)


class Identity:
    """The identity resolver the routes receive: the signed-in user's normalised email.

    Emails are normalised here, once, at the edge; everything behind it compares them as is.
    """

    def __init__(self, get_email: GetEmail) -> None:
        self.get_email = get_email

    async def email(self, request: Request) -> str | None:
        return await resolve_email(self.get_email, request)

    async def require(self, request: Request) -> str:
        """The user's email, or 401 UNAUTHORIZED."""
        email = await self.email(request)
        if email is None:
            raise ApiError(401, UNAUTHORIZED, "sign in first: no user for this request")
        return email


def no_identity(request: Request) -> None:
    """The default hook: nobody is signed in until the app supplies ``get_email``."""
    return None
