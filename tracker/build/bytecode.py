"""Precompiled wheels: bytecode made once at build time instead of on every page load.

Pyodide compiles a wheel's ``.py`` files when they are first imported, in the student's
browser, at every page load (nothing persists between loads). For pydantic that is about a
third of the tracker's start-up; Pyodide's own packages ship compiled for the same reason.
The compiling is done by the bundle's own runtime under Node, so the bytecode matches the
browser's Python exactly. Results are cached by input checksum and runtime version.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from .errors import BuildError
from .files import sha256_of
from .progress import say

SCRIPT = Path(__file__).with_name("compile_wheels.mjs")
# Part of the cache key: bump it when compile_wheels.mjs writes other bytes.
FORMAT = "stored-1"


def precompile(
    wheels: Mapping[str, Path], runtime: Path, runtime_version: str, cache: Path
) -> dict[str, Path]:
    """name -> the compiled copy of each wheel (same file name), from ``cache`` when there."""
    compiled: dict[str, Path] = {}
    todo: dict[str, Path] = {}
    for name, wheel in wheels.items():
        target = cache / f"{runtime_version}-{FORMAT}-{sha256_of(wheel)[:16]}" / wheel.name
        compiled[name] = target
        if not target.is_file():
            todo[name] = wheel
    if todo:
        node = shutil.which("node")
        if node is None:
            raise BuildError("node is needed to precompile the browser wheels (apt install nodejs)")
        say("precompiling bytecode with the bundle's runtime: " + ", ".join(sorted(todo)))
        with tempfile.TemporaryDirectory() as tmp:
            command = [node, str(SCRIPT), str(runtime), tmp, *map(str, todo.values())]
            result = subprocess.run(command, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise BuildError(f"precompiling wheels failed:\n{result.stderr.strip()[-2000:]}")
            for name, wheel in todo.items():
                compiled[name].parent.mkdir(parents=True, exist_ok=True)
                shutil.move(Path(tmp) / wheel.name, compiled[name])
    return compiled
