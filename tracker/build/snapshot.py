"""The memory snapshot the embed restores instead of booting Python (issue 8).

Made at build time by ``make_snapshot.mjs`` under Node with the bundle's own runtime,
stdlib and wheels, so it is rebuilt whenever any of them (the tracker's wheel included)
changes: its cache key is all of their sha256s. The browser checks both files it needs
against ``snapshot.json`` (Subresource Integrity) and falls back to a normal boot when
either is missing, altered, or the restore fails (web/src/runtime.js).

It relies on underscore APIs of Pyodide 314 (``_makeSnapshot``, ``_loadSnapshot``):
Pyodide's pin in pins.py is exact, and a snapshot of another runtime build is refused by
Pyodide itself (build id check), so the fallback then applies.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import BuildError
from .files import integrity_of, sha256_of, write_atomic
from .progress import say
from .snapshot_delta import delta_regions, encode
from .snapshot_pack import pack, unpack
from .stdlib import REST_STDLIB, rest_of_stdlib

SCRIPT = Path(__file__).with_name("make_snapshot.mjs")
# The code that shapes what ships besides the script: part of the cache key too.
SHAPING_CODE = tuple(
    Path(__file__).with_name(name)
    for name in ("snapshot_delta.py", "snapshot_pack.py", "wasm.py", "stdlib.py")
)
SNAPSHOT_FILE = "snapshot.bin"
MANIFEST_FILE = "snapshot.json"
SITE_PACKAGES = "/lib/python3.14/site-packages/"
FORMAT = 5  # of snapshot.json; web/src/runtime.js refuses another


@dataclass(frozen=True)
class Snapshot:
    snapshot: Path
    side_module: Path  # pydantic-core's .so, loaded at preRun before the restore
    side_module_file: str  # its name in the runtime folder
    side_module_path: str  # where Pyodide would have put it (its name for dlopen)
    layout: Path  # JSON: the table slot and heap address the side module was loaded at
    shape: Path  # JSON: the whole size, the packed file's runs, the delta's regions
    stdlib: Path  # the stdlib zip of a restored runtime: what the snapshot did not import


# The snapshot's integrity is given per piece of this size: runtime.js hashes each piece as
# soon as it has arrived, so only the last one's hash waits after the download (one hash
# of the whole 38 MB took ~50 ms at the end of it).
PIECE_BYTES = 4 * 1024 * 1024


def integrity(path: Path) -> str:
    """A Subresource Integrity value: ``fetch(url, {integrity})`` refuses other bytes."""
    return integrity_of(path.read_bytes())


def piece_integrities(path: Path, piece_bytes: int = PIECE_BYTES) -> list[str]:
    """The integrity of each ``piece_bytes`` of the file, in order (the last may be short)."""
    data = path.read_bytes()
    return [integrity_of(data[at : at + piece_bytes]) for at in range(0, len(data), piece_bytes)]


def make_snapshot(
    runtime: Path, stdlib: Path, wheels: Mapping[str, Path], side_module_wheel: str, cache: Path
) -> Snapshot:
    """The snapshot after ``import tracker.browser.bridge``; wheels are file name -> path.

    Shipped as a delta (snapshot_delta.py) without its zero pages (snapshot_pack.py), with
    the zip of the stdlib it did not import.
    """
    with zipfile.ZipFile(wheels[side_module_wheel]) as archive:
        libraries = [name for name in archive.namelist() if name.endswith(".so")]
        if len(libraries) != 1:
            raise BuildError(f"{side_module_wheel}: expected one .so, found {libraries}")
        library = libraries[0]
        library_data = archive.read(library)
    key = hashlib.sha256(f"{FORMAT}\n{sha256_of(SCRIPT)}\n{sha256_of(stdlib)}\n".encode())
    for code in SHAPING_CODE:
        key.update(f"{code.name} {sha256_of(code)}\n".encode())
    for name in ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm"):
        key.update(f"{name} {sha256_of(runtime / name)}\n".encode())
    for name in sorted(wheels):
        key.update(f"{name} {sha256_of(wheels[name])}\n".encode())
    folder = cache / key.hexdigest()[:24]
    side_file = library.rsplit("/", 1)[-1]
    result = Snapshot(
        folder / SNAPSHOT_FILE,
        folder / side_file,
        side_file,
        SITE_PACKAGES + library,
        folder / "layout.json",
        folder / "shape.json",
        folder / REST_STDLIB,
    )
    parts = (result.snapshot, result.side_module, result.layout, result.shape, result.stdlib)
    if all(part.is_file() for part in parts):
        return result
    node = shutil.which("node")
    if node is None:
        raise BuildError("node is needed to make the memory snapshot (apt install nodejs)")
    say("making the memory snapshot (Node)")
    with tempfile.TemporaryDirectory() as tmp:
        side = Path(tmp) / side_file
        side.write_bytes(library_data)
        out = Path(tmp) / SNAPSHOT_FILE
        command = [node, str(SCRIPT), str(runtime), str(stdlib), str(side)]
        command += [result.side_module_path, str(out), *map(str, wheels.values())]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not out.is_file():
            raise BuildError(f"making the memory snapshot failed:\n{done.stderr.strip()[-2000:]}")
        try:
            printed = json.loads(done.stdout.strip().splitlines()[-1])
            layout = {name: int(printed[name]) for name in ("tableBase", "heapBase")}
            modules = [str(name) for name in printed["modules"]]
        except (ValueError, LookupError, TypeError) as error:
            raise BuildError(f"make_snapshot.mjs printed no layout: {done.stdout!r}") from error
        memory = out.read_bytes()
        runtime_wasm = (runtime / "pyodide.asm.wasm").read_bytes()
        regions = delta_regions(memory, runtime_wasm, library_data, layout["heapBase"])
        encoded = encode(memory, regions)
        packed, runs = pack(encoded)
        if unpack(packed, runs, len(encoded)) != encoded:
            raise BuildError("the packed snapshot does not unpack to the snapshot")
        shape = {
            "size": len(encoded),
            "runs": runs,
            "delta": [region.to_json() for region, _ in regions],
        }
        write_atomic(result.layout, json.dumps(layout).encode())
        write_atomic(result.shape, json.dumps(shape).encode())
        write_atomic(result.stdlib, rest_of_stdlib(stdlib, modules))
        write_atomic(result.side_module, library_data)
        write_atomic(result.snapshot, packed)
    return result


def manifest(snapshot: Snapshot) -> dict[str, Any]:
    """``snapshot.json``: what runtime.js fetches, each with its integrity."""
    shape = json.loads(snapshot.shape.read_text())
    return {
        "format": FORMAT,
        # The size comes first: runtime.js allocates the memory and Pyodide instantiates
        # the runtime while the bytes are still on their way.
        "snapshot": {
            "file": SNAPSHOT_FILE,
            "size": shape["size"],
            # The file is the snapshot's non-zero pages; the runs say where they go.
            "packedSize": snapshot.snapshot.stat().st_size,
            "runs": shape["runs"],
            "pieceBytes": PIECE_BYTES,
            "pieces": piece_integrities(snapshot.snapshot),
            "delta": shape["delta"],
        },
        # The stdlib zip to mount instead of the slim one: only what the snapshot lacks.
        "stdlib": {"file": REST_STDLIB},
        # Where the side modules go: the restore pads the table to tableBase and refuses
        # a runtime whose heap does not start at heapBase (make_snapshot.mjs).
        "layout": json.loads(snapshot.layout.read_text()),
        "sideModules": [
            {
                "file": snapshot.side_module_file,
                "path": snapshot.side_module_path,
                "integrity": integrity(snapshot.side_module),
            }
        ],
    }


def to_json(document: Mapping[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()
