"""The Django recipe of docs/server.md: the tracker's routes beside a Django project, the
identity from Django's own session (a real Django, a real session, a real user)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings
from django.http import HttpRequest, HttpResponse
from django.urls import path

from tracker.server.django import django_session_email
from tracker.server.mount import PrefixRouter

from .conftest import ServerFactory
from .helpers import heartbeat_body

HEARTBEAT = "/api/timeback/activity/heartbeat"
EMAIL = "ada@school.example"


def lesson_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"lesson for {request.user}")


urlpatterns = [path("lesson/", lesson_view)]


@pytest.fixture(scope="module")
def django_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A configured Django with auth and sessions on an SQLite file, and its ASGI app."""
    import django as django_module
    from django.core.asgi import get_asgi_application
    from django.core.management import call_command

    if not django_settings.configured:
        django_settings.configure(
            SECRET_KEY="django-test-key-" + "x" * 40,
            ALLOWED_HOSTS=["app.test"],
            INSTALLED_APPS=[
                "django.contrib.auth",
                "django.contrib.contenttypes",
                "django.contrib.sessions",
            ],
            MIDDLEWARE=[
                "django.contrib.sessions.middleware.SessionMiddleware",
                "django.contrib.auth.middleware.AuthenticationMiddleware",
            ],
            DATABASES={
                "default": {
                    "ENGINE": "django.db.backends.sqlite3",
                    "NAME": str(tmp_path_factory.mktemp("django") / "db.sqlite3"),
                }
            },
            ROOT_URLCONF=__name__,
            USE_TZ=True,
        )
    django_module.setup()
    call_command("migrate", verbosity=0)
    yield get_asgi_application()


def _session_cookie(email: str, *, active: bool = True) -> dict[str, str]:
    from django.contrib.auth import get_user_model
    from django.test import Client

    user = get_user_model().objects.create_user(
        username=email, email=email, password="pw-" + email, is_active=active
    )
    client = Client()
    client.force_login(user)
    return {
        django_settings.SESSION_COOKIE_NAME: client.cookies[
            django_settings.SESSION_COOKIE_NAME
        ].value
    }


async def test_heartbeat_beside_django_is_credited_to_the_django_user(
    django_project: Any, make_server: ServerFactory
) -> None:
    server = make_server(get_email=django_session_email)
    app = PrefixRouter({"/api/timeback": server.app}, default=django_project)
    cookies = await sync_to_async(_session_cookie)(EMAIL)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://app.test", cookies=cookies
    ) as http:
        answer = await http.post(HEARTBEAT, json=heartbeat_body())
        assert answer.status_code == 204, answer.text
        # Everything else is Django's, with its own session and user.
        page = await http.get("/lesson/")
        assert page.status_code == 200
        assert page.text == f"lesson for {EMAIL}"
    [event] = server.store.events()
    assert event["actor"]["email"] == EMAIL
    await server.aclose()


async def test_without_a_django_session_the_routes_answer_401(
    django_project: Any, make_server: ServerFactory
) -> None:
    server = make_server(get_email=django_session_email)
    app = PrefixRouter({"/api/timeback": server.app}, default=django_project)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://app.test"
    ) as http:
        assert (await http.post(HEARTBEAT, json=heartbeat_body())).status_code == 401
        http.cookies.set(django_settings.SESSION_COOKIE_NAME, "not-a-session")
        assert (await http.post(HEARTBEAT, json=heartbeat_body())).status_code == 401
    assert server.store.events() == []
    await server.aclose()


async def test_an_inactive_django_user_is_nobody(
    django_project: Any, make_server: ServerFactory
) -> None:
    server = make_server(get_email=django_session_email)
    app = PrefixRouter({"/api/timeback": server.app}, default=django_project)
    cookies = await sync_to_async(_session_cookie)("gone@school.example", active=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://app.test", cookies=cookies
    ) as http:
        assert (await http.post(HEARTBEAT, json=heartbeat_body())).status_code == 401
    await server.aclose()


def test_prefix_router_refuses_an_ambiguous_prefix() -> None:
    with pytest.raises(ValueError, match="must start and not end with '/'"):
        PrefixRouter({"/api/timeback/": object()}, default=object())  # type: ignore[dict-item, arg-type]
