"""The delivery queue, rule by rule, as tables: windows, replies and ticks in, effects out.
No event loop, no fakes: every rule of delivery (W6, R1, R2, P3, onError once per window and
the identity contract) is pinned here without I/O."""

from __future__ import annotations

import json

import pytest

from tracker.delivery import (
    DEDUPE_HORIZON_MS,
    OWNER_WAIT_MS,
    Acknowledge,
    DeliveryQueue,
    Effect,
    Forget,
    RememberLastingDedupe,
    ReportError,
    Send,
    Settled,
    Store,
    StoredWindow,
    Wait,
    delivery_error,
    parse_record,
    retry_after_ms,
    window_key,
)
from tracker.ports import Reply
from tracker.retry import RetryPolicy

T0 = 1_769_508_000_000
URL = "/api/timeback/activity/heartbeat"
OK = Reply(204)
DOWN = Reply(None, "connection refused")


def error_reply(status: int, code: str = "X", headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps({"error": {"code": code, "message": "m"}}), headers or {})


def key(n: int) -> str:
    return window_key(f"2026-01-27T10:00:{n:02d}.000Z", "run")


def body(ended_at: int = T0) -> str:
    from tracker.timefmt import iso_from_epoch_ms

    return json.dumps({"endedAt": iso_from_epoch_ms(ended_at)})


def add(
    queue: DeliveryQueue, n: int, now: int = T0, policy: RetryPolicy | None = None
) -> list[Effect]:
    return queue.add_window(
        key(n), URL, body(now), ended_at=now, policy=policy or RetryPolicy(), now=now
    )


def sends(effects: list[Effect]) -> list[str]:
    return [e.key for e in effects if isinstance(e, Send)]


def kinds(effects: list[Effect]) -> list[str]:
    return [type(e).__name__ for e in effects]


def stored(n: int, ended_at: int = T0, subject: str | None = None) -> StoredWindow:
    return StoredWindow(key(n), URL, body(ended_at), ended_at, subject)


# -- W6: one in flight, oldest first ----------------------------------------------------------


def test_w6_one_request_in_flight_and_windows_oldest_first() -> None:
    q = DeliveryQueue()
    assert kinds(add(q, 2)) == ["Store", "Send"]
    assert sends(add(q, 3)) == []  # W6: the first is still in flight
    assert sends(q.load([stored(1), stored(2), stored(3)], T0)) == []
    assert q.keys == [key(1), key(2), key(3)]  # a kept older window goes first
    assert sends(q.reply(key(2), OK, T0)) == [key(1)]
    assert sends(q.reply(key(1), OK, T0)) == [key(3)]
    assert kinds(q.reply(key(3), OK, T0)) == ["Acknowledge"]
    assert not q.busy and q.keys == []


def test_w6_a_request_goes_after_what_was_queued_before_it() -> None:
    q = DeliveryQueue()
    add(q, 1)
    assert sends(q.add_request("request.0", "/submit", "{}", policy=RetryPolicy(), now=T0)) == []
    assert sends(q.reply(key(1), OK, T0)) == ["request.0"]
    assert q.reply("request.0", OK, T0) == [Settled("request.0", True)]


def test_a_reply_for_what_is_not_in_flight_is_a_driver_bug() -> None:
    q = DeliveryQueue()
    add(q, 1)
    with pytest.raises(ValueError, match="in flight"):
        q.reply(key(2), OK, T0)


# -- R1: retries -------------------------------------------------------------------------------

RETRYABLE = [DOWN, error_reply(500), error_reply(503), error_reply(408), error_reply(429)]


@pytest.mark.parametrize("reply", RETRYABLE, ids=lambda r: str(r.status))
def test_r1_a_passing_failure_is_retried_after_the_policys_delays(reply: Reply) -> None:
    q = DeliveryQueue()
    add(q, 1, policy=RetryPolicy(attempts=2, delays_ms=(100, 300)))
    assert q.reply(key(1), reply, T0) == [Wait(T0 + 100)]
    assert q.busy
    assert q.tick(T0 + 99) == [Wait(T0 + 100)]  # not yet
    assert sends(q.tick(T0 + 100)) == [key(1)]
    assert q.reply(key(1), reply, T0 + 100) == [Wait(T0 + 400)]
    assert sends(q.tick(T0 + 400)) == [key(1)]
    out = q.reply(key(1), reply, T0 + 400)  # retries spent: kept, reported, settled
    assert kinds(out) == ["ReportError", "Settled"]
    assert not q.busy and q.keys == [key(1)]


def test_r1_the_last_delay_repeats() -> None:
    policy = RetryPolicy(attempts=3, delays_ms=(50,))
    assert [policy.delay(i) for i in range(3)] == [50, 50, 50]


def test_r1_a_kept_window_nobody_waits_for_takes_the_retries_of_the_one_behind_it() -> None:
    q = DeliveryQueue()
    q.load([stored(1)], T0)  # in flight: from an earlier page load, no policy of its own
    add(q, 2, policy=RetryPolicy(attempts=1, delays_ms=(700,)))
    assert q.reply(key(1), DOWN, T0) == [Wait(T0 + 700)]


def test_r1_with_nobody_waiting_a_kept_window_gets_no_retry() -> None:
    q = DeliveryQueue()
    q.load([stored(1)], T0)
    assert q.reply(key(1), DOWN, T0) == []  # kept for the next trigger, nobody to tell
    assert q.keys == [key(1)] and not q.busy


# -- P3: keep until acknowledged ---------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 404, 409, 413, 422])
def test_p3_a_final_4xx_drops_the_window_and_reports_it_once(status: int) -> None:
    q = DeliveryQueue()
    add(q, 1)
    out = q.reply(key(1), error_reply(status, "INVALID_PAYLOAD"), T0)
    assert kinds(out) == ["ReportError", "Forget"]
    assert isinstance(out[0], ReportError) and out[0].error.status == status
    assert q.keys == []


def test_p3_when_retries_run_out_every_later_window_waits_for_the_next_trigger() -> None:
    q = DeliveryQueue()
    add(q, 1)
    add(q, 2)
    out = q.reply(key(1), DOWN, T0)
    assert kinds(out) == ["ReportError", "Settled", "ReportError", "Settled"]
    assert sends(out) == [] and q.keys == [key(1), key(2)]
    # A new window is the trigger: the kept ones go first, in order.
    assert sends(add(q, 3)) == [key(1)]


def test_p3_a_beaconed_window_is_kept_and_sent_again_at_the_next_trigger() -> None:
    q = DeliveryQueue()
    out = q.add_beaconed(key(1), URL, body(), ended_at=T0)
    assert kinds(out) == ["Store"]  # nothing sent: the page is going away (P1)
    assert sends(add(q, 2)) == [key(1)]


def test_p3_a_window_delivered_by_another_tab_settles_as_delivered() -> None:
    q = DeliveryQueue()
    add(q, 1)
    add(q, 2)
    assert q.load([stored(1)], T0) == [Settled(key(2), True)]  # key 2 left storage
    assert q.vanished(key(1), T0) == [Settled(key(1), True)]
    assert q.keys == []


# -- onError once per window -------------------------------------------------------------------


@pytest.mark.parametrize(
    "replies",
    [
        [DOWN, error_reply(400)],
        [error_reply(503), error_reply(400)],
        [error_reply(503), error_reply(503), OK],
        [error_reply(429), DOWN, error_reply(422)],
    ],
    ids=["down-400", "503-400", "503-503-ok", "429-down-422"],
)
def test_on_error_once_per_window_whatever_its_replies(replies: list[Reply]) -> None:
    q = DeliveryQueue()
    add(q, 1)
    reports = 0
    for n, reply in enumerate(replies):
        out = q.reply(key(1), reply, T0 + n)
        reports += sum(isinstance(e, ReportError) and e.key == key(1) for e in out)
        if reply is not replies[-1]:
            assert sends(add(q, 10 + n, now=T0 + n)) == [key(1)]  # the next trigger
    assert reports == 1


# -- 401, 403, 429 (identity contract items 2 and 3) ----------------------------------------


def test_401_keeps_the_window_reports_once_and_waits_for_a_sign_in() -> None:
    q = DeliveryQueue()
    add(q, 1)
    add(q, 2)
    out = q.reply(key(1), error_reply(401, "UNAUTHENTICATED"), T0)
    assert kinds(out) == ["ReportError", "Settled", "Settled"]  # one onError, both settle
    assert sends(q.subject_seen("abcd", T0)) == [key(1)]  # the sign-in, no new window needed


def test_401_a_request_still_goes_and_fails_for_its_caller() -> None:
    q = DeliveryQueue()
    add(q, 1)
    q.reply(key(1), error_reply(401), T0)
    assert sends(q.add_request("request.0", "/s", "{}", policy=RetryPolicy(), now=T0)) == [
        "request.0"
    ]
    out = q.reply("request.0", error_reply(401), T0)
    assert kinds(out) == ["Settled"]
    assert isinstance(out[0], Settled) and out[0].error is not None


def test_403_owned_by_another_user_is_kept_reported_once_and_not_retried_here() -> None:
    q = DeliveryQueue()
    add(q, 1, policy=RetryPolicy(attempts=5))
    add(q, 2)
    out = q.reply(key(1), error_reply(403, "RUN_OWNED_BY_ANOTHER_USER"), T0)
    assert kinds(out) == ["ReportError", "Settled", "Send"]  # the others go on
    assert sends(out) == [key(2)]
    q.reply(key(2), OK, T0)
    assert sends(add(q, 3)) == [key(3)]  # not tried again in this page load
    assert key(1) in q.keys


def test_403_with_another_code_is_final() -> None:
    q = DeliveryQueue()
    add(q, 1)
    assert kinds(q.reply(key(1), error_reply(403, "FORBIDDEN"), T0)) == ["ReportError", "Forget"]


@pytest.mark.parametrize(
    ("retry_after", "delay", "due"),
    [("30", 100, 30_000), ("0.2", 100, 200), ("1", 5_000, 5_000), ("soon", 100, 100)],
)
def test_429_retry_after_is_a_floor_for_the_next_attempt(
    retry_after: str, delay: int, due: int
) -> None:
    q = DeliveryQueue()
    add(q, 1, policy=RetryPolicy(attempts=1, delays_ms=(delay,)))
    assert q.reply(key(1), error_reply(429, headers={"retry-after": retry_after}), T0) == [
        Wait(T0 + due)
    ]


def test_429_without_retries_left_still_waits_out_retry_after_at_the_next_trigger() -> None:
    q = DeliveryQueue()
    add(q, 1)
    q.reply(key(1), error_reply(429, headers={"retry-after": "10"}), T0)
    assert add(q, 2, now=T0 + 1_000)[1:] == [Wait(T0 + 10_000)]
    assert sends(q.tick(T0 + 10_000)) == [key(1)]


@pytest.mark.parametrize(
    ("value", "ms"), [("2", 2000), ("1.5", 1500), ("-1", 0), ("inf", 0), ("", 0), ("x", 0)]
)
def test_retry_after_is_read_in_seconds(value: str, ms: int) -> None:
    assert retry_after_ms(Reply(429, "", {"retry-after": value})) == ms


# -- identity tag (contract item 1) -----------------------------------------------------------


def test_a_window_carries_the_tag_of_the_last_answer_before_it() -> None:
    q = DeliveryQueue()
    first = add(q, 1)
    assert isinstance(first[0], Store) and first[0].window.subject is None
    q.reply(key(1), Reply(204, "", {"x-tracker-subject": "aa11"}), T0)
    second = add(q, 2)
    assert isinstance(second[0], Store) and second[0].window.subject == "aa11"
    assert json.loads(second[0].window.record())["subject"] == "aa11"


def test_a_tagged_kept_window_waits_until_this_page_knows_the_tag_and_it_matches() -> None:
    q = DeliveryQueue()
    out = q.load([stored(1, subject="aa11"), stored(2, subject="bb22"), stored(3)], T0)
    assert sends(out) == [key(3)]  # untagged: as before; tagged: the tag is not known yet
    out = q.reply(key(3), Reply(204, "", {"x-tracker-subject": "aa11"}), T0)
    assert sends(out) == [key(1)]  # its owner
    assert sends(q.reply(key(1), OK, T0)) == []  # OK carries no tag: nobody signed in now
    assert q.keys == [key(2)]  # waits for its owner


def test_a_window_of_another_owner_expires_after_seven_days() -> None:
    q = DeliveryQueue()
    q.subject_seen("aa11", T0)
    ended = T0 - OWNER_WAIT_MS
    assert q.load([stored(1, ended_at=ended, subject="bb22")], T0) == []
    out = q.load([stored(1, ended_at=ended, subject="bb22")], T0 + 1)
    assert kinds(out) == ["Forget"] and q.keys == []


# -- untagged windows: re-tagged in their own page, replayed from another (issue 10) ------------

PAGE = T0 - 60_000  # this page load's id (its timeOrigin)
EARLIER_PAGE = T0 - 3_600_000


def own_page(n: int, subject: str | None = None, page: int | None = PAGE) -> StoredWindow:
    return StoredWindow(key(n), URL, body(), T0, subject, page)


def test_this_pages_untagged_windows_take_the_tag_of_its_first_answer() -> None:
    q = DeliveryQueue(page=PAGE)
    add(q, 1)
    q.add_beaconed(key(2), URL, body(), ended_at=T0)  # made before any answer: untagged
    assert q.reply(key(1), Reply(204, "", {"x-tracker-subject": "aa11"}), T0) == [
        Store(own_page(2, subject="aa11")),  # stored again with the tag: a later page sees it
        Acknowledge(key(1)),
        Send(key(2), URL, body(), stored=True),
    ]


def test_this_pages_boot_window_goes_as_its_own_and_takes_the_first_tag() -> None:
    """The embed stored it before Python ran (same timeOrigin): not a replay."""
    q = DeliveryQueue(page=PAGE)
    assert q.load([own_page(1)], T0) == [Send(key(1), URL, body(), stored=True)]
    assert q.reply(key(1), DOWN, T0) == []
    assert q.subject_seen("aa11", T0)[0] == Store(own_page(1, subject="aa11"))
    # Found after the tag is known: tagged at once.
    q2 = DeliveryQueue(page=PAGE)
    q2.subject_seen("aa11", T0)
    assert q2.load([own_page(1)], T0) == [
        Store(own_page(1, subject="aa11")),
        Send(key(1), URL, body(), stored=True),
    ]


def test_a_401_tag_does_not_tag_this_pages_windows() -> None:
    q = DeliveryQueue(page=PAGE)
    add(q, 1)
    out = q.reply(key(1), error_reply(401, headers={"x-tracker-subject": "aa11"}), T0)
    assert not [e for e in out if isinstance(e, Store)]


@pytest.mark.parametrize("page", [EARLIER_PAGE, None])
def test_an_untagged_window_of_another_page_goes_as_a_replay(page: int | None) -> None:
    q = DeliveryQueue(page=PAGE)
    q.subject_seen("bb22", T0)  # whoever is signed in now: the tag does not make it theirs
    out = q.load([own_page(1, page=page)], T0)
    assert out == [Send(key(1), URL, body(), stored=True, replay=True)]
    assert q.reply(key(1), OK, T0) == [Acknowledge(key(1))]  # the server proved the run ours


@pytest.mark.parametrize("code", ["UNVERIFIED_REPLAY", "RUN_OWNED_BY_ANOTHER_USER"])
def test_a_refused_replay_is_dropped_without_on_error_and_the_rest_goes_on(code: str) -> None:
    q = DeliveryQueue(page=PAGE)
    q.load([own_page(1, page=EARLIER_PAGE)], T0)
    add(q, 2)
    failure = error_reply(403, code, headers={"x-tracker-subject": "bb22"})
    assert q.reply(key(1), failure, T0) == [
        Store(own_page(2, subject="bb22")),  # this page's window: the answer says whose
        Forget(key(1), f"a replay of an untagged window was refused: {delivery_error(failure)}"),
        Send(key(2), URL, body(), stored=True),
    ]
    assert q.keys == [key(2)]


def test_a_replay_refused_otherwise_follows_the_usual_rules() -> None:
    q = DeliveryQueue(page=PAGE)
    q.load([own_page(1, page=EARLIER_PAGE)], T0)
    assert kinds(q.reply(key(1), error_reply(403, "FORBIDDEN_ORIGIN"), T0)) == ["Forget"]
    q.load([own_page(2, page=EARLIER_PAGE)], T0)
    assert q.reply(key(2), DOWN, T0) == [] and q.keys == [key(2)]  # kept for the next trigger


def test_a_tagged_window_refused_as_anothers_is_kept_not_dropped() -> None:
    q = DeliveryQueue(page=PAGE)
    q.subject_seen("aa11", T0)
    q.load([own_page(1, subject="aa11", page=EARLIER_PAGE)], T0)
    out = q.reply(key(1), error_reply(403, "RUN_OWNED_BY_ANOTHER_USER"), T0)
    assert kinds(out) == [] and q.keys == [key(1)]


def test_the_page_id_is_stored_and_read_back() -> None:
    window = own_page(1, subject="aa11")
    assert parse_record(window.key, window.record()) == window
    boot_record = json.dumps({"url": URL, "body": body(), "page": PAGE})  # the embed's form
    assert parse_record(key(1), boot_record) == own_page(1)
    assert parse_record(key(1), json.dumps({"url": URL, "body": body(), "page": True})) == (
        own_page(1, page=None)
    )


# -- lasting dedupe and the 5-minute horizon (contract item 4) --------------------------------


def test_without_lasting_dedupe_a_kept_window_older_than_5_minutes_is_dropped() -> None:
    q = DeliveryQueue()
    old, recent = T0 - DEDUPE_HORIZON_MS - 1, T0 - DEDUPE_HORIZON_MS
    out = q.load([stored(1, ended_at=old), stored(2, ended_at=recent)], T0)
    assert kinds(out) == ["Forget", "Send"] and sends(out) == [key(2)]


def test_with_lasting_dedupe_an_old_kept_window_is_sent() -> None:
    q = DeliveryQueue(lasting_dedupe=True)
    assert sends(q.load([stored(1, ended_at=T0 - 3_600_000)], T0)) == [key(1)]


def test_a_never_sent_window_is_not_subject_to_the_horizon() -> None:
    q = DeliveryQueue()
    add(q, 1)
    add(q, 2, now=T0)
    out = q.reply(key(1), OK, T0 + DEDUPE_HORIZON_MS + 1)
    assert sends(out) == [key(2)]  # never attempted: it cannot be counted twice


def test_a_window_sent_before_is_dropped_past_the_horizon() -> None:
    q = DeliveryQueue()
    add(q, 1)
    q.reply(key(1), DOWN, T0)
    out = add(q, 2, now=T0 + DEDUPE_HORIZON_MS + 1)
    assert kinds(out) == ["Store", "Forget", "Send"] and sends(out) == [key(2)]


def test_the_lasting_header_is_remembered_once() -> None:
    q = DeliveryQueue()
    add(q, 1)
    out = q.reply(key(1), Reply(204, "", {"x-tracker-dedupe": "lasting"}), T0)
    assert out == [RememberLastingDedupe(), Acknowledge(key(1))]
    add(q, 2)
    assert q.reply(key(2), Reply(204, "", {"x-tracker-dedupe": "lasting"}), T0) == [
        Acknowledge(key(2))
    ]


# -- records and errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        '{"url": 1, "body": "{}"}',
        '{"url": "/u", "body": "{}"}',
        '{"url": "/u", "body": "{\\"endedAt\\": \\"yesterday\\"}"}',
        '{"url": "/u", "body": "{\\"endedAt\\": \\"2026-01-27T10:00:00.000Z\\"}", "subject": 5}',
        "[]",
    ],
)
def test_an_unreadable_record_parses_to_none(text: str) -> None:
    assert parse_record("k", text) is None


def test_a_record_written_before_the_tag_reads_as_untagged() -> None:
    window = parse_record("k", json.dumps({"url": "/u", "body": body(T0)}))
    assert window == StoredWindow("k", "/u", body(T0), T0, None)
    assert window is not None and parse_record("k", window.record()) == window


def test_a_forget_says_why() -> None:
    q = DeliveryQueue()
    add(q, 1)
    out = q.reply(key(1), error_reply(400, "INVALID_PAYLOAD"), T0)
    assert isinstance(out[-1], Forget) and "INVALID_PAYLOAD" in out[-1].reason


@pytest.mark.parametrize(
    ("reply", "text"),
    [
        (Reply(None, ""), "no answer from the server (network error)"),
        (Reply(500, "<html>oops"), "HTTP 500"),
        (
            Reply(400, '{"error": {"code": "INVALID_PAYLOAD", "message": "elapsedMs: bad"}}'),
            "HTTP 400 INVALID_PAYLOAD: elapsedMs: bad",
        ),
        (Reply(404, '["not", "an", "object"]'), "HTTP 404"),
    ],
)
def test_delivery_errors_are_readable(reply: Reply, text: str) -> None:
    assert str(delivery_error(reply)) == text


# -- exact effects (these pin every field; the mutation check found the gaps) ---------------


def test_exact_effects_of_a_window_from_store_to_acknowledge() -> None:
    q = DeliveryQueue()
    assert not q.busy and q.subject is None
    assert add(q, 1) == [Store(stored(1)), Send(key(1), URL, body(), stored=True)]
    assert q.busy
    assert q.reply(key(1), OK, T0) == [Acknowledge(key(1))]
    assert not q.busy


def test_exact_effects_of_a_request() -> None:
    q = DeliveryQueue()
    policy = RetryPolicy(attempts=1, delays_ms=(10,))
    assert q.add_request("request.0", "/s", "{}", policy=policy, now=T0) == [
        Send("request.0", "/s", "{}", stored=False)
    ]
    assert q.reply("request.0", DOWN, T0) == [Wait(T0 + 10)]  # its own retries
    q.tick(T0 + 10)
    failure = error_reply(422, "INVALID_PAYLOAD")
    assert q.reply("request.0", failure, T0 + 10) == [
        Settled("request.0", False, delivery_error(failure))
    ]


def test_exact_effects_of_a_stall_and_requests_behind_it_still_go() -> None:
    q = DeliveryQueue()
    add(q, 1)
    q.add_request("request.0", "/s", "{}", policy=RetryPolicy(), now=T0)
    error = delivery_error(DOWN)
    assert q.reply(key(1), DOWN, T0) == [
        ReportError(key(1), error),
        Settled(key(1), False, error),
        Send("request.0", "/s", "{}", stored=False),
    ]


def test_exact_effects_of_a_final_4xx_window() -> None:
    q = DeliveryQueue()
    add(q, 1)
    add(q, 2)
    failure = error_reply(400, "INVALID_PAYLOAD")
    error = delivery_error(failure)
    assert q.reply(key(1), failure, T0) == [
        ReportError(key(1), error),
        Forget(key(1), f"rejected: {error}"),
        Send(key(2), URL, body(), stored=True),
    ]


def test_exact_effects_of_401_and_of_a_window_made_while_signed_out() -> None:
    q = DeliveryQueue()
    add(q, 1)
    failure = error_reply(401, "UNAUTHENTICATED")
    error = delivery_error(failure)
    assert q.reply(key(1), failure, T0) == [
        ReportError(key(1), error),
        Settled(key(1), False, error),
    ]
    assert add(q, 2) == [Store(stored(2)), Settled(key(2), False, error)]
    assert q.subject_seen(None, T0) == []  # still nobody signed in
    # The sign-in tags this page's untagged windows (stored again), then sends them.
    assert q.subject_seen("aa11", T0) == [
        Store(stored(1, subject="aa11")),
        Store(stored(2, subject="aa11")),
        Send(key(1), URL, body(), stored=True),
    ]


def test_exact_effects_of_403_owned_by_another_user() -> None:
    q = DeliveryQueue()
    add(q, 1)
    failure = error_reply(403, "RUN_OWNED_BY_ANOTHER_USER")
    error = delivery_error(failure)
    assert q.reply(key(1), failure, T0) == [
        ReportError(key(1), error),
        Settled(key(1), False, error),
    ]


@pytest.mark.parametrize(
    "failure",
    [error_reply(401), error_reply(403, "RUN_OWNED_BY_ANOTHER_USER"), DOWN, error_reply(400)],
    ids=["401", "403", "down", "400"],
)
def test_the_lasting_header_counts_on_every_kind_of_answer(failure: Reply) -> None:
    q = DeliveryQueue()
    add(q, 1)
    reply = Reply(failure.status, failure.body, {"x-tracker-dedupe": "lasting"})
    assert q.reply(key(1), reply, T0)[0] == RememberLastingDedupe()


def test_the_retries_start_afresh_at_each_trigger() -> None:
    q = DeliveryQueue()
    add(q, 1, policy=RetryPolicy(attempts=1, delays_ms=(10,)))
    assert q.reply(key(1), DOWN, T0) == [Wait(T0 + 10)]
    q.tick(T0 + 10)
    assert sends(q.reply(key(1), DOWN, T0 + 10)) == []  # spent: kept for the next trigger
    assert sends(add(q, 2, now=T0 + 20)) == [key(1)]
    assert q.reply(key(1), DOWN, T0 + 20) == [Wait(T0 + 30)]  # one retry again


def test_exact_forget_reasons() -> None:
    q = DeliveryQueue()
    q.subject_seen("aa11", T0)
    old = T0 - OWNER_WAIT_MS - 1
    assert q.load([stored(1, ended_at=old, subject="bb22")], T0) == [
        Forget(key(1), "its owner did not come back in 7 days")
    ]
    old = T0 - DEDUPE_HORIZON_MS - 1
    assert q.load([stored(2, ended_at=old)], T0) == [
        Forget(key(2), "older than the server's 5-minute dedupe horizon")
    ]


def test_a_tagged_window_goes_once_its_owner_is_seen_even_after_a_stall_behind_it() -> None:
    q = DeliveryQueue()
    q.load([stored(1, subject="aa11")], T0)  # waits: the tag is not known yet
    add(q, 2)
    q.reply(key(2), DOWN, T0)  # the stall holds the windows after the one that failed
    assert q.subject_seen("aa11", T0) == [
        Store(stored(2, subject="aa11")),  # this page's untagged window takes the tag
        Send(key(1), URL, body(), stored=True),
    ]


def test_load_keeps_requests_and_the_window_in_flight() -> None:
    q = DeliveryQueue()
    add(q, 1)
    q.add_request("request.0", "/s", "{}", policy=RetryPolicy(), now=T0)
    assert q.load([], T0) == []
    assert q.keys == [key(1), "request.0"]


def test_load_is_a_trigger_for_windows_held_after_a_stall() -> None:
    q = DeliveryQueue()
    add(q, 1)
    q.reply(key(1), DOWN, T0)
    assert q.load([stored(1)], T0) == [Send(key(1), URL, body(), stored=True)]


def test_load_adds_kept_windows_as_they_were_stored() -> None:
    q = DeliveryQueue()
    window = stored(1, subject=None)  # untagged, of an earlier page: a replay
    assert q.load([window], T0) == [Send(key(1), URL, body(), stored=True, replay=True)]
    assert q.reply(key(1), DOWN, T0) == []  # nobody in this page waits: no onError


def test_vanished_sends_the_next_one() -> None:
    q = DeliveryQueue()
    q.add_beaconed(key(1), URL, body(), ended_at=T0)
    add(q, 2)
    assert q.vanished(key(1), T0) == [Send(key(2), URL, body(), stored=True)]  # nobody waited
    assert q.vanished(key(2), T0) == [Settled(key(2), True)]
    assert not q.busy


def test_exact_effects_of_a_beacon_and_its_later_resend() -> None:
    q = DeliveryQueue()
    add(q, 1)
    q.reply(key(1), Reply(204, "", {"x-tracker-subject": "aa11"}), T0)
    assert q.add_beaconed(key(2), URL, body(), ended_at=T0) == [Store(stored(2, subject="aa11"))]
    assert q.add_beaconed(key(2), URL, body(), ended_at=T0) == [Store(stored(2, subject="aa11"))]
    assert q.keys == [key(2)]  # once
    out = add(q, 3)
    assert out[-1] == Send(key(2), URL, body(), stored=True)
    assert [e for e in q.reply(key(2), DOWN, T0) if isinstance(e, ReportError)] == [
        ReportError(key(3), delivery_error(DOWN))
    ]  # the beaconed window has nobody waiting in this page


def test_a_beaconed_window_is_subject_to_the_horizon() -> None:
    q = DeliveryQueue()
    q.add_beaconed(key(1), URL, body(), ended_at=T0)
    out = add(q, 2, now=T0 + DEDUPE_HORIZON_MS + 1)
    assert out[1] == Forget(key(1), "older than the server's 5-minute dedupe horizon")


def test_the_tag_learned_from_subject_seen_makes_tagged_windows_sendable() -> None:
    q = DeliveryQueue()
    q.load([stored(1, subject="aa11")], T0)
    assert q.subject_seen("aa11", T0) == [Send(key(1), URL, body(), stored=True)]
    assert q.subject == "aa11"


@pytest.mark.parametrize(
    ("text", "code"),
    [("", None), ('{"error": {"code": 5}}', None), ('{"error": {"code": "C"}}', "C")],
)
def test_an_error_code_is_a_string_or_none(text: str, code: str | None) -> None:
    assert delivery_error(Reply(500, text)).code == code


def test_a_record_is_compact_and_round_trips_with_its_tag() -> None:
    window = stored(1, subject="aa11")
    assert window.record() == json.dumps(
        {"url": URL, "body": body(), "subject": "aa11"}, separators=(",", ":")
    )
    assert parse_record(key(1), window.record()) == window


@pytest.mark.parametrize(
    "failure",
    [error_reply(401), error_reply(403, "RUN_OWNED_BY_ANOTHER_USER"), DOWN],
    ids=["401", "403", "down"],
)
def test_a_request_that_is_refused_or_unanswered_fails_for_its_caller(failure: Reply) -> None:
    q = DeliveryQueue()
    q.add_request("request.0", "/s", "{}", policy=RetryPolicy(), now=T0)
    assert q.reply("request.0", failure, T0) == [
        Settled("request.0", False, delivery_error(failure))
    ]
    assert q.keys == []


def test_only_a_new_user_ends_the_wait_of_a_401() -> None:
    q = DeliveryQueue()
    add(q, 1)
    q.reply(key(1), error_reply(401, headers={"x-tracker-subject": "aa11"}), T0)
    # The same user as the refused answer: no send. The window, made before any answer,
    # takes the first tag this page learns outside a 401.
    assert q.subject_seen("aa11", T0) == [Store(stored(1, subject="aa11"))]
    assert q.subject_seen(None, T0) == []
    # A sign-in is a trigger: the wait is over, but window 1 waits for its owner.
    assert q.subject_seen("bb22", T0) == []
    assert sends(add(q, 2)) == [key(2)] and q.keys == [key(1), key(2)]


def test_an_answer_that_names_a_new_user_ends_the_wait_of_a_401() -> None:
    """A completion after the sign-in carries the new tag: the kept windows go."""
    q = DeliveryQueue()
    add(q, 1)
    q.reply(key(1), error_reply(401), T0)
    q.add_request("request.0", "/s", "{}", policy=RetryPolicy(), now=T0)
    signed_in = Reply(204, "", {"x-tracker-subject": "aa11"})
    assert q.reply("request.0", signed_in, T0) == [
        Store(stored(1, subject="aa11")),  # this page's untagged window takes the tag
        Settled("request.0", True),
        Send(key(1), URL, body(), stored=True),
    ]
