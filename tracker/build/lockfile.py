"""The bundle's own ``pyodide-lock.json`` and the PyScript config that points at the same wheels.

Pyodide's npm package lock pins other versions (pydantic 2.12.5...) whose wheels it does
not ship; ours lists exactly the wheels in the bundle, with their sha256, so
``loadPyodide({lockFileURL, packages: ["lesson-time-tracker"]})`` (the distribution name)
fetches them while the runtime boots and checks their integrity.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import BuildError


@dataclass(frozen=True)
class LockEntry:
    name: str
    version: str
    file_name: str
    sha256: str
    imports: tuple[str, ...]
    depends: tuple[str, ...]


def canonical_name(name: str) -> str:
    """PEP 503 normalisation: Pyodide looks packages (and dependencies) up by this key."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pyodide_lock(info: Mapping[str, Any], entries: Sequence[LockEntry]) -> dict[str, Any]:
    """``info`` comes from the runtime's own lock: Pyodide refuses a lock of another ABI.

    Keys are canonical names ("pydantic-core"), as in Pyodide's own lock; with the raw
    name as key ("pydantic_core") loading fails with "No known package".
    """
    names = {canonical_name(entry.name) for entry in entries}
    for entry in entries:
        unknown = [dep for dep in entry.depends if canonical_name(dep) not in names]
        if unknown:
            raise BuildError(f"{entry.name} depends on {unknown}, which the bundle does not pin")
    packages = {
        canonical_name(entry.name): {
            "name": entry.name,
            "version": entry.version,
            "file_name": entry.file_name,
            "install_dir": "site",
            "sha256": entry.sha256,
            "package_type": "package",
            "imports": list(entry.imports),
            "depends": [canonical_name(dep) for dep in entry.depends],
            "unvendored_tests": False,
            "tool": {},
        }
        for entry in entries
    }
    return {"info": dict(info), "packages": packages}


def pyscript_config(
    runtime_file: str, entries: Sequence[LockEntry], folder: str = ""
) -> dict[str, Any]:
    """A PyScript config for pages that use ``<script type="py">`` with this bundle.

    PyScript resolves paths that start with "." against the config file's URL, so this works
    from any prefix. "passthrough" stops PyScript from loading micropip from a lock next
    to pyodide.mjs (it would hang offline); the wheels are then listed by URL, dependencies
    first, since a wheel given by URL has its dependencies resolved by nobody. ``folder``
    (ending in "/") is where the runtime and the wheels sit, relative to the config.
    """
    return {
        "interpreter": f"./{folder}{runtime_file}",
        "packages_cache": "passthrough",
        "packages": [f"./{folder}{entry.file_name}" for entry in _dependencies_first(entries)],
    }


def _dependencies_first(entries: Sequence[LockEntry]) -> list[LockEntry]:
    by_name = {canonical_name(entry.name): entry for entry in entries}
    ordered: list[LockEntry] = []
    seen: set[str] = set()

    def visit(entry: LockEntry) -> None:
        if canonical_name(entry.name) in seen:
            return
        seen.add(canonical_name(entry.name))
        for dep in entry.depends:
            visit(by_name[canonical_name(dep)])
        ordered.append(entry)

    for entry in entries:
        visit(entry)
    return ordered


def to_json(document: Mapping[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()
