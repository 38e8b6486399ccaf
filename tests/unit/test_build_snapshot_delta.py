"""The snapshot as shipped (issue 8): wasm data segments read right, regions XOR their
base, a base that is not where the layout says stops the build, zero pages left out."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import pytest

from tracker.build import BuildError
from tracker.build.files import integrity_of
from tracker.build.snapshot_delta import (
    RUNTIME_BASE,
    SIDE_MODULE_BASE,
    SNAPSHOT_MAGIC,
    delta_regions,
    encode,
    memory_offset,
)
from tracker.build.snapshot_pack import pack, unpack
from tracker.build.stdlib import module_of, rest_of_stdlib
from tracker.build.wasm import MAGIC, data_segments, memory_alignment


def uleb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def sleb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        done = (value == 0 and not byte & 0x40) or (value == -1 and byte & 0x40)
        out.append(byte | (0 if done else 0x80))
        if done:
            return bytes(out)


def section(kind: int, body: bytes) -> bytes:
    return bytes([kind]) + uleb(len(body)) + body


def main_module(segments: list[tuple[int, bytes]]) -> bytes:
    """A wasm binary with a type section (skipped) and active segments at addresses."""
    body = uleb(len(segments))
    for address, data in segments:
        body += b"\x00\x41" + sleb(address) + b"\x0b" + uleb(len(data)) + data
    return MAGIC + section(1, b"\x01\x60\x00\x00") + section(11, body)


def side_module(data: bytes, alignment_log2: int = 6) -> bytes:
    """A side module: dylink.0 memory info, then one segment at __memory_base."""
    name = b"dylink.0"
    info = uleb(len(data)) + uleb(alignment_log2) + uleb(0) + uleb(0)
    dylink = uleb(len(name)) + name + b"\x01" + uleb(len(info)) + info
    body = uleb(1) + b"\x00\x23\x01\x0b" + uleb(len(data)) + data
    return MAGIC + section(0, dylink) + section(11, body)


def snapshot_of(memory: bytes, header: int = 32) -> bytes:
    return struct.pack("<II", SNAPSHOT_MAGIC, header) + bytes(header - 8) + memory


def test_data_segments_are_read_with_their_addresses_and_file_offsets() -> None:
    binary = main_module([(1024, b"static"), (2000, b"more data"), (70000, b"x")])
    segments = data_segments(binary, "test")
    assert [(s.offset, s.data, s.relative) for s in segments] == [
        (1024, b"static", False),
        (2000, b"more data", False),
        (70000, b"x", False),
    ]
    for segment in segments:
        assert binary[segment.file_offset : segment.file_offset + len(segment.data)] == segment.data


def test_a_side_module_segment_is_relative_and_its_alignment_is_read() -> None:
    binary = side_module(b"side data", alignment_log2=6)
    (segment,) = data_segments(binary, "test")
    assert segment.relative and segment.offset == 0 and segment.data == b"side data"
    assert memory_alignment(binary, "test") == 64


def test_not_a_wasm_binary_or_not_a_side_module_is_a_build_error() -> None:
    with pytest.raises(BuildError, match="not a wasm binary"):
        data_segments(b"ELF...", "lib.so")
    with pytest.raises(BuildError, match=r"no dylink\.0"):
        memory_alignment(main_module([]), "lib.so")


def test_regions_xor_their_base_and_carry_the_integrity_of_the_restored_bytes() -> None:
    static = bytes(range(1, 201))
    side = b"pydantic-core static data" * 4
    heap_base = 4000 + 3  # the side module's memory is aligned up to 64: 4032
    memory = bytearray(8192)
    memory[1024 : 1024 + len(static)] = static
    memory[1030] ^= 0xFF  # changed at run time: a refcount, a pointer
    memory[4032 : 4032 + len(side)] = side
    memory[5000:5004] = b"heap"
    snapshot = snapshot_of(bytes(memory))
    regions = delta_regions(snapshot, main_module([(1024, static)]), side_module(side), heap_base)

    (runtime, _), (library, _) = regions
    start = memory_offset(snapshot)
    assert (runtime.base, runtime.at, runtime.length, runtime.base_offset) == (
        RUNTIME_BASE,
        start + 1024,
        len(static),
        1024,
    )
    assert library.base == SIDE_MODULE_BASE and library.at == start + 4032
    assert runtime.integrity == integrity_of(snapshot[runtime.at : runtime.at + runtime.length])

    shipped = encode(snapshot, regions)
    # Unchanged bytes are zeros now, the changed one is what changed; the rest is as it was.
    assert shipped[runtime.at : runtime.at + runtime.length] == bytes(6) + b"\xff" + bytes(193)
    assert shipped[library.at : library.at + library.length] == bytes(len(side))
    assert shipped[start + 5000 : start + 5004] == b"heap"
    assert len(shipped) == len(snapshot)
    # XOR with the same bases again gives the snapshot back, byte for byte.
    assert encode(shipped, regions) == snapshot


def test_a_side_module_that_is_not_where_the_layout_says_stops_the_build() -> None:
    side = bytes(range(1, 101))
    memory = bytearray(4096)
    memory[2048 + 64 : 2048 + 64 + len(side)] = side  # one alignment step further on
    with pytest.raises(BuildError, match="does not hold sideModule's data"):
        delta_regions(snapshot_of(bytes(memory)), main_module([]), side_module(side), 2048)


def test_a_file_without_pyodides_header_is_refused() -> None:
    with pytest.raises(BuildError, match="no Pyodide header"):
        memory_offset(b"\x00snq" + bytes(60))


def test_the_rest_of_the_stdlib_leaves_out_what_is_imported_and_keeps_folders(
    tmp_path: Path,
) -> None:
    slim = tmp_path / "slim.zip"
    with zipfile.ZipFile(slim, "w") as archive:
        for name in ("json/", "json/__init__.pyc", "json/tool.pyc", "random.pyc", "_strptime.pyc"):
            archive.writestr(name, b"" if name.endswith("/") else name.encode())
        archive.writestr("zoneinfo/data.txt", b"data")
    rest = tmp_path / "rest.zip"
    rest.write_bytes(rest_of_stdlib(slim, {"json", "random", "sys"}))
    with zipfile.ZipFile(rest) as archive:
        assert archive.namelist() == [
            "json/",
            "json/tool.pyc",
            "_strptime.pyc",
            "zoneinfo/data.txt",
        ]
        assert archive.read("json/tool.pyc") == b"json/tool.pyc"
        assert all(info.compress_type == zipfile.ZIP_STORED for info in archive.infolist())


def test_module_names_of_zip_entries() -> None:
    assert module_of("json/decoder.pyc") == "json.decoder"
    assert module_of("json/__init__.pyc") == "json"
    assert module_of("json/") is None and module_of("zoneinfo/tzdata") is None


def test_the_packed_file_is_the_non_zero_pages_and_unpacks_to_the_snapshot() -> None:
    page = 16
    snapshot = bytearray(page * 8 + 5)  # eight pages and a short ninth
    snapshot[0:3] = b"hdr"  # page 0
    snapshot[page * 2 + 7] = 1  # page 2
    snapshot[page * 3] = 2  # page 3: one run with page 2
    snapshot[page * 8 + 4] = 3  # the short last page
    packed, runs = pack(bytes(snapshot), page_bytes=page)
    assert runs == [[0, page], [page * 2, page * 2], [page * 8, 5]]
    assert packed == bytes(snapshot[:page] + snapshot[page * 2 : page * 4] + snapshot[page * 8 :])
    assert unpack(packed, runs, len(snapshot)) == bytes(snapshot)


def test_an_all_zero_snapshot_packs_to_nothing_and_a_short_file_is_refused() -> None:
    assert pack(bytes(100), page_bytes=16) == (b"", [])
    with pytest.raises(ValueError, match="cover 4 bytes of a 5-byte file"):
        unpack(b"12345", [[0, 4]], 8)
