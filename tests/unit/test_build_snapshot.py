"""``tracker build``'s snapshot manifest, stdlib cache key and embed assembly (no Node)."""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from pathlib import Path

import pytest

from tracker.build import BuildError
from tracker.build.snapshot import (
    FORMAT,
    PIECE_BYTES,
    Snapshot,
    integrity,
    make_snapshot,
    manifest,
    piece_integrities,
)


def test_integrity_is_subresource_integrity_of_the_bytes(tmp_path: Path) -> None:
    file = tmp_path / "snapshot.bin"
    file.write_bytes(b"memory")
    digest = base64.b64encode(hashlib.sha256(b"memory").digest()).decode()
    assert integrity(file) == f"sha256-{digest}"


def test_the_manifest_names_each_file_with_its_integrity_and_the_layout(tmp_path: Path) -> None:
    (tmp_path / "snapshot.bin").write_bytes(b"heap")
    (tmp_path / "lib.so").write_bytes(b"\0asm")
    (tmp_path / "layout.json").write_text(json.dumps({"tableBase": 15360, "heapBase": 8}))
    delta = [{"at": 128, "length": 2, "base": "runtime", "baseOffset": 0, "integrity": "x"}]
    shape = {"size": 8192, "runs": [[0, 4]], "delta": delta}
    (tmp_path / "shape.json").write_text(json.dumps(shape))
    snapshot = Snapshot(
        tmp_path / "snapshot.bin",
        tmp_path / "lib.so",
        "lib.so",
        "/lib/python3.14/site-packages/pkg/lib.so",
        tmp_path / "layout.json",
        tmp_path / "shape.json",
        tmp_path / "python_stdlib_rest.zip",
    )
    document = manifest(snapshot)
    assert document["format"] == FORMAT
    assert document["snapshot"] == {
        "file": "snapshot.bin",
        "size": 8192,  # of the memory: the file holds only its non-zero pages
        "packedSize": 4,
        "runs": [[0, 4]],
        "pieceBytes": PIECE_BYTES,
        "pieces": [integrity(tmp_path / "snapshot.bin")],  # one piece: the whole file
        "delta": delta,
    }
    assert document["stdlib"] == {"file": "python_stdlib_rest.zip"}
    assert document["layout"] == {"tableBase": 15360, "heapBase": 8}
    (side,) = document["sideModules"]
    assert side["path"].endswith("pkg/lib.so") and side["integrity"].startswith("sha256-")


def test_a_side_module_wheel_must_hold_exactly_one_library(tmp_path: Path) -> None:
    wheel = tmp_path / "w-1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("pkg/__init__.py", "")
    with pytest.raises(BuildError, match=r"expected one \.so"):
        make_snapshot(tmp_path, tmp_path / "stdlib.zip", {wheel.name: wheel}, wheel.name, tmp_path)


def test_pieces_cover_the_file_in_order_the_last_one_short(tmp_path: Path) -> None:
    """runtime.js hashes each piece as it arrives; together they are every byte, once."""
    file = tmp_path / "snapshot.bin"
    data = bytes(range(256)) * 40  # 10,240 bytes: pieces of 4,096, 4,096 and 2,048
    file.write_bytes(data)
    pieces = piece_integrities(file, piece_bytes=4096)
    parts = [data[:4096], data[4096:8192], data[8192:]]
    expected = [
        "sha256-" + base64.b64encode(hashlib.sha256(part).digest()).decode() for part in parts
    ]
    assert pieces == expected
    assert piece_integrities(file, piece_bytes=len(data)) == [integrity(file)]
