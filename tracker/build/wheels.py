"""The browser's wheels from PyPI, downloaded for Pyodide's platform and checked against pins."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .download import TIMEOUT_S
from .errors import BuildError
from .files import check_pinned, sha256_of
from .pins import WHEEL_PLATFORM, WHEEL_PYTHON_VERSION, WheelPin
from .progress import say


def fetch_wheels(pins: Sequence[WheelPin], cache: Path) -> dict[str, Path]:
    """Every pinned wheel in ``cache`` (name -> path); one ``pip download`` for those missing."""
    cache.mkdir(parents=True, exist_ok=True)
    missing = [
        pin
        for pin in pins
        if not (cache / pin.file_name).is_file()
        or not pin.sha256
        or sha256_of(cache / pin.file_name) != pin.sha256
    ]
    if missing:
        _download(missing, cache)
    for pin in missing:
        path = cache / pin.file_name
        if not path.is_file():
            raise BuildError(f"pip download did not produce {pin.file_name}")
        check_pinned(path, pin.sha256, pin.requirement)
    return {pin.name: cache / pin.file_name for pin in pins}


def _download(pins: Sequence[WheelPin], cache: Path) -> None:
    say("downloading wheels: " + ", ".join(pin.requirement for pin in pins))
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        # With every pin known, pip itself refuses a file whose hash differs (--require-hashes
        # is implied by the hashes in the requirements file).
        lines = [
            f"{pin.requirement} --hash=sha256:{pin.sha256}" if pin.sha256 else pin.requirement
            for pin in pins
        ]
        if not all(pin.sha256 for pin in pins):
            lines = [pin.requirement for pin in pins]
        requirements = Path(tmp) / "requirements.txt"
        requirements.write_text("\n".join(lines) + "\n")
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--disable-pip-version-check",
            "--no-input",
            "--quiet",
            "--no-deps",
            # Fail in seconds when the index is unreachable, instead of retrying for minutes.
            f"--timeout={TIMEOUT_S:g}",
            "--retries=1",
            "--only-binary=:all:",
            f"--platform={WHEEL_PLATFORM}",
            f"--python-version={WHEEL_PYTHON_VERSION}",
            "--implementation=cp",
            f"--dest={tmp}",
            "-r",
            str(requirements),
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise BuildError(
                "pip download of the browser wheels failed (is PyPI, or pip's configured "
                f"index, reachable?):\n{result.stderr.strip()}"
            )
        for pin in pins:
            downloaded = Path(tmp) / pin.file_name
            if downloaded.is_file():
                downloaded.replace(cache / pin.file_name)
