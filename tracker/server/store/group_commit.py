"""Group commit: many queued write jobs per transaction, one COMMIT (one fsync) for them all.

An fsync per request capped heartbeats at a few hundred a second (issue 12). The jobs of one
batch share one COMMIT; a job that raises still rolls back alone and gets its own exception
(see below). A job's future resolves only after that COMMIT returned: nothing is acknowledged
that is not durable.

- ``GroupCommitter`` (PostgreSQL): one writer thread runs the batches.
- ``LoopStatementsCommitter`` (SQLite): an event loop's jobs run in the loop itself and only
  their COMMIT in a thread; jobs from other threads still go through the writer thread.
- ``InlineCommitter`` runs the same rules in the calling task, for Pyodide (no threads).

Batching adds no waiting: a batch is whatever queued while the previous COMMIT ran, so an idle
server commits each job at once and a busy one commits them by the hundred.

A batch first runs without savepoints (two statements per job saved); only when one of its
jobs raises is the batch rolled back and run again with a savepoint per job. The callers of a
batch are woken together: one hand-over to their event loop per batch, not one per job.
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

    def begin_now(self) -> None:
        """``begin`` without waiting for another holder of the database's write lock: raises
        at once instead (the caller is an event loop)."""
        self.begin()

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

    def _attempt(
        self, jobs: list[WriteJob], *, savepoints: bool, statements_only: bool = False
    ) -> list[Outcome]:
        """Runs ``jobs`` in one transaction; with ``statements_only`` the caller has begun it
        and commits it (a loop's batch), and only a failure rolls it back here."""
        session = self._session
        if not statements_only:
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
            if not statements_only:
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
        self._stop_writer()

    def _stop_writer(self) -> None:
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


@dataclass
class _Finish:
    """A transaction whose statements ran in an event loop: the finisher thread commits it."""

    jobs: list[WriteJob]
    outcomes: list[Outcome]


class LoopStatementsCommitter(GroupCommitter):
    """Group commit for SQLite that runs an event loop's jobs in that loop's thread and only
    their COMMIT in a thread of its own (issue 12).

    In the writer thread, a job's statements gave the GIL up and waited for it again at every
    step while the request thread held it: a heartbeat's write took ~330 us of wall time for
    ~100 us of CPU, and the writer was the bottleneck. In the loop nothing competes for the
    GIL; the COMMIT (the log's write and fsync) gives it up once, for all of its wait.

    One transaction at a time holds the connection (``_txn``): a loop's batch (its statements
    in the loop, its COMMIT in the finisher), or the writer thread's batch of jobs from other
    threads. The loop never waits for it: when the connection is busy (a thread's batch, or
    another process holding the file's write lock) its jobs go to the writer thread instead.
    """

    def __init__(self, session: WriteSession, *, name: str, max_batch: int = MAX_BATCH) -> None:
        self._txn = threading.Lock()
        # Guards the three below, shared by loops and threads; notified when a loop's
        # transaction ends (close waits for it).
        self._state = threading.Condition()
        self._pending: list[WriteJob] = []
        self._flush_scheduled = False
        self._in_flight = False
        self._finishes: queue.SimpleQueue[_Finish | None] = queue.SimpleQueue()
        super().__init__(session, name=name, max_batch=max_batch)
        self._finisher = threading.Thread(
            target=self._finish_loop, name=f"{name} commit", daemon=True
        )
        self._finisher.start()

    def submit_async(self, fn: Callable[[Tx], Any]) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        with self._state:
            if self._closed:
                raise RuntimeError("the store is closed")
            self._pending.append(WriteJob(fn, waiter=waiter, loop=loop))
            if not self._flush_scheduled and not self._in_flight:
                self._flush_scheduled = True
                loop.call_soon(self._flush)
        return waiter

    def _flush(self) -> None:
        """In a loop: BEGIN and the statements of what is pending, then hands the COMMIT on."""
        with self._state:
            self._flush_scheduled = False
            if self._in_flight or not self._pending:
                return
            if self._closed or not self._txn.acquire(blocking=False):
                jobs, self._pending = self._pending, []
                for job in jobs:  # the writer thread runs them (it holds the connection now)
                    self._queue.put(job)
                return
            jobs = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            self._in_flight = True
        try:
            self._session.begin_now()
            try:
                outcomes = self._attempt(jobs, savepoints=False, statements_only=True)
            except _JobRaised:
                self._session.begin_now()
                outcomes = self._attempt(jobs, savepoints=True, statements_only=True)
        except Exception:
            # The file is busy (another process) or the transaction failed: the writer
            # thread runs these jobs whole, with its waits and retries.
            self._release(handed=jobs)
            return
        self._finishes.put(_Finish(jobs, outcomes))

    def _finish_loop(self) -> None:
        while (finish := self._finishes.get()) is not None:
            try:
                self._session.execute("COMMIT")
                outcomes = finish.outcomes
            except Exception:
                with contextlib.suppress(Exception):
                    self._session.execute("ROLLBACK")
                outcomes = self._commit(finish.jobs)  # again, with every rule of _commit
            self._settle(finish.jobs, outcomes)
            self._release()

    def _release(self, handed: list[WriteJob] | None = None) -> None:
        """Ends a loop's transaction: frees the connection, and flushes what came meanwhile."""
        self._txn.release()
        with self._state:
            self._in_flight = False
            self._state.notify_all()
            for job in handed or ():
                self._queue.put(job)
            if self._pending and not self._flush_scheduled:
                self._flush_scheduled = self._schedule_flush()

    def _schedule_flush(self) -> bool:
        """Asks a loop of the pending jobs to flush; with none still running, the writer
        thread takes them (their callers' loops are gone, not their writes)."""
        for loop in dict.fromkeys(job.loop for job in self._pending):
            try:
                if loop is not None:
                    loop.call_soon_threadsafe(self._flush)
                    return True
            except RuntimeError:  # that loop is closed
                continue
        jobs, self._pending = self._pending, []
        for job in jobs:
            self._queue.put(job)
        return False

    def _run(self, jobs: list[WriteJob]) -> None:
        with self._txn:  # the writer thread's batch holds the connection like a loop's
            super()._run(jobs)

    def close(self) -> None:
        with self._state:
            if self._closed:
                return
            self._closed = True
            pending, self._pending = self._pending, []
            while self._in_flight:  # a loop's transaction: its COMMIT must go first
                self._state.wait()
        for job in pending:  # not begun yet: the writer thread commits them before it stops
            self._queue.put(job)
        self._finishes.put(None)  # after any COMMIT still to do
        self._finisher.join()
        self._stop_writer()


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
