"""A tiny sign-in for ``tracker serve`` and the demo: a signed session cookie holding an email.

There is no password: it exists so that a demo page can say who is learning. A real app keeps
its own sign-in and passes its own ``get_email(request)`` to ``TimebackServer``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..validation import WireModel, validate
from .app import api_endpoint
from .caliper import normalize_email
from .errors import json_response
from .guards import check_origin, read_json
from .identity import is_email
from .record import Email

COOKIE = "timeback_session"
SECRET_ENV = "TRACKER_SESSION_SECRET"
SECRET_FILE = "session-secret"


class LoginBody(WireModel):
    email: Email


def load_secret(data_dir: Path) -> str:
    """``TRACKER_SESSION_SECRET``, else a random secret kept in the data folder (so that a
    restart does not sign everybody out)."""
    from_env = os.environ.get(SECRET_ENV, "").strip()
    if from_env:
        return from_env
    path = data_dir / SECRET_FILE
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secret)
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
        check_origin(request, self.allowed_origins)
        body = validate(LoginBody, await read_json(request, 4096))
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
        check_origin(request, self.allowed_origins)
        response = Response(status_code=204)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")
        return response

    def routes(self, prefix: str = "/auth") -> list[Route]:
        return [
            Route(f"{prefix}/login", api_endpoint(self.login), methods=["POST"]),
            Route(f"{prefix}/logout", api_endpoint(self.logout), methods=["POST"]),
        ]
