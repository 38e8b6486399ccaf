"""docs/engine.md draws the engine's transition table; it must not lag the table."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "engine_diagram.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("engine_diagram", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_engine_md_shows_the_current_transition_table() -> None:
    diagram = _script()
    doc = diagram.DOC.read_text(encoding="utf-8")
    assert diagram.updated(doc) == doc, "run: python scripts/engine_diagram.py --write"


def test_every_state_of_every_concern_is_drawn(capsys: pytest.CaptureFixture[str]) -> None:
    diagram = _script()
    assert diagram.main([]) == 0
    text = capsys.readouterr().out
    for concern, rows in diagram.TRANSITIONS.items():
        assert f"### {concern.capitalize()}" in text
        for state in rows:
            assert str(state).replace(" ", "_") in text
