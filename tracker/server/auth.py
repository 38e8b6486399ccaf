"""The demo sign-in: a signed session cookie holding an email (``tracker demo``, --demo-login).

There is no password: it exists so that a demo page can say who is learning, and anyone who
reaches it can be any student, so ``tracker serve`` mounts it only with ``--demo-login``. A
real app keeps its own sign-in (site_identity.py: a proxy header, a token, a callback).

The cookie is HttpOnly, SameSite=Lax and Secure when the browser used HTTPS. Each cookie names
a random session id; logout records it in ``sessions.sqlite3`` of the data folder, so a copy
of the cookie is refused after sign-out (until it would have expired anyway), in every process.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
from .forwarded import is_https
from .guards import JsonBodies, OriginGuard, json_body
from .identity import is_email
from .private_files import create_private, write_new_private
from .record import Email

COOKIE = "timeback_session"
SECRET_ENV = "TRACKER_SESSION_SECRET"
SECRET_FILE = "session-secret"
REVOCATIONS_FILE = "sessions.sqlite3"
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


class Revocations:
    """Session ids signed out before their cookie expires: a small SQLite file, 0600."""

    def __init__(self, path: Path) -> None:
        create_private(path)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA busy_timeout=5000")
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS revoked"
                " (sid TEXT PRIMARY KEY, expires_at_s REAL NOT NULL)"
            )

    def revoke(self, sid: str, expires_at_s: float, now_s: float) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR IGNORE INTO revoked (sid, expires_at_s) VALUES (?, ?)",
                (sid, expires_at_s),
            )
            # Expired cookies are refused by their signature's age: forget them.
            self._conn.execute("DELETE FROM revoked WHERE expires_at_s < ?", (now_s,))

    def is_revoked(self, sid: str) -> bool:
        with self._lock:
            row = self._conn.execute("SELECT 1 FROM revoked WHERE sid = ?", (sid,)).fetchone()
        return row is not None

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class SessionAuth:
    def __init__(
        self,
        secret: str,
        *,
        revocations: Revocations | None = None,
        max_age_s: int = 30 * 24 * 3600,
        allowed_origins: tuple[str, ...] = (),
        trusted_proxies: tuple[str, ...] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._signer = URLSafeTimedSerializer(secret, salt="tracker-session")
        self.revocations = revocations
        self.max_age_s = max_age_s
        self.allowed_origins = allowed_origins
        self.trusted_proxies = trusted_proxies
        self._clock = clock

    def _session(self, request: Request) -> tuple[str, str, float] | None:
        """(email, session id, signed at) of a valid, unexpired, not revoked cookie."""
        token = request.cookies.get(COOKIE)
        if not token:
            return None
        try:
            data, signed_at = self._signer.loads(
                token, max_age=self.max_age_s, return_timestamp=True
            )
        except BadSignature:
            return None
        # A cookie of before sessions had ids cannot be revoked: it is no longer accepted.
        if not isinstance(data, dict):
            return None
        email, sid = data.get("e"), data.get("s")
        if not isinstance(email, str) or not is_email(email) or not isinstance(sid, str) or not sid:
            return None
        if self.revocations is not None and self.revocations.is_revoked(sid):
            return None
        return normalize_email(email), sid, signed_at.timestamp()

    def get_email(self, request: Request) -> str | None:
        """The ``get_email`` hook: the email of a valid session cookie."""
        session = self._session(request)
        return None if session is None else session[0]

    def cookie_for(self, email: str) -> str:
        payload: dict[str, Any] = {"e": normalize_email(email), "s": secrets.token_urlsafe(16)}
        return self._signer.dumps(payload)

    async def login(self, request: Request) -> Response:
        body = validate(LoginBody, json_body(request))
        response = json_response(200, {"email": body.email})
        response.set_cookie(
            COOKIE,
            self.cookie_for(body.email),
            max_age=self.max_age_s,
            httponly=True,
            samesite="lax",
            secure=is_https(request, self.trusted_proxies),
            path="/",
        )
        return response

    async def logout(self, request: Request) -> Response:
        session = self._session(request)
        if session is not None and self.revocations is not None:
            _, sid, signed_at = session
            self.revocations.revoke(sid, signed_at + self.max_age_s, self._clock())
        response = Response(status_code=204)
        response.delete_cookie(
            COOKIE,
            path="/",
            httponly=True,
            samesite="lax",
            secure=is_https(request, self.trusted_proxies),
        )
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
