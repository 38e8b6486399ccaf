"""The Caliper sink: a background worker that forwards the outbox to ``{base}/caliper/event``.

At-least-once delivery: a row is marked sent only after a 2xx, rows are leased while in flight
(so a second server on the same file skips them, and a crash releases them when the lease
ends), and failures are rescheduled in the database, so an outage or a restart loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from itertools import groupby

import httpx

from .caliper import envelope
from .oauth import TokenError, TokenSource
from .pipeline import now_ms
from .settings import Settings
from .store import OutboxItem, Store, Tx

log = logging.getLogger("tracker.server.outbox")

# The endpoint will never accept these as they are; kept as 'failed' for an operator.
PERMANENT = {400, 413, 415, 422}
MAX_RETRY_AFTER_S = 3600.0


def retry_after_s(value: str | None, *, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date; None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_S)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    now = time.time() if now is None else now
    delta = moment.timestamp() - now
    return min(max(0.0, delta), MAX_RETRY_AFTER_S)


class CaliperSink:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        assert settings.caliper_url and settings.token_url
        assert settings.client_id and settings.client_secret
        self.store = store
        self.settings = settings
        self.endpoint = f"{settings.caliper_url}/caliper/event"
        self._transport = transport
        self._clock = clock
        self._client: httpx.AsyncClient | None = None
        self.tokens: TokenSource | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._lease_s = 2 * settings.request_timeout_s + 10
        self._inflight: list[int] = []

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        loop = asyncio.get_running_loop()
        return self._task is not None and not self._task.done() and self._loop is loop

    async def start(self) -> None:
        if self.running:
            return
        # A previous loop (a test client, a restarted server) is gone: start afresh here.
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._client = httpx.AsyncClient(
            transport=self._transport, timeout=self.settings.request_timeout_s
        )
        assert self.settings.token_url and self.settings.client_id
        assert self.settings.client_secret
        self.tokens = TokenSource(
            self._client,
            self.settings.token_url,
            self.settings.client_id,
            self.settings.client_secret,
        )
        self._task = asyncio.create_task(self._run(), name="tracker-caliper-outbox")

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # aclose() itself was cancelled, not only the worker

        if self._inflight:
            # Interrupted mid-send: let the next start retry them now, not after the lease.
            seqs, self._inflight = self._inflight, []
            self.store.write(lambda tx: tx.release(seqs))
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def notify(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is None or wake is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            wake.set()
        else:
            loop.call_soon_threadsafe(wake.set)

    # -- work ------------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                full = await self.deliver_due()
            except Exception:
                log.exception("outbox: delivery round failed")
                full = False
            if full:
                continue  # more rows are due right now
            await self._sleep()

    async def _sleep(self) -> None:
        assert self._wake is not None
        next_due = await self.store.aread(lambda tx: tx.next_due())
        wait = self.settings.poll_interval_s
        if next_due is not None:
            wait = min(wait, max(0.0, next_due - self._clock()))
        if wait > 0:
            # Not asyncio.wait_for: on Python 3.11 it swallows a cancellation that arrives in
            # the same turn as the wake, and the worker then outlived aclose().
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()
        self._wake.clear()

    async def deliver_due(self) -> bool:
        """Sends one batch of due events; True when the batch was full (more may be due)."""
        limit = self.settings.batch_size
        now = self._clock()
        items = await self.store.awrite(lambda tx: tx.claim_outbox(now, limit, self._lease_s))
        self._inflight = [item.seq for item in items]
        for sensor, group in groupby(items, key=lambda item: item.sensor):
            # Renew the lease before each send (issue 10: a batch alternating sensors outlasted
            # one lease and a second server sent its tail again). Rows whose lease ran out and
            # were taken by another server are theirs now: not sent from here.
            until = self._clock() + self._lease_s
            batch = await self.store.awrite(partial(Tx.renew, items=list(group), until=until))
            if not batch:
                continue
            sent = await self._send(sensor, batch)
            done = {item.seq for item in batch}
            self._inflight = [seq for seq in self._inflight if seq not in done]
            if not sent:
                # Keep the order: later events wait behind the one that must be retried.
                rest, self._inflight = self._inflight, []
                await self.store.awrite(partial(Tx.release, seqs=rest))
                return False
        self._inflight = []
        return len(items) == limit

    def _backoff(self, attempts: int) -> float:
        base = self.settings.retry_base_s * float(2 ** min(attempts, 30))
        delay = min(self.settings.retry_max_s, base)
        return delay * (1 + random.random() * 0.1)

    async def _later(self, items: list[OutboxItem], delay: float, error: str) -> None:
        at = self._clock() + delay
        seqs = [item.seq for item in items]
        log.warning("outbox: %d event(s) retry in %.2fs: %s", len(seqs), delay, error)
        await self.store.awrite(lambda tx: tx.reschedule(seqs, at, error, count=True))

    async def _send(self, sensor: str, items: list[OutboxItem]) -> bool:
        """Posts one envelope; True when the endpoint took it (or refused it for good)."""
        assert self._client is not None and self.tokens is not None
        attempts = max(item.attempts for item in items)
        seqs = [item.seq for item in items]
        try:
            token = await self.tokens.get()
        except TokenError as exc:
            await self._later(items, self._backoff(attempts), str(exc))
            return False
        events = [json.loads(item.body) for item in items]
        body = json.dumps(
            envelope(sensor, events, int(datetime.now(UTC).timestamp() * 1000)),
            ensure_ascii=True,
            separators=(",", ":"),
        )
        try:
            response = await self._client.post(
                self.endpoint,
                content=body.encode("ascii"),
                headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
            )
        except httpx.HTTPError as exc:
            await self._later(items, self._backoff(attempts), f"unreachable: {exc!r}")
            return False
        status = response.status_code
        if 200 <= status < 300:
            sent_at = now_ms()
            await self.store.awrite(lambda tx: tx.mark_sent(seqs, sent_at))
            return True
        error = f"HTTP {status}: {response.text[:200]}"
        if status in PERMANENT:
            log.error("outbox: %d event(s) refused for good: %s", len(seqs), error)
            await self.store.awrite(lambda tx: tx.mark_failed(seqs, error))
            return True
        if status == 401:
            # The token was revoked or expired early: fetch a new one; back off if it repeats.
            self.tokens.drop()
            delay = 0.0 if attempts == 0 else self._backoff(attempts)
        else:
            retry_after = retry_after_s(response.headers.get("retry-after"))
            use_header = retry_after is not None and status in (429, 503)
            delay = (
                retry_after if use_header and retry_after is not None else self._backoff(attempts)
            )
        await self._later(items, delay, error)
        return False
