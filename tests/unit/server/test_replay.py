"""Issue 10: a kept window that names nobody (X-Tracker-Replay: untagged).

A window made before its page's first answer (the embed's boot window, the first heartbeat)
carries no identity tag. Replayed by a later page on a shared computer, it must not credit
whoever is signed in then: it is stored only into a run that exists and is the caller's.
"""

from __future__ import annotations

from .conftest import USER, ServerFactory, client_for
from .helpers import new_run, window

HEARTBEAT = "/activity/heartbeat"
OTHER = "other.student@example.com"
REPLAY = {"X-Tracker-Replay": "untagged"}


async def test_a_replay_into_an_unknown_run_is_403_unverified_and_stores_nothing(
    make_server: ServerFactory,
) -> None:
    """The attack: A's boot window (its run never reached the server) replayed under B."""
    server = make_server()
    run = new_run()
    async with client_for(server, OTHER) as b:
        before = server.store.row_counts()
        answer = await b.post(HEARTBEAT, json=window(0, run_id=run), headers=REPLAY)
        assert answer.status_code == 403
        error = answer.json()["error"]
        assert error["code"] == "UNVERIFIED_REPLAY"
        assert error["details"] == {"runId": run}
        assert server.store.row_counts() == before
        assert server.store.events(user_email=OTHER) == []
    await server.aclose()


async def test_a_replay_into_another_users_run_is_403_owned(make_server: ServerFactory) -> None:
    server = make_server()
    run = new_run()
    async with client_for(server) as a, client_for(server, OTHER) as b:
        assert (await a.post(HEARTBEAT, json=window(0, run_id=run))).status_code == 204
        before = server.store.row_counts()
        answer = await b.post(HEARTBEAT, json=window(1, run_id=run), headers=REPLAY)
        assert answer.status_code == 403
        assert answer.json()["error"]["code"] == "RUN_OWNED_BY_ANOTHER_USER"
        assert server.store.row_counts() == before
    await server.aclose()


async def test_a_replay_into_the_callers_own_run_is_stored_once(make_server: ServerFactory) -> None:
    server = make_server()
    run = new_run()
    async with client_for(server) as a:
        assert (await a.post(HEARTBEAT, json=window(0, run_id=run))).status_code == 204
        first = await a.post(HEARTBEAT, json=window(1, run_id=run), headers=REPLAY)
        assert first.status_code == 204
        again = await a.post(HEARTBEAT, json=window(1, run_id=run), headers=REPLAY)
        assert again.status_code == 200 and again.json() == {"duplicate": True}
    assert len(server.store.events(user_email=USER.lower())) == 2
    await server.aclose()


async def test_without_the_header_a_new_run_is_taken_as_before(make_server: ServerFactory) -> None:
    server = make_server()
    async with client_for(server, OTHER) as b:
        answer = await b.post(HEARTBEAT, json=window(0, run_id=new_run()))
        assert answer.status_code == 204
    await server.aclose()


async def test_an_unknown_replay_value_is_400_naming_the_header(
    make_server: ServerFactory,
) -> None:
    server = make_server()
    async with client_for(server) as a:
        before = server.store.row_counts()
        answer = await a.post(HEARTBEAT, json=window(0), headers={"X-Tracker-Replay": "yes"})
        assert answer.status_code == 400
        error = answer.json()["error"]
        assert error["code"] == "INVALID_PAYLOAD"
        assert error["details"]["field"] == "X-Tracker-Replay"
        assert server.store.row_counts() == before
    await server.aclose()


async def test_another_origin_may_send_the_replay_header(make_server: ServerFactory) -> None:
    """CORS: a preflight that asks for X-Tracker-Replay is allowed for an allowed origin."""
    lessons = "http://lessons.test"
    server = make_server(allowed_origins=(lessons,))
    async with client_for(server, USER, origin=lessons) as http:
        preflight = await http.options(
            HEARTBEAT,
            headers={
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type, x-tracker-replay",
            },
        )
        assert preflight.status_code == 200
        allowed = preflight.headers["access-control-allow-headers"].lower()
        assert "x-tracker-replay" in {name.strip() for name in allowed.split(",")}
    await server.aclose()
