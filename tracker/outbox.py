"""Delivery: one request in flight (W6), retries (R1), and windows kept until acknowledged (P3).

Every window is written to durable storage before it is sent and removed only when the server
answered 2xx (or rejected it for good). Whoever sends next sends the oldest stored windows
first, so windows arrive in order, a window that a beacon may or may not have delivered is
sent again, and a window left behind by an earlier page load is delivered by the next one.
The server deduplicates on ``runId + startedAt``, which makes a resend harmless.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import DeliveryError
from .ports import Reply, Scheduler, Storage, Transport
from .retry import RetryPolicy

log = logging.getLogger("tracker")

KEY_PREFIX = "timeback.window."


@dataclass(slots=True)
class _Ticket:
    """Someone in this page waits for a stored window: callbacks and a future to resolve.

    A ticket outlives a failed attempt (its future settles, the window stays stored), so
    that a later delivery in this page still calls ``on_ack`` (``onFlush``).
    """

    policy: RetryPolicy
    on_ack: Callable[[], None]
    on_error: Callable[[DeliveryError], None]
    done: asyncio.Future[bool] = field(
        default_factory=lambda: asyncio.get_event_loop().create_future()
    )
    reported: bool = False  # onError was called for this window

    def settle(self, delivered: bool) -> None:
        if not self.done.done():
            self.done.set_result(delivered)

    def fail(self, error: DeliveryError) -> None:
        """One ``onError`` per window, however often it is tried again."""
        if not self.reported:
            self.reported = True
            _safely(self.on_error, error)
        self.settle(False)


def window_key(started_at_iso: str, run_id: str) -> str:
    """Storage key of a window: its identity, and ISO times sort in time order."""
    return f"{KEY_PREFIX}{started_at_iso}.{run_id}"


def delivery_error(reply: Reply) -> DeliveryError:
    """A readable error for a failed reply, with the server's error code when it sent one."""
    if reply.status is None:
        return DeliveryError(f"no answer from the server ({reply.body or 'network error'})")
    code = message = None
    try:
        payload: Any = json.loads(reply.body) if reply.body else None
        if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
            code = payload["error"].get("code")
            message = payload["error"].get("message")
    except ValueError:
        pass
    text = (
        f"HTTP {reply.status}" + (f" {code}" if code else "") + (f": {message}" if message else "")
    )
    return DeliveryError(text, status=reply.status, code=code if isinstance(code, str) else None)


class Outbox:
    """Serialized, durable delivery to the app server for one page."""

    def __init__(self, transport: Transport, scheduler: Scheduler, storage: Storage) -> None:
        self._transport = transport
        self._scheduler = scheduler
        self._storage = storage
        self._lock = asyncio.Lock()
        self._tickets: dict[str, _Ticket] = {}
        # Windows that could not be stored (storage full or disabled) still go out once.
        self._memory: dict[str, str] = {}
        self._tasks: set[asyncio.Future[None]] = set()

    # -- storing ---------------------------------------------------------------------------

    def store(self, key: str, url: str, body: str) -> None:
        record = json.dumps({"url": url, "body": body}, separators=(",", ":"))
        try:
            self._storage.set(key, record)
        except Exception as exc:  # quota exceeded, storage disabled: keep it for this page
            log.warning("tracker: could not store window %s: %s", key, exc)
            self._memory[key] = record

    def _load(self, key: str) -> tuple[str, str] | None:
        record = self._memory.get(key)
        if record is None:
            try:
                record = self._storage.get(key)
            except Exception:
                return None
        if record is None:
            return None
        try:
            data = json.loads(record)
            url, body = data["url"], data["body"]
            if isinstance(url, str) and isinstance(body, str):
                return url, body
        except (ValueError, KeyError, TypeError):
            pass
        log.warning("tracker: dropping unreadable stored window %s", key)
        self._forget(key)
        return None

    def _forget(self, key: str) -> None:
        self._memory.pop(key, None)
        try:
            self._storage.remove(key)
        except Exception:
            log.warning("tracker: could not remove stored window %s", key)

    def pending_keys(self) -> list[str]:
        try:
            stored = [k for k in self._storage.list_keys() if k.startswith(KEY_PREFIX)]
        except Exception:
            stored = []
        return sorted(set(stored) | set(self._memory))

    # -- sending ---------------------------------------------------------------------------

    def enqueue(
        self,
        key: str,
        url: str,
        body: str,
        *,
        policy: RetryPolicy,
        on_ack: Callable[[], None],
        on_error: Callable[[DeliveryError], None],
    ) -> asyncio.Future[bool]:
        """Store a window and have it delivered in order. The future says whether it was."""
        self.store(key, url, body)
        ticket = _Ticket(policy, on_ack, on_error)
        self._tickets[key] = ticket
        # The loop keeps only weak references to tasks: hold it until it is done.
        task = asyncio.ensure_future(self.drain())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return ticket.done

    def send_now(self, key: str, url: str, body: str) -> None:
        """Page exit (P1): store, then hand the window to the browser in this very task.

        ``sendBeacon`` gives no answer, so the window stays stored and is sent again later
        (P3); the ``fetch keepalive`` fallback removes it if the page lives to see the answer.
        """
        self.store(key, url, body)
        try:
            if self._transport.beacon(url, body):
                return
        except Exception as exc:
            log.warning("tracker: sendBeacon failed: %s", exc)

        def on_reply(reply: Reply) -> None:
            if reply.ok:
                self._forget(key)

        try:
            self._transport.post_keepalive(url, body, on_reply)
        except Exception as exc:
            log.warning("tracker: keepalive fetch failed: %s", exc)

    async def drain(self) -> None:
        """Send every stored window, oldest first, until one cannot be delivered now."""
        async with self._lock:
            for key in self.pending_keys():
                loaded = self._load(key)
                ticket = self._tickets.pop(key, None)
                if loaded is None:
                    if ticket:
                        ticket.settle(False)
                    continue
                url, body = loaded
                error = await self._post(url, body, self._policy_for(ticket))
                if error is None:
                    self._forget(key)
                    if ticket:
                        _safely(ticket.on_ack)
                        ticket.settle(True)
                    continue
                if not error.retryable:
                    # P3: rejected for good (a 4xx other than 408/429): drop and report.
                    log.warning("tracker: window %s rejected: %s", key, error)
                    self._forget(key)
                    if ticket:
                        _safely(ticket.on_error, error)
                        ticket.settle(False)
                    continue
                # The server is unreachable now: keep this and every later window stored,
                # tell everyone waiting, and try again at the next flush or page load.
                if ticket:
                    self._tickets[key] = ticket
                for waiting in self._tickets.values():
                    waiting.fail(error)
                return
            # A window that is no longer stored was delivered by another tab of this origin
            # (they share localStorage); nobody is left waiting for it here.
            still_stored = set(self.pending_keys())
            for key in [k for k in self._tickets if k not in still_stored]:
                self._tickets.pop(key).settle(True)

    def _policy_for(self, ticket: _Ticket | None) -> RetryPolicy:
        """R1 for a window nobody here waits for (kept from an earlier failure or page load):
        the retries of whoever is waiting behind it, since its failure stops their windows."""
        if ticket is not None:
            return ticket.policy
        waiting = next(iter(self._tickets.values()), None)
        return waiting.policy if waiting is not None else RetryPolicy()

    async def request(self, url: str, body: str, policy: RetryPolicy) -> None:
        """A one-off request (a completion) in the same queue, after the windows before it."""
        await self.drain()
        async with self._lock:
            error = await self._post(url, body, policy)
        if error is not None:
            raise error

    async def _post(self, url: str, body: str, policy: RetryPolicy) -> DeliveryError | None:
        """R1: the first try and ``policy.attempts`` retries of the identical body."""
        error: DeliveryError | None = None
        for attempt in range(policy.attempts + 1):
            if attempt:
                await self._scheduler.sleep(policy.delay(attempt - 1))
            try:
                reply = await self._transport.post(url, body)
            except Exception as exc:  # a transport must not raise; if it does, it is no answer
                reply = Reply(None, str(exc))
            if reply.ok:
                return None
            error = delivery_error(reply)
            if not error.retryable:
                return error
        return error


def _safely(callback: Callable[..., Any], *args: Any) -> None:
    """A page's callback must not break delivery."""
    try:
        callback(*args)
    except Exception:
        log.exception("tracker: a callback raised")
