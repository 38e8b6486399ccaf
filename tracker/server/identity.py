"""Who the user is: only ever from the request, through the app's ``get_email`` hook (wire §1)."""

from __future__ import annotations

import hmac
import inspect
import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.types import Message

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


# Where the resolved user is kept for the rest of the request (the API's gate, the routes).
USER_KEY = "tracker.user"
# Contract item 1: who the answer is for, as a tag the browser can compare but not read.
SUBJECT_HEADER = "X-Tracker-Subject"
SUBJECT_HEX_CHARS = 16
SUBJECT_CACHE_SIZE = 10_000  # the tags of the users active now; cleared when full


def subject_tag(secret: str, email: str) -> str:
    """First 16 hex chars of HMAC-SHA256(secret, normalised email) (contract item 1)."""
    digest = hmac.new(secret.encode("utf-8"), normalize_email(email).encode("utf-8"), "sha256")
    return digest.hexdigest()[:SUBJECT_HEX_CHARS]


class Identity:
    """The identity resolver the routes receive: the signed-in user's normalised email.

    Emails are normalised here, once, at the edge; everything behind it compares them as is.
    The first call per request asks ``get_email``; later calls reuse its answer.
    """

    def __init__(self, get_email: GetEmail, *, subject_secret: str) -> None:
        self.get_email = get_email
        self._subject_secret = subject_secret
        self._tags: dict[str, str] = {}

    def subject(self, email: str) -> str:
        # One HMAC per user, not per answer (~3 % of a heartbeat's CPU, issue 12); bounded.
        tag = self._tags.get(email)
        if tag is None:
            if len(self._tags) >= SUBJECT_CACHE_SIZE:
                self._tags.clear()
            tag = self._tags[email] = subject_tag(self._subject_secret, email)
        return tag

    async def email(self, request: Request) -> str | None:
        if USER_KEY not in request.scope:
            request.scope[USER_KEY] = await resolve_email(self.get_email, request)
        user: str | None = request.scope[USER_KEY]
        return user

    async def require(self, request: Request) -> str:
        """The user's email, or 401 UNAUTHORIZED."""
        email = await self.email(request)
        if email is None:
            raise ApiError(401, UNAUTHORIZED, "sign in first: no user for this request")
        return email


def no_identity(request: Request) -> None:
    """The default hook: nobody is signed in until the app supplies ``get_email``."""
    return None


def with_subject(message: Message, tag: str) -> Message:
    """A response start with the subject tag (contract item 1) among its headers."""
    headers = [*message.get("headers", []), (SUBJECT_HEADER.lower().encode(), tag.encode("ascii"))]
    return {**message, "headers": headers}
