"""File helpers shared by the build steps: checksums and writes that never leave half a file."""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from pathlib import Path

from .errors import BuildError


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def integrity_of(data: bytes) -> str:
    """A Subresource Integrity value (``sha256-<base64>``) of these bytes."""
    return "sha256-" + base64.b64encode(hashlib.sha256(data).digest()).decode()


def check_pinned(path: Path, pinned: str, what: str) -> None:
    """Fails unless ``path`` has the pinned sha256; an unknown pin prints the value to pin."""
    actual = sha256_of(path)
    if not pinned:
        raise BuildError(
            f"{what} has no pinned sha256; downloaded {path.name} has sha256 {actual}: "
            "put it in tracker/build/pins.py"
        )
    if actual != pinned:
        path.unlink(missing_ok=True)
        raise BuildError(
            f"{what}: sha256 mismatch for {path.name} (expected {pinned}, got {actual}); "
            "the download was deleted"
        )


def write_atomic(path: Path, data: bytes) -> None:
    """Writes via a temporary file and a rename, so an interrupted build leaves no torn file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_if_changed(path: Path, data: bytes) -> bool:
    """Leaves an identical file alone (its mtime, hence HTTP validators, stay the same)."""
    if path.is_file() and path.read_bytes() == data:
        return False
    write_atomic(path, data)
    return True
