"""Delivery when the browser misbehaves: storage that throws, a transport that raises, odd replies.
None of it may lose a window for the page or break tracking (P3, R2)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tracker.delivery import KEY_PREFIX
from tracker.outbox import LASTING_DEDUPE_PREFIX, Outbox
from tracker.ports import Reply
from tracker.retry import RetryPolicy

from .fakes import BASE_PARAMS, Env, FakeStorage


class ThrowingStorage(FakeStorage):
    """localStorage disabled (Safari private mode, blocked cookies): every call raises."""

    def get(self, key: str) -> str | None:
        raise OSError("SecurityError")

    def set(self, key: str, value: str) -> None:
        raise OSError("SecurityError")

    def remove(self, key: str) -> None:
        raise OSError("SecurityError")

    def list_keys(self) -> list[str]:
        raise OSError("SecurityError")


async def test_disabled_storage_still_delivers_from_memory() -> None:
    env = Env(storage=ThrowingStorage())
    activity = env.tracker.start(BASE_PARAMS)
    await env.advance(15_000)
    env.server.down = True
    await env.advance(15_000)
    env.server.down = False
    await env.advance(15_000)
    await activity.end()
    assert [h["elapsedMs"] for h in env.server.heartbeats] == [15_000] * 3


async def test_transport_that_raises_counts_as_no_answer() -> None:
    env = Env()
    errors: list[Any] = []
    env.tracker.start({**BASE_PARAMS, "onError": lambda e, c: errors.append(e)})

    async def broken(url: str, body: str, headers: Mapping[str, str] | None = None) -> Reply:
        raise RuntimeError("fetch is not a function")

    env.server.post = broken  # type: ignore[method-assign]
    await env.advance(15_000)
    assert errors and errors[0].status is None
    assert len(env.storage.windows) == 1  # kept for later


async def test_beacon_and_keepalive_that_raise_leave_the_window_stored() -> None:
    env = Env()
    env.tracker.start(BASE_PARAMS)
    await env.advance(5_000)

    def boom(*_: Any) -> Any:
        raise RuntimeError("navigator.sendBeacon blocked")

    env.server.beacon = boom  # type: ignore[method-assign,assignment]
    env.server.post_keepalive = boom  # type: ignore[method-assign,assignment]
    env.page_hide()
    assert len([k for k in env.storage.data if k.startswith(KEY_PREFIX)]) == 1


async def test_stored_record_of_the_wrong_shape_is_dropped() -> None:
    env = Env()
    env.storage.data[KEY_PREFIX + "2000-01-01T00:00:00.000Z.x"] = '{"url": 1, "body": 2}'
    await env.tracker.resend_stored()
    assert env.storage.windows == {} and env.server.requests == []


async def test_a_window_removed_by_another_tab_is_skipped() -> None:
    env = Env()
    outbox: Outbox = env.tracker.outbox
    errors: list[Any] = []
    done = outbox.enqueue(
        KEY_PREFIX + "k",
        "/u",
        "{}",
        ended_at=0,
        policy=RetryPolicy(),
        on_ack=lambda: None,
        on_error=errors.append,
    )
    env.storage.data.clear()  # the other tab delivered it first
    await env.settle()
    assert done.result() is True and errors == []


async def test_401_keeps_the_window_reports_once_and_a_sign_in_sends_it() -> None:
    """Contract item 3, through the driver: kept, one onError, sent after the sign-in."""
    env = Env()
    errors: list[Any] = []
    env.tracker.start({**BASE_PARAMS, "onError": lambda e, c: errors.append(e)})
    env.server.fail_next = [401]
    await env.advance(30_000)  # two windows: the first refused, the second held back
    assert [e.status for e in errors] == [401]
    assert len(env.storage.windows) == 2 and env.server.heartbeats == []
    # The sign-in: from now on every answer names the user, as our server's do.
    env.server.subject = "a1b2c3d4e5f60718"
    env.tracker.outbox.subject_seen("a1b2c3d4e5f60718")
    await env.settle()
    assert len(env.server.heartbeats) == 2 and env.storage.windows == {}


async def test_the_lasting_dedupe_header_is_remembered_for_the_next_page_load() -> None:
    env = Env(knows_server=False)
    flag = LASTING_DEDUPE_PREFIX + "/api/timeback"
    env.tracker.start(BASE_PARAMS)
    await env.advance(15_000)
    assert env.storage.data[flag] == "1"


async def test_without_lasting_dedupe_a_window_kept_past_the_horizon_is_dropped() -> None:
    """Contract item 4: an unknown server's dedupe forgets after 5 minutes."""
    env = Env(knows_server=False)
    env.server.lasting_dedupe = False
    env.tracker.start(BASE_PARAMS)
    env.server.down = True
    await env.advance(15_000)
    assert len(env.storage.windows) == 1
    later = env.reload()
    later.clock._origin += 6 * 60_000  # the next load comes 6 minutes later
    env.server.down = False
    await later.tracker.resend_stored()
    assert later.storage.windows == {} and env.server.heartbeats == []


async def test_an_earlier_pages_untagged_window_is_replayed_and_a_refusal_drops_it(
    caplog: Any,
) -> None:
    """Issue 10: a window kept before its page's first answer names nobody. The next page
    sends it marked as a replay; refused, it is dropped with one warning and no onError."""
    env = Env()
    env.server.down = True
    env.tracker.start(BASE_PARAMS)
    await env.advance(15_000)  # never answered: kept untagged
    assert len(env.storage.windows) == 1
    later = env.reload()
    env.server.down = False
    env.server.subject = "bb22bb22bb22bb22"  # someone else signed in on this computer
    env.server.refuse_replays = "UNVERIFIED_REPLAY"
    errors: list[Any] = []
    later.tracker.start({**BASE_PARAMS, "onError": lambda e, c: errors.append(e)})
    caplog.set_level("WARNING", logger="tracker")
    caplog.clear()  # the first page's own warnings
    await later.tracker.resend_stored()
    replays = [r for r in env.server.requests if r.headers.get("X-Tracker-Replay") == "untagged"]
    assert len(replays) == 1 and env.server.heartbeats == []
    assert later.storage.windows == {} and errors == []
    (warning,) = caplog.records  # one warning, and no onError
    assert "replay of an untagged window was refused" in warning.getMessage()


async def test_a_window_of_this_page_is_never_sent_as_a_replay() -> None:
    env = Env()
    env.tracker.start(BASE_PARAMS)
    await env.advance(30_000)
    assert len(env.server.heartbeats) == 2
    assert all(not r.headers for r in env.server.requests)
