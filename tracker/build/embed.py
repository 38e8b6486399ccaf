"""The one-tag embed ``timeback.js``, assembled from the small scripts of ``web/src/``.

No bundler: the files are classic scripts that declare functions, classes and constants
for each other, so concatenating them inside one arrow function gives them one private
scope and leaks nothing into the lesson page. The order below is the order of their
dependencies at load time (a file may call what a later file declares only from inside a
function that runs after ``main.js`` started). Node's tests load the same files
(tests/js/load.mjs).
"""

from __future__ import annotations

from pathlib import Path

from .errors import BuildError

# The header comment, outside the function so that it reads as the file's documentation.
EMBED_HEADER = "about.js"
EMBED_MODULES = (
    "location.js",  # where the runtime is; data-base / data-config (RUNTIME_DIR is stamped)
    "uuid.js",  # runIds made in the page
    "boot-log.js",  # visibilitychange, pagehide, pageshow from the first line (B2)
    "estimate.js",  # active time while booting (W3, P2)
    "boot-window.js",  # the boot window's body, key and beacon (B3)
    "activity.js",  # the Activity object the page holds
    "queue.js",  # replay of the calls made while booting (B1)
    "snapshot-delta.js",  # the snapshot's ranges stored XOR bytes the page already has
    "runtime.js",  # the loader: Pyodide and the wheels
    "main.js",  # window.timeback, the boot and the hand-over; runs main()
)


def embed_sources(src: Path) -> list[Path]:
    """Every file the embed is made of, in order; a missing one is a build error."""
    files = [src / name for name in (EMBED_HEADER, *EMBED_MODULES)]
    for file in files:
        if not file.is_file():
            raise BuildError(f"{file} not found: the embed is assembled from web/src/")
    return files


def assemble_embed(src: Path) -> str:
    """The text of ``timeback.js`` (before ``stamp_embed`` names the runtime folder)."""
    header, *modules = embed_sources(src)
    parts = [header.read_text().rstrip() + "\n", '(() => {\n  "use strict";\n']
    for module in modules:
        parts.append(f"\n// ---- web/src/{module.name} ----\n{module.read_text().rstrip()}\n")
    parts.append("})();\n")
    return "".join(parts)
