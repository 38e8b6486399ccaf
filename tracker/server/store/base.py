"""``Store``: the one interface the pipeline, ``record()``, the profile and the dashboard use.

Callers pass a function that runs inside one transaction: ``write``/``awrite`` queue it for the
group-committing writer (it lands completely or not at all, and returns after its COMMIT);
``read``/``aread`` run it on a read connection that never waits for the writer, so a heavy
dashboard does not hold up heartbeats (issue 10). ``Store(location)`` opens the backend the
location names: a file path (SQLite, the embedded default) or ``postgresql://...``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread

from .group_commit import Committer
from .schema import TABLES
from .tx import Tx

T = TypeVar("T")
Location = Path | str
# Read threads per process: dashboards run side by side without queueing behind one another.
READ_CONNECTIONS = 4


def is_postgres_url(location: Location) -> bool:
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


class Store:
    """Open with ``Store(path_or_url, forward=...)``; ``forward`` queues events for Caliper."""

    location: Location
    forward: bool
    dialect: str
    _writer: Committer

    def __new__(cls, location: Location, *, forward: bool = False) -> Store:
        if cls is Store:
            from .postgres import PostgresStore
            from .sqlite import SqliteStore

            cls = PostgresStore if is_postgres_url(location) else SqliteStore
        return super().__new__(cls)

    @property
    def path(self) -> Location:
        """The file (SQLite) or the URL (PostgreSQL); what older callers printed."""
        return self.location

    @property
    def schema_version(self) -> int:
        raise NotImplementedError

    @property
    def allows_many_processes(self) -> bool:
        """Whether several server processes may share this store (``--workers``)."""
        return False

    # -- transactions ----------------------------------------------------------------------

    def write(self, fn: Callable[[Tx], T]) -> T:
        result: T = self._writer.submit(fn).result()
        return result

    def read(self, fn: Callable[[Tx], T]) -> T:
        raise NotImplementedError

    async def awrite(self, fn: Callable[[Tx], T]) -> T:
        # The writer resolves the future in this loop after COMMIT; no thread waits for it.
        done = self._writer.submit_async(fn)
        try:
            result: T = await asyncio.shield(done)
        except asyncio.CancelledError:
            # As a call in a worker thread would: a cancelled caller (a server shutting down)
            # still sees its write land, or fail, before it unwinds.
            with contextlib.suppress(Exception):
                await asyncio.shield(done)
            raise
        return result

    async def aread(self, fn: Callable[[Tx], T]) -> T:
        return await anyio.to_thread.run_sync(self.read, fn)

    def close(self) -> None:
        raise NotImplementedError

    # -- inspection (tests, operators) -----------------------------------------------------

    def row_counts(self) -> dict[str, int]:
        def count(tx: Tx) -> dict[str, int]:
            return {table: int(tx.one(f"SELECT COUNT(*) FROM {table}")[0]) for table in TABLES}

        return self.read(count)

    def events(self, *, user_email: str | None = None) -> list[dict[str, Any]]:
        def fetch(tx: Tx) -> list[dict[str, Any]]:
            if user_email is None:
                rows = tx.all("SELECT body FROM events ORDER BY seq")
            else:
                rows = tx.all(
                    "SELECT body FROM events WHERE user_email = ? ORDER BY seq", (user_email,)
                )
            return [json.loads(row[0]) for row in rows]

        return self.read(fetch)

    def outbox_counts(self) -> dict[str, int]:
        def fetch(tx: Tx) -> dict[str, int]:
            rows = tx.all("SELECT status, COUNT(*) FROM outbox GROUP BY status")
            counts = {"pending": 0, "sent": 0, "failed": 0}
            counts.update({str(row[0]): int(row[1]) for row in rows})
            return counts

        return self.read(fetch)

    def requeue_failed(self) -> int:
        """Puts events that the Caliper endpoint refused back in the queue (after a fix)."""

        def requeue(tx: Tx) -> int:
            return tx.execute(
                "UPDATE outbox SET status = 'pending', next_attempt_at = 0 WHERE status = 'failed'"
            )

        return self.write(requeue)
