"""``tracker build``'s parts that need no network: wheel, lock, output folder, pins."""

from __future__ import annotations

import base64
import hashlib
import os
import zipfile
from pathlib import Path

import pytest

import tracker
from tracker.build import BuildError
from tracker.build import wheels as wheels_module
from tracker.build.files import check_pinned
from tracker.build.lockfile import LockEntry, pyodide_lock, pyscript_config
from tracker.build.output import BundleOutput
from tracker.build.pins import WHEELS, WheelPin
from tracker.build.tracker_wheel import build_wheel, read_project

PYPROJECT = """\
[project]
name = "lesson-time-tracker"
dynamic = ["version"]
description = "test"
license = "MIT"
license-files = ["LICENSE"]
requires-python = ">=3.11"
dependencies = ["pydantic>=2.7,<3"]
"""


def source_tree(root: Path) -> tuple[Path, Path]:
    package = root / "tracker"
    for name, text in {
        "__init__.py": '__version__ = "1.2.3"\nVERSION = 1\n',
        "py.typed": "",
        "browser/bridge.py": "def install(options): ...\n",
        "server/app.py": "import starlette\n",
        "build/bundle.py": "...\n",
        "__pycache__/x.cpython-311.pyc": "junk",
        "notes.txt": "not package data",
    }.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "LICENSE").write_text("MIT License\n")
    pyproject = root / "pyproject.toml"
    pyproject.write_text(PYPROJECT)
    return package, pyproject


def test_tracker_wheel_is_reproducible_and_named_after_its_sources(tmp_path: Path) -> None:
    package, pyproject = source_tree(tmp_path)
    first = build_wheel(package, pyproject)
    os.utime(package / "__init__.py", (0, 0))  # mtimes do not matter
    assert build_wheel(package, pyproject).data == first.data
    assert first.file_name.startswith("lesson_time_tracker-1.2.3+g") and first.file_name.endswith(
        "-py3-none-any.whl"
    )

    (package / "__init__.py").write_text('__version__ = "1.2.3"\nVERSION = 2\n')
    changed = build_wheel(package, pyproject)
    assert changed.file_name != first.file_name
    assert changed.sha256 != first.sha256


def test_tracker_wheel_holds_the_browser_code_and_a_valid_record(tmp_path: Path) -> None:
    package, pyproject = source_tree(tmp_path)
    wheel = build_wheel(package, pyproject)
    path = tmp_path / wheel.file_name
    path.write_bytes(wheel.data)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        dist_info = f"lesson_time_tracker-{wheel.version}.dist-info"
        assert [n for n in names if n.startswith("tracker/")] == [
            "tracker/__init__.py",
            "tracker/browser/bridge.py",
            "tracker/py.typed",
        ]
        metadata = archive.read(f"{dist_info}/METADATA").decode()
        assert "Requires-Dist: pydantic>=2.7,<3" in metadata
        assert f"Version: {wheel.version}" in metadata
        assert "Name: lesson-time-tracker" in metadata
        assert "License-Expression: MIT" in metadata
        assert "License-File: LICENSE" in metadata
        assert archive.read(f"{dist_info}/licenses/LICENSE") == b"MIT License\n"
        for row in archive.read(f"{dist_info}/RECORD").decode().splitlines():
            name, digest, size = row.split(",")
            if name.endswith("RECORD"):
                continue
            data = archive.read(name)
            expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            assert digest == f"sha256={expected.decode()}"
            assert int(size) == len(data)
    assert wheel.project.dependency_names == ("pydantic",)


def test_wheel_version_is_the_packages_dunder_version(tmp_path: Path) -> None:
    package, pyproject = source_tree(tmp_path)
    (package / "__init__.py").write_text('"""Doc."""\n\n__version__ = "4.5.6"\n')
    wheel = build_wheel(package, pyproject)
    assert wheel.project.version == "4.5.6"
    assert wheel.version.startswith("4.5.6+g")


def test_wheel_without_a_version_source_names_dunder_version(tmp_path: Path) -> None:
    package, pyproject = source_tree(tmp_path)
    (package / "__init__.py").write_text("VERSION = 1\n")
    with pytest.raises(BuildError, match="__version__"):
        build_wheel(package, pyproject)
    pyproject.write_text(PYPROJECT.replace('dynamic = ["version"]\n', ""))
    with pytest.raises(BuildError, match="no version"):
        build_wheel(package, pyproject)


def test_missing_license_file_is_a_build_error(tmp_path: Path) -> None:
    package, pyproject = source_tree(tmp_path)
    (tmp_path / "LICENSE").unlink()
    with pytest.raises(BuildError, match="license-files pattern 'LICENSE'"):
        build_wheel(package, pyproject)


def test_the_repositorys_project_has_one_version_and_its_own_name() -> None:
    root = Path(__file__).resolve().parents[2]
    project = read_project(root / "pyproject.toml", root / "tracker")
    assert project.version == tracker.__version__
    assert project.name == "lesson-time-tracker"
    assert project.license == "MIT"
    assert project.license_files == ("LICENSE",)


def test_lock_uses_canonical_keys_and_checks_dependencies() -> None:
    entries = [
        LockEntry(p.name, p.version, p.file_name, p.sha256, p.imports, p.depends) for p in WHEELS
    ]
    lock = pyodide_lock({"abi_version": "2026_0"}, entries)
    assert lock["info"] == {"abi_version": "2026_0"}
    # Pyodide finds packages by canonical name only ("No known package 'pydantic_core'").
    assert "pydantic-core" in lock["packages"]
    assert lock["packages"]["pydantic-core"]["name"] == "pydantic_core"
    assert "pydantic-core" in lock["packages"]["pydantic"]["depends"]
    assert all(entry["install_dir"] == "site" for entry in lock["packages"].values())

    orphan = LockEntry("tracker", "1.2.3", "t.whl", "0" * 64, ("tracker",), ("httpx",))
    with pytest.raises(BuildError, match="httpx"):
        pyodide_lock({}, [*entries, orphan])


def test_pyscript_config_lists_dependencies_before_dependents() -> None:
    entries = [
        LockEntry(p.name, p.version, p.file_name, p.sha256, p.imports, p.depends)
        for p in reversed(WHEELS)
    ]
    tracker = LockEntry("tracker", "1.2.3", "tracker.whl", "0" * 64, ("tracker",), ("pydantic",))
    config = pyscript_config("pyodide.mjs", [tracker, *entries])
    order = [url.removeprefix("./") for url in config["packages"]]
    position = {name: order.index(name) for name in order}
    for pin in WHEELS:
        for dep in pin.depends:
            dep_file = next(p.file_name for p in WHEELS if p.name == dep)
            assert position[dep_file] < position[pin.file_name]
    assert order[-1] == "tracker.whl"
    assert config["interpreter"] == "./pyodide.mjs"
    assert config["packages_cache"] == "passthrough"


def test_output_skips_unchanged_files_and_removes_only_its_own_stale_ones(tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(b"x" * 1000)
    out = tmp_path / "out"
    out.mkdir()
    (out / "someone-elses.txt").write_text("keep me")

    first = BundleOutput(out)
    first.copy("big.bin", source)
    first.write("old.whl", b"old")
    first.finish({})
    assert first.changed == 2

    second = BundleOutput(out)
    second.copy("big.bin", source)
    second.write("new.whl", b"new")
    assert second.finish({}) == ["old.whl"]
    assert second.changed == 1  # only new.whl
    assert not (out / "old.whl").exists()
    assert (out / "someone-elses.txt").read_text() == "keep me"
    assert (out / "big.bin").stat().st_mtime_ns == source.stat().st_mtime_ns


def test_a_download_that_misses_its_pin_is_deleted(tmp_path: Path) -> None:
    path = tmp_path / "w.whl"
    path.write_bytes(b"tampered")
    with pytest.raises(BuildError, match="sha256 mismatch"):
        check_pinned(path, "0" * 64, "w==1")
    assert not path.exists()

    path.write_bytes(b"new version")
    with pytest.raises(BuildError, match=hashlib.sha256(b"new version").hexdigest()):
        check_pinned(path, "", "w==2")  # an unpinned download says what to pin


def test_cached_wheels_are_not_downloaded_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = b"wheel bytes"
    pin = WheelPin("w", "1", "w-1-py3-none-any.whl", hashlib.sha256(data).hexdigest(), ("w",))
    (tmp_path / pin.file_name).write_bytes(data)

    def no_download(*args: object, **kwargs: object) -> None:
        raise AssertionError("pip was run although the cache is complete")

    monkeypatch.setattr(wheels_module, "_download", no_download)
    assert wheels_module.fetch_wheels([pin], tmp_path) == {"w": tmp_path / pin.file_name}
