"""The npm package of the embed: loader, types, React hook and Vue composable as one tarball.

Written with ``tarfile`` rather than ``npm pack``: the result is the same layout (every
file under ``package/``), needs no npm, and is byte-for-byte reproducible (fixed mtimes,
sorted entries), so a rebuild of unchanged sources gives the same checksum.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

from .errors import BuildError
from .files import write_atomic

PACKAGE_SOURCES = "web/npm"
# npm's own tarballs use this date for every entry when asked to be reproducible.
_MTIME = 499162500  # 1985-10-26T08:15:00Z


def npm_tarball_name(name: str, version: str) -> str:
    # npm's naming: a scoped "@scope/pkg" becomes "scope-pkg".
    return f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"


def build_npm_package(root: Path, out: Path, version: str) -> Path:
    """Writes ``out/<name>-<version>.tgz`` from ``root/web/npm`` and returns its path."""
    sources = root / PACKAGE_SOURCES
    manifest_path = sources / "package.json"
    if not manifest_path.is_file():
        raise BuildError(f"{manifest_path} is missing: the npm package has no manifest")
    manifest = json.loads(manifest_path.read_text())
    # One version source (tracker/__init__.py): the package says which bundle it types.
    manifest["version"] = version
    files: dict[str, bytes] = {"package.json": (json.dumps(manifest, indent=2) + "\n").encode()}
    for name in manifest["files"]:
        path = sources / name
        if not path.is_file():
            raise BuildError(f"{path} is listed in {manifest_path} 'files' but does not exist")
        files[name] = path.read_bytes()

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(files[name])
            info.mtime = _MTIME
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(files[name]))
    packed = gzip.compress(raw.getvalue(), mtime=0)
    target = out / npm_tarball_name(manifest["name"], version)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(target, packed)
    return target
