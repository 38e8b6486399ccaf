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

import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from .tx import Tx

log = logging.getLogger("tracker.server.store")

MAX_BATCH = 256
# A deadlock or a busy file (another process) aborts the whole transaction: run it again.
ATTEMPTS = 3


@dataclass
class WriteJob:
    fn: Callable[[Tx], Any]
    future: Future[Any] = field(default_factory=Future)


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
        if self._closed:
            raise RuntimeError("the store is closed")
        job = WriteJob(fn)
        self._start(job)
        return job.future

    def _start(self, job: WriteJob) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def _commit(self, jobs: list[WriteJob]) -> None:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                outcomes = self._attempt(jobs)
            except Exception as exc:
                if self._session.retriable(exc) and attempt < ATTEMPTS:
                    log.info("store: batch of %d retried after %s", len(jobs), exc)
                    self._session.recover()
                    continue
                if len(jobs) > 1:
                    # One job may make the COMMIT fail (a deferred foreign key): alone, the
                    # others commit and only that one gets the error.
                    for job in jobs:
                        self._commit([job])
                    return
                jobs[0].future.set_exception(exc)
                return
            for job, (ok, value) in zip(jobs, outcomes, strict=True):
                if ok:
                    job.future.set_result(value)
                else:
                    job.future.set_exception(value)
            return

    def _attempt(self, jobs: list[WriteJob]) -> list[tuple[bool, Any]]:
        session = self._session
        session.begin()
        try:
            tx = session.tx()
            outcomes: list[tuple[bool, Any]] = []
            for job in jobs:
                session.execute("SAVEPOINT job")
                try:
                    value = job.fn(tx)
                except Exception as exc:
                    if session.retriable(exc):
                        raise
                    session.execute("ROLLBACK TO SAVEPOINT job")
                    session.execute("RELEASE SAVEPOINT job")
                    outcomes.append((False, exc))
                    continue
                session.execute("RELEASE SAVEPOINT job")
                outcomes.append((True, value))
            session.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(Exception):
                session.execute("ROLLBACK")
            raise
        return outcomes


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
            # A caller that gave up (cancelled) before its turn needs no write.
            live = [job for job in jobs if job.future.set_running_or_notify_cancel()]
            if live:
                self._commit(live)


class InlineCommitter(Committer):
    """Commits each job at once in the calling task: for Pyodide, which has no threads.

    The same savepoint, retry and one-job-alone rules as the group committer; only the
    writer thread is missing, so ``submit`` returns a future that is already resolved.
    """

    def __init__(self, session: WriteSession) -> None:
        self._session = session
        self._closed = False

    def _start(self, job: WriteJob) -> None:
        job.future.set_running_or_notify_cancel()
        self._commit([job])

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._session.close()
