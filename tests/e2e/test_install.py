"""The package as a user gets it: the wheel installed in a fresh venv outside the repository
gives the browser bundle, ``tracker serve`` and ``tracker demo``; a lesson page served by it
stores a heartbeat."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tracker import __version__

from .demo_fixtures import DemoProcess, dashboard, sign_in, start_demo, wait_booted
from .helpers import errors

ROOT = Path(__file__).resolve().parents[2]


def _run(*command: str, cwd: Path) -> str:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv outside the repository with the built wheel and its server extra only: that
    must be all a user needs (the demo builds the bundle from the installed package)."""
    work = tmp_path_factory.mktemp("install")
    assert not work.is_relative_to(ROOT)
    wheels = work / "wheels"
    _run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        str(ROOT),
        "--no-deps",
        "-q",
        "-w",
        str(wheels),
        cwd=work,
    )
    [wheel] = wheels.glob("lesson_time_tracker-*.whl")
    venv = work / "venv"
    _run(sys.executable, "-m", "venv", str(venv), cwd=work)
    _run(str(venv / "bin" / "pip"), "install", "-q", f"{wheel}[server]", cwd=work)
    return venv


@pytest.fixture(scope="module")
def installed_demo(
    installed: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DemoProcess]:
    site = tmp_path_factory.mktemp("site")
    # tracker demo builds the bundle from the installed package (downloads from the cache).
    demo = start_demo(
        site / "data",
        site / "bundle",
        python=str(installed / "bin" / "python"),
        cwd=site,
        timeout=180,
    )
    yield demo
    assert demo.stop() == 0, demo.stderr


def test_the_installed_package_runs_outside_the_repository(installed: Path) -> None:
    python = str(installed / "bin" / "python")
    out = _run(python, "-c", "import tracker, sys; print(tracker.__file__)", cwd=installed)
    assert not Path(out.strip()).is_relative_to(ROOT)
    assert __version__ in _run(str(installed / "bin" / "tracker"), "--version", cwd=installed)


def test_a_lesson_served_by_the_installed_demo_stores_a_heartbeat(
    installed_demo: DemoProcess, page: Page, console: list[tuple[str, str]]
) -> None:
    base = installed_demo.url
    bundle = json.loads(urllib.request.urlopen(f"{base}timeback/bundle.json").read())
    assert bundle["versions"]["tracker"].split("+")[0] == __version__
    sign_in(page, base, "installed@example.com")
    page.goto(f"{base}lessons/fractions.html")
    wait_booted(page)
    page.evaluate("lesson.activity.flushTimeSpent()")
    data = dashboard(page, base)
    [activity] = data["activities"]
    assert activity["windows"] >= 1
    assert errors(console) == []
