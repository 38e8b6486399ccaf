"""Random identifiers, one maker for the browser core and the server (which may import it)."""

from __future__ import annotations

import os
import sys

# Random bytes are read from the OS 4 KiB at a time: one getrandom() per 256 identifiers
# instead of one per identifier (uuid.uuid4), ~5 % of a heartbeat's CPU on the server (issue
# 12). The bytes are the same CSPRNG output either way. Not in the browser: a memory snapshot
# (issue 8) would freeze a pool's unread bytes into every page restored from it.
_POOL_BYTES = 16 if sys.platform == "emscripten" else 4096
_pool = b""
_used = 0


def _forget_pool() -> None:
    # A forked worker must not hand out the identifiers its parent's pool would hand out.
    global _pool, _used
    _pool, _used = b"", 0


if hasattr(os, "register_at_fork"):  # not on Pyodide: it cannot fork
    os.register_at_fork(after_in_child=_forget_pool)


def _random16() -> bytes:
    global _pool, _used
    if _used + 16 > len(_pool):
        _pool, _used = os.urandom(_POOL_BYTES), 0
    chunk = _pool[_used : _used + 16]
    _used += 16
    return chunk


def new_uuid() -> str:
    """A random (version 4) UUID in its canonical text form: run ids, and event URNs."""
    raw = bytearray(_random16())
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
