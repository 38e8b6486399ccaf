#!/usr/bin/env bash
# Runs the synchronous core unit tests inside Pyodide (Python 3.14, the bundle's own runtime
# and pydantic wheel) under Node: proof that the core runs unchanged in the browser's Python.
# Needs the bundle (tracker build) first.
set -euo pipefail
cd "$(dirname "$0")/.."
wheels=.cache/pyodide-test-wheels
if [ ! -f "$wheels/.complete" ]; then
  mkdir -p "$wheels"
  # pytest and its pure-Python dependencies; they are test tools, not part of the bundle.
  .venv/bin/python -m pip download -q --no-deps --only-binary=:all: -d "$wheels" \
    pytest==9.2.0 pluggy==1.7.0 iniconfig==2.3.1 packaging==26.4 pygments==2.21.0
  touch "$wheels/.complete"
fi
# The runtime sits in the bundle's versioned folder, r-<hash>/ (one per build).
runtime=(dist/timeback/r-*/)
if [ ${#runtime[@]} -ne 1 ] || [ ! -f "${runtime[0]}pyodide.mjs" ]; then
  echo "expected one dist/timeback/r-*/ folder: run tracker build" >&2
  exit 1
fi
exec node tests/pyodide/run_core_tests.mjs "${runtime[0]}" "$wheels" \
  tests/unit/test_engine.py tests/unit/test_delivery.py tests/unit/test_models.py \
  tests/unit/test_config_wire.py
