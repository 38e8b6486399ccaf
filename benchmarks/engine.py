"""How much the time engine costs per event, and how much memory an activity holds.

    .venv/bin/python benchmarks/engine.py

Prints numbers; it asserts nothing. The engine runs on the page's main thread in Pyodide
(roughly 2-4x slower than CPython), so per-event cost must stay in microseconds.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.unit.fakes import BASE_PARAMS, Env
from tracker.engine import Tick, TimeEngine, VisibilityChanged
from tracker.models import TimeOptions


def engine_events_per_second(events: int = 200_000) -> float:
    rng = random.Random(1)
    engine = TimeEngine(TimeOptions(), 0)
    now, hidden = 0, False
    start = time.perf_counter()
    for _ in range(events):
        now += rng.randint(1, 5_000)
        if rng.random() < 0.3:
            hidden = not hidden
            engine.handle(VisibilityChanged(hidden, now))
        else:
            engine.handle(Tick(now))
    return events / (time.perf_counter() - start)


async def activity_hour() -> tuple[float, int, int]:
    """One simulated hour through the whole driver (engine, outbox, fake transport)."""
    env = Env()
    tracemalloc.start()
    start = time.perf_counter()
    activity = env.tracker.start(BASE_PARAMS)
    for minute in range(60):
        if minute % 7 == 3:
            env.set_hidden(True)
        if minute % 7 == 4:
            env.set_hidden(False)
        await env.advance(60_000)
    await activity.end({"xpEarned": 40})
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return elapsed, peak, len(env.server.requests)


def main() -> None:
    rate = engine_events_per_second()
    print(f"engine: {rate:,.0f} events/s ({1e6 / rate:.2f} µs per event) on CPython")
    elapsed, peak, requests = asyncio.run(activity_hour())
    print(
        f"one simulated hour: {elapsed * 1000:.0f} ms CPU for {requests} requests, "
        f"peak traced memory {peak / 1024:.0f} KiB"
    )


if __name__ == "__main__":
    main()
