"""Random identifiers, one maker for the browser core and the server (which may import it)."""

from __future__ import annotations

import uuid


def new_uuid() -> str:
    """A random (version 4) UUID in its canonical text form: run ids, and event URNs."""
    return str(uuid.uuid4())
