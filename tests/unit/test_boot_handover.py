"""B2, B3: what Python makes of the embed's boot log (tracker/browser/boot.py).

The module lives in the browser adapter, whose package imports ``js``; it imports nothing
from the browser itself, so it is loaded here on its own.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tracker.validation import FieldValueError


def _load() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "tracker" / "browser" / "boot.py"
    spec = importlib.util.spec_from_file_location("tracker_browser_boot", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


boot = _load()
V, HIDE, SHOW = (
    boot.BootEventKind.VISIBILITY,
    boot.BootEventKind.PAGE_HIDE,
    boot.BootEventKind.PAGE_SHOW,
)


def handover(
    entries: list[dict[str, Any]], resume_at: float | None = None, hidden: bool = False
) -> dict[str, Any]:
    return {"log": {"initiallyHidden": hidden, "entries": entries}, "resumeAt": resume_at}


def test_b2_the_engine_starts_at_the_call_with_the_state_there_and_gets_what_followed() -> None:
    entries = [
        {"type": "visibility", "t": 50.5, "hidden": True},  # before the call: the state
        {"type": "pageshow", "t": 60, "persisted": False},  # a first load is no restore
        {"type": "visibility", "t": 300.4, "hidden": False},
        {"type": "visibility", "t": 9_000, "hidden": True},  # after now: a live event
    ]
    plan = boot.plan_handover(handover(entries), called_at=100, now=5_000)
    assert plan.begin == 100
    assert plan.hidden_at_begin is True
    assert plan.events == [boot.BootEvent(300, V, False)]


def test_p2_a_cache_stay_without_a_beacon_is_fed_to_the_engine() -> None:
    entries = [
        {"type": "pagehide", "t": 400, "persisted": True},
        {"type": "visibility", "t": 400, "hidden": True},
        {"type": "visibility", "t": 7_000, "hidden": False},
        {"type": "pageshow", "t": 7_000.6, "persisted": True},
    ]
    plan = boot.plan_handover(handover(entries), called_at=100, now=8_000)
    assert plan.begin == 100
    assert [(e.at, e.kind) for e in plan.events] == [
        (400, HIDE),
        (400, V),
        (7_000, V),
        (7_001, SHOW),
    ]


def test_b3_after_a_boot_window_beacon_the_engine_begins_at_the_pageshow() -> None:
    """The beaconed time is never sent again as new time: nothing before resumeAt is fed."""
    entries = [
        {"type": "visibility", "t": 200, "hidden": True},
        {"type": "pagehide", "t": 400, "persisted": True},
        {"type": "pageshow", "t": 7_000, "persisted": True},
        {"type": "visibility", "t": 7_500, "hidden": False},
    ]
    plan = boot.plan_handover(handover(entries, resume_at=7_000.2), called_at=100, now=8_000)
    assert plan.begin == 7_000
    assert plan.hidden_at_begin is True
    assert plan.events == [boot.BootEvent(7_500, V, False)]


def test_resume_at_is_kept_between_the_call_and_now() -> None:
    assert boot.plan_handover(handover([], resume_at=9_999), called_at=100, now=800).begin == 800
    assert boot.plan_handover(handover([], resume_at=50), called_at=100, now=800).begin == 100


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"log": {"entries": [{"type": "visibility", "t": "soon"}]}}, "handover.log.entries[0].t"),
        ({"log": {"entries": [{"type": "freeze", "t": 1}]}}, "handover.log.entries[0].type"),
        ({"log": {"entries": ["x"]}}, "handover.log.entries[0]"),
        ({"log": {}, "resumeAt": True}, "handover.resumeAt"),
    ],
)
def test_a_malformed_handover_names_the_field(bad: dict[str, Any], field: str) -> None:
    with pytest.raises(FieldValueError) as raised:
        boot.plan_handover(bad, called_at=0, now=10)
    assert raised.value.field == field
