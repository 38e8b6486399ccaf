"""Long random timelines against the invariants: W1 (windows tile time), W2 (active + paused =
length), W7 (totals), and no window lost or counted twice (P3 with server dedupe).

Hours of simulated time with random hide/show, pause/resume, manual flushes, back/forward
cache stays and server outages. The expected active time comes from an independent, much
simpler model of the rules (W3, H1, H2, P2), not from the engine.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracker.activity import Activity
from tracker.timefmt import epoch_ms_from_iso

from .fakes import BASE_PARAMS, Env

ACTIONS = ("hide", "show", "pause", "resume", "flush", "down", "up", "bfcache")


@dataclass
class ReferenceModel:
    """Active time per the rules, computed by walking the timeline segment by segment."""

    timeout: int
    hidden: bool = False
    paused: bool = False  # explicit pause()
    timed_out: bool = False
    hidden_since: int = 0
    now: int = 0
    active: int = 0

    def advance(self, to: int) -> None:
        if not self.hidden and not self.paused and not self.timed_out:
            self.active += to - self.now
        elif self.hidden and not self.paused and not self.timed_out:
            deadline = self.hidden_since + self.timeout
            if deadline <= to:
                self.timed_out = True  # H1: at hide + timeout exactly
        self.now = to

    def apply(self, action: str) -> None:
        if action == "hide" and not self.hidden:
            self.hidden, self.hidden_since = True, self.now
        elif action == "show" and self.hidden:
            self.hidden = False
            self.timed_out = False  # H2: back after the timeout resumes
        elif action == "pause" and not self.paused:
            self.paused = True
            self.timed_out = False
        elif action == "resume" and (self.paused or self.timed_out):
            self.paused = self.timed_out = False
            if self.hidden:
                self.hidden_since = self.now


async def perform(env: Env, activity: Activity, action: str) -> None:
    """One scripted action on the page or the server (``bfcache`` is the caller's)."""
    if action == "hide" and not env.page.hidden:
        env.set_hidden(True)
    elif action == "show" and env.page.hidden:
        env.set_hidden(False)
    elif action == "pause":
        activity.pause()
    elif action == "resume":
        activity.resume()
    elif action == "flush":
        await env.complete(activity.flush_time_spent())
    elif action in ("down", "up"):
        env.server.down = action == "down"


async def run_timeline(seed: int, steps: int, max_gap: int, hidden_timeout: int = 600_000) -> None:
    rng = random.Random(seed)
    env = Env()
    model = ReferenceModel(timeout=hidden_timeout, now=env.now)
    activity = env.tracker.start(
        {
            **BASE_PARAMS,
            "time": {"hiddenTimeoutMs": hidden_timeout, "retryAttempts": rng.randint(0, 2)},
        }
    )
    for _ in range(steps):
        gap = rng.randint(0, max_gap)
        await env.advance(gap)
        model.advance(env.now)
        action = rng.choice(ACTIONS)
        if action == "bfcache" and not env.page.hidden:
            start = env.now
            env.page_hide()
            await env.advance(rng.randint(1, 120_000))
            env.page_show()
            model.advance(start)
            model.now = env.now  # P2: the stay in the cache is not counted
            await env.settle()
            continue
        await perform(env, activity, action)
        model.apply(action)
        model.advance(env.now)  # a flush waiting out retry delays lets time pass
        # W7 on every step: the instance agrees with the reference model.
        assert activity.total_active_ms == model.active, (seed, action)

    env.server.down = False
    await env.complete(activity.end({"xpEarned": 1}))
    model.advance(env.now)
    check_invariants(env, model.active, hidden_timeout)


def check_invariants(env: Env, expected_active: int, timeout: int) -> None:
    windows = sorted(env.server.heartbeats, key=lambda w: w["startedAt"])
    assert env.storage.windows == {}, "every stored window was delivered"
    # No window counted twice: the server saw each identity once, and the sum is exact.
    assert sum(w["elapsedMs"] for w in windows) == expected_active
    for window in windows:
        start = epoch_ms_from_iso(window["startedAt"])
        end = epoch_ms_from_iso(window["endedAt"])
        assert window["elapsedMs"] + window["pausedMs"] == end - start  # W2 (exact)
        assert window["elapsedMs"] >= 0 and window["pausedMs"] >= 0
        assert window["elapsedMs"] or window["pausedMs"]  # W4
        assert window["pausedMs"] <= timeout + 1  # H2: nothing after the timeout
    for before, after in itertools.pairwise(windows):
        # W1: windows never overlap; a gap only where the activity paused (or the timeout).
        assert epoch_ms_from_iso(before["endedAt"]) <= epoch_ms_from_iso(after["startedAt"])


async def test_six_simulated_hours_of_random_use_keep_every_invariant() -> None:
    for seed in range(6):
        await run_timeline(seed, steps=400, max_gap=120_000)


async def test_dense_short_timelines_with_short_hidden_timeout() -> None:
    for seed in range(100, 130):
        await run_timeline(seed, steps=150, max_gap=4_000, hidden_timeout=5_000)


async def test_windows_tile_exactly_without_pauses() -> None:
    """W1: with no pause, every window's end is the next one's start."""
    rng = random.Random(7)
    env = Env()
    activity = env.tracker.start({**BASE_PARAMS, "time": {"hiddenTimeoutMs": None}})
    for _ in range(300):
        await env.advance(rng.randint(0, 40_000))
        env.set_hidden(not env.page.hidden)
    await activity.end()
    windows = sorted(env.server.heartbeats, key=lambda w: w["startedAt"])
    for before, after in itertools.pairwise(windows):
        assert before["endedAt"] == after["startedAt"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(
        st.tuples(st.integers(0, 30_000), st.sampled_from(ACTIONS)), min_size=1, max_size=60
    ),
    timeout=st.sampled_from([3_000, 20_000, 600_000]),
)
def test_any_event_sequence_keeps_the_invariants(
    steps: list[tuple[int, str]], timeout: int
) -> None:
    async def scenario() -> None:
        env = Env()
        model = ReferenceModel(timeout=timeout, now=env.now)
        activity = env.tracker.start({**BASE_PARAMS, "time": {"hiddenTimeoutMs": timeout}})
        for gap, action in steps:
            await env.advance(gap)
            model.advance(env.now)
            await perform(env, activity, action)  # bfcache stays out of the short sequences
            model.apply(action if action != "bfcache" else "noop")
            model.advance(env.now)
            assert activity.total_active_ms == model.active
        env.server.down = False
        await env.complete(activity.end())
        model.advance(env.now)
        check_invariants(env, model.active, timeout)

    asyncio.run(scenario())
