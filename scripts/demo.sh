#!/usr/bin/env bash
# The demo in one command (`make demo`): installs what is missing, builds the browser bundle
# (only what changed), then serves the demo on 127.0.0.1 and prints its URL. Ctrl-C stops it.
#   scripts/demo.sh [--port 8000] [--host 127.0.0.1] [--data data] [--config FILE]
#   scripts/demo.sh --static OUT     the demo as static files instead (no server needed)
#   make demo DEMO_ARGS="--port 8080"   the same options through make
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }

say "checking the Python environment (.venv)"
scripts/setup.sh
say "starting the demo"
# DEMO_ARGS is split into words on purpose: it carries options from `make demo DEMO_ARGS=...`.
# shellcheck disable=SC2086
exec .venv/bin/tracker demo ${DEMO_ARGS:-} "$@"
