"""Runs belong to one user (issue 10, contract item 2).

A run's owner is the user of its first stored event. A browser may add windows and completions
only to runs it owns: on a shared computer a kept window of student A, replayed under
student B, is refused with 403 RUN_OWNED_BY_ANOTHER_USER instead of crediting B with A's time.
``record()`` from the backend is trusted and not checked here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import TrackerError

if TYPE_CHECKING:
    from .store import Tx


class RunOwnedByAnotherUserError(TrackerError):
    """The run was started by another user (rendered as 403 RUN_OWNED_BY_ANOTHER_USER)."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__("this run belongs to another user; sign in as them to send its time")


def run_owner(tx: Tx, run_id: str) -> str | None:
    """The email of the user who stored the run's first event, or None for a new run."""
    # Index events_run (run_id): one index probe per request.
    row = tx.one("SELECT user_email FROM events WHERE run_id = ? ORDER BY seq LIMIT 1", (run_id,))
    return None if row is None else str(row[0])


def check_run_owner(tx: Tx, user: str, run_id: str) -> None:
    """Raises RunOwnedByAnotherUserError unless ``run_id`` is new or ``user``'s own.

    Called inside the write transaction that stores the window, so two users racing for a
    new run cannot both win it.
    """
    owner = run_owner(tx, run_id)
    if owner is not None and owner != user:
        raise RunOwnedByAnotherUserError(run_id)
