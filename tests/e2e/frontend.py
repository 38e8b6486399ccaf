"""Builds the npm package's React and Vue examples for the browser, as an app's bundler would.

esbuild resolves ``lesson-time-tracker`` to the package's sources (web/npm) and React / Vue
from the repository's node_modules (installed by scripts/setup.sh).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES_SOURCE = ROOT / "web" / "npm" / "examples"
ESBUILD = ROOT / "node_modules" / ".bin" / "esbuild"
ENTRIES = {"react": "lesson.jsx", "vue": "lesson.js"}
DEFINES = {
    # Development builds: React's StrictMode double-mounts effects only in development.
    "process.env.NODE_ENV": '"development"',
    # Vue's esm-bundler build asks the bundler for these feature flags.
    "__VUE_OPTIONS_API__": "true",
    "__VUE_PROD_DEVTOOLS__": "false",
    "__VUE_PROD_HYDRATION_MISMATCH_DETAILS__": "false",
}


def build_examples(out: Path) -> Path:
    if not ESBUILD.exists():
        raise RuntimeError("node_modules/.bin/esbuild is missing: run scripts/setup.sh (npm ci)")
    for name, entry in ENTRIES.items():
        target = out / name
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(EXAMPLES_SOURCE / name / "index.html", target / "index.html")
        subprocess.run(
            [
                str(ESBUILD),
                str(EXAMPLES_SOURCE / name / entry),
                "--bundle",
                "--format=iife",
                "--jsx=automatic",
                "--log-level=warning",
                f"--outfile={target / 'lesson.js'}",
                "--alias:lesson-time-tracker=./web/npm",
                *(f"--define:{key}={value}" for key, value in DEFINES.items()),
            ],
            cwd=ROOT,
            check=True,
        )
    return out
