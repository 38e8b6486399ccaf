"""Runs belong to one user (issue 10, contract item 2).

A run's owner is the user of its first stored event. A browser may add windows and completions
only to runs it owns: on a shared computer a kept window of student A, replayed under
student B, is refused with 403 RUN_OWNED_BY_ANOTHER_USER instead of crediting B with A's time.
``record()`` from the backend is trusted and not checked here.

A replay (``X-Tracker-Replay: untagged``) is a kept window that names nobody: made before its
page's first answer, it may be another student's. It is stored only into a run that exists
and is the caller's (403 UNVERIFIED_REPLAY for an unknown run): it can add to a run the
caller proved theirs, never start one.
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


class UnverifiedReplayError(TrackerError):
    """A replayed untagged window for a run nobody owns yet (403 UNVERIFIED_REPLAY)."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(
            "a replayed window names no user and its run is unknown: it cannot be credited"
        )


def run_owner(tx: Tx, run_id: str) -> str | None:
    """The email of the user who stored the run's first event, or None for a new run."""
    # Index events_run (run_id): one index probe per request.
    row = tx.one("SELECT user_email FROM events WHERE run_id = ? ORDER BY seq LIMIT 1", (run_id,))
    return None if row is None else str(row[0])


def check_run_owner(tx: Tx, user: str, run_id: str, *, replay: bool = False) -> None:
    """Raises RunOwnedByAnotherUserError unless ``run_id`` is new or ``user``'s own; for a
    ``replay``, UnverifiedReplayError when it is new.

    Called inside the write transaction that stores the window, so two users racing for a
    new run cannot both win it.
    """
    owner = run_owner(tx, run_id)
    if owner is None and replay:
        raise UnverifiedReplayError(run_id)
    if owner is not None and owner != user:
        raise RunOwnedByAnotherUserError(run_id)
