"""The embed's own standard library: only what a session imports, precompiled, uncompressed.

Pyodide's ``python_stdlib.zip`` holds 559 ``.py`` sources and no bytecode, so CPython
compiles every stdlib module it imports at every page load: that was 1.8 s of a 3.8 s cold
boot. ``slim_stdlib.mjs`` boots the bundle's own runtime under Node as the embed boots it,
traces what ``import tracker.browser.bridge`` and a session import, and writes those
modules (plus :data:`SAFETY_MODULES`) as sourceless unchecked-hash ``.pyc`` into a stored
zip, which the server sends brotli-compressed (tracker/build/compress.py).

The full upstream zip stays in the bundle under its own name for PyScript pages and any
Python that imports what the embed never does; only the embed asks for this one.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Collection, Mapping
from pathlib import Path

from .errors import BuildError
from .files import sha256_of, write_atomic
from .progress import say

SCRIPT = Path(__file__).with_name("slim_stdlib.mjs")
SLIM_STDLIB = "python_stdlib_slim.zip"
# What a runtime restored from the snapshot gets: the slim zip without the modules the
# snapshot has already imported (tracker/build/snapshot.py).
REST_STDLIB = "python_stdlib_rest.zip"

# Kept whatever the trace says, each with its whole package. They are what a session can
# reach only on paths the Node trace does not walk: codecs that a page's text or a
# server's answer may name, the FFI and event loop of the browser (the trace runs under
# Node, without a document), and what an error's traceback or a log line imports.
SAFETY_MODULES = (
    # Codecs a page's text or a server's answer may name (bytes.decode imports them lazily);
    # not the whole package: its 120 code pages are 0.3 MB that no lesson page sends.
    "encodings.aliases",
    "encodings.ascii",
    "encodings.latin_1",
    "encodings.cp1252",
    "encodings.utf_8",
    "encodings.utf_8_sig",
    "encodings.utf_16",
    "encodings.utf_32",
    "encodings.idna",
    "encodings.punycode",
    "pyodide",  # the FFI, webloop and http helpers the bridge may touch in a browser
    "_pyodide",
    "asyncio",  # futures, tasks and timeouts of the browser's event loop
    "json",
    "traceback",  # an error handed to the page or logged formats its traceback
    "linecache",
    "tokenize",
    "textwrap",
    "logging",
    "warnings",
    "datetime",
    "_pydatetime",
    "_strptime",
    "uuid",
    "random",
)
# Bump when the zip's layout changes: the cache key then misses.
FORMAT = "slim-2"


def slim_stdlib(runtime: Path, lock: bytes, wheels: Mapping[str, Path], cache: Path) -> Path:
    """The slim zip for this runtime, lock and these wheels (file name -> path); cached."""
    key = hashlib.sha256()
    for part in (FORMAT, sha256_of(runtime / "python_stdlib.zip"), sha256_of(SCRIPT)):
        key.update(part.encode() + b"\n")
    key.update(lock)
    key.update(json.dumps(SAFETY_MODULES).encode())
    for name in sorted(wheels):
        key.update(f"{name} {sha256_of(wheels[name])}\n".encode())
    target = cache / f"{key.hexdigest()[:24]}-{SLIM_STDLIB}"
    if target.is_file():
        return target
    node = shutil.which("node")
    if node is None:
        raise BuildError("node is needed to trace and compile the stdlib (apt install nodejs)")
    say("tracing and compiling the standard library a session imports (Node)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        # Pyodide under Node reads the wheels from the lock's own folder.
        (folder / "pyodide-lock.json").write_bytes(lock)
        for name, path in wheels.items():
            shutil.copyfile(path, folder / name)
        safety = folder / "safety.json"
        safety.write_text(json.dumps(list(SAFETY_MODULES)))
        out = folder / SLIM_STDLIB
        command = [node, str(SCRIPT), str(runtime), str(folder / "pyodide-lock.json")]
        command += [str(out), str(safety)]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not out.is_file():
            raise BuildError(f"tracing the stdlib failed:\n{result.stderr.strip()[-2000:]}")
        say(f"standard library for the embed: {result.stdout.strip()}")
        write_atomic(target, out.read_bytes())
    return target


def module_of(entry: str) -> str | None:
    """The module a zip entry holds (``json/decoder.pyc`` -> ``json.decoder``), if any."""
    if not entry.endswith(".pyc"):
        return None
    name = entry.removesuffix(".pyc").replace("/", ".")
    return name.removesuffix(".__init__")


def rest_of_stdlib(slim: Path, imported: Collection[str]) -> bytes:
    """The slim zip without the modules in ``imported``, entries otherwise as they were.

    A module in ``sys.modules`` is never looked up again, so a restored runtime needs only
    the rest: the safety list's modules the snapshot did not import (1.0 -> ~0.2 MB on the
    wire). Directories and data files stay, so a package's later submodule imports find
    their folder.
    """
    left = set(imported)
    out = io.BytesIO()
    with zipfile.ZipFile(slim) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as rest:
        for info in source.infolist():
            if module_of(info.filename) not in left:
                rest.writestr(info, source.read(info))
    return out.getvalue()
