"""Identity from a Django project's session, for ``TimebackServer(get_email=...)``.

The tracker's routes run beside Django (see ``PrefixRouter``), not inside it, so they read
Django's session cookie themselves and ask Django's own ``auth.get_user`` for the user: the
session engine, the auth backends and the session-hash check after a password change are
all Django's, exactly as in a Django view.
"""

from __future__ import annotations

from importlib import import_module

from starlette.requests import Request


def _email_for_session(session_key: str) -> str | None:
    from django.conf import settings
    from django.contrib.auth import get_user
    from django.http import HttpRequest

    engine = import_module(settings.SESSION_ENGINE)
    request = HttpRequest()
    request.session = engine.SessionStore(session_key=session_key)
    user = get_user(request)
    if not user.is_authenticated or not user.is_active:
        return None
    email = getattr(user, user.get_email_field_name(), None)
    return str(email) if email else None


async def django_session_email(request: Request) -> str | None:
    """The signed-in Django user's email, or None (the route then answers 401)."""
    from asgiref.sync import sync_to_async
    from django.conf import settings

    session_key = request.cookies.get(settings.SESSION_COOKIE_NAME)
    if not session_key:
        return None
    # Django's ORM is synchronous: run it where Django runs its sync code.
    return await sync_to_async(_email_for_session, thread_sensitive=True)(session_key)
