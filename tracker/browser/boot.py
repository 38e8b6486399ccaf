"""The hand-over from ``timeback.js`` to Python: what the page did while Python booted.

The embed logs ``visibilitychange``, ``pagehide`` and ``pageshow`` from its first line, each
at its event's ``timeStamp`` (B2, T2), and beacons the boot window itself when the page is
left before Python is ready (B3). This module turns that log into the events Python feeds
its engine, so the engine continues the same window with no gap and no overlap:

- nothing was beaconed: the engine starts at the call to ``start()`` and gets every entry
  after it, interleaved with the replayed calls (a back/forward-cache stay with
  ``flushOnPageHide`` off is then closed by the engine, P2);
- a boot window was beaconed: the engine starts where the embed stopped (``resumeAt``, the
  ``pageshow`` that brought the page back) and gets only the entries after it; the time
  before was delivered, and is never sent again as new time.

Pure Python (no ``js``) with absolute imports, so CPython's unit tests load this file
alone, without the package's ``__init__`` that imports ``js`` (tests/unit/test_boot_handover.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tracker.timefmt import whole_ms
from tracker.validation import FieldValueError


class BootEventKind(StrEnum):
    VISIBILITY = "visibility"
    PAGE_HIDE = "pagehide"
    PAGE_SHOW = "pageshow"


@dataclass(frozen=True, slots=True)
class BootEvent:
    """One entry of the embed's log; ``hidden`` only means something for visibility."""

    at: int
    kind: BootEventKind
    hidden: bool = False


@dataclass(frozen=True, slots=True)
class BootPlan:
    """Where the engine starts, the visibility there, and the entries to feed after it."""

    begin: int
    hidden_at_begin: bool
    events: list[BootEvent]


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FieldValueError(field, "must be a number (a performance.now() time)")
    return float(value)


def parse_events(log: Mapping[str, Any]) -> tuple[bool, list[BootEvent]]:
    """``{initiallyHidden, entries}`` of the embed's BootLog, as (hidden at first, events).

    A ``pagehide`` or ``pageshow`` that is not ``persisted`` is left out: the first load's
    ``pageshow`` is no restore, and a page that was really unloaded never gets here (P2).
    """
    events: list[BootEvent] = []
    for index, entry in enumerate(log.get("entries") or []):
        field = f"handover.log.entries[{index}]"
        if not isinstance(entry, Mapping):
            raise FieldValueError(field, "must be an object")
        at = whole_ms(_number(entry.get("t"), f"{field}.t"))
        kind = entry.get("type")
        if kind == BootEventKind.VISIBILITY:
            events.append(BootEvent(at, BootEventKind.VISIBILITY, bool(entry.get("hidden"))))
        elif kind in (BootEventKind.PAGE_HIDE, BootEventKind.PAGE_SHOW):
            if entry.get("persisted"):
                events.append(BootEvent(at, BootEventKind(kind)))
        else:
            raise FieldValueError(f"{field}.type", "must be visibility, pagehide or pageshow")
    # Stable: events of one ms keep the order the page saw them in.
    events.sort(key=lambda event: event.at)
    return bool(log.get("initiallyHidden")), events


def plan_handover(handover: Mapping[str, Any], called_at: int, now: int) -> BootPlan:
    """The engine's start for an activity started at ``called_at`` while booting.

    Entries after ``now`` cannot exist (the log and Python's listeners change hands within
    one task), but one would arrive as a live event: it is left out here.
    """
    hidden, events = parse_events(handover.get("log") or {})
    resume_at = handover.get("resumeAt")
    begin = called_at
    if resume_at is not None:
        begin = min(now, max(called_at, whole_ms(_number(resume_at, "handover.resumeAt"))))
    for event in events:
        if event.at > begin:
            break
        if event.kind is BootEventKind.VISIBILITY:
            hidden = event.hidden
    later = [event for event in events if begin < event.at <= now]
    return BootPlan(begin, hidden, later)
