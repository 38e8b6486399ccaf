"""The tracker's own pure wheel, built straight from the source tree.

Written by hand rather than with ``pip wheel``: a PEP 517 build needs an isolated
setuptools (seconds, and a download) for what is a zip of Python files. The wheel is
reproducible: same sources, same bytes, same sha256. Its version carries a local label
made from the sources' hash (``0.1.0+g1a2b3c4d5e6f``), so a changed source gives a new
file name and no browser or proxy can serve a stale wheel under the new lock.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .errors import BuildError

# Server-side and build-time code never runs in the browser; leaving it out keeps the
# wheel small and keeps server dependencies (starlette...) from being imported by mistake.
EXCLUDED_SUBPACKAGES = frozenset({"server", "build", "demo"})
# What pyproject.toml's package-data ships, plus the modules themselves.
INCLUDED_SUFFIXES = frozenset({".py", ".typed", ".json", ".js", ".html", ".css", ".svg"})
# Zip entries get a fixed timestamp: file mtimes must not change the wheel's bytes.
_EPOCH = (1980, 1, 1, 0, 0, 0)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class Project:
    name: str
    version: str
    summary: str
    requires_python: str | None
    dependencies: tuple[str, ...]

    @property
    def dependency_names(self) -> tuple[str, ...]:
        names = []
        for requirement in self.dependencies:
            match = _NAME.match(requirement)
            if match is None:
                raise BuildError(f"pyproject.toml: cannot read dependency {requirement!r}")
            names.append(match.group(0))
        return tuple(names)


@dataclass(frozen=True)
class BuiltWheel:
    project: Project
    version: str  # with the local label
    file_name: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def read_project(pyproject: Path) -> Project:
    try:
        table = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
        return Project(
            name=str(table["name"]),
            version=str(table["version"]),
            summary=str(table.get("description", "")),
            requires_python=table.get("requires-python"),
            dependencies=tuple(str(dep) for dep in table.get("dependencies", ())),
        )
    except (OSError, KeyError, tomllib.TOMLDecodeError) as exc:
        raise BuildError(f"cannot read the project table of {pyproject}: {exc}") from exc


def source_files(package_dir: Path) -> list[Path]:
    """The package's files that go into the wheel, in a stable order."""
    files = []
    for path in sorted(package_dir.rglob("*")):
        relative = path.relative_to(package_dir)
        if not path.is_file() or path.suffix not in INCLUDED_SUFFIXES:
            continue
        if "__pycache__" in relative.parts or relative.parts[0] in EXCLUDED_SUBPACKAGES:
            continue
        files.append(path)
    return files


def build_wheel(package_dir: Path, pyproject: Path) -> BuiltWheel:
    project = read_project(pyproject)
    files = source_files(package_dir)
    contents = {
        f"{package_dir.name}/{path.relative_to(package_dir).as_posix()}": path.read_bytes()
        for path in files
    }
    label = _source_label(contents, pyproject.read_bytes())
    version = f"{project.version}+g{label}"
    dist = project.name.replace("-", "_")
    dist_info = f"{dist}-{version}.dist-info"
    contents[f"{dist_info}/METADATA"] = _metadata(project, version).encode()
    contents[f"{dist_info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: tracker.build\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    contents[f"{dist_info}/top_level.txt"] = f"{package_dir.name}\n".encode()
    record = f"{dist_info}/RECORD"
    contents[record] = _record(contents, record).encode()
    return BuiltWheel(
        project=project,
        version=version,
        file_name=f"{dist}-{version}-py3-none-any.whl",
        data=_zip(contents),
    )


def _source_label(contents: dict[str, bytes], pyproject: bytes) -> str:
    digest = hashlib.sha256(pyproject)
    for name, data in sorted(contents.items()):
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()[:12]


def _metadata(project: Project, version: str) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {project.name}", f"Version: {version}"]
    if project.summary:
        lines.append(f"Summary: {project.summary}")
    if project.requires_python:
        lines.append(f"Requires-Python: {project.requires_python}")
    lines += [f"Requires-Dist: {dep}" for dep in project.dependencies]
    return "\n".join(lines) + "\n"


def _record(contents: dict[str, bytes], record: str) -> str:
    rows = []
    for name, data in contents.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        rows.append(f"{name},sha256={digest},{len(data)}")
    rows.append(f"{record},,")
    return "\n".join(rows) + "\n"


def _zip(contents: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in contents.items():  # package files sorted, dist-info last
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()
