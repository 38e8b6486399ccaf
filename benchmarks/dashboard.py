"""Heavy reads must not starve writes (issue 10): another user's heartbeat latency while a
user with 200,000 windows loads the dashboard, against the same server idle.

    .venv/bin/python benchmarks/dashboard.py      # ~1 minute; docs/benchmarks-dashboard.md

A real ``tracker serve`` (SQLite, its demo routes, identity from a trusted proxy header) in
a subprocess on 127.0.0.1. The heavy user's windows are written straight into the store
before it starts (200k heartbeats through HTTP would take minutes). Phases alternate,
idle / loaded / idle / loaded, so that a change in the machine's load hits both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tracker.server.store import Store  # noqa: E402
from tracker.server.store.schema import StoredEvent  # noqa: E402
from tracker.server.store.tx import Tx  # noqa: E402
from tracker.timefmt import iso_from_epoch_ms  # noqa: E402

CONFIG = REPO / "web" / "demo" / "timeback.config.json"
HEAVY, LIGHT = "heavy@example.com", "light@example.com"
HEADER = "X-Forwarded-Email"
WINDOW_MS = 12_000


def _seed(database: Path, windows: int) -> None:
    """``windows`` heartbeat windows of HEAVY, back to back, ending now."""
    store = Store(database)
    end = int(time.time() * 1000) - 60_000
    start = end - windows * WINDOW_MS
    run = str(uuid.uuid4())
    url = "https://demo.test/activities/Math/g3/fractions"

    def write(tx: Tx, first: int, count: int) -> None:
        for i in range(first, first + count):
            started = start + i * WINDOW_MS
            event_id = f"urn:uuid:{uuid.uuid4()}"
            # Each window names its TimeSpentEvent, as the pipeline stores them (a small body:
            # the dashboard reads the ledger and the events' names).
            tx.insert_event(
                StoredEvent(
                    id=event_id,
                    type="TimeSpentEvent",
                    sensor="https://demo.test/sensors/default",
                    user_email=HEAVY,
                    run_id=run,
                    event_time=iso_from_epoch_ms(started + WINDOW_MS),
                    body={"id": event_id, "object": {"activity": {"name": "Fractions"}}},
                ),
                started + WINDOW_MS,
            )
            tx.insert_time(
                user_email=HEAVY,
                run_id=run,
                source="heartbeat",
                key_ms=started,
                started_at_ms=started,
                ended_at_ms=started + WINDOW_MS,
                active_ms=WINDOW_MS,
                inactive_ms=0,
                counted_ms=WINDOW_MS,
                activity_url=url,
                course_key="Math/g3",
                event_id=event_id,
            )

    step = 20_000
    for first in range(0, windows, step):
        store.write(functools.partial(write, first=first, count=min(step, windows - first)))
    store.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _heartbeat(n: int, run: str, now_ms: int) -> dict[str, object]:
    started = now_ms - 60_000 + n * 10  # distinct, recent windows
    return {
        "id": "arrays",
        "name": "Arrays",
        "course": {"subject": "Math", "grade": 3},
        "runId": run,
        "startedAt": iso_from_epoch_ms(started),
        "endedAt": iso_from_epoch_ms(started + 5),
        "elapsedMs": 5,
        "pausedMs": 0,
    }


async def _light_heartbeats(http: httpx.AsyncClient, count: int, offset: int) -> list[float]:
    run = str(uuid.uuid4())
    now = int(time.time() * 1000)
    latencies = []
    for n in range(count):
        began = time.perf_counter()
        answer = await http.post(
            "/api/timeback/activity/heartbeat",
            json=_heartbeat(offset + n, run, now),
            headers={HEADER: LIGHT},
        )
        latencies.append((time.perf_counter() - began) * 1000)
        assert answer.status_code in (200, 204), answer.text
    return latencies


async def _dashboards(http: httpx.AsyncClient, stop: asyncio.Event, times: list[float]) -> None:
    while not stop.is_set():
        began = time.perf_counter()
        answer = await http.get("/demo/api/dashboard?tz=UTC", headers={HEADER: HEAVY})
        assert answer.status_code == 200, answer.text
        times.append((time.perf_counter() - began) * 1000)


async def _phase(base: str, loaded: bool, count: int, offset: int) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        stop = asyncio.Event()
        dashboard_ms: list[float] = []
        readers = [
            asyncio.create_task(_dashboards(http, stop, dashboard_ms))
            for _ in range(2 if loaded else 0)
        ]
        latencies = await _light_heartbeats(http, count, offset)
        stop.set()
        await asyncio.gather(*readers)
    q = statistics.quantiles(latencies, n=100)
    return {
        "p50": statistics.median(latencies),
        "p99": q[98],
        "dashboards": len(dashboard_ms),
        "dashboard_p50": statistics.median(dashboard_ms) if dashboard_ms else 0.0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--windows", type=int, default=200_000)
    parser.add_argument("--heartbeats", type=int, default=200, help="per phase")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks-dashboard.md")
    args = parser.parse_args()

    data = Path(tempfile.mkdtemp(prefix="tracker-dash-"))
    began = time.monotonic()
    _seed(data / "tracker.sqlite3", args.windows)
    print(f"seeded {args.windows} windows in {time.monotonic() - began:.1f} s", flush=True)
    port = _free_port()
    env = {
        **os.environ,
        "TRACKER_IDENTITY": "proxy-header",
        "TRACKER_IDENTITY_HEADER": HEADER,
        "TRACKER_TRUSTED_PROXIES": "127.0.0.1",
        "TRACKER_RATE_LIMIT_BURST": "0",
    }
    command = [sys.executable, "-m", "tracker.cli", "serve", "--port", str(port)]
    command += ["--data", str(data), "--config", str(CONFIG)]
    server = subprocess.Popen(command, cwd=REPO, env=env, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/demo/api/session", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline and server.poll() is None, "no server"
                time.sleep(0.2)
        rows = []
        for round_ in range(2):
            for loaded in (False, True):
                offset = (round_ * 2 + loaded) * args.heartbeats
                result = asyncio.run(_phase(base, loaded, args.heartbeats, offset))
                rows.append((loaded, result))
                print(("loaded" if loaded else "idle  "), json.dumps(result), flush=True)
    finally:
        server.terminate()
        server.wait(timeout=20)
    idle = statistics.median(r["p50"] for loaded, r in rows if not loaded)
    busy = statistics.median(r["p50"] for loaded, r in rows if loaded)
    load = os.getloadavg()
    lines = [
        "# Heartbeats while a 200k-window user loads the dashboard (benchmarks/dashboard.py)",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores; "
        f"{args.windows:,} windows of the heavy user; {args.heartbeats} heartbeats of another "
        f"user per phase; load at the end {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}.",
        "",
        "| phase | heartbeat p50 ms | p99 ms | dashboards served | dashboard p50 ms |",
        "|---|---|---|---|---|",
    ]
    for loaded, r in rows:
        lines.append(
            f"| {'2 dashboard loops' if loaded else 'idle'} | {r['p50']:.1f} | {r['p99']:.1f} "
            f"| {int(r['dashboards'])} | {r['dashboard_p50']:.0f} |"
        )
    lines += ["", f"Heartbeat p50 while loaded / idle: **{busy / idle:.2f} ×** (target ≤ 2 ×)."]
    args.out.write_text("\n".join(lines) + "\n")
    print(f"loaded/idle p50 = {busy / idle:.2f}; written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
