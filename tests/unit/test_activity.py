"""The activity instance and ``start()``: every property, method and callback of the reference
page, with delivery rules W6, R1, R2, P1, P3 and boot rules B1, B2 (time-model.md)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest

from tracker.config import parse_config
from tracker.delivery import KEY_PREFIX
from tracker.errors import (
    ActivityAlreadyRunningError,
    DeliveryError,
    TrackerValidationError,
    UnknownCourseError,
)
from tracker.timefmt import epoch_ms_from_iso

from .fakes import BASE_PARAMS, ORIGIN, Env

MIN = 60_000


class Calls:
    """Records callback invocations."""

    def __init__(self) -> None:
        self.log: list[tuple[str, Any]] = []

    def params(self, **extra: Any) -> dict[str, Any]:
        return {
            **BASE_PARAMS,
            "onError": lambda err, ctx: self.log.append(("error", (err, ctx))),
            "onPause": lambda: self.log.append(("pause", None)),
            "onResume": lambda: self.log.append(("resume", None)),
            "onFlush": lambda ms: self.log.append(("flush", ms)),
            **extra,
        }

    def kinds(self) -> list[str]:
        return [k for k, _ in self.log]

    def of(self, kind: str) -> list[Any]:
        return [v for k, v in self.log if k == kind]


# -- start() and activity.current ---------------------------------------------------------


async def test_start_returns_the_activity_and_sets_current() -> None:
    env = Env()
    activity = env.tracker.start(BASE_PARAMS)
    assert env.tracker.current is activity
    assert activity.id == "fractions-1"
    assert activity.name == "Fractions"
    uuid.UUID(activity.run_id)  # generated when omitted
    assert activity.started_at_ms == ORIGIN + 1000
    assert activity.started_at.isoformat() == "2026-01-27T10:00:01+00:00"
    assert not activity.is_paused and not activity.is_ended


async def test_start_accepts_keyword_arguments_in_python_spelling() -> None:
    env = Env()
    run_id = str(uuid.uuid4())
    activity = env.tracker.start(
        id="lesson-1", name="Intro", course={"code": "MATH-3"}, run_id=run_id
    )
    assert activity.run_id == run_id


async def test_start_while_another_runs_raises() -> None:
    env = Env()
    first = env.tracker.start(BASE_PARAMS)
    with pytest.raises(ActivityAlreadyRunningError, match="fractions-1"):
        env.tracker.start({**BASE_PARAMS, "id": "other"})
    await first.end()
    second = env.tracker.start({**BASE_PARAMS, "id": "other"})
    assert env.tracker.current is second


async def test_start_validates_and_names_the_field() -> None:
    env = Env()
    with pytest.raises(TrackerValidationError) as err:
        env.tracker.start({**BASE_PARAMS, "time": {"flushIntervalMs": -5}})
    assert err.value.field == "time.flushIntervalMs"
    assert env.tracker.current is None


async def test_start_with_config_rejects_an_unknown_course() -> None:
    config = parse_config(
        {
            "name": "App",
            "sensor": "https://app.example.com/sensors/x",
            "courses": [{"subject": "Math", "grade": 3, "courseCode": "MATH-3"}],
        }
    )
    env = Env(config=config)
    env.tracker.start(BASE_PARAMS)  # {subject: Math, grade: 3} matches
    await env.tracker.current.end()  # type: ignore[union-attr]
    env.tracker.start({**BASE_PARAMS, "course": {"code": "MATH-3"}})
    await env.tracker.current.end()  # type: ignore[union-attr]
    with pytest.raises(UnknownCourseError) as err:
        env.tracker.start({**BASE_PARAMS, "course": {"code": "NOPE"}})
    assert err.value.field == "course"


async def test_runid_given_is_used_for_every_event() -> None:
    env = Env()
    run_id = "f47ac10b-58cc-4372-a567-0e02b2c3d479"
    activity = env.tracker.start({**BASE_PARAMS, "runId": run_id})
    await env.advance(15_000)
    await activity.end({"xpEarned": 1})
    assert {json.loads(r.body)["runId"] for r in env.server.requests} == {run_id}


# -- heartbeats: body, interval, options -----------------------------------------------------


async def test_heartbeat_body_is_exactly_the_wire_shape() -> None:
    env = Env()
    run_id = "f47ac10b-58cc-4372-a567-0e02b2c3d479"
    env.tracker.start({**BASE_PARAMS, "runId": run_id})
    await env.advance(15_000)
    (request,) = env.server.requests
    assert request.url == "/api/timeback/activity/heartbeat"
    assert request.body == (
        '{"id":"fractions-1","name":"Fractions","course":{"subject":"Math","grade":3},'
        '"runId":"f47ac10b-58cc-4372-a567-0e02b2c3d479",'
        '"startedAt":"2026-01-27T10:00:01.000Z","endedAt":"2026-01-27T10:00:16.000Z",'
        '"elapsedMs":15000,"pausedMs":0}'
    )


async def test_heartbeat_every_flush_interval_ms_custom_value() -> None:
    """W5 with flushIntervalMs: 30000."""
    env = Env()
    env.tracker.start({**BASE_PARAMS, "time": {"flushIntervalMs": 30_000}})
    await env.advance(95_000)
    assert [r.at - 1000 for r in env.server.requests] == [30_000, 60_000, 90_000]
    assert [h["elapsedMs"] for h in env.server.heartbeats] == [30_000] * 3


async def test_on_flush_gets_the_active_ms_of_each_acknowledged_window() -> None:
    env, calls = Env(), Calls()
    env.tracker.start(calls.params())
    await env.advance(15_000)
    env.set_hidden(True)
    await env.advance(1_000)
    env.set_hidden(False)
    await env.advance(4_000)
    assert calls.of("flush") == [15_000]  # the hidden flush at 16 000 was empty (W4)
    await env.advance(11_000)
    assert calls.of("flush") == [15_000, 14_000]


async def test_h3_time_false_no_heartbeat_no_handler_no_timer_completion_only() -> None:
    env = Env()
    activity = env.tracker.start({**BASE_PARAMS, "time": False})
    assert env.page.listener_count == 0
    assert env.scheduler.pending == 0
    await env.advance(10 * MIN)
    assert env.server.requests == []
    assert activity.elapsed_ms == 0 and activity.total_active_ms == 0
    await activity.flush_time_spent()  # no-op
    await activity.end({"xpEarned": 100})
    (submit,) = env.server.requests
    assert submit.url.endswith("/activity/submit")
    assert submit.json["metrics"] == {"xpEarned": 100}


async def test_h3_visibility_aware_false_registers_no_visibility_handler() -> None:
    env = Env()
    activity = env.tracker.start({**BASE_PARAMS, "time": {"visibilityAware": False}})
    assert env.page.handlers["visibility"] == []
    env.page.hidden = True  # nobody listens: hidden time counts as active
    await env.advance(15_000)
    assert env.server.heartbeats[0]["elapsedMs"] == 15_000
    assert activity.total_active_ms == 15_000


async def test_hidden_flush_and_no_active_time_while_hidden() -> None:
    env = Env()
    env.tracker.start(BASE_PARAMS)
    await env.advance(6_000)
    env.set_hidden(True)
    await env.settle()
    assert env.server.heartbeats[-1]["elapsedMs"] == 6_000
    await env.advance(60_000)
    env.set_hidden(False)
    await env.settle()
    last = env.server.heartbeats[-1]
    assert (last["elapsedMs"], last["pausedMs"]) == (0, 60_000)


async def test_hidden_timeout_fires_on_pause_then_on_resume_when_visible() -> None:
    """H1, H2 and the onPause/onResume callbacks for automatic changes."""
    env, calls = Env(), Calls()
    activity = env.tracker.start(calls.params())
    await env.advance(3_000)
    env.set_hidden(True)
    await env.advance(10 * MIN)
    assert calls.kinds().count("pause") == 1
    assert activity.is_paused
    count = len(env.server.requests)
    await env.advance(30 * MIN)
    assert len(env.server.requests) == count  # no heartbeats while paused
    env.set_hidden(False)
    assert calls.kinds()[-1] == "resume"
    assert not activity.is_paused
    await env.advance(15_000)
    assert env.server.heartbeats[-1]["elapsedMs"] == 15_000
    assert activity.total_active_ms == 18_000


async def test_hidden_timeout_custom_value() -> None:
    env, calls = Env(), Calls()
    env.tracker.start(calls.params(time={"hiddenTimeoutMs": 30_000}))
    env.set_hidden(True)
    await env.advance(29_999)
    assert "pause" not in calls.kinds()
    await env.advance(1)
    assert calls.kinds() == ["pause", "flush"]
    assert calls.of("flush") == [0]  # the hidden window: 30 s paused, 0 active


async def test_hidden_timeout_infinity_disables_it() -> None:
    env, calls = Env(), Calls()
    env.tracker.start(calls.params(time={"hiddenTimeoutMs": float("inf")}))
    env.set_hidden(True)
    await env.advance(60 * MIN)
    assert "pause" not in calls.kinds()


# -- pause / resume / flushTimeSpent -------------------------------------------------------


async def test_pause_flushes_fires_on_pause_and_stops_heartbeats() -> None:
    env, calls = Env(), Calls()
    activity = env.tracker.start(calls.params())
    await env.advance(4_000)
    activity.pause()
    await env.settle()
    assert activity.is_paused
    assert calls.kinds() == ["pause", "flush"]
    assert env.server.heartbeats[-1]["elapsedMs"] == 4_000
    await env.advance(5 * MIN)
    assert len(env.server.requests) == 1
    activity.pause()  # twice: nothing more
    assert calls.kinds().count("pause") == 1


async def test_resume_opens_a_fresh_window_and_fires_on_resume() -> None:
    env, calls = Env(), Calls()
    activity = env.tracker.start(calls.params())
    activity.pause()
    await env.advance(50_000)
    activity.resume()
    assert calls.kinds()[-1] == "resume"
    await env.advance(15_000)
    assert env.server.heartbeats[-1]["startedAt"] == "2026-01-27T10:00:51.000Z"
    assert env.server.heartbeats[-1]["elapsedMs"] == 15_000
    activity.resume()  # not paused: no-op
    assert calls.kinds().count("resume") == 1


async def test_flush_time_spent_sends_now_and_resets_elapsed() -> None:
    env = Env()
    activity = env.tracker.start(BASE_PARAMS)
    await env.advance(7_250)
    assert activity.elapsed_ms == 7_250
    await activity.flush_time_spent()
    assert env.server.heartbeats[-1]["elapsedMs"] == 7_250
    assert activity.elapsed_ms == 0
    assert activity.total_active_ms == 7_250


async def test_flush_time_spent_is_a_no_op_when_paused() -> None:
    env = Env()
    activity = env.tracker.start(BASE_PARAMS)
    activity.pause()
    await env.advance(1_000)
    count = len(env.server.requests)
    await activity.flush_time_spent()
    assert len(env.server.requests) == count


async def test_w6_one_request_in_flight_and_windows_in_order() -> None:
    env = Env()
    env.server.hold = asyncio.Event()
    activity = env.tracker.start(BASE_PARAMS)
    await env.advance(15_000)  # interval flush, held by the server
    first = asyncio.ensure_future(activity.flush_time_spent())
    await env.advance(2_000)
    second = asyncio.ensure_future(activity.flush_time_spent())
    await env.settle()
    assert env.server.in_flight == 1
    assert not first.done() and not second.done()
    env.server.hold.set()
    await asyncio.gather(first, second)
    assert env.server.max_in_flight == 1
    starts = [h["startedAt"] for h in env.server.heartbeats]
    assert starts == sorted(starts) and len(starts) == 2


# -- R1: retries ------------------------------------------------------------------------------


async def test_r1_retries_with_the_delay_schedule_then_succeeds() -> None:
    env, calls = Env(), Calls()
    env.tracker.start(calls.params(time={"retryAttempts": 3, "retryDelaysMs": [100, 300]}))
    env.server.fail_next = [503, None, 500]
    await env.advance(15_000)
    await env.advance(2_000)
    times = [r.at - 16_000 for r in env.server.requests]
    assert times == [0, 100, 400, 700]  # the last delay repeats
    bodies = {r.body for r in env.server.requests}
    assert len(bodies) == 1  # the identical window every time
    assert "error" not in calls.kinds()
    assert calls.of("flush") == [15_000]


async def test_r1_on_error_only_after_the_last_attempt() -> None:
    env, calls = Env(), Calls()
    activity = env.tracker.start(calls.params(time={"retryAttempts": 2}))
    env.server.fail_next = [503, 503, 503]
    await env.advance(15_000)
    await env.advance(1_000)
    assert len(env.server.requests) == 3
    ((error, context),) = calls.of("error")
    assert isinstance(error, DeliveryError) and error.status == 503
    assert context == {"type": "timeSpent", "activityId": "fractions-1", "runId": activity.run_id}


async def test_r1_default_no_retry() -> None:
    env, calls = Env(), Calls()
    env.tracker.start(calls.params())
    env.server.fail_next = [503]
    await env.advance(15_000)
    assert len(env.server.requests) == 1
    assert calls.kinds() == ["error"]


async def test_r1_a_4xx_is_final_and_not_retried() -> None:
    env, calls = Env(), Calls()
    env.tracker.start(calls.params(time={"retryAttempts": 3}))
    env.server.fail_next = [400]
    await env.advance(15_000)
    assert len(env.server.requests) == 1
    ((error, _),) = calls.of("error")
    assert error.status == 400 and error.code == "X"


async def test_r2_time_spent_errors_never_stop_tracking() -> None:
    env, calls = Env(), Calls()
    activity = env.tracker.start(calls.params())
    env.server.down = True
    await env.advance(45_000)
    assert calls.kinds() == ["error"] * 3
    assert not activity.is_paused and activity.total_active_ms == 45_000
    env.server.down = False
    await env.advance(15_000)
    assert [h["elapsedMs"] for h in env.server.heartbeats] == [15_000] * 4


# -- P3: unacknowledged windows are kept and sent again ------------------------------------


async def test_p3_windows_kept_while_server_is_down_and_sent_in_order_later() -> None:
    env = Env()
    env.tracker.start(BASE_PARAMS)
    env.server.down = True
    await env.advance(45_000)
    assert len([k for k in env.storage.data if k.startswith(KEY_PREFIX)]) == 3
    env.server.down = False
    await env.advance(15_000)
    assert len(env.server.heartbeats) == 4
    starts = [h["startedAt"] for h in env.server.heartbeats]
    assert starts == sorted(starts)
    assert env.storage.windows == {}


async def test_p3_next_page_load_delivers_what_the_last_one_left() -> None:
    env = Env()
    env.tracker.start(BASE_PARAMS)
    env.server.down = True
    await env.advance(35_000)
    env.page_hide()  # beacon while down: unknown fate, kept
    assert len(env.storage.windows) == 3
    env.server.down = False
    next_page = env.reload()
    await next_page.tracker.resend_stored()
    assert env.storage.windows == {}
    assert sum(h["elapsedMs"] for h in env.server.heartbeats) == 35_000


async def test_p3_a_rejected_window_is_dropped_and_reported() -> None:
    env, calls = Env(), Calls()
    env.tracker.start(calls.params())
    env.server.fail_next = [422]
    await env.advance(15_000)
    assert env.storage.windows == {}
    assert calls.kinds() == ["error"]


@pytest.mark.parametrize("status", [408, 429])
async def test_p3_408_and_429_are_kept_for_later(status: int) -> None:
    env = Env()
    env.tracker.start(BASE_PARAMS)
    env.server.fail_next = [status]
    await env.advance(15_000)
    assert len(env.storage.windows) == 1
    await env.advance(15_000)
    assert len(env.server.heartbeats) == 2 and env.storage.windows == {}


async def test_p3_resend_is_byte_identical_and_deduplicated() -> None:
    """A beaconed window is resent on the next load; the server sees a duplicate, not a new one."""
    env = Env()
    env.tracker.start(BASE_PARAMS)
    await env.advance(5_000)
    env.page_hide()
    assert [r.via for r in env.server.requests] == ["beacon"]
    next_page = env.reload()
    await next_page.tracker.resend_stored()
    beacon, resend = env.server.requests
    assert beacon.body == resend.body
    assert len(env.server.heartbeats) == 1 and env.storage.windows == {}


async def test_storage_failure_does_not_lose_the_window_for_this_page() -> None:
    env = Env()
    env.storage.broken = True
    env.tracker.start(BASE_PARAMS)
    await env.advance(15_000)
    assert env.server.heartbeats[0]["elapsedMs"] == 15_000


async def test_corrupt_stored_entry_is_dropped_not_fatal() -> None:
    env = Env()
    env.storage.data[KEY_PREFIX + "2026-01-01T00:00:00.000Z.x"] = "{not json"
    env.tracker.start(BASE_PARAMS)
    await env.advance(15_000)
    assert len(env.server.heartbeats) == 1
    assert env.storage.windows == {}


# -- P1 / P2: page exit and restore ---------------------------------------------------------


async def test_p1_page_hide_sends_the_open_window_by_beacon_synchronously() -> None:
    env = Env()
    env.tracker.start(BASE_PARAMS)
    await env.advance(9_000)
    env.page_hide()
    # No await between the event and the send (P1).
    (beacon,) = env.server.requests
    assert beacon.via == "beacon"
    assert beacon.json["elapsedMs"] == 9_000


async def test_p1_refused_beacon_falls_back_to_keepalive_fetch() -> None:
    env = Env()
    env.server.beacon_accepts = False
    env.tracker.start(BASE_PARAMS)
    await env.advance(9_000)
    env.page_hide()
    assert [r.via for r in env.server.requests] == ["beacon", "keepalive"]
    assert len(env.storage.windows) == 1
    env.server.keepalive_replies[0]()  # the page lived to see the answer
    assert env.storage.windows == {}


async def test_flush_on_page_hide_false_sends_nothing_at_page_hide() -> None:
    env = Env()
    env.tracker.start({**BASE_PARAMS, "time": {"flushOnPageHide": False}})
    await env.advance(9_000)
    env.page_hide()
    assert env.server.requests == []
    env.page_show()  # restored from the cache: the held window goes out normally
    await env.settle()
    assert env.server.heartbeats[0]["elapsedMs"] == 9_000


async def test_p2_page_show_opens_a_fresh_window_cache_time_not_counted() -> None:
    env = Env()
    activity = env.tracker.start(BASE_PARAMS)
    await env.advance(5_000)
    env.page_hide()
    await env.advance(5 * MIN)  # in the back/forward cache
    env.page_show()
    await env.advance(15_000)
    assert [h["elapsedMs"] for h in env.server.heartbeats] == [5_000, 15_000]
    assert activity.total_active_ms == 20_000


# -- end() ---------------------------------------------------------------------------------------


async def test_end_without_data_flushes_and_ends() -> None:
    env = Env()
    activity = env.tracker.start(BASE_PARAMS)
    await env.advance(3_000)
    await activity.end()
    assert [r.url.rsplit("/", 1)[1] for r in env.server.requests] == ["heartbeat"]
    assert activity.is_ended and env.tracker.current is None
    assert env.page.listener_count == 0 and env.scheduler.pending == 0


async def test_end_with_completion_sends_the_exact_submit_body_after_the_last_window() -> None:
    env = Env()
    run_id = "f47ac10b-58cc-4372-a567-0e02b2c3d479"
    activity = env.tracker.start({**BASE_PARAMS, "runId": run_id})
    await env.advance(180_000)
    await activity.end(
        {
            "xpEarned": 8,
            "totalQuestions": 10,
            "correctQuestions": 8,
            "masteredUnits": 1,
            "pctComplete": 67,
        }
    )
    *_, last_window, submit = env.server.requests
    assert last_window.url.endswith("/heartbeat")
    assert submit.url == "/api/timeback/activity/submit"
    assert submit.body == (
        '{"id":"fractions-1","name":"Fractions","course":{"subject":"Math","grade":3},'
        '"runId":"f47ac10b-58cc-4372-a567-0e02b2c3d479","endedAt":"2026-01-27T10:03:01.000Z",'
        '"metrics":{"xpEarned":8,"totalQuestions":10,"correctQuestions":8,"masteredUnits":1},'
        '"pctComplete":67,"process":true}'
    )


@pytest.mark.parametrize("process", [False, True])
async def test_start_process_is_sent_in_the_submit_body(process: bool) -> None:
    """Issue 9: start({process: false}) is accepted and sent as given."""
    env = Env()
    activity = env.tracker.start({**BASE_PARAMS, "process": process})
    await activity.end({"xpEarned": 1})
    assert env.server.completions[0]["process"] is process


def test_start_process_must_be_a_boolean() -> None:
    env = Env()
    with pytest.raises(TrackerValidationError) as caught:
        env.tracker.start({**BASE_PARAMS, "process": "no"})
    assert caught.value.field == "process"


async def test_the_bodies_sent_are_the_ones_the_server_validates() -> None:
    """Wire bodies are built once, from the models the server reads them with."""
    from tracker.wire import HeartbeatBody, SubmitBody

    env = Env()
    activity = env.tracker.start(BASE_PARAMS)
    await env.advance(15_000)
    await activity.end({"xpEarned": 2.5, "time": {"active": 1000}})
    first, override, submit = env.server.requests
    HeartbeatBody.model_validate_json(first.body)
    HeartbeatBody.model_validate_json(override.body)
    assert SubmitBody.model_validate_json(submit.body).time is None
    assert submit.json["metrics"] == {"xpEarned": 2.5}


async def test_end_accepts_python_spelling() -> None:
    env = Env()
    activity = env.tracker.start(BASE_PARAMS)
    await activity.end({"xp_earned": 5, "total_questions": 4, "correct_questions": 4})
    assert env.server.completions[0]["metrics"] == {
        "xpEarned": 5,
        "totalQuestions": 4,
        "correctQuestions": 4,
    }


async def test_end_rejects_bad_completion_data_before_sending() -> None:
    env = Env()
    activity = env.tracker.start(BASE_PARAMS)
    with pytest.raises(TrackerValidationError) as err:
        await activity.end({"xpEarned": 5, "totalQuestions": 4})
    assert err.value.field == "correctQuestions"
    assert env.server.requests == [] and not activity.is_ended


async def test_r2_failed_completion_calls_on_error_raises_and_stays_usable() -> None:
    env, calls = Env(), Calls()
    activity = env.tracker.start(calls.params())
    await env.advance(4_000)
    env.server.fail_submits = [502]  # the final window goes through, the completion fails
    with pytest.raises(DeliveryError, match="HTTP 502"):
        await activity.end({"xpEarned": 2})
    ((_, context),) = calls.of("error")
    assert context["type"] == "completion"
    assert not activity.is_ended and env.tracker.current is activity
    await env.advance(2_000)  # still usable: tracking goes on
    await activity.end({"xpEarned": 2})
    assert activity.is_ended
    submits = [r for r in env.server.requests if r.url.endswith("/submit")]
    assert len(submits) == 2
    # The retry is the same attempt for the server: same endedAt (wire §1).
    assert submits[0].json["endedAt"] == submits[1].json["endedAt"]
    assert sum(h["elapsedMs"] for h in env.server.heartbeats) == 6_000


async def test_completion_retries_follow_retry_attempts() -> None:
    env = Env()
    activity = env.tracker.start({**BASE_PARAMS, "time": {"retryAttempts": 1}})
    await activity.flush_time_spent()
    env.server.fail_next = [503]
    ending = asyncio.ensure_future(activity.end({"xpEarned": 1}))
    await env.advance(200)
    await ending
    assert activity.is_ended
    assert [r.url.rsplit("/", 1)[1] for r in env.server.requests] == ["submit", "submit"]


async def test_end_twice_concurrently_sends_once() -> None:
    env = Env()
    activity = env.tracker.start(BASE_PARAMS)
    await env.advance(1_000)
    await asyncio.gather(activity.end({"xpEarned": 1}), activity.end({"xpEarned": 1}))
    assert len(env.server.completions) == 1
    await activity.end({"xpEarned": 1})  # after success: no-op
    assert len(env.server.completions) == 1


async def test_end_with_time_override_sends_it_and_drops_tracked_open_window() -> None:
    env = Env()
    activity = env.tracker.start(BASE_PARAMS)
    await env.advance(5_000)
    await activity.end({"xpEarned": 3, "time": {"active": 1_200_000, "inactive": 120_000}})
    # Issue 9: the override travels as one final window ending at the end() call, then a
    # submit without time: the form the official server counts once too (it ignores a
    # submit's time). The 5 s tracked in the open window are dropped.
    [window] = env.server.heartbeats
    assert (window["elapsedMs"], window["pausedMs"]) == (1_200_000, 120_000)
    span = epoch_ms_from_iso(window["endedAt"]) - epoch_ms_from_iso(window["startedAt"])
    assert span == 1_320_000
    [completion] = env.server.completions
    assert "time" not in completion
    assert completion["endedAt"] == window["endedAt"]


async def test_a_retried_end_with_time_override_sends_its_window_once() -> None:
    env = Env()
    activity = env.tracker.start(BASE_PARAMS)
    env.server.fail_submits = [503]
    data = {"xpEarned": 3, "time": {"active": 60_000}}
    with pytest.raises(DeliveryError):
        await activity.end(data)
    await activity.end(data)
    # One window (its one send, never a second one with a later time) and one completion.
    assert len(env.server.heartbeats) == 1
    assert len([r for r in env.server.requests if r.url.endswith("/heartbeat")]) == 1
    assert len(env.server.completions) == 1


async def test_end_while_paused_sends_no_window() -> None:
    env = Env()
    activity = env.tracker.start(BASE_PARAMS)
    activity.pause()
    await env.settle()
    count = len(env.server.requests)
    await activity.end()
    assert len(env.server.requests) == count


async def test_methods_after_end_are_no_ops() -> None:
    env, calls = Env(), Calls()
    activity = env.tracker.start(calls.params())
    await activity.end()
    activity.pause()
    activity.resume()
    await activity.flush_time_spent()
    assert calls.kinds() == [] and env.server.requests == []


async def test_a_raising_callback_does_not_break_tracking() -> None:
    env = Env()

    def boom(*_: Any) -> None:
        raise RuntimeError("page bug")

    activity = env.tracker.start({**BASE_PARAMS, "onFlush": boom, "onPause": boom})
    await env.advance(15_000)
    activity.pause()
    activity.resume()
    await env.advance(15_000)
    assert len(env.server.heartbeats) == 2


async def test_errors_without_on_error_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    env = Env()
    env.tracker.start(BASE_PARAMS)
    env.server.fail_next = [503]
    await env.advance(15_000)
    assert "timeSpent failed" in caplog.text


# -- B1 / B2: calls made while Python was booting -----------------------------------------------


async def test_b1_start_queued_during_boot_starts_at_the_call() -> None:
    env = Env(start_at=2_600)  # Python became ready at 2.6 s
    activity = env.tracker.start(BASE_PARAMS, called_at=400)
    assert activity.started_at_ms == ORIGIN + 400
    assert activity.total_active_ms == 2_200
    await env.run_until(15_400)
    assert env.server.heartbeats[0]["elapsedMs"] == 15_000
    assert env.server.heartbeats[0]["startedAt"] == "2026-01-27T10:00:00.400Z"


async def test_b1_replayed_pause_keeps_its_call_time() -> None:
    env = Env(start_at=3_000)
    activity = env.tracker.start(BASE_PARAMS, called_at=500)
    activity.pause(at=1_500)
    await env.settle()
    assert env.server.heartbeats[0]["elapsedMs"] == 1_000


async def test_b1_end_replayed_after_a_boot_longer_than_the_interval_sends_one_window() -> None:
    """start() and end() both made during a boot that outlasted flushIntervalMs: the window
    opened at the end must not fall due at once and go out as a second heartbeat while the
    final one is in flight (a flaky e2e test saw two)."""
    env = Env(start_at=16_000)
    env.server.hold = asyncio.Event()
    activity = env.tracker.start(BASE_PARAMS, called_at=400)
    ending = activity.end(at=700)
    await env.run_until(16_100)
    env.server.hold.set()
    await ending
    await env.advance(20_000)
    assert activity.is_ended
    assert [r.json["elapsedMs"] for r in env.server.requests] == [300]


async def test_no_interval_flush_while_the_final_window_is_delivered() -> None:
    """end() took its window; a slow answer must not let the next interval flush run."""
    env = Env()
    activity = env.tracker.start(BASE_PARAMS)
    await env.advance(5_000)
    env.server.hold = asyncio.Event()
    ending = activity.end()
    await env.advance(20_000)
    assert len(env.server.requests) == 1
    env.server.hold.set()
    await ending
    assert [r.json["elapsedMs"] for r in env.server.requests] == [5_000]


async def test_b2_visibility_during_boot_is_reconstructed() -> None:
    env = Env(start_at=5_000)
    # visibility-state entries: visible at the call (300), hidden at 1 000, visible at 4 000.
    activity = env.tracker.start(
        BASE_PARAMS, called_at=300, visibility_history=[(300, False), (1_000, True), (4_000, False)]
    )
    assert activity.total_active_ms == 700 + 1_000
    await env.settle()
    assert env.server.heartbeats[0] == {**env.server.heartbeats[0], "elapsedMs": 700}


async def test_b2_still_hidden_now_even_if_entries_say_visible() -> None:
    """Entries can miss a change; the adapter reconciles with document.hidden after replay."""
    env = Env(start_at=5_000, hidden=True)
    activity = env.tracker.start(BASE_PARAMS, called_at=1_000, visibility_history=[(1_000, False)])
    activity.on_visibility(env.page.is_hidden(), env.now)
    assert activity.total_active_ms == 4_000
    await env.advance(10_000)
    assert activity.total_active_ms == 4_000


async def test_started_in_a_hidden_tab_counts_nothing_until_visible() -> None:
    env = Env(hidden=True)
    activity = env.tracker.start(BASE_PARAMS)
    await env.advance(5_000)
    env.set_hidden(False)
    await env.advance(2_000)
    assert activity.total_active_ms == 2_000


async def test_repr_tells_the_state() -> None:
    env = Env()
    activity = env.tracker.start(BASE_PARAMS)
    assert "running" in repr(activity)
    activity.pause()
    assert "paused" in repr(activity)
    await activity.end()
    assert "ended" in repr(activity)


async def test_r1_a_kept_window_resent_at_the_next_flush_gets_the_activitys_retries() -> None:
    """R1 with P3: the window kept after a failure goes first at the next flush, with the
    activity's retries; onError only if they all fail."""
    env, calls = Env(), Calls()
    env.tracker.start(calls.params(time={"retryAttempts": 2, "retryDelaysMs": [50]}))
    env.server.fail_next = [503, 503, 503]
    await env.advance(15_000)
    await env.advance(200)
    assert calls.kinds() == ["error"]
    env.server.fail_next = [503]  # the kept window fails once more, then goes through
    await env.advance(14_800)
    await env.advance(200)
    assert calls.kinds() == ["error", "flush", "flush"]
    statuses = [r.at - 16_000 for r in env.server.requests]
    assert statuses == [0, 50, 100, 15_000, 15_050, 15_050]
    assert len(env.server.heartbeats) == 2 and env.storage.windows == {}
