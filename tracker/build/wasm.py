"""The two things the build reads from a wasm binary: its data segments and dylink memory.

Only what the snapshot's delta needs (tracker/build/snapshot_delta.py): where each active
data segment goes in memory and its bytes, and a side module's memory alignment (its
``dylink.0`` section). Anything else in the binary is skipped by section size.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import BuildError

MAGIC = b"\0asm\x01\0\0\0"
CUSTOM_SECTION = 0
DATA_SECTION = 11
DYLINK_MEM_INFO = 1  # the subsection of dylink.0 with memory size and alignment
I32_CONST = 0x41
GLOBAL_GET = 0x23
END = 0x0B


@dataclass(frozen=True)
class DataSegment:
    offset: int  # where it goes: an address, or relative to __memory_base if relative
    relative: bool  # a side module's segment (position-independent)
    file_offset: int  # where its bytes are in the binary
    data: bytes


def _uleb(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, at


def _sleb(data: bytes, at: int) -> tuple[int, int]:
    """The same bytes as _uleb, read as two's complement: the last byte's 0x40 is the sign."""
    value, end = _uleb(data, at)
    bits = 7 * (end - at)
    return (value - (1 << bits) if value >> (bits - 1) & 1 else value), end


def _sections(binary: bytes, what: str) -> list[tuple[int, int, int]]:
    """(id, start, end) of each section."""
    if not binary.startswith(MAGIC):
        raise BuildError(f"{what}: not a wasm binary")
    sections = []
    at = len(MAGIC)
    while at < len(binary):
        section = binary[at]
        size, start = _uleb(binary, at + 1)
        sections.append((section, start, start + size))
        at = start + size
    return sections


def data_segments(binary: bytes, what: str) -> list[DataSegment]:
    """The active data segments; a passive one (applied by code, not at instantiation)
    has no place in memory until then and is refused."""
    segments = []
    for section, start, _end in _sections(binary, what):
        if section != DATA_SECTION:
            continue
        count, at = _uleb(binary, start)
        for _ in range(count):
            flags, at = _uleb(binary, at)
            if flags == 2:
                _memory, at = _uleb(binary, at)
            elif flags != 0:
                raise BuildError(f"{what}: a passive data segment (flags {flags})")
            opcode = binary[at]
            if opcode == I32_CONST:
                offset, at = _sleb(binary, at + 1)
            elif opcode == GLOBAL_GET:
                _global, at = _uleb(binary, at + 1)
                offset = 0
            else:
                raise BuildError(f"{what}: data segment offset opcode {opcode:#x}")
            if binary[at] != END:
                raise BuildError(f"{what}: data segment offset is not one instruction")
            size, at = _uleb(binary, at + 1)
            segments.append(DataSegment(offset, opcode == GLOBAL_GET, at, binary[at : at + size]))
            at += size
    return segments


def memory_alignment(binary: bytes, what: str) -> int:
    """A side module's memory alignment in bytes, from its ``dylink.0`` section."""
    for section, start, end in _sections(binary, what):
        if section != CUSTOM_SECTION:
            continue
        length, at = _uleb(binary, start)
        if binary[at : at + length] != b"dylink.0":
            continue
        at += length
        while at < end:
            kind = binary[at]
            size, body = _uleb(binary, at + 1)
            if kind == DYLINK_MEM_INFO:
                _memory_size, body = _uleb(binary, body)
                alignment, _ = _uleb(binary, body)
                return 1 << alignment
            at = body + size
    raise BuildError(f"{what}: no dylink.0 memory info (not a side module)")
