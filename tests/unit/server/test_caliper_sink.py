"""The Caliper sink against a real local receiver: tokens, envelopes, outages, restarts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from tracker.server import TimebackServer
from tracker.server.outbox import CaliperSink

from .conftest import ServerFactory, client_for
from .helpers import CaliperReceiver, heartbeat_body, new_run, submit_body, window

HEARTBEAT = "/activity/heartbeat"
SUBMIT = "/activity/submit"


def caliper_settings(receiver: CaliperReceiver, **changes: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "sink": "caliper",
        "caliper_url": receiver.url,
        "token_url": f"{receiver.url}/oauth/token",
        "client_id": receiver.client_id,
        "client_secret": receiver.client_secret,
        "retry_base_s": 0.05,
        "retry_max_s": 0.3,
        "poll_interval_s": 0.2,
        "request_timeout_s": 2.0,
    }
    settings.update(changes)
    return settings


async def until(predicate: Callable[[], bool], within: float = 8.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


def stored_ids(server: TimebackServer) -> list[str]:
    return [event["id"] for event in server.store.events()]


async def test_events_are_forwarded_with_a_cached_token(
    make_server: ServerFactory, receiver: CaliperReceiver
) -> None:
    server = make_server(**caliper_settings(receiver))
    async with client_for(server) as client:
        for index in range(3):
            assert (await client.post(HEARTBEAT, json=window(index))).status_code == 204
        assert (await client.post(SUBMIT, json=submit_body())).status_code == 204
        await until(lambda: len(receiver.events) == 4)
        # The receiver records an envelope before its 2xx reaches the sink: wait for that.
        await until(lambda: server.store.outbox_counts()["sent"] == 4)
    await server.aclose()
    assert receiver.event_ids() == stored_ids(server)
    assert receiver.problems == []
    assert receiver.token_requests == 1
    assert {envelope["sensor"] for envelope in receiver.envelopes} == {
        "https://app.example.com/sensors/math"
    }
    assert server.store.outbox_counts() == {"pending": 0, "sent": 4, "failed": 0}


async def test_one_envelope_per_sensor(
    make_server: ServerFactory, receiver: CaliperReceiver
) -> None:
    server = make_server(**caliper_settings(receiver))
    async with client_for(server) as client:
        await client.post(HEARTBEAT, json=window(0))
        await client.post(HEARTBEAT, json=window(1, course={"subject": "Reading", "grade": 2}))
        await until(lambda: len(receiver.events) == 2)
    await server.aclose()
    assert receiver.problems == []  # the receiver checks each event against its envelope
    assert {e["sensor"] for e in receiver.envelopes} == {
        "https://app.example.com/sensors/math",
        "https://app.example.com/sensors/default",
    }


async def test_outage_loses_nothing_and_sends_nothing_twice(
    make_server: ServerFactory, receiver: CaliperReceiver
) -> None:
    server = make_server(**caliper_settings(receiver))
    receiver.down = True
    async with client_for(server) as client:
        for index in range(5):
            # The browser is not affected by the outage.
            assert (await client.post(HEARTBEAT, json=window(index))).status_code == 204
        await client.post(SUBMIT, json=submit_body())
        await until(lambda: len(receiver.refused) >= 3)
        assert receiver.events == []
        assert server.store.outbox_counts()["pending"] == 6

        receiver.down = False
        await until(lambda: len(receiver.events) == 6)
        await asyncio.sleep(0.3)  # would a stray retry send anything twice?
    await server.aclose()
    assert receiver.event_ids() == stored_ids(server)
    assert len(set(receiver.event_ids())) == 6
    assert server.store.outbox_counts() == {"pending": 0, "sent": 6, "failed": 0}


async def test_429_honours_retry_after(
    make_server: ServerFactory, receiver: CaliperReceiver
) -> None:
    server = make_server(**caliper_settings(receiver))
    receiver.fail_next(429, 1, {"Retry-After": "1"})
    async with client_for(server) as client:
        await client.post(HEARTBEAT, json=heartbeat_body())
        await until(lambda: len(receiver.events) == 1)
    await server.aclose()
    first, second = receiver.post_times[:2]
    # The backoff alone would have retried after ~0.05 s.
    assert second - first >= 0.95
    assert receiver.refused == [429]


async def test_503_without_retry_after_backs_off_and_recovers(
    make_server: ServerFactory, receiver: CaliperReceiver
) -> None:
    server = make_server(**caliper_settings(receiver))
    receiver.fail_next(503, 3)
    async with client_for(server) as client:
        await client.post(HEARTBEAT, json=heartbeat_body())
        await until(lambda: len(receiver.events) == 1)
    await server.aclose()
    assert receiver.refused == [503, 503, 503]
    gaps = [b - a for a, b in zip(receiver.post_times, receiver.post_times[1:], strict=False)]
    assert gaps[1] >= gaps[0] * 1.2 or gaps[1] >= 0.09  # exponential


async def test_401_drops_the_cached_token(
    make_server: ServerFactory, receiver: CaliperReceiver
) -> None:
    server = make_server(**caliper_settings(receiver))
    async with client_for(server) as client:
        await client.post(HEARTBEAT, json=window(0))
        await until(lambda: len(receiver.events) == 1)
        receiver.revoke()
        await client.post(HEARTBEAT, json=window(1))
        await until(lambda: len(receiver.events) == 2)
    await server.aclose()
    assert receiver.refused == [401]
    assert receiver.token_requests == 2
    assert receiver.event_ids() == stored_ids(server)


async def test_token_endpoint_refusal_keeps_events_queued(
    make_server: ServerFactory, receiver: CaliperReceiver
) -> None:
    server = make_server(**caliper_settings(receiver, client_secret="wrong"))
    async with client_for(server) as client:
        assert (await client.post(HEARTBEAT, json=heartbeat_body())).status_code == 204
        await until(lambda: receiver.token_requests >= 2)
    await server.aclose()
    assert receiver.event_posts == 0
    assert server.store.outbox_counts() == {"pending": 1, "sent": 0, "failed": 0}


async def test_refused_envelope_is_kept_as_failed(
    make_server: ServerFactory, receiver: CaliperReceiver
) -> None:
    server = make_server(**caliper_settings(receiver))
    receiver.fail_next(422)
    async with client_for(server) as client:
        await client.post(HEARTBEAT, json=heartbeat_body())
        await until(lambda: server.store.outbox_counts()["failed"] == 1)
        await asyncio.sleep(0.2)
        assert receiver.event_posts == 1  # not retried: the endpoint will not take it as is
        assert server.store.requeue_failed() == 1
        server.sink.notify()
        await until(lambda: len(receiver.events) == 1)
    await server.aclose()


async def test_restart_mid_stream_delivers_everything_once(
    make_server: ServerFactory, receiver: CaliperReceiver
) -> None:
    run = new_run()
    receiver.down = True
    first = make_server(**caliper_settings(receiver))
    async with client_for(first) as client:
        for index in range(4):
            assert (await client.post(HEARTBEAT, json=window(index, run_id=run))).status_code == 204
        await until(lambda: len(receiver.refused) >= 1)
    await first.aclose()
    first.close()
    assert receiver.events == []

    receiver.down = False
    second = make_server(**caliper_settings(receiver))
    async with second.lifespan():  # a top-level app starts the worker at once
        await until(lambda: len(receiver.events) == 4)
        async with client_for(second) as client:
            # The page resends the windows it never saw acknowledged, and goes on.
            for index in range(5):
                response = await client.post(HEARTBEAT, json=window(index, run_id=run))
                assert response.status_code == (200 if index < 4 else 204)
            await until(lambda: len(receiver.events) == 5)
        await asyncio.sleep(0.3)
    assert receiver.event_ids() == stored_ids(second)
    assert len(set(receiver.event_ids())) == 5


async def test_record_events_are_forwarded_too(
    make_server: ServerFactory, receiver: CaliperReceiver
) -> None:
    server = make_server(**caliper_settings(receiver))
    await server.activity.record(
        user={"email": "student@example.com"},
        activity={"id": "lesson-1", "name": "Lesson", "course": {"code": "MATH-3"}},
        metrics={"xpEarned": 3},
        time={"activeMs": 240_000},
    )
    await until(lambda: len(receiver.events) == 2)
    await server.aclose()
    assert [e["type"] for e in receiver.events] == ["TimeSpentEvent", "ActivityEvent"]


async def test_stopping_the_sink_just_as_it_is_woken_stops_it(
    make_server: ServerFactory, receiver: CaliperReceiver
) -> None:
    """Found by a hung CI run: on Python 3.11, ``asyncio.wait_for`` swallows a cancellation
    that arrives in the same turn as the awaited event, so the worker slept on forever and
    ``aclose()`` waited for it."""
    server = make_server(**caliper_settings(receiver, poll_interval_s=30.0))
    sink = server.sink
    assert isinstance(sink, CaliperSink)
    await server.ensure_started()
    await asyncio.sleep(0.3)  # the worker found nothing due and sleeps until woken
    began = time.monotonic()
    sink.notify()  # wakes it ...
    closing = asyncio.ensure_future(server.aclose())
    await asyncio.sleep(0)  # ... and aclose() cancels it in the same turn as the wake
    done, _ = await asyncio.wait({closing}, timeout=5)
    assert done, "aclose() hung: the worker swallowed its cancellation"
    closing.result()
    assert time.monotonic() - began < 2
