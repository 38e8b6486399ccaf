"""Small parts on their own: event builders, Retry-After, the token cache, mounting."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from tracker.config import parse_config
from tracker.server import TimebackServer
from tracker.server.caliper import (
    ActivityContext,
    Actor,
    actor_iri,
    completed_event,
    envelope,
    seconds,
    time_spent_event,
)
from tracker.server.guards import same_host
from tracker.server.oauth import TokenSource
from tracker.server.outbox import retry_after_s
from tracker.server.pipeline import computed_pct

from .conftest import ServerFactory
from .helpers import CONFIG, RUN_ID, heartbeat_body


def context() -> ActivityContext:
    config = parse_config(json.loads(json.dumps(CONFIG)))
    course = config.courses[0]
    return ActivityContext.resolve(config, course, env="production", slug="a b", name="A B")


def test_seconds_and_actor_iri() -> None:
    assert seconds(14200) == 14.2
    assert seconds(15000) == 15
    assert isinstance(seconds(15000), int)
    assert seconds(1) == 0.001
    assert actor_iri(" Student@Example.COM ") == "mailto:student@example.com"
    assert actor_iri("o'neil+maths@example.com") == "mailto:o'neil+maths@example.com"
    assert actor_iri("a b@example.com") == "mailto:a%20b@example.com"


def test_event_builders() -> None:
    ctx = context()
    assert ctx.activity_url == "https://app.example.com/sensors/math/activities/Math/g3/a%20b"
    spent = time_spent_event(
        Actor("s@example.com"), ctx, run_id=RUN_ID, ended_at_ms=0, active_ms=0, inactive_ms=0
    )
    assert spent["generated"]["items"] == [{"type": "active", "value": 0}]
    assert spent["eventTime"] == "1970-01-01T00:00:00.000Z"
    done = completed_event(
        Actor("s@example.com", "tb-1"),
        ctx,
        run_id=RUN_ID,
        ended_at_ms=0,
        xp_earned=2.5,
        total_questions=None,
        correct_questions=None,
        mastered_units=0,
        attempt=4,
        pct_complete=None,
    )
    assert done["generated"]["items"] == [
        {"type": "xpEarned", "value": 2.5},
        {"type": "masteredUnits", "value": 0},
    ]
    assert done["generated"]["attempt"] == 4
    assert done["actor"]["timebackId"] == "tb-1"
    assert spent["id"] != done["id"]
    wrapped = envelope(ctx.sensor, [spent, done], 1769508000123)
    assert wrapped == {
        "sensor": "https://app.example.com/sensors/math",
        "sendTime": "2026-01-27T10:00:00.123Z",
        "dataVersion": "http://purl.imsglobal.org/ctx/caliper/v1p2",
        "data": [spent, done],
    }


def test_progress_rounding() -> None:
    # As the official SDK: Python's round() on the float percentage, halves to even.
    assert computed_pct(1, 8) == 12  # 12.5 -> 12
    assert computed_pct(3, 8) == 38  # 37.5 -> 38
    assert computed_pct(5, 8) == 62  # 62.5 -> 62
    assert computed_pct(7, 200) == 4  # 7/200*100 is 3.5000000000000004 in floats, as there
    assert computed_pct(1, 3) == 33
    assert computed_pct(2, 3) == 67
    assert computed_pct(0, 5) == 0
    assert computed_pct(50, 8) == 100


def test_retry_after() -> None:
    assert retry_after_s("3") == 3.0
    assert retry_after_s(None) is None
    assert retry_after_s("soon") is None
    assert retry_after_s("999999") == 3600.0
    now = datetime(2026, 1, 27, 10, 0, 0, tzinfo=UTC).timestamp()
    later = format_datetime(datetime(2026, 1, 27, 10, 0, 30, tzinfo=UTC), usegmt=True)
    assert retry_after_s(later, now=now) == 30.0
    earlier = format_datetime(datetime(2026, 1, 27, 9, 0, 0, tzinfo=UTC), usegmt=True)
    assert retry_after_s(earlier, now=now) == 0.0


def test_same_host() -> None:
    assert same_host("https://app.example.com", "app.example.com")
    assert same_host("https://app.example.com", "app.example.com:443")
    assert same_host("http://127.0.0.1:8000", "127.0.0.1:8000")
    assert not same_host("http://127.0.0.1:8001", "127.0.0.1:8000")
    assert not same_host("https://app.example.com.evil.test", "app.example.com")
    assert not same_host("https://app.example.com:x", "app.example.com")
    assert not same_host("file://", "app.example.com")
    assert not same_host("https://app.example.com", None)


async def test_token_is_cached_until_shortly_before_expiry() -> None:
    now = [1000.0]
    issued: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"].startswith("Basic ")
        assert request.content == b"grant_type=client_credentials"
        issued.append(f"t{len(issued)}")
        return httpx.Response(200, json={"access_token": issued[-1], "expires_in": 100})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        tokens = TokenSource(
            client, "http://127.0.0.1:9/token", "id", "secret", clock=lambda: now[0]
        )
        assert await tokens.get() == "t0"
        now[0] += 85  # before 90 % of the lifetime
        assert await tokens.get() == "t0"
        now[0] += 6  # past it: renewed before the token expires
        assert await tokens.get() == "t1"
        tokens.drop()
        assert await tokens.get() == "t2"


async def test_mounted_in_a_users_app(make_server: ServerFactory) -> None:
    """A user's app mounts the API and supplies its own identity and lifespan."""

    def from_session(request: Request) -> str | None:
        return request.headers.get("x-session-user")

    server: TimebackServer = make_server(get_email=from_session)

    async def home(request: Request) -> PlainTextResponse:
        return PlainTextResponse("home")

    app = Starlette(
        routes=[Route("/", home), Mount("/api/timeback", app=server.app)],
        lifespan=server.lifespan,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://lessons.test") as http:
        response = await http.post(
            "/api/timeback/activity/heartbeat",
            json=heartbeat_body(),
            headers={"x-session-user": "kid@example.com", "origin": "https://lessons.test"},
        )
        assert response.status_code == 204
        missing = await http.get("/api/timeback/nope")
        assert missing.json()["error"]["code"] == "NOT_FOUND"
        assert (await http.get("/")).text == "home"
    assert server.store.events()[0]["actor"]["email"] == "kid@example.com"
