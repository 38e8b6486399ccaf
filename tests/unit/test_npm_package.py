"""The npm package of the embed: its tarball, and its types as a TypeScript app sees them."""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from tracker import __version__
from tracker.build.npm_package import build_npm_package

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / "node_modules"
TSC = NODE_MODULES / ".bin" / "tsc"


def _members(tarball: Path) -> dict[str, bytes]:
    with tarfile.open(tarball) as tar:
        return {
            m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        }


def test_tarball_has_npm_layout_and_the_trackers_version(tmp_path: Path) -> None:
    tarball = build_npm_package(ROOT, tmp_path, __version__)
    assert tarball.name == f"lesson-time-tracker-{__version__}.tgz"
    members = _members(tarball)
    assert all(name.startswith("package/") for name in members)
    manifest = json.loads(members["package/package.json"])
    assert manifest["version"] == __version__
    listed = {f"package/{name}" for name in manifest["files"]} | {"package/package.json"}
    assert set(members) == listed
    # Every entry point the manifest exports is in the tarball.
    for target in manifest["exports"].values():
        for path in target.values():
            assert f"package/{path.removeprefix('./')}" in members


def test_tarball_is_reproducible(tmp_path: Path) -> None:
    first = build_npm_package(ROOT, tmp_path / "a", __version__).read_bytes()
    second = build_npm_package(ROOT, tmp_path / "b", __version__).read_bytes()
    assert first == second


def test_types_check_an_app_and_reject_misuse(tmp_path: Path) -> None:
    if not TSC.exists():
        pytest.fail("node_modules/.bin/tsc is missing: run scripts/setup.sh (npm ci)")
    tarball = build_npm_package(ROOT, tmp_path / "dist", __version__)
    app = tmp_path / "app"
    modules = app / "node_modules"
    modules.mkdir(parents=True)
    # The app's dependencies: this package from its tarball, React and Vue types from ours.
    for entry in NODE_MODULES.iterdir():
        if not entry.name.startswith("."):
            (modules / entry.name).symlink_to(entry)
    with tarfile.open(tarball) as tar:
        tar.extractall(modules, filter="data")
    (modules / "package").rename(modules / "lesson-time-tracker")
    for name in ("example.ts", "tsconfig.json"):
        shutil.copy(ROOT / "tests" / "js" / "types" / name, app / name)

    result = subprocess.run(
        [str(TSC), "-p", str(app / "tsconfig.json")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr

    # And the check can fail: a wrong call without its @ts-expect-error is an error.
    example = app / "example.ts"
    example.write_text(example.read_text().replace("// @ts-expect-error: current", "// "))
    result = subprocess.run(
        [str(TSC), "-p", str(app / "tsconfig.json")], capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "current" in result.stdout
