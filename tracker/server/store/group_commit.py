"""Group commit: one writer thread runs many queued write jobs per transaction.

An fsync per request capped heartbeats at a few hundred a second (issue 12). Here each job
still runs in its own SAVEPOINT, so a job that raises rolls back alone and gets its own
exception, while the jobs of one batch share one COMMIT, one fsync. A job's future resolves
only after that COMMIT returned: nothing is acknowledged that is not durable.

``InlineCommitter`` runs the same rules in the calling task, for Pyodide (no threads).

Batching adds no waiting: the writer takes whatever queued while the previous COMMIT ran, so an
idle server commits each job at once and a busy one commits them by the hundred.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from .tx import Tx

log = logging.getLogger("tracker.server.store")

MAX_BATCH = 256
# A deadlock or a busy file (another process) aborts the whole transaction: run it again.
ATTEMPTS = 3


# What a job came to: (True, its value) or (False, the exception it raised).
Outcome = tuple[bool, Any]


@dataclass
class WriteJob:
    """A write function and who waits for it: a thread (``future``), or an event loop
    (``waiter``, resolved in ``loop``)."""

    fn: Callable[[Tx], Any]
    future: Future[Any] | None = None
    waiter: asyncio.Future[Any] | None = None
    loop: asyncio.AbstractEventLoop | None = None

    def live(self) -> bool:
        """False for a thread's job it cancelled before its turn: it needs no write."""
        return self.future is None or self.future.set_running_or_notify_cancel()


class _JobRaised(Exception):
    """A job of a batch without savepoints raised: the batch runs again with them."""


class WriteSession:
    """What the committer needs from a backend: its connection and its transaction words."""

    def begin(self) -> None:
        raise NotImplementedError

    def execute(self, sql: str) -> None:
        raise NotImplementedError

    def tx(self) -> Tx:
        raise NotImplementedError

    def retriable(self, exc: BaseException) -> bool:
        """True when the error is about the transaction (deadlock, lock timeout, lost
        connection), not about the job: the batch is run again."""
        raise NotImplementedError

    def recover(self) -> None:
        """Called before a retry (e.g. reconnect a lost connection)."""

    def close(self) -> None:
        raise NotImplementedError


class Committer:
    """Runs write jobs in transactions of ``session``; subclasses decide where and when."""

    _session: WriteSession
    _closed: bool

    def submit(self, fn: Callable[[Tx], Any]) -> Future[Any]:
        """Queues ``fn``; the future resolves after its COMMIT (for a calling thread)."""
        future: Future[Any] = Future()
        self._queue_job(WriteJob(fn, future=future))
        return future

    def submit_async(self, fn: Callable[[Tx], Any]) -> asyncio.Future[Any]:
        """Queues ``fn``; the future resolves in the running loop after its COMMIT."""
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._queue_job(WriteJob(fn, waiter=waiter, loop=loop))
        return waiter

    def _queue_job(self, job: WriteJob) -> None:
        if self._closed:
            raise RuntimeError("the store is closed")
        self._start(job)

    def _start(self, job: WriteJob) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def _run(self, jobs: list[WriteJob]) -> None:
        """Commits ``jobs`` and wakes their callers."""
        self._settle(jobs, self._commit(jobs))

    def _commit(self, jobs: list[WriteJob]) -> list[Outcome]:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                try:
                    return self._attempt(jobs, savepoints=False)
                except _JobRaised:
                    return self._attempt(jobs, savepoints=True)
            except Exception as exc:
                if self._session.retriable(exc) and attempt < ATTEMPTS:
                    log.info("store: batch of %d retried after %s", len(jobs), exc)
                    self._session.recover()
                    continue
                if len(jobs) > 1:
                    # One job may make the COMMIT fail (a deferred foreign key): alone, the
                    # others commit and only that one gets the error.
                    return [outcome for job in jobs for outcome in self._commit([job])]
                return [(False, exc)]
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _attempt(self, jobs: list[WriteJob], *, savepoints: bool) -> list[Outcome]:
        session = self._session
        session.begin()
        try:
            tx = session.tx()
            outcomes: list[Outcome] = []
            for job in jobs:
                if savepoints:
                    session.execute("SAVEPOINT job")
                try:
                    value = job.fn(tx)
                except Exception as exc:
                    if session.retriable(exc):
                        raise
                    if not savepoints:
                        raise _JobRaised from exc
                    session.execute("ROLLBACK TO SAVEPOINT job")
                    session.execute("RELEASE SAVEPOINT job")
                    outcomes.append((False, exc))
                    continue
                if savepoints:
                    session.execute("RELEASE SAVEPOINT job")
                outcomes.append((True, value))
            session.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(Exception):
                session.execute("ROLLBACK")
            raise
        return outcomes

    def _settle(self, jobs: list[WriteJob], outcomes: list[Outcome]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Outcome]]] = {}
        for job, outcome in zip(jobs, outcomes, strict=True):
            if job.future is not None:
                ok, value = outcome
                if ok:
                    job.future.set_result(value)
                else:
                    job.future.set_exception(value)
            elif job.waiter is not None and job.loop is not None:
                by_loop.setdefault(job.loop, []).append((job.waiter, outcome))
        for loop, waiters in by_loop.items():
            self._wake(loop, waiters)

    def _wake(
        self,
        loop: asyncio.AbstractEventLoop,
        waiters: list[tuple[asyncio.Future[Any], Outcome]],
    ) -> None:
        raise NotImplementedError


def _resolve(waiters: list[tuple[asyncio.Future[Any], Outcome]]) -> None:
    """In the waiters' loop: each gets its job's value or exception."""
    for waiter, (ok, value) in waiters:
        if waiter.done():  # its loop is shutting down and cancelled it
            continue
        if ok:
            waiter.set_result(value)
        else:
            waiter.set_exception(value)


class GroupCommitter(Committer):
    def __init__(self, session: WriteSession, *, name: str, max_batch: int = MAX_BATCH) -> None:
        self._session = session
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[WriteJob | None] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def _start(self, job: WriteJob) -> None:
        self._queue.put(job)

    def close(self) -> None:
        """Commits what is queued, then stops the writer and closes its connection."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join()
        self._session.close()

    def _loop(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            jobs = [first]
            while len(jobs) < self._max_batch:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stopping = True
                    break
                jobs.append(job)
            live = [job for job in jobs if job.live()]
            if live:
                self._run(live)

    def _wake(
        self,
        loop: asyncio.AbstractEventLoop,
        waiters: list[tuple[asyncio.Future[Any], Outcome]],
    ) -> None:
        # One thread-safe hand-over per loop and batch (issue 12: one per job cost ~10 %).
        with contextlib.suppress(RuntimeError):  # a loop closed meanwhile: nobody waits
            loop.call_soon_threadsafe(_resolve, waiters)


class InlineCommitter(Committer):
    """Commits each job at once in the calling task: for Pyodide, which has no threads.

    The same savepoint, retry and one-job-alone rules as the group committer; only the
    writer thread is missing, so ``submit`` returns a future that is already resolved.
    """

    def __init__(self, session: WriteSession) -> None:
        self._session = session
        self._closed = False

    def _start(self, job: WriteJob) -> None:
        if job.live():
            self._run([job])

    def _wake(
        self,
        loop: asyncio.AbstractEventLoop,
        waiters: list[tuple[asyncio.Future[Any], Outcome]],
    ) -> None:
        _resolve(waiters)  # the calling task runs in that loop already

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._session.close()
