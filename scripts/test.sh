#!/usr/bin/env bash
# The one test command: sets up what is missing, then runs lint, types, unit and browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --browser
PY=.venv/bin/python
say() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }

say "ruff"
$PY -m ruff check .
$PY -m ruff format --check .
say "mypy"
$PY -m mypy
say "unit tests (CPython)"
$PY -m pytest tests/unit -q --cov=tracker --cov-report=term "$@"
if [ -d tests/e2e ] && ls tests/e2e/test_*.py >/dev/null 2>&1; then
  say "building the browser bundle"
  .venv/bin/tracker build
  say "end-to-end tests (Chromium)"
  $PY -m pytest tests/e2e -q -p no:cacheprovider "$@"
fi
