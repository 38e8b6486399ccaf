"""The engine's transition table as Mermaid state diagrams, for ``docs/engine.md``.

Generated, never edited by hand: ``python scripts/engine_diagram.py --write`` rewrites the
part of the doc between the markers, and a unit test fails when the doc lags the table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tracker.engine import INTERNAL_EVENTS, TRANSITIONS

BEGIN = "<!-- BEGIN GENERATED: python scripts/engine_diagram.py --write -->"
END = "<!-- END GENERATED -->"
DOC = Path(__file__).resolve().parents[1] / "docs" / "engine.md"


def _node(state: str) -> str:
    return state.replace(" ", "_")


def mermaid(concern: str) -> str:
    """One ``stateDiagram-v2`` per concern; parallel edges share one label."""
    rows = TRANSITIONS[concern]
    lines = ["```mermaid", "stateDiagram-v2", f"    [*] --> {_node(str(next(iter(rows))))}"]
    for state, row in rows.items():
        edges: dict[str, list[str]] = {}
        for event, targets in row.items():
            name = event.__name__ + ("*" if event in INTERNAL_EVENTS else "")
            for target in targets:
                edges.setdefault(str(target), []).append(name)
        for goal, names in edges.items():
            lines.append(f"    {_node(str(state))} --> {_node(goal)}: {', '.join(names)}")
        if not row:
            lines.append(f"    {_node(str(state))} --> [*]")
    lines.append("```")
    return "\n".join(lines)


def generated() -> str:
    parts = [BEGIN]
    for concern in TRANSITIONS:
        parts += ["", f"### {concern.capitalize()}", "", mermaid(concern)]
    parts += ["", END]
    return "\n".join(parts)


def updated(doc: str) -> str:
    """``doc`` with its generated part replaced by the current table."""
    head, _, rest = doc.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return head + generated() + tail


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="rewrite docs/engine.md")
    args = parser.parse_args(argv)
    if args.write:
        DOC.write_text(updated(DOC.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        sys.stdout.write(generated() + "\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
