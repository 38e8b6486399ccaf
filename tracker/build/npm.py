"""Runtime files from the npm registry: one tarball into the cache, then extract what is needed.

The tarball is fetched over HTTP from the registry (as ``npm pack`` would), which needs no
npm, runs no install scripts, writes no node_modules and reports progress and timeouts.
"""

from __future__ import annotations

import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path

from .download import download, npm_tarball_url
from .files import check_pinned, sha256_of, write_atomic
from .pins import NpmPin
from .progress import say

_DONE = ".extracted"  # written last; holds the tarball's sha256, so a torn extract is redone


def fetch_tarball(pin: NpmPin, cache: Path) -> Path:
    """The pinned tarball in ``cache``, downloaded from the npm registry when missing or corrupt."""
    cache.mkdir(parents=True, exist_ok=True)
    tarball = cache / pin.tarball
    if tarball.is_file() and pin.sha256 and sha256_of(tarball) == pin.sha256:
        return tarball
    download(npm_tarball_url(pin.name, pin.version), tarball, pin.spec)
    check_pinned(tarball, pin.sha256, pin.spec)
    return tarball


def extract(
    pin: NpmPin, cache: Path, wanted: Callable[[str], bool], *, label: str = "files"
) -> Path:
    """Extracts the members whose path (inside ``package/``) ``wanted`` accepts; cached.

    Returns the folder that holds them. Members are read and written by hand rather than
    with ``extractall`` so that no path from the archive can land outside that folder.
    """
    tarball = fetch_tarball(pin, cache)
    target = cache / tarball.name.removesuffix(".tgz")
    done = target / _DONE
    if done.is_file() and done.read_text() == pin.sha256:
        return target
    say(f"extracting {label} of {pin.spec}")
    if target.exists():
        shutil.rmtree(target)
    with tarfile.open(tarball, "r:gz") as archive:
        for member in archive.getmembers():
            name = member.name.removeprefix("package/")
            if not member.isfile() or not wanted(name) or ".." in Path(name).parts:
                continue
            source = archive.extractfile(member)
            if source is None:  # pragma: no cover - isfile() members always have data
                continue
            write_atomic(target / name, source.read())
    write_atomic(done, pin.sha256.encode())
    return target
