"""Issue 10, "counted time never exceeds wall time": each attack first, then the rule.

Windows are counted per user over the union of their spans (active <= span); windows in the
future or absurdly old are refused; observed minutes (the basis of ``cap``) come only from the
ledger, never from a browser submit's self-reported ``time``; a run's units count once.
"""

from __future__ import annotations

from typing import Any

import httpx

from tracker.server import TimebackServer
from tracker.server.ledger import uncovered_ms
from tracker.timefmt import iso_from_epoch_ms

from .conftest import NOW_MS, ServerFactory, client_for
from .helpers import heartbeat_body, new_run, submit_body

HEARTBEAT = "/activity/heartbeat"
SUBMIT = "/activity/submit"
BASE = NOW_MS - 3_600_000  # an hour ago: neither future nor old


def span(start: int, length: int, active: int, run_id: str) -> dict[str, Any]:
    return heartbeat_body(
        runId=run_id,
        startedAt=iso_from_epoch_ms(start),
        endedAt=iso_from_epoch_ms(start + length),
        elapsedMs=active,
        pausedMs=max(0, length - active),
    )


def counted_ms(server: TimebackServer) -> int:
    return int(
        server.store.read(lambda tx: tx.one("SELECT SUM(counted_ms) FROM time_ledger")[0]) or 0
    )


def credited(server: TimebackServer) -> list[float]:
    return server.store.read(
        lambda tx: [row[0] for row in tx.all("SELECT credited FROM xp_ledger ORDER BY id")]
    )


async def test_overlapping_windows_count_once_issue_10(
    server: TimebackServer, client: httpx.AsyncClient
) -> None:
    """60 windows of 15 s, startedAt 1 s apart (75 s of wall time) once counted 15 minutes."""
    run = new_run()
    for i in range(60):
        response = await client.post(HEARTBEAT, json=span(BASE + i * 1000, 15_000, 15_000, run))
        assert response.status_code == 204
    assert counted_ms(server) <= 75_000
    me = (await client.get("/user/me")).json()
    assert me["activeMinutes"]["allTime"] <= 1.25


async def test_windows_arriving_out_of_order_still_count_the_union_issue_10(
    server: TimebackServer, client: httpx.AsyncClient
) -> None:
    """Whatever the order (a kept window resent later), overlaps count once; gaps still count."""
    run = new_run()
    for start in (BASE + 30_000, BASE, BASE + 10_000, BASE + 60_000):
        assert (await client.post(HEARTBEAT, json=span(start, 20_000, 20_000, run))).status_code
    # union: [0, 50 s) and [60 s, 80 s) = 70 s
    assert counted_ms(server) == 70_000


async def test_other_users_windows_do_not_clip_mine_issue_10(
    server: TimebackServer, client: httpx.AsyncClient
) -> None:
    from .conftest import client_for

    await client.post(HEARTBEAT, json=span(BASE, 15_000, 15_000, new_run()))
    async with client_for(server, "other@example.com") as other:
        await other.post(HEARTBEAT, json=span(BASE, 15_000, 15_000, new_run()))
    assert counted_ms(server) == 30_000


async def test_24_hour_window_counts_at_most_its_span_issue_10(
    server: TimebackServer, client: httpx.AsyncClient
) -> None:
    """A window claiming 24 h of elapsedMs once counted 1,440 minutes."""
    day = 24 * 3_600_000
    body = span(BASE, 15_000, 15_000, new_run())
    body["elapsedMs"] = day
    assert (await client.post(HEARTBEAT, json=body)).status_code == 204
    assert counted_ms(server) == 15_000
    me = (await client.get("/user/me")).json()
    assert me["activeMinutes"]["allTime"] == 0.25


async def test_future_window_is_refused_naming_the_field_issue_10(
    server: TimebackServer, client: httpx.AsyncClient
) -> None:
    """A window 10 years ahead was taken; more than 5 minutes ahead is now 400."""
    ahead = NOW_MS + 10 * 365 * 86_400_000
    response = await client.post(HEARTBEAT, json=span(ahead, 15_000, 15_000, new_run()))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "INVALID_PAYLOAD"
    assert error["details"]["field"] == "startedAt"
    ends_ahead = span(NOW_MS - 5_000, 6 * 60_000, 15_000, new_run())
    response = await client.post(HEARTBEAT, json=ends_ahead)
    assert response.json()["error"]["details"]["field"] == "endedAt"
    # Within the skew allowance (a client clock a little fast): accepted.
    skewed = span(NOW_MS + 60_000, 15_000, 15_000, new_run())
    assert (await client.post(HEARTBEAT, json=skewed)).status_code == 204
    assert server.store.row_counts()["time_ledger"] == 1


async def test_absurdly_old_window_and_completion_are_refused_issue_10(
    server: TimebackServer, client: httpx.AsyncClient
) -> None:
    old = NOW_MS - 31 * 86_400_000
    response = await client.post(HEARTBEAT, json=span(old, 15_000, 15_000, new_run()))
    assert response.status_code == 400
    assert response.json()["error"]["details"]["field"] == "startedAt"
    response = await client.post(SUBMIT, json=submit_body(endedAt=iso_from_epoch_ms(old)))
    assert response.json()["error"]["details"]["field"] == "endedAt"
    future = iso_from_epoch_ms(NOW_MS + 86_400_000)
    response = await client.post(SUBMIT, json=submit_body(endedAt=future))
    assert response.json()["error"]["details"]["field"] == "endedAt"
    assert server.store.row_counts()["time_ledger"] == 0
    assert server.store.row_counts()["gradebook"] == 0


async def test_self_reported_submit_time_does_not_raise_the_cap_issue_10(
    make_server: ServerFactory,
) -> None:
    """time.activeMs 2^53-1 in a browser submit once lifted the cap: 150,119,987,581 XP."""
    server = make_server(xp_policy="cap")  # accept is the default since issue 9
    async with client_for(server) as client:
        await _self_reported_time(server, client)


async def _self_reported_time(server: TimebackServer, client: httpx.AsyncClient) -> None:
    run = new_run()
    assert (await client.post(HEARTBEAT, json=span(BASE, 15_000, 15_000, run))).status_code
    body = submit_body(
        runId=run,
        endedAt=iso_from_epoch_ms(BASE + 20_000),
        metrics={"xpEarned": 10**12},
        time={"activeMs": 2**53 - 1},
    )
    assert (await client.post(SUBMIT, json=body)).status_code == 204
    # ceil(15 s) = 1 minute + 1 XP tolerance
    assert credited(server) == [2.0]
    me = (await client.get("/user/me")).json()
    assert me["activeMinutes"]["allTime"] == 0.25


async def test_no_time_on_record_caps_xp_to_zero_minutes_issue_10(
    make_server: ServerFactory,
) -> None:
    """With no time on record, a browser submit's XP was uncapped."""
    server = make_server(xp_policy="cap")
    body = submit_body(runId=new_run(), metrics={"xpEarned": 500})
    async with client_for(server) as client:
        assert (await client.post(SUBMIT, json=body)).status_code == 204
    assert credited(server) == [server.settings.xp_tolerance]


async def test_backend_record_stays_trusted_issue_10(server: TimebackServer) -> None:
    """record() from the backend: its time counts, and without time its XP is not held."""
    user = {"email": "student@example.com"}
    activity = {"id": "lesson", "name": "Lesson", "course": {"code": "MATH-3"}}
    await server.activity.record(user=user, activity=activity, metrics={"xpEarned": 40})
    await server.activity.record(
        user=user, activity=activity, metrics={"xpEarned": 30}, time={"activeMs": 30 * 60_000}
    )
    assert credited(server) == [40.0, 30.0]
    assert counted_ms(server) == 30 * 60_000


async def test_repeated_completions_of_a_run_do_not_stack_mastered_units_issue_10(
    server: TimebackServer, client: httpx.AsyncClient
) -> None:
    """Repeated completions of one run (new endedAt each) once stacked masteredUnits to 100 %."""
    run = new_run()
    for i in range(10):
        body = submit_body(
            runId=run,
            endedAt=iso_from_epoch_ms(BASE + i * 1000),
            metrics={"xpEarned": 0, "masteredUnits": 2},
        )
        assert (await client.post(SUBMIT, json=body)).status_code == 204
    me = (await client.get("/user/me")).json()
    math = next(c for c in me["courses"] if c["code"] == "MATH-3")
    assert math["masteredUnits"] == 2
    assert math["pctComplete"] == 25
    assert math["completed"] is False


async def test_negative_correction_does_not_restore_a_runs_allowance_issue_10(
    make_server: ServerFactory,
) -> None:
    server = make_server(xp_policy="cap")
    async with client_for(server) as client:
        await _correction_then_claim(client)
    assert credited(server) == [2.0, -100.0, 0.0]


async def _correction_then_claim(client: httpx.AsyncClient) -> None:
    run = new_run()
    await client.post(HEARTBEAT, json=span(BASE, 60_000, 60_000, run))  # 1 minute: 2 XP allowed
    first = submit_body(runId=run, endedAt=iso_from_epoch_ms(BASE + 61_000))
    await client.post(SUBMIT, json={**first, "metrics": {"xpEarned": 2}})
    correction = {**first, "endedAt": iso_from_epoch_ms(BASE + 62_000)}
    await client.post(SUBMIT, json={**correction, "metrics": {"xpEarned": -100}})
    again = {**first, "endedAt": iso_from_epoch_ms(BASE + 63_000)}
    await client.post(SUBMIT, json={**again, "metrics": {"xpEarned": 50}})


def test_uncovered_ms_is_the_free_part_of_the_span() -> None:
    assert uncovered_ms(0, 100, []) == 100
    assert uncovered_ms(0, 100, [(10, 20), (15, 30), (90, 200)]) == 70
    assert uncovered_ms(0, 100, [(-50, 150)]) == 0
    assert uncovered_ms(50, 60, [(0, 10)]) == 10
    # Spans wholly after the window, or empty ones, cover nothing and never add free time.
    assert uncovered_ms(0, 100, [(200, 300)]) == 100
    assert uncovered_ms(0, 100, [(40, 40), (120, 110)]) == 100


def test_rows_stored_before_v2_count_at_most_their_span(tmp_path: Any) -> None:
    import sqlite3

    from tracker.server.store import MIGRATIONS, Store

    path = tmp_path / "v1.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO events (id, type, sensor, user_email, run_id, event_time, body,"
        " created_at_ms) VALUES ('e1', 'TimeSpentEvent', 's', 'u', 'r', 't', '{}', 0)"
    )
    rows = [("heartbeat", 0, 0, 15_000, 86_400_000), ("completion", 5, None, 9, 120_000)]
    for source, key, started, ended, active in rows:
        conn.execute(
            "INSERT INTO time_ledger (user_email, run_id, source, key_ms, started_at_ms,"
            " ended_at_ms, active_ms, inactive_ms, activity_url, course_key, event_id)"
            " VALUES ('u', 'r', ?, ?, ?, ?, ?, 0, 'a', 'c', 'e1')",
            (source, key, started, ended, active),
        )
    conn.close()
    store = Store(path)
    try:
        counted = store.read(
            lambda tx: tx.all("SELECT source, counted_ms FROM time_ledger ORDER BY id")
        )
        assert counted == [("heartbeat", 15_000), ("completion", 120_000)]
    finally:
        store.close()


async def test_inverted_or_overfull_window_is_stored_as_what_it_is_worth_issue_9(
    server: TimebackServer, client: httpx.AsyncClient
) -> None:
    """endedAt before startedAt, or elapsedMs beyond the span: accepted (not dropped for good
    by a final 400), counted at most the span (the client's strict model still refuses)."""
    inverted = span(BASE, 15_000, 15_000, new_run())
    inverted["endedAt"] = iso_from_epoch_ms(BASE - 60_000)
    assert (await client.post(HEARTBEAT, json=inverted)).status_code == 204
    overfull = span(BASE + 100_000, 15_000, 15_000, new_run())
    overfull["elapsedMs"] = 24 * 3_600_000
    assert (await client.post(HEARTBEAT, json=overfull)).status_code == 204
    counted = server.store.read(
        lambda tx: tx.all("SELECT active_ms, counted_ms FROM time_ledger ORDER BY id")
    )
    assert counted == [(15_000, 0), (24 * 3_600_000, 15_000)]
    assert (await client.post(HEARTBEAT, json=overfull)).json() == {"duplicate": True}
