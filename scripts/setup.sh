#!/usr/bin/env bash
# Installs what the project needs on a fresh machine, and nothing when it is already there.
#   scripts/setup.sh            Python venv with the package (server + dev extras), and
#                               node_modules/ with Biome (package-lock.json)
#   scripts/setup.sh --browser  also Debian's Chromium for the end-to-end tests
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $($PY --version)"
  $PY -m venv .venv
fi
# Reinstall only when pyproject.toml changed since the last install.
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  say "installing lesson-time-tracker (the tracker package) and its dependencies"
  .venv/bin/python -m pip install -q --upgrade pip
  # The distribution used to be called "tracker" (a name taken on PyPI): an old
  # install of it would stay next to the new one and own the same `tracker` command.
  if .venv/bin/python -m pip show -q tracker >/dev/null 2>&1; then
    .venv/bin/python -m pip uninstall -q -y tracker
  fi
  .venv/bin/python -m pip install -q -e ".[server,postgres,dev]"
  rm -f .venv/.installed-*
  touch "$stamp"
fi

# `tracker build` fetches Pyodide and PyScript from the npm registry itself (once; then
# from .cache/); npm is needed for the JavaScript test tools below.
if ! command -v npm >/dev/null 2>&1; then
  say "installing Debian's npm (tracker build downloads Pyodide from the npm registry)"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq npm >/dev/null
fi

# The JavaScript dev tools, pinned in package-lock.json, into node_modules/ (ignored by git):
# Biome (lint + format of the embed), tsc, esbuild, React and Vue (the npm package's tests).
# Again only when the lock changed since the last install.
js_stamp=node_modules/.installed-$(sha256sum package-lock.json | cut -c1-16)
if [ ! -f "$js_stamp" ]; then
  say "installing the JavaScript dev tools (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  touch "$js_stamp"
fi

# The unit tests start a throwaway PostgreSQL (initdb + pg_ctl) to test that store too.
if ! command -v pg_ctl >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  say "installing Debian's postgresql (the store tests run against it as well as SQLite)"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi

if [ "${1:-}" = "--browser" ]; then
  if [ ! -x /usr/bin/chromium ]; then
    say "installing Debian's Chromium (Playwright's own browser download does not work here)"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
  fi
fi
