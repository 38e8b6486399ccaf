"""A tiny sign-in for ``tracker serve`` and the demo: a signed session cookie holding an email.

There is no password: it exists so that a demo page can say who is learning. A real app keeps
its own sign-in and passes its own ``get_email(request)`` to ``TimebackServer``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import TrackerError
from ..validation import WireModel, validate
from .caliper import normalize_email
from .errors import ERROR_HANDLERS, ErrorBoundary, json_response
from .guards import JsonBodies, OriginGuard, json_body
from .identity import is_email
from .private_files import write_new_private
from .record import Email

COOKIE = "timeback_session"
SECRET_ENV = "TRACKER_SESSION_SECRET"
SECRET_FILE = "session-secret"
# A cookie signed with less than 32 characters of key can be brute-forced or guessed.
MIN_SECRET_LENGTH = 32
# {"email": ...} is at most a few hundred bytes.
LOGIN_BODY_LIMIT = 4096


class LoginBody(WireModel):
    email: Email


class SecretError(TrackerError):
    """The session secret is missing, short or cannot be read or written (refuse to start)."""


def load_secret(data_dir: Path) -> str:
    """``TRACKER_SESSION_SECRET``, else a random secret kept in the data folder (so that a
    restart does not sign everybody out).

    An empty or short secret would let anyone forge a cookie, so it refuses to start instead;
    a new one is written all or nothing (a full disk at first start leaves no empty file).
    """
    from_env = os.environ.get(SECRET_ENV, "").strip()
    if from_env:
        return _checked(from_env, SECRET_ENV)
    path = data_dir / SECRET_FILE
    for _ in range(2):
        if path.exists():
            try:
                return _checked(path.read_text(encoding="utf-8").strip(), str(path))
            except (OSError, UnicodeDecodeError) as exc:
                raise SecretError(f"{path}: cannot read the session secret ({exc})") from None
        secret = secrets.token_urlsafe(32)
        try:
            if write_new_private(path, secret):
                return secret
        except OSError as exc:
            raise SecretError(f"{path}: cannot write the session secret ({exc})") from None
    raise SecretError(f"{path}: the session secret vanished while starting")  # pragma: no cover


def _checked(secret: str, source: str) -> str:
    if len(secret) < MIN_SECRET_LENGTH:
        raise SecretError(
            f"{source}: the session secret is {'empty' if not secret else 'too short'} "
            f"({len(secret)} characters, at least {MIN_SECRET_LENGTH}); "
            "delete the file to have a new one made, or set a longer one"
        )
    return secret


class SessionAuth:
    def __init__(
        self,
        secret: str,
        *,
        max_age_s: int = 30 * 24 * 3600,
        allowed_origins: tuple[str, ...] = (),
    ) -> None:
        self._signer = URLSafeTimedSerializer(secret, salt="tracker-session")
        self.max_age_s = max_age_s
        self.allowed_origins = allowed_origins

    def get_email(self, request: Request) -> str | None:
        """The ``get_email`` hook: the email of a valid, unexpired session cookie."""
        token = request.cookies.get(COOKIE)
        if not token:
            return None
        try:
            email = self._signer.loads(token, max_age=self.max_age_s)
        except BadSignature:
            return None
        return normalize_email(email) if is_email(email) else None

    def cookie_for(self, email: str) -> str:
        return self._signer.dumps(normalize_email(email))

    async def login(self, request: Request) -> Response:
        body = validate(LoginBody, json_body(request))
        response = json_response(200, {"email": body.email})
        response.set_cookie(
            COOKIE,
            self.cookie_for(body.email),
            max_age=self.max_age_s,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/",
        )
        return response

    async def logout(self, request: Request) -> Response:
        response = Response(status_code=204)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")
        return response

    def app(self) -> Starlette:
        """``POST /login`` and ``POST /logout``, to mount at ``/auth``."""
        return Starlette(
            routes=[
                Route("/login", self.login, methods=["POST"]),
                Route("/logout", self.logout, methods=["POST"]),
            ],
            middleware=[
                Middleware(ErrorBoundary),
                # Every method: a foreign page must not sign a browser in or out (CSRF).
                Middleware(OriginGuard, allowed_origins=self.allowed_origins),
                Middleware(JsonBodies, limit=LOGIN_BODY_LIMIT, routes=[("POST", "/login")]),
            ],
            exception_handlers=dict(ERROR_HANDLERS),
        )
