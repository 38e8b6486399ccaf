"""What a request carries into the pipeline, parsed once at the edge.

The routes validate the body (wire §1) and turn its timestamps into epoch ms here; the pipeline
takes these objects and never parses a string or normalises an email again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..timefmt import epoch_ms_from_iso
from ..validation import validate
from ..wire import HeartbeatBody, SubmitBody


@dataclass(frozen=True)
class WindowIn:
    """One heartbeat window of a signed-in user (``user`` is the normalised email)."""

    user: str
    body: HeartbeatBody
    started_at_ms: int
    ended_at_ms: int

    @classmethod
    def parse(cls, user: str, data: Any) -> WindowIn:
        """400 INVALID_PAYLOAD naming the field (TrackerValidationError) for a bad body."""
        body = validate(HeartbeatBody, data, lenient="heartbeat body")
        return cls(
            user=user,
            body=body,
            started_at_ms=epoch_ms_from_iso(body.started_at),
            ended_at_ms=epoch_ms_from_iso(body.ended_at),
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
