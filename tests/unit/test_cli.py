"""The ``tracker`` command's own options."""

from __future__ import annotations

import subprocess
import sys

import pytest

import tracker
from tracker.cli import main


def test_version_prints_the_package_version_and_exits_zero(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"tracker {tracker.__version__}\n"


def test_version_works_as_a_command_without_a_subcommand() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tracker.cli", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    expected = (0, f"tracker {tracker.__version__}\n", "")
    assert (done.returncode, done.stdout, done.stderr) == expected


def test_installed_metadata_carries_the_same_version() -> None:
    from importlib.metadata import version

    assert version("lesson-time-tracker") == tracker.__version__
