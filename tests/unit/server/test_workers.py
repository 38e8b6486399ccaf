"""Several worker processes on one PostgreSQL store (issue 12): under 64 concurrent clients
every window is stored once, every Caliper event delivered once, and nothing answers 500."""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.postgres_cluster import NO_POSTGRES_ENV, PostgresCluster
from tracker.server.store import Store
from tracker.server.workers import WorkersError, check_workers, serve_workers

from .conftest import NOW_MS
from .helpers import CaliperReceiver, free_socket, new_run, window
from .test_caliper_sink import until

REPO = Path(__file__).resolve().parents[3]
CLIENTS = 64
WINDOWS_PER_CLIENT = 6


def test_sqlite_refuses_more_than_one_worker(tmp_path: Path, config_file: Path) -> None:
    with pytest.raises(WorkersError, match="TRACKER_DB=postgresql"):
        check_workers(2, many_processes=False)
    check_workers(1, many_processes=False)
    said: list[str] = []
    args = argparse.Namespace(
        command="serve",
        host="127.0.0.1",
        port=0,
        data=str(tmp_path / "data"),
        config=str(config_file),
        bundle=str(tmp_path / "bundle"),
        workers=2,
    )
    assert serve_workers(args, lambda message, command: said.append(message)) == 2
    assert "SQLite store serves one process" in said[-1]


@pytest.fixture
def cluster(request: pytest.FixtureRequest) -> PostgresCluster:
    if os.environ.get(NO_POSTGRES_ENV) == "1":
        pytest.skip(f"{NO_POSTGRES_ENV}=1: PostgreSQL tests turned off explicitly")
    found: PostgresCluster = request.getfixturevalue("postgres_cluster")
    return found


@pytest.fixture
def two_workers(
    cluster: PostgresCluster, config_file: Path, receiver: CaliperReceiver
) -> Iterator[tuple[str, str]]:
    url = cluster.fresh_schema_url()
    Store(url).close()  # migrate once, before the workers race to
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    env = {
        **os.environ,
        "TRACKER_DB": url,
        "TRACKER_CONFIG": str(config_file),
        "TRACKER_SINK": "caliper",
        "CALIPER_URL": receiver.url,
        "CALIPER_TOKEN_URL": f"{receiver.url}/oauth/token",
        "CALIPER_CLIENT_ID": receiver.client_id,
        "CALIPER_CLIENT_SECRET": receiver.client_secret,
        "TEST_NOW_MS": str(NOW_MS),
        # Both workers sign identity tags with one key (a shared store has no data folder).
        "TRACKER_SESSION_SECRET": "two-workers-share-this-key-" + "k" * 16,
    }
    command = [sys.executable, "-m", "uvicorn", "tests.unit.server.worker_app:make_app"]
    command += ["--factory", "--workers", "2", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, cwd=REPO, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/user/me", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the workers did not start") from None
                time.sleep(0.2)
        yield base, url
    finally:
        process.terminate()
        process.wait(timeout=20)


async def test_two_workers_store_and_deliver_everything_once(
    two_workers: tuple[str, str], receiver: CaliperReceiver
) -> None:
    base, url = two_workers
    limits = httpx.Limits(max_connections=CLIENTS)
    statuses: list[int] = []

    async def student(index: int, http: httpx.AsyncClient) -> None:
        run = new_run()
        headers = {"x-user": f"student{index}@example.com"}
        for n in range(WINDOWS_PER_CLIENT):
            body = window(n, run_id=run)
            # Every other window is resent at once (a lost answer): a duplicate, not twice.
            for _ in range(1 + n % 2):
                answer = await http.post("/activity/heartbeat", json=body, headers=headers)
                statuses.append(answer.status_code)

    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as http:
        await asyncio.gather(*(student(i, http) for i in range(CLIENTS)))
    windows = CLIENTS * WINDOWS_PER_CLIENT
    assert 500 not in statuses
    assert statuses.count(204) == windows and statuses.count(200) == windows // 2
    await until(lambda: len(receiver.events) >= windows, within=60.0)
    await asyncio.sleep(1.0)  # a second send of anything would land now
    store = Store(url)
    try:
        assert store.row_counts()["time_ledger"] == windows
        assert store.outbox_counts() == {"pending": 0, "sent": windows, "failed": 0}
    finally:
        store.close()
    ids = receiver.event_ids()
    assert len(ids) == windows and len(set(ids)) == windows
    assert receiver.problems == []
