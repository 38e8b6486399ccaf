"""Where a stateful lesson left off, per user and lesson: its ``runId``, step and answers.

Kept in its own SQLite file next to the tracker's store (``data/demo.sqlite3``): the demo's
state is the app's business, not the tracker's, as it would be in a real app. The static
demo keeps it in memory instead (``path=None``), saved as bytes by the page (``image()``).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread

from ..ids import new_uuid
from ..server.private_files import create_private
from ..server.store.memory import open_memory

T = TypeVar("T")

DB_FILE = "demo.sqlite3"

SCHEMA = """CREATE TABLE IF NOT EXISTS lesson_runs (
    user_email TEXT NOT NULL,
    lesson_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    step INTEGER NOT NULL DEFAULT 0,
    answers TEXT NOT NULL DEFAULT '{}',
    visits INTEGER NOT NULL DEFAULT 0,
    started_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    completed_at_ms INTEGER,
    result TEXT,
    PRIMARY KEY (user_email, lesson_id))"""


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class LessonRun:
    """One user's current run of one stateful lesson."""

    lesson_id: str
    run_id: str
    step: int = 0
    answers: dict[str, int] = field(default_factory=dict)
    visits: int = 0
    completed: bool = False
    result: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "lessonId": self.lesson_id,
            "runId": self.run_id,
            "step": self.step,
            "answers": self.answers,
            "visits": self.visits,
            "completed": self.completed,
            "result": self.result,
        }


class DemoState:
    """Blocking SQLite calls behind one lock; ``a*`` methods run them in a worker thread.

    ``path=None``: in memory, from ``image`` (the static demo in Pyodide, which has no
    threads: the ``a*`` methods then call in the running task).
    """

    def __init__(self, path: Path | None, *, image: bytes | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        if path is None:
            self._conn = open_memory(image, "demo state")
        else:
            create_private(path)  # -wal/-shm take its mode: 0600
            self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute(SCHEMA)

    def image(self) -> bytes:
        """The state as bytes, for ``DemoState(None, image=...)`` on the next page."""
        with self._lock:
            return self._conn.serialize()

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        if self.path is None:
            return fn(*args)
        return await anyio.to_thread.run_sync(fn, *args)

    def _row(self, email: str, lesson_id: str) -> LessonRun | None:
        row = self._conn.execute(
            "SELECT run_id, step, answers, visits, completed_at_ms, result FROM lesson_runs"
            " WHERE user_email = ? AND lesson_id = ?",
            (email, lesson_id),
        ).fetchone()
        if row is None:
            return None
        return LessonRun(
            lesson_id=lesson_id,
            run_id=str(row[0]),
            step=int(row[1]),
            answers={str(k): int(v) for k, v in json.loads(row[2]).items()},
            visits=int(row[3]),
            completed=row[4] is not None,
            result=json.loads(row[5]) if row[5] else None,
        )

    def visit(self, email: str, lesson_id: str) -> LessonRun:
        """The run to resume (a new one on the first visit); counts the visit."""
        with self._lock:
            now = _now_ms()
            self._conn.execute(
                "INSERT INTO lesson_runs (user_email, lesson_id, run_id, started_at_ms,"
                " updated_at_ms) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (user_email, lesson_id) DO NOTHING",
                (email, lesson_id, new_uuid(), now, now),
            )
            self._conn.execute(
                "UPDATE lesson_runs SET visits = visits + 1 WHERE user_email = ? AND lesson_id = ?",
                (email, lesson_id),
            )
            run = self._row(email, lesson_id)
            assert run is not None
            return run

    def runs(self, email: str) -> list[LessonRun]:
        """The user's current runs, without counting a visit."""
        with self._lock:
            ids = [
                str(row[0])
                for row in self._conn.execute(
                    "SELECT lesson_id FROM lesson_runs WHERE user_email = ? ORDER BY lesson_id",
                    (email,),
                )
            ]
            return [run for run in (self._row(email, i) for i in ids) if run is not None]

    def get(self, email: str, lesson_id: str) -> LessonRun | None:
        with self._lock:
            return self._row(email, lesson_id)

    def save(self, email: str, lesson_id: str, step: int, answers: dict[str, int]) -> None:
        with self._lock:
            self._conn.execute(
                "UPDATE lesson_runs SET step = ?, answers = ?, updated_at_ms = ?"
                " WHERE user_email = ? AND lesson_id = ? AND completed_at_ms IS NULL",
                (step, json.dumps(answers), _now_ms(), email, lesson_id),
            )

    def complete(self, email: str, lesson_id: str, result: dict[str, Any]) -> None:
        with self._lock:
            self._conn.execute(
                "UPDATE lesson_runs SET completed_at_ms = ?, result = ?"
                " WHERE user_email = ? AND lesson_id = ?",
                (_now_ms(), json.dumps(result), email, lesson_id),
            )

    def restart(self, email: str, lesson_id: str) -> None:
        """Forgets the run (completed or not): the next visit starts a new one."""
        with self._lock:
            self._conn.execute(
                "DELETE FROM lesson_runs WHERE user_email = ? AND lesson_id = ?",
                (email, lesson_id),
            )

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    async def avisit(self, email: str, lesson_id: str) -> LessonRun:
        return await self._call(self.visit, email, lesson_id)

    async def aruns(self, email: str) -> list[LessonRun]:
        return await self._call(self.runs, email)

    async def aget(self, email: str, lesson_id: str) -> LessonRun | None:
        return await self._call(self.get, email, lesson_id)

    async def asave(self, email: str, lesson_id: str, step: int, answers: dict[str, int]) -> None:
        await self._call(self.save, email, lesson_id, step, answers)

    async def acomplete(self, email: str, lesson_id: str, result: dict[str, Any]) -> None:
        await self._call(self.complete, email, lesson_id, result)

    async def arestart(self, email: str, lesson_id: str) -> None:
        await self._call(self.restart, email, lesson_id)
