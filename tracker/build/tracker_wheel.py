"""The tracker's own pure wheel, built straight from the source tree.

Written by hand rather than with ``pip wheel``: a PEP 517 build needs an isolated
setuptools (seconds, and a download) for what is a zip of Python files. The wheel is
reproducible: same sources, same bytes, same sha256. Its version carries a local label
made from the sources' hash (``<version>+g1a2b3c4d5e6f``), so a changed source gives a new
file name and no browser or proxy can serve a stale wheel under the new lock. The version
is the package's ``__version__``, the one pyproject's dynamic version also reads.
"""

from __future__ import annotations

import ast
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
# wheel small and keeps server dependencies (starlette...) from being imported by mistake;
# _source is the installed copy of web/ and pyproject.toml (tracker/sources.py).
EXCLUDED_SUBPACKAGES = frozenset({"server", "build", "demo", "_source"})
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
    license: str | None = None  # an SPDX expression
    license_files: tuple[str, ...] = ()  # glob patterns relative to pyproject.toml

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


def read_project(pyproject: Path, package_dir: Path) -> Project:
    try:
        table = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
        if "version" in table:
            version = str(table["version"])
        elif "version" in table.get("dynamic", ()):
            version = package_version(package_dir / "__init__.py")
        else:
            raise BuildError(f"{pyproject}: the project table has no version")
        license_ = table.get("license")
        return Project(
            name=str(table["name"]),
            version=version,
            summary=str(table.get("description", "")),
            requires_python=table.get("requires-python"),
            dependencies=tuple(str(dep) for dep in table.get("dependencies", ())),
            license=license_ if isinstance(license_, str) else None,
            license_files=tuple(str(pattern) for pattern in table.get("license-files", ())),
        )
    except (OSError, KeyError, SyntaxError, tomllib.TOMLDecodeError) as exc:
        raise BuildError(f"cannot read the project table of {pyproject}: {exc}") from exc


def package_version(init: Path) -> str:
    """``__version__`` of a package, read without importing it (the build runs anywhere)."""
    for node in ast.parse(init.read_text(encoding="utf-8"), filename=str(init)).body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            return node.value.value
    raise BuildError(f'{init}: no __version__ = "..." for the dynamic version')


def license_paths(project: Project, root: Path) -> list[Path]:
    paths = []
    for pattern in project.license_files:
        found = sorted(path for path in root.glob(pattern) if path.is_file())
        if not found:
            raise BuildError(f"pyproject.toml: license-files pattern {pattern!r} matches no file")
        paths += found
    return paths


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
    project = read_project(pyproject, package_dir)
    files = source_files(package_dir)
    contents = {
        f"{package_dir.name}/{path.relative_to(package_dir).as_posix()}": path.read_bytes()
        for path in files
    }
    licenses = {
        path.relative_to(pyproject.parent).as_posix(): path.read_bytes()
        for path in license_paths(project, pyproject.parent)
    }
    label = _source_label({**contents, **licenses}, pyproject.read_bytes())
    version = f"{project.version}+g{label}"
    # Wheel file names and dist-info folders spell the name with "_" (PEP 427).
    dist = re.sub(r"[-_.]+", "_", project.name).lower()
    dist_info = f"{dist}-{version}.dist-info"
    contents[f"{dist_info}/METADATA"] = _metadata(project, version, sorted(licenses)).encode()
    for name, data in licenses.items():
        contents[f"{dist_info}/licenses/{name}"] = data
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


def _metadata(project: Project, version: str, license_files: list[str]) -> str:
    # 2.4: the first metadata version with License-Expression and License-File.
    lines = ["Metadata-Version: 2.4", f"Name: {project.name}", f"Version: {version}"]
    if project.summary:
        lines.append(f"Summary: {project.summary}")
    if project.license:
        lines.append(f"License-Expression: {project.license}")
    lines += [f"License-File: {name}" for name in license_files]
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
