"""The Python 3.12 venv with the official server SDK, made once under ``.cache/compat-venv``.

The official SDK (``timeback-sdk`` on PyPI, MIT) needs Python >= 3.12; the project runs on
3.11, so the official server runs in its own interpreter as a subprocess.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".cache" / "compat-venv"
# Pinned: the suite measures this exact release.
REQUIREMENTS = ("timeback-sdk==0.4.0", "fastapi", "uvicorn")
MARKER = VENV / "compat-requirements.txt"
SKIP_VARIABLE = "TRACKER_TEST_NO_COMPAT"


class OfficialUnavailableError(RuntimeError):
    """No Python >= 3.12, or the SDK could not be installed."""


def _runs_312(python: str) -> bool:
    """True when ``python`` starts and is >= 3.12 (a pyenv shim may exist and not run)."""
    try:
        probe = subprocess.run(
            [python, "-c", "import sys; sys.exit(sys.version_info < (3, 12))"],
            capture_output=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def find_python312() -> str | None:
    """``TRACKER_COMPAT_PYTHON``, else pyenv's 3.12+, else python3.12+ on PATH."""
    explicit = os.environ.get("TRACKER_COMPAT_PYTHON")
    pyenv = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates = [explicit] if explicit else []
    candidates += sorted(glob.glob(f"{pyenv}/versions/3.1[2-9]*/bin/python3"), reverse=True)
    candidates += [found for name in ("python3.12", "python3.13") if (found := shutil.which(name))]
    return next((python for python in candidates if python and _runs_312(python)), None)


def venv_python() -> Path:
    return VENV / "bin" / "python"


def ensure_official_venv() -> Path:
    """The venv's interpreter; creates and fills the venv the first time."""
    wanted = "\n".join(REQUIREMENTS) + "\n"
    if venv_python().exists() and MARKER.exists() and MARKER.read_text() == wanted:
        return venv_python()
    python = find_python312()
    if python is None:
        raise OfficialUnavailableError(
            "Python >= 3.12 not found (set TRACKER_COMPAT_PYTHON, or install python3.12): "
            "the official timeback-sdk cannot run, so wire compatibility is NOT tested. "
            f"Set {SKIP_VARIABLE}=1 to run without it."
        )
    try:
        subprocess.run([python, "-m", "venv", "--clear", str(VENV)], check=True)
        subprocess.run(
            [str(venv_python()), "-m", "pip", "install", "-q", *REQUIREMENTS],
            check=True,
            stdout=sys.stderr,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        raise OfficialUnavailableError(f"could not build {VENV}: {exc}") from None
    MARKER.write_text(wanted)
    return venv_python()
