"""Heartbeats/s and completions/s with p50/p99, against the bare-Starlette floor (issue 12).

    .venv/bin/python benchmarks/server.py                 # the full run (minutes)
    .venv/bin/python benchmarks/server.py --smoke         # a 2-second check that it works

Targets, each its own uvicorn on 127.0.0.1: ``floor`` (Starlette answering 204), ``sqlite``
(our API on a SQLite file), ``pg1``/``pg2`` (our API on a throwaway PostgreSQL, started here
with fsync on, behind 1 and 2 uvicorn workers). For each route and number of clients the
targets run one after the other (interleaved, so a change in the machine's load hits all of
them alike). The load generator is ``wrk`` (C, Debian's package; one connection per simulated
student, ``benchmarks/wrk_windows.lua`` makes every request a new valid window or completion),
bounded by its ``-d`` duration; ``--generator httpx`` uses a bounded closed loop of asyncio
httpx clients instead, for machines without wrk (it saturates itself near 64 clients). Either
shares the machine's cores with the server, so ratios to the floor mean more than the absolute
numbers. Results go to ``docs/benchmarks-server.md`` with the load.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.postgres_cluster import PostgresCluster  # noqa: E402
from tests.unit.server.helpers import CONFIG  # noqa: E402
from tracker.timefmt import iso_from_epoch_ms  # noqa: E402

ROUTES = ("heartbeat", "submit")
TARGETS = ("floor", "sqlite", "pg1", "pg2")


@dataclass
class Result:
    target: str
    route: str
    clients: int
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    load: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _uvicorn(factory: str, env: dict[str, str], workers: int = 1) -> Iterator[str]:
    port = _free_port()
    command = [sys.executable, "-m", "uvicorn", f"benchmarks.server_apps:{factory}", "--factory"]
    command += ["--port", str(port), "--workers", str(workers), "--log-level", "warning"]
    command += ["--no-access-log"]
    process = subprocess.Popen(command, cwd=REPO, env={**os.environ, **env})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.post(f"{base}/activity/heartbeat", content=b"{}", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"{factory} did not start") from None
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


def _body(route: str, user: int, n: int, run: str, start_ms: int) -> dict[str, object]:
    common = {"id": "fractions-with-like-denominators", "name": "Fractions", "runId": run}
    started = start_ms + n * 15_000
    if route == "heartbeat":
        return {
            **common,
            "course": {"subject": "Math", "grade": 3},
            "startedAt": iso_from_epoch_ms(started),
            "endedAt": iso_from_epoch_ms(started + 15_000),
            "elapsedMs": 15_000,
            "pausedMs": 0,
        }
    return {
        **common,
        "runId": str(uuid.uuid4()),
        "course": {"code": "MATH-3"},
        "endedAt": iso_from_epoch_ms(started),
        "metrics": {"xpEarned": 0, "totalQuestions": 1, "correctQuestions": 1},
    }


async def _load(base: str, route: str, clients: int, seconds: float, tag: str) -> Result:
    latencies: list[float] = []
    errors = 0
    # Windows a day old, 15 s apart per client: new (not duplicates), within the window policy.
    start_ms = int(time.time() * 1000) - 86_400_000
    load_before = os.getloadavg()[0]
    deadline = time.monotonic() + seconds

    async def client(index: int, http: httpx.AsyncClient) -> None:
        nonlocal errors
        run = str(uuid.uuid4())
        headers = {"x-user": f"bench-{tag}-{index}@example.com"}
        n = 0
        while time.monotonic() < deadline:
            body = _body(route, index, n, run, start_ms)
            began = time.perf_counter()
            try:
                answer = await http.post(f"/activity/{route}", json=body, headers=headers)
                ok = answer.status_code == 204
            except httpx.HTTPError:
                ok = False
            latencies.append((time.perf_counter() - began) * 1000)
            errors += 0 if ok else 1
            n += 1

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    began = time.monotonic()
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as http:
        await asyncio.gather(*(client(i, http) for i in range(clients)))
    elapsed = time.monotonic() - began
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return Result(
        target="",
        route=route,
        clients=clients,
        requests=len(latencies),
        seconds=elapsed,
        p50_ms=quantiles[49],
        p99_ms=quantiles[98],
        errors=errors,
        load=(load_before + os.getloadavg()[0]) / 2,
    )


WRK_SCRIPT = REPO / "benchmarks" / "wrk_windows.lua"


def _load_wrk(base: str, route: str, clients: int, seconds: float, tag: str) -> Result:
    threads = min(2, clients)  # the machine's cores; wrk needs connections >= threads
    # Windows from 20 days ago on, 1 s apart per thread: within the server's window policy
    # (30 days back, a few minutes ahead) for any rate this machine reaches.
    base_s = int(time.time()) - 20 * 86_400
    command = [
        "wrk",
        "-t",
        str(threads),
        "-c",
        str(clients),
        "-d",
        f"{max(1, round(seconds))}s",
    ]  # whole seconds only
    command += ["--timeout", "30s", "-s", str(WRK_SCRIPT), base]
    command += ["--", route, str(clients), str(base_s), tag[:8], str(threads)]
    load_before = os.getloadavg()[0]
    finished = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 60, check=True
    )
    line = finished.stdout.strip().splitlines()[-1]
    numbers = json.loads(line)
    return Result(
        target="",
        route=route,
        clients=clients,
        requests=int(numbers["requests"]),
        seconds=numbers["duration_us"] / 1e6,
        p50_ms=numbers["p50_us"] / 1000,
        p99_ms=numbers["p99_us"] / 1000,
        errors=int(numbers["non_2xx"]) + int(numbers["socket_errors"]),
        load=(load_before + os.getloadavg()[0]) / 2,
    )


def _write(results: list[Result], out: Path, args: argparse.Namespace) -> None:
    floor = {(r.route, r.clients): r.per_second for r in results if r.target == "floor"}
    lines = [
        "# Server throughput (benchmarks/server.py)",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores; "
        f"{args.seconds:g} s per cell; load average (1 min) shown per cell. "
        f"The load generator ({args.generator}) runs on the same cores as the servers.",
        "",
        "| route | clients | target | req/s | × floor | p50 ms | p99 ms | errors | load |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        ratio = r.per_second / floor[(r.route, r.clients)] if floor.get((r.route, r.clients)) else 0
        lines.append(
            f"| {r.route} | {r.clients} | {r.target} | {r.per_second:,.0f} | {ratio:.2f} | "
            f"{r.p50_ms:.1f} | {r.p99_ms:.1f} | {r.errors} | {r.load:.2f} |"
        )
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per cell")
    parser.add_argument("--clients", default="1,8,64,256")
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks-server.md")
    parser.add_argument("--smoke", action="store_true", help="2 s in all: checks it works")
    parser.add_argument(
        "--generator", choices=("wrk", "httpx"), default="wrk" if shutil.which("wrk") else "httpx"
    )
    args = parser.parse_args()
    clients = [int(c) for c in args.clients.split(",")]
    targets = [t for t in args.targets.split(",") if t]
    routes = list(ROUTES)
    if args.smoke:
        args.seconds, clients, targets, routes = 0.5, [1, 8], ["floor", "sqlite"], ["heartbeat"]
        args.out = Path(tempfile.gettempdir()) / "benchmarks-server-smoke.md"

    folder = Path(tempfile.mkdtemp(prefix="tracker-bench-"))
    config = folder / "timeback.config.json"
    config.write_text(json.dumps(CONFIG), encoding="utf-8")
    env = {
        "TRACKER_CONFIG": str(config),
        # Each simulated student sends far faster than one per 15 s: the per-user rate limit
        # (a protection, not a cost) is off, as for a load test from a few addresses.
        "TRACKER_RATE_LIMIT_BURST": "0",
        # Workers sharing PostgreSQL sign identity tags with one key.
        "TRACKER_SESSION_SECRET": "benchmark-shared-subject-key-" + "k" * 16,
    }
    cluster = PostgresCluster(durable=True) if any(t.startswith("pg") for t in targets) else None
    results: list[Result] = []
    try:
        if cluster is not None:
            cluster.start()
        with contextlib.ExitStack() as stack:
            bases: dict[str, str] = {}
            for target in targets:
                if target == "floor":
                    bases[target] = stack.enter_context(_uvicorn("floor", env))
                elif target == "sqlite":
                    db = {"TRACKER_DB": str(folder / "tracker.sqlite3")}
                    bases[target] = stack.enter_context(_uvicorn("tracker", {**env, **db}))
                else:
                    assert cluster is not None
                    db = {"TRACKER_DB": cluster.fresh_schema_url()}
                    workers = int(target.removeprefix("pg"))
                    bases[target] = stack.enter_context(
                        _uvicorn("tracker", {**env, **db}, workers=workers)
                    )
            for route in routes:
                for count in clients:
                    for target in targets:
                        if args.generator == "wrk":
                            tag = uuid.uuid4().hex[:8]
                            result = _load_wrk(bases[target], route, count, args.seconds, tag)
                        else:
                            tag = f"{target}-{route}-{count}-{uuid.uuid4().hex[:6]}"
                            result = asyncio.run(
                                _load(bases[target], route, count, args.seconds, tag)
                            )
                        result.target = target
                        results.append(result)
                        print(
                            f"{route:9} {count:4} {target:6} {result.per_second:8,.0f}/s "
                            f"p50 {result.p50_ms:6.1f} ms p99 {result.p99_ms:6.1f} ms "
                            f"errors {result.errors}",
                            flush=True,
                        )
    finally:
        if cluster is not None:
            cluster.stop()
    _write(results, args.out, args)
    print(f"written to {args.out}")
    return 0 if all(r.errors == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
