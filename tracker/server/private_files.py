"""Files of the data folder that only the server's user may read (issue 10: data files 0600).

The store holds every student's email and time; the session secret signs every cookie.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PRIVATE_MODE = 0o600


def create_private(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists.

    SQLite gives ``-wal``/``-shm`` the database file's mode, so creating the database this way
    before ``sqlite3.connect`` keeps all three private whatever the umask.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    except FileExistsError:
        return
    os.fchmod(fd, PRIVATE_MODE)  # O_CREAT's mode is masked by the umask
    os.close(fd)


def write_new_private(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` (mode 0600) all or nothing; False when ``path`` already exists.

    Written to a temp file in the same folder, fsynced, then hard-linked into place: a crash or
    a full disk leaves no partial ``path``, and of two first starts only one secret wins (a
    rename would let the second replace the first one's secret under its feet).
    """
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    temp = folder / f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    try:
        try:
            os.fchmod(fd, PRIVATE_MODE)
            data = text.encode("utf-8")
            written = 0
            while written < len(data):
                written += os.write(fd, data[written:])
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temp, path)
        except FileExistsError:
            return False
        _fsync_folder(folder)
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)


def _fsync_folder(folder: Path) -> None:
    """Make the new directory entry durable (not every file system allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
