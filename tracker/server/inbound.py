"""What a request carries into the pipeline, parsed once at the edge.

The routes validate the body (wire §1) and turn its timestamps into epoch ms here; the pipeline
takes these objects and never parses a string or normalises an email again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import TrackerValidationError
from ..timefmt import epoch_ms_from_iso
from ..validation import validate
from ..wire import REPLAY_HEADER, REPLAY_UNTAGGED, HeartbeatBody, SubmitBody


@dataclass(frozen=True)
class WindowIn:
    """One heartbeat window of a signed-in user (``user`` is the normalised email)."""

    user: str
    body: HeartbeatBody
    started_at_ms: int
    ended_at_ms: int
    # X-Tracker-Replay: untagged. A kept window that names nobody: only into the user's runs.
    replay: bool = False

    @classmethod
    def parse(cls, user: str, data: Any, *, replay: str | None = None) -> WindowIn:
        """400 INVALID_PAYLOAD naming the field (TrackerValidationError) for a bad body, or
        for a replay header other than ``untagged``."""
        if replay is not None and replay != REPLAY_UNTAGGED:
            raise TrackerValidationError(REPLAY_HEADER, f"must be {REPLAY_UNTAGGED!r}")
        body = validate(HeartbeatBody, data, lenient="heartbeat body")
        return cls(
            user=user,
            body=body,
            started_at_ms=epoch_ms_from_iso(body.started_at),
            ended_at_ms=epoch_ms_from_iso(body.ended_at),
            replay=replay is not None,
        )


@dataclass(frozen=True)
class CompletionIn:
    """One completion a browser submitted (``user`` is the normalised email)."""

    user: str
    body: SubmitBody
    ended_at_ms: int

    @classmethod
    def parse(cls, user: str, data: Any) -> CompletionIn:
        body = validate(SubmitBody, data, lenient="submit body")
        return cls(user=user, body=body, ended_at_ms=epoch_ms_from_iso(body.ended_at))
