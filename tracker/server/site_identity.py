"""Who a request of ``tracker serve`` is from: the operator's choice (``identity`` setting).

none          nobody: the API answers 401 until one of the others is chosen (default)
proxy-header  a reverse proxy that signs users in sets ``identity_header`` (default
              X-Forwarded-Email); believed only from ``trusted_proxies``
jwt           an HS256 token signed with ``jwt_key``: ``Authorization: Bearer`` or the
              cookie ``jwt_cookie``; checks exp, nbf, and aud/iss when configured
callback      ``get_email_hook`` = "package.module:function", the app's own get_email
demo-login    the passwordless demo sign-in (/auth/login): ``tracker demo``, or
              ``tracker serve --demo-login``; never by accident
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request

from .auth import REVOCATIONS_FILE, Revocations, SessionAuth
from .forwarded import peer_is_trusted
from .identity import GetEmail, is_email, no_identity
from .settings import Settings, SettingsError
from .tokens import TokenInvalidError, verify_hs256

log = logging.getLogger("tracker.server")


class ProxyHeaderIdentity:
    """The email a trusted reverse proxy put in a header; the header from anyone else is
    ignored (a student could type it)."""

    def __init__(self, header: str, trusted_proxies: tuple[str, ...]) -> None:
        self.header = header
        self.trusted_proxies = trusted_proxies

    def __call__(self, request: Request) -> str | None:
        value = request.headers.get(self.header)
        if value is None:
            return None
        if not peer_is_trusted(request, self.trusted_proxies):
            log.warning("ignored %s from untrusted peer %s", self.header, request.client)
            return None
        return value.strip() or None


class JwtIdentity:
    """The email claim of a valid HS256 token (bearer header first, then the cookie)."""

    def __init__(
        self,
        key: str,
        *,
        cookie: str | None,
        audience: tuple[str, ...],
        issuer: str | None,
        email_claim: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = key
        self.cookie = cookie
        self.audience = audience
        self.issuer = issuer
        self.email_claim = email_claim
        self._clock = clock

    def _token(self, request: Request) -> str | None:
        auth = request.headers.get("authorization", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        if self.cookie:
            return request.cookies.get(self.cookie) or None
        return None

    def __call__(self, request: Request) -> str | None:
        token = self._token(request)
        if token is None:
            return None
        try:
            claims = verify_hs256(
                token, self._key, now_s=self._clock(), audience=self.audience, issuer=self.issuer
            )
        except TokenInvalidError as exc:
            log.info("refused a token: %s", exc)
            return None
        email = claims.get(self.email_claim)
        return email if is_email(email) else None


def load_callback(path: str) -> GetEmail:
    """``package.module:function`` -> the function; SettingsError naming what is missing."""
    module_name, _, attr = path.partition(":")
    try:
        target: object = importlib.import_module(module_name)
    except ImportError as exc:
        raise SettingsError(f"get_email_hook (TRACKER_GET_EMAIL): cannot import {exc}") from None
    for part in attr.split("."):
        target = getattr(target, part, None)
    if not callable(target):
        raise SettingsError(f"get_email_hook (TRACKER_GET_EMAIL): {path} is not a function")
    hook: GetEmail = target
    return hook


@dataclass
class SiteIdentity:
    """The hook every part of the site uses, and the demo sign-in when it is on."""

    get_email: GetEmail
    session: SessionAuth | None = None

    def close(self) -> None:
        if self.session is not None and self.session.revocations is not None:
            self.session.revocations.close()


def choose_identity(
    settings: Settings, *, demo_login: bool, secret: str, data: Path
) -> SiteIdentity:
    """The identity the operator chose; ``demo_login`` is ``tracker demo`` or --demo-login."""
    chosen = settings.identity
    if demo_login:
        if chosen not in ("none", "demo-login"):
            raise SettingsError(
                f"--demo-login and identity (TRACKER_IDENTITY) {chosen!r}: choose one"
            )
        chosen = "demo-login"
    if chosen == "demo-login":
        session = SessionAuth(
            secret,
            revocations=Revocations(data / REVOCATIONS_FILE),
            allowed_origins=settings.allowed_origins,
            trusted_proxies=settings.trusted_proxies,
        )
        return SiteIdentity(session.get_email, session)
    if chosen == "proxy-header":
        return SiteIdentity(ProxyHeaderIdentity(settings.identity_header, settings.trusted_proxies))
    if chosen == "jwt":
        assert settings.jwt_key is not None  # Settings.checked()
        return SiteIdentity(
            JwtIdentity(
                settings.jwt_key,
                cookie=settings.jwt_cookie,
                audience=settings.jwt_audience,
                issuer=settings.jwt_issuer,
                email_claim=settings.jwt_email_claim,
            )
        )
    if chosen == "callback":
        assert settings.get_email_hook is not None
        return SiteIdentity(load_callback(settings.get_email_hook))
    return SiteIdentity(no_identity)
