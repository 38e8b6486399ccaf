"""Writes the bundle folder incrementally and removes what an earlier build left behind.

Unchanged files are not rewritten, so a second build is quick and their mtimes (hence the
ETag / Last-Modified that a static server derives from them) stay the same.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .files import write_if_changed

MANIFEST = "bundle.json"


class BundleOutput:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.files: set[str] = set()
        self.changed = 0
        root.mkdir(parents=True, exist_ok=True)

    def copy(self, relative: str, source: Path) -> None:
        """Copies unless the target has the source's size and mtime (copy2 keeps the mtime)."""
        self.files.add(relative)
        target = self.root / relative
        stat = source.stat()
        if target.is_file():
            current = target.stat()
            if current.st_size == stat.st_size and current.st_mtime_ns == stat.st_mtime_ns:
                return
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        os.close(fd)
        try:
            shutil.copy2(source, tmp)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self.changed += 1

    def write(self, relative: str, data: bytes) -> None:
        self.files.add(relative)
        if write_if_changed(self.root / relative, data):
            self.changed += 1

    def finish(self, versions: dict[str, Any]) -> list[str]:
        """Removes files that the previous build listed and this one did not; writes the list.

        Only files named by our own manifest are removed: an --out folder that holds
        other files keeps them.
        """
        manifest = self.root / MANIFEST
        previous: set[str] = set()
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):  # no earlier build
            previous = set(json.loads(manifest.read_text())["files"])
        stale = sorted(previous - self.files - {MANIFEST})
        for relative in stale:
            (self.root / relative).unlink(missing_ok=True)
            # An earlier build's versioned folder goes once it is empty.
            parent = (self.root / relative).parent
            if parent != self.root and parent.is_dir() and not any(parent.iterdir()):
                parent.rmdir()
        self.files.add(MANIFEST)
        document = {"versions": versions, "files": sorted(self.files)}
        write_if_changed(manifest, (json.dumps(document, indent=2) + "\n").encode())
        return stale

    def size(self) -> int:
        return sum((self.root / relative).stat().st_size for relative in self.files)
