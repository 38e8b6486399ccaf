"""The store on both backends (issue 12) and its start-up and edge findings (issue 10)."""

from __future__ import annotations

import asyncio
import errno
import functools
import os
import sqlite3
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

import tracker.server.store.sqlite
from tracker.demo.queries import dashboard
from tracker.errors import TrackerValidationError
from tracker.server import TimebackServer
from tracker.server.outbox import CaliperSink
from tracker.server.store import Store, StoreError, Tx

from .conftest import NOW_MS, ServerFactory, client_for
from .helpers import CaliperReceiver, heartbeat_body, new_run, submit_body, window
from .test_caliper_sink import caliper_settings, until

HEARTBEAT = "/activity/heartbeat"
USER = "student@example.com"
# 9999-12-31T23:59Z: accepted by older servers, a year-10000 date east of UTC (issue 10).
LAST_MINUTE_MS = 253402300740000


def _legacy_window(tx: Tx, ended_ms: int) -> None:
    """A row as an older server stored it, past today's checks."""
    tx.execute(
        "INSERT INTO events (id, type, sensor, user_email, run_id, event_time, body,"
        " created_at_ms) VALUES ('urn:e', 'TimeSpentEvent', 's', ?, 'r', 't', '{}', 0)",
        (USER,),
    )
    tx.execute(
        "INSERT INTO time_ledger (user_email, run_id, source, key_ms, started_at_ms,"
        " ended_at_ms, active_ms, inactive_ms, counted_ms, activity_url, course_key, event_id)"
        " VALUES (?, 'r', 'heartbeat', ?, ?, ?, 1000, 0, 1000, 'https://a/x', 'c', 'urn:e')",
        (USER, ended_ms - 1000, ended_ms - 1000, ended_ms),
    )


async def test_dashboard_reads_the_same_on_both_backends(
    server: TimebackServer, client: httpx.AsyncClient, backend: str
) -> None:
    for index in range(3):
        assert (await client.post(HEARTBEAT, json=window(index))).status_code == 204
    assert (await client.post("/activity/submit", json=submit_body())).status_code == 204
    data = server.store.read(
        lambda tx: dashboard(tx, server.config, "production", USER, ZoneInfo("UTC"), NOW_MS)
    )
    [activity] = data["activities"]
    assert activity["name"] == "Fractions with Like Denominators"
    assert activity["activeMs"] == 45_000 and activity["windows"] == 3
    [entry] = data["gradebook"]
    assert entry["attempt"] == 1 and entry["xpCredited"] is not None


def test_store_refuses_a_time_no_zone_can_show_issue_10(server: TimebackServer) -> None:
    """Years 1-9999 in every time zone: the store refuses what is past that edge."""
    edge: dict[str, Any] = {
        "user_email": USER,
        "run_id": "r",
        "source": "heartbeat",
        "inactive_ms": 0,
        "active_ms": 1000,
        "counted_ms": 1000,
        "activity_url": "https://a/x",
        "course_key": "c",
        "event_id": "urn:e",
    }
    for ended in (LAST_MINUTE_MS, -62135596800000):  # 9999-12-31T23:59Z, 0001-01-01T00:00Z
        with pytest.raises(TrackerValidationError, match="years 1-9999") as caught:

            def insert(tx: Tx, ended: int = ended) -> bool:
                return tx.insert_time(
                    key_ms=ended - 1000, started_at_ms=ended - 1000, ended_at_ms=ended, **edge
                )

            server.store.write(insert)
        assert caught.value.field == "startedAt"


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Asia/Tokyo", "Pacific/Pago_Pago"])
def test_dashboard_shows_a_stored_last_minute_window_in_any_zone_issue_10(
    server: TimebackServer, zone: str
) -> None:
    server.store.write(lambda tx: _legacy_window(tx, LAST_MINUTE_MS))
    data = server.store.read(
        lambda tx: dashboard(tx, server.config, "production", USER, ZoneInfo(zone), NOW_MS)
    )
    assert data["activities"][0]["activeMs"] == 1000


def test_a_store_with_a_zeroed_page_refuses_to_start_issue_10(tmp_path: Path) -> None:
    path = tmp_path / "data" / "tracker.sqlite3"
    store = Store(path)
    for index in range(400):
        store.write(functools.partial(_legacy_window_n, index=index))
    store.close()
    assert path.stat().st_size > 8 * 4096
    with path.open("r+b") as file:
        file.seek(3 * 4096)
        file.write(b"\0" * 4096)
    with pytest.raises(StoreError, match="corrupt") as caught:
        Store(path)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)


def _legacy_window_n(tx: Tx, index: int) -> None:
    event = f"urn:e{index}"
    tx.execute(
        "INSERT INTO events (id, type, sensor, user_email, run_id, event_time, body,"
        " created_at_ms) VALUES (?, 'TimeSpentEvent', 's', ?, 'r', 't', ?, 0)",
        (event, USER, "{}" + " " * 200),
    )


@pytest.mark.parametrize(
    ("code", "words"), [(errno.EROFS, "is not writable"), (errno.ENOSPC, "is full")]
)
def test_read_only_or_full_data_folder_is_named_in_one_line_issue_10(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, words: str
) -> None:
    """Simulated (the tests run as root, whom chmod does not stop): the folder's write
    probe fails as a read-only mount or a full disk makes it fail."""
    real_open = os.open

    def failing_open(path: Any, flags: int, mode: int = 0o777) -> int:
        if ".tracker-write-probe" in str(path):
            raise OSError(code, os.strerror(code), str(path))
        return real_open(path, flags, mode)

    monkeypatch.setattr(tracker.server.store.sqlite.os, "open", failing_open)  # type: ignore[attr-defined]
    folder = tmp_path / "data"
    with pytest.raises(StoreError) as caught:
        Store(folder / "tracker.sqlite3")
    message = str(caught.value)
    assert message.startswith(f"data folder {folder} {words}") and "\n" not in message


def _progress(index: int) -> Any:
    """A write job: one course_progress row for user ``index``; returns the rows it added."""
    return lambda tx: tx.execute(
        "INSERT INTO course_progress (user_email, course_key, updated_at_ms) VALUES (?, 'c', 0)",
        (f"u{index}@example.com",),
    )


async def test_group_commit_answers_each_write_after_its_own_outcome(
    server: TimebackServer,
) -> None:
    """Jobs that share a transaction: a failing one rolls back alone."""

    def bad(tx: Tx) -> int:
        tx.execute(
            "INSERT INTO course_progress (user_email, course_key, updated_at_ms)"
            " VALUES ('bad@example.com', 'c', 0)"
        )
        raise ValueError("this job fails")

    jobs = [server.store.awrite(_progress(i)) for i in range(40)]
    jobs.insert(20, server.store.awrite(bad))
    results = await asyncio.gather(*jobs, return_exceptions=True)
    assert next(r for r in results if isinstance(r, Exception)).args == ("this job fails",)
    assert results.count(1) == 40
    count = server.store.read(lambda tx: tx.one("SELECT COUNT(*) FROM course_progress")[0])
    assert count == 40


async def test_concurrent_heartbeats_each_stored_once(
    server: TimebackServer, client: httpx.AsyncClient
) -> None:
    bodies = [window(i) for i in range(60)]
    answers = await asyncio.gather(*(client.post(HEARTBEAT, json=b) for b in bodies + bodies))
    assert sorted(a.status_code for a in answers) == [200] * 60 + [204] * 60
    assert server.store.row_counts()["time_ledger"] == 60
    assert server.store.row_counts()["events"] == 60


async def test_two_servers_alternating_sensors_send_each_event_once_issue_10(
    make_server: ServerFactory, receiver: CaliperReceiver
) -> None:
    """A batch that alternates sensors outlasts one lease: renewing it per send keeps the
    second server off the rows the first still holds."""
    receiver.delay_s = 0.12
    first = make_server(**caliper_settings(receiver))
    second = make_server(**caliper_settings(receiver))
    for sink in (first.sink, second.sink):
        assert isinstance(sink, CaliperSink)
        sink._lease_s = 0.4  # shorter than the batch below
    reading_run = new_run()
    async with client_for(first) as client:
        for index in range(12):
            body = window(index)
            if index % 2:
                body = heartbeat_body(
                    **{k: v for k, v in body.items() if k not in ("course", "runId")},
                    course={"subject": "Reading", "grade": 2},
                    runId=reading_run,
                )
            assert (await client.post(HEARTBEAT, json=body)).status_code == 204
        async with second.lifespan():
            await until(lambda: len(receiver.events) >= 12, within=20.0)
            await asyncio.sleep(0.8)  # a stray resend would land now
    await first.aclose()
    ids = receiver.event_ids()
    assert len(ids) == 12 and len(set(ids)) == 12
    assert first.store.outbox_counts() == {"pending": 0, "sent": 12, "failed": 0}


@pytest.mark.parametrize(
    ("route", "field", "moment"),
    [
        ("heartbeat", "startedAt", "9999-12-31T23:59:00.000-05:00"),
        ("heartbeat", "startedAt", "0001-01-01T00:00:00.000+05:00"),
        ("submit", "endedAt", "9999-12-31T23:59:00.000-05:00"),
    ],
)
async def test_times_pushed_past_year_9999_or_before_year_1_are_refused_not_500_issue_10(
    client: httpx.AsyncClient, route: str, field: str, moment: str
) -> None:
    """An offset takes the instant outside years 1-9999 in UTC: a 400 naming the field."""
    if route == "heartbeat":
        body = heartbeat_body(startedAt=moment, endedAt=moment)
    else:
        body = submit_body(endedAt=moment)
    answer = await client.post(f"/activity/{route}", json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["details"]["field"] in (field, "endedAt")


def test_closing_the_sqlite_store_during_a_read_waits_for_that_read(tmp_path: Path) -> None:
    """close() while another thread's query runs must not close its connection under it
    (sqlite3 crashes the process then: seen when a test's teardown closed the store while
    the outbox worker was reading)."""
    import threading

    from tracker.server.store import Store, StoreError

    store = Store(tmp_path / "data" / "t.sqlite3")
    inside, release = threading.Event(), threading.Event()
    results: list[object] = []

    def slow(tx: object) -> int:
        inside.set()
        release.wait(5)
        return int(tx.one("SELECT 1")[0])  # type: ignore[attr-defined]

    reader = threading.Thread(target=lambda: results.append(store.read(slow)))
    reader.start()
    assert inside.wait(5)
    store.close()  # the busy reader is left to finish its query
    release.set()
    reader.join(5)
    assert results == [1]
    with pytest.raises(StoreError, match="the store is closed"):
        store.read(lambda tx: 1)


async def test_a_batch_runs_savepoints_only_when_one_of_its_jobs_raises_issue_12(
    tmp_path: Path,
) -> None:
    """Two statements per job saved: savepoints come in only to roll one job back alone."""
    store = Store(tmp_path / "tracker.sqlite3")
    statements: list[str] = []
    conn = store._writer._session.conn  # type: ignore[attr-defined]
    conn.set_trace_callback(statements.append)

    def bad(tx: Tx) -> int:
        raise ValueError("this job fails")

    try:
        assert await asyncio.gather(*(store.awrite(_progress(i)) for i in range(30))) == [1] * 30
        assert not any("SAVEPOINT" in s for s in statements)
        statements.clear()
        jobs = [store.awrite(_progress(i)) for i in range(30, 40)] + [store.awrite(bad)]
        results = await asyncio.gather(*jobs, return_exceptions=True)
        assert results[:10] == [1] * 10 and isinstance(results[10], ValueError)
        assert any(s.startswith("SAVEPOINT") for s in statements)
        assert store.read(lambda tx: tx.one("SELECT COUNT(*) FROM course_progress")[0]) == 40
    finally:
        conn.set_trace_callback(None)
        store.close()


async def test_threads_and_event_loops_waiting_on_one_batch_each_get_their_answer_issue_12(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "tracker.sqlite3")

    def value(n: int) -> Any:
        return lambda tx: tx.one("SELECT ?", (n,))[0]

    def other_loop() -> list[int]:
        async def many() -> list[int]:
            return list(await asyncio.gather(*(store.awrite(value(100 + i)) for i in range(20))))

        return asyncio.run(many())

    try:
        from_threads = [asyncio.to_thread(store.write, value(200 + i)) for i in range(5)]
        results = await asyncio.gather(
            asyncio.to_thread(other_loop),
            *from_threads,
            *(store.awrite(value(i)) for i in range(20)),
        )
        assert results[0] == list(range(100, 120))
        assert results[1:6] == list(range(200, 205))
        assert results[6:] == list(range(20))
    finally:
        store.close()


async def test_a_loop_never_waits_for_another_process_holding_the_file_issue_12(
    tmp_path: Path,
) -> None:
    """The loop runs a batch's statements itself, but never blocks on the write lock: while
    another connection (another process) holds it, the writes wait in the writer thread and
    the loop goes on serving."""
    path = tmp_path / "tracker.sqlite3"
    store = Store(path)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # the file's write lock, held elsewhere
        writes = [asyncio.ensure_future(store.awrite(_progress(i))) for i in range(5)]
        ticks = 0
        began = time.monotonic()
        while time.monotonic() - began < 0.3:
            await asyncio.sleep(0.01)
            ticks += 1
        assert ticks >= 15, f"the loop was blocked: {ticks} ticks of 10 ms in 300 ms"
        assert not any(w.done() for w in writes)
        other.execute("COMMIT")
        assert await asyncio.wait_for(asyncio.gather(*writes), 10) == [1] * 5
    finally:
        other.close()
        store.close()


async def test_a_batch_whose_commit_fails_commits_each_write_alone_issue_12(
    tmp_path: Path,
) -> None:
    """A deferred foreign key fails only at COMMIT: the others still commit, that one fails."""
    store = Store(tmp_path / "tracker.sqlite3")

    def dangling(tx: Tx) -> None:
        tx.execute(
            "INSERT INTO time_ledger (user_email, run_id, source, key_ms, started_at_ms,"
            " ended_at_ms, active_ms, inactive_ms, counted_ms, activity_url, course_key,"
            " event_id) VALUES ('x@example.com', 'r', 'heartbeat', 0, 0, 1000, 1000, 0, 1000,"
            " 'https://a/x', 'c', 'urn:no-such-event')"
        )

    try:
        jobs = [store.awrite(_progress(i)) for i in range(10)]
        jobs.insert(5, store.awrite(dangling))
        results = await asyncio.gather(*jobs, return_exceptions=True)
        assert isinstance(results[5], sqlite3.IntegrityError)
        assert results[:5] + results[6:] == [1] * 10
        rows = store.row_counts()
        assert rows["course_progress"] == 10 and rows["time_ledger"] == 0
    finally:
        store.close()


async def test_closing_the_store_commits_what_the_loop_queued_issue_12(tmp_path: Path) -> None:
    store = Store(tmp_path / "tracker.sqlite3")
    writes = [asyncio.ensure_future(store.awrite(_progress(i))) for i in range(20)]
    await asyncio.sleep(0)  # the first batch is begun; the rest are pending
    await asyncio.to_thread(store.close)
    assert await asyncio.gather(*writes) == [1] * 20
    reopened = Store(tmp_path / "tracker.sqlite3")
    try:
        assert reopened.row_counts()["course_progress"] == 20
    finally:
        reopened.close()
