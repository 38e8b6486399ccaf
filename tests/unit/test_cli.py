"""The ``tracker`` command's own options."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


def test_a_build_error_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # No registry can be reached and nothing is cached: the download fails, named.
    monkeypatch.setenv("TRACKER_NPM_REGISTRY", "http://127.0.0.1:9/")
    code = main(["build", "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache")])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    [line] = [line for line in err.splitlines() if "error:" in line]
    assert line.startswith("tracker build: error: ") and "127.0.0.1:9" in line


def test_serve_refuses_a_bundle_of_another_release_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "bundle.json").write_text('{"versions": {"tracker": "0.0.1+gold"}}')
    config = tmp_path / "timeback.config.json"
    config.write_text(
        '{"name": "X", "sensor": "https://x.test/s", "courses": [{"subject": "Math", "grade": 3}]}'
    )
    code = main(
        ["serve", "--port", "0", "--bundle", str(bundle), "--config", str(config),
         "--data", str(tmp_path / "data")]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert "is tracker 0.0.1+gold, this server is" in err
