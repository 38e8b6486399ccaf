"""Issue 10 / contract items 1-3: runs belong to one user, the subject tag, per-user limits.

Each test first plays the attack that worked before: student B's browser replays a window of
student A's run (a shared computer) and gets A's time credited to B.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac

import pytest

from tracker.server import Settings, SettingsError
from tracker.server.identity import SUBJECT_HEADER, subject_tag
from tracker.server.ratelimit import RateLimiter

from .conftest import USER, ServerFactory, client_for
from .helpers import new_run, submit_body, window

HEARTBEAT = "/activity/heartbeat"
SUBMIT = "/activity/submit"
OTHER = "other.student@example.com"
SECRET = "s" * 40


async def test_another_users_window_for_my_run_is_403_and_stores_nothing(
    make_server: ServerFactory,
) -> None:
    server = make_server()
    async with client_for(server) as a, client_for(server, OTHER) as b:
        assert (await a.post(HEARTBEAT, json=window(0))).status_code == 204
        before = server.store.row_counts()
        replayed = await b.post(HEARTBEAT, json=window(1))  # A's next window, under B
        assert replayed.status_code == 403
        error = replayed.json()["error"]
        assert error["code"] == "RUN_OWNED_BY_ANOTHER_USER"
        assert set(error) == {"code", "message", "details"}
        assert error["details"] == {"runId": window(1)["runId"]}
        completed = await b.post(SUBMIT, json=submit_body())
        assert completed.json()["error"]["code"] == "RUN_OWNED_BY_ANOTHER_USER"
        assert server.store.row_counts() == before
        assert server.store.events(user_email=OTHER) == []
        # The owner goes on as before.
        assert (await a.post(HEARTBEAT, json=window(1))).status_code == 204
        assert (await a.post(SUBMIT, json=submit_body())).status_code == 204
    await server.aclose()


async def test_two_users_racing_for_a_new_run_cannot_both_win(make_server: ServerFactory) -> None:
    server = make_server()
    run = new_run()
    async with client_for(server) as a, client_for(server, OTHER) as b:
        answers = await asyncio.gather(
            *(http.post(HEARTBEAT, json=window(i, run_id=run)) for i in range(6) for http in (a, b))
        )
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [204] * 6 + [403] * 6
    owners = {e["actor"]["email"] for e in server.store.events()}
    assert len(owners) == 1
    await server.aclose()


def _tag(email: str, secret: str = SECRET) -> str:
    digest = hmac.new(secret.encode(), email.strip().lower().encode(), hashlib.sha256)
    return digest.hexdigest()[:16]


async def test_every_answer_to_a_signed_in_user_carries_the_subject_tag(
    make_server: ServerFactory,
) -> None:
    server = make_server(subject_secret=SECRET)
    assert subject_tag(SECRET, USER) == _tag(USER)
    async with client_for(server) as a, client_for(server, OTHER) as b:
        answers = [
            await a.post(HEARTBEAT, json=window(0)),  # 204
            await a.post(HEARTBEAT, json=window(0)),  # 200 duplicate
            await a.post(HEARTBEAT, content=b"{", headers={"content-type": "application/json"}),
            await a.post(SUBMIT, json=submit_body()),
            await a.get("/user/verify"),
            await a.get("/user/me"),
        ]
        assert [r.status_code for r in answers] == [204, 200, 400, 204, 200, 200]
        for response in answers:
            assert response.headers[SUBJECT_HEADER] == _tag(USER), response.request.url
        owned = await b.post(HEARTBEAT, json=window(1))
        assert owned.status_code == 403
        assert owned.headers[SUBJECT_HEADER] == _tag(OTHER) != _tag(USER)
        foreign = await b.post(
            HEARTBEAT, json=window(1), headers={"origin": "https://evil.example"}
        )
        assert foreign.status_code == 403 and SUBJECT_HEADER not in foreign.headers
    async with client_for(server, user=None) as anonymous:
        nobody = await anonymous.post(HEARTBEAT, json=window(2))
        assert nobody.status_code == 401 and SUBJECT_HEADER not in nobody.headers
    await server.aclose()


async def test_the_subject_key_survives_a_restart(make_server: ServerFactory) -> None:
    """Without a configured secret the tag's key is kept next to the database: a kept window's
    tag still matches after the server restarts (otherwise it would wait forever)."""
    tags = []
    for _ in range(2):
        server = make_server()
        async with client_for(server) as http:
            tags.append((await http.get("/user/verify")).headers[SUBJECT_HEADER])
        await server.aclose()
        server.close()
    assert tags[0] == tags[1]


async def test_a_user_over_the_post_limit_gets_429_with_retry_after(
    make_server: ServerFactory,
) -> None:
    now = [1000.0]
    server = make_server(rate_limit_burst=3, rate_limit_per_minute=30, rate_clock=lambda: now[0])
    async with client_for(server) as a, client_for(server, OTHER) as b:
        for i in range(3):
            assert (await a.post(HEARTBEAT, json=window(i))).status_code == 204
        limited = await a.post(HEARTBEAT, json=window(3))
        assert limited.status_code == 429
        assert limited.headers["retry-after"] == "2"  # 30 a minute: one token every 2 s
        assert limited.json()["error"]["code"] == "RATE_LIMITED"
        assert limited.headers[SUBJECT_HEADER]
        assert (await a.post(SUBMIT, json=submit_body())).status_code == 429
        assert (await a.get("/user/me")).status_code == 200  # reads are not limited
        # Another user has a bucket of their own.
        assert (await b.post(HEARTBEAT, json=window(0, run_id=new_run()))).status_code == 204
        now[0] += 2.0
        assert (await a.post(HEARTBEAT, json=window(3))).status_code == 204
        assert (await a.post(HEARTBEAT, json=window(4))).status_code == 429
    assert len(server.store.events(user_email=USER.lower())) == 4
    await server.aclose()


def test_the_limiter_forgets_full_buckets_and_can_be_off() -> None:
    now = [0.0]
    limiter = RateLimiter(burst=2, per_minute=60, clock=lambda: now[0])
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 1.0]
    off = RateLimiter(burst=0, per_minute=60)
    assert all(off.take("a") == 0 for _ in range(1000))


def test_rate_limit_settings_from_the_environment(config_file: object) -> None:
    env = {
        "TRACKER_CONFIG": str(config_file),
        "TRACKER_RATE_LIMIT_BURST": "10",
        "TRACKER_RATE_LIMIT_PER_MINUTE": "12.5",
    }
    settings = Settings.from_env(env)
    assert (settings.rate_limit_burst, settings.rate_limit_per_minute) == (10, 12.5)
    with pytest.raises(SettingsError, match="TRACKER_RATE_LIMIT_BURST"):
        Settings.from_env({**env, "TRACKER_RATE_LIMIT_BURST": "many"})
    with pytest.raises(SettingsError, match="rate_limit_per_minute"):
        Settings.from_env({**env, "TRACKER_RATE_LIMIT_PER_MINUTE": "-1"})


async def test_heartbeat_answers_say_the_dedupe_is_lasting(make_server: ServerFactory) -> None:
    """Contract item 4: without the header the tracker drops kept windows older than 5 min."""
    server = make_server()
    async with client_for(server) as http:
        first = await http.post(HEARTBEAT, json=window(0))
        again = await http.post(HEARTBEAT, json=window(0))
    assert (first.status_code, again.status_code) == (204, 200)
    assert first.headers["x-tracker-dedupe"] == again.headers["x-tracker-dedupe"] == "lasting"
    await server.aclose()


def test_subject_tags_are_remembered_per_user_within_a_bound_issue_12(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tracker.server import identity

    monkeypatch.setattr(identity, "SUBJECT_CACHE_SIZE", 3)
    resolver = identity.Identity(identity.no_identity, subject_secret=SECRET)
    users = [f"u{i}@example.com" for i in range(5)]
    for user in users + users:
        assert resolver.subject(user) == subject_tag(SECRET, user)
        assert len(resolver._tags) <= 3
