"""The snapshot shipped as a delta against bytes the browser holds anyway (issue 8).

A memory snapshot repeats two things the page downloads beside it: the runtime's data
segments (3.8 MB of CPython's static data, ~1.2 MB of the compressed snapshot although
three quarters of its bytes never change) and pydantic-core's data segment (0.6 MB).
Those ranges of the snapshot file are stored XOR the bytes they started from, which is
mostly zeros and compresses to almost nothing (the runtime's range: 1.2 MB -> 60 KB).

The browser undoes it before the restore (web/src/runtime.js): the runtime's bytes are
copied from its memory right after instantiation, before any of its code has run (only
the data segments are there then); a side module's come from its file. Each restored
range is checked against its own integrity, so a base that differs in any byte gives
the normal boot, never a corrupt heap.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from .errors import BuildError
from .files import integrity_of
from .wasm import data_segments, memory_alignment

SNAPSHOT_MAGIC = 0x706E7300  # Pyodide's: the bytes "\0snp"
RUNTIME_BASE = "runtime"  # the runtime's memory just after instantiation
SIDE_MODULE_BASE = "sideModule"  # the bytes of a side module's file


@dataclass(frozen=True)
class Region:
    """``length`` bytes at ``at`` of the snapshot file, stored XOR their base."""

    at: int
    length: int
    base: str  # RUNTIME_BASE or SIDE_MODULE_BASE
    base_offset: int  # a memory address (runtime) or an offset in the side module's file
    integrity: str  # of the restored bytes
    side_module: int = 0  # which one, in the manifest's order (SIDE_MODULE_BASE only)

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "at": self.at,
            "length": self.length,
            "base": self.base,
            "baseOffset": self.base_offset,
            "integrity": self.integrity,
        }
        if self.base == SIDE_MODULE_BASE:
            document["sideModule"] = self.side_module
        return document


def memory_offset(snapshot: bytes) -> int:
    """Where the memory starts in a Pyodide snapshot file (after its header)."""
    magic, header = (int(word) for word in struct.unpack_from("<II", snapshot))
    if magic != SNAPSHOT_MAGIC or header % 16 or header > len(snapshot):
        raise BuildError("the memory snapshot has no Pyodide header")
    return header


def _xor(left: bytes, right: bytes) -> bytes:
    return (int.from_bytes(left, "little") ^ int.from_bytes(right, "little")).to_bytes(
        len(left), "little"
    )


def _check_base(name: str, stored: bytes, base: bytes) -> None:
    """Most of a base's non-zero bytes must be found unchanged, or it is the wrong base
    (a side module that did not land where the layout says): the build stops."""
    same = _xor(stored, base).count(0)
    both_zero = (
        (int.from_bytes(stored, "little") | int.from_bytes(base, "little"))
        .to_bytes(len(base), "little")
        .count(0)
    )
    non_zero = len(base) - base.count(0)
    if non_zero and (same - both_zero) * 2 < non_zero:
        raise BuildError(f"the snapshot does not hold {name}'s data where expected")


def delta_regions(
    snapshot: bytes, runtime_wasm: bytes, side_module: bytes, heap_base: int
) -> list[tuple[Region, bytes]]:
    """Each region with its base bytes; the side module's memory starts at ``heap_base``
    rounded up to its alignment (it was loaded first, before malloc: make_snapshot.mjs)."""
    start = memory_offset(snapshot)
    size = len(snapshot) - start
    regions = []
    segments = [s for s in data_segments(runtime_wasm, "pyodide.asm.wasm") if not s.relative]
    if segments:
        low = min(s.offset for s in segments)
        high = max(s.offset + len(s.data) for s in segments)
        image = bytearray(high - low)
        for segment in segments:
            image[segment.offset - low : segment.offset - low + len(segment.data)] = segment.data
        regions.append((RUNTIME_BASE, low, start + low, bytes(image), low))
    alignment = memory_alignment(side_module, "pydantic-core")
    memory_base = -(-heap_base // alignment) * alignment
    for segment in data_segments(side_module, "pydantic-core"):
        address = memory_base + segment.offset
        regions.append(
            (SIDE_MODULE_BASE, address, start + address, segment.data, segment.file_offset)
        )
    result = []
    for base, address, at, data, base_offset in regions:
        if address + len(data) > size:
            raise BuildError(f"{base} data at {address} is beyond the snapshot's memory")
        stored = snapshot[at : at + len(data)]
        _check_base(base, stored, data)
        region = Region(at, len(data), base, base_offset, integrity_of(stored))
        result.append((region, data))
    return result


def encode(snapshot: bytes, regions: list[tuple[Region, bytes]]) -> bytes:
    """The file that ships: each region XOR its base; the rest as it was."""
    encoded = bytearray(snapshot)
    for region, base in regions:
        encoded[region.at : region.at + region.length] = _xor(
            snapshot[region.at : region.at + region.length], base
        )
    return bytes(encoded)
