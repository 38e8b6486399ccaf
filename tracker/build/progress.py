"""Progress lines of ``tracker build``: one line per step, on stderr so stdout stays clean."""

from __future__ import annotations

import sys


def say(message: str) -> None:
    print(f"tracker build: {message}", file=sys.stderr, flush=True)
