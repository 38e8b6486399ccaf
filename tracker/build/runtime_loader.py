"""Puts web/src/runtime.js (the runtime loader) into ``timeback.js``.

Interim: ``timeback.js`` is still one file while the embed is being split into web/src/
modules that the build concatenates into one function scope. Until then the loader is
included the same way: both files inside one function, so nothing leaks into the page, and
the embed's own ``loadRuntime`` hands over to the loader's under another name.
"""

from __future__ import annotations

from pathlib import Path

from .errors import BuildError

LOADER = "src/runtime.js"


def with_runtime_loader(embed: str, web: Path) -> str:
    loader = web / LOADER
    if not loader.is_file():
        raise BuildError(f"{loader} not found: the embed's runtime loader is in web/src/")
    return (
        '(() => {\n  "use strict";\n'
        f"// ---- web/{LOADER} ----\n{loader.read_text().rstrip()}\n"
        "const loadRuntimeFromSrc = loadRuntime;\n"
        f"// ---- web/timeback.js ----\n{embed.rstrip()}\n"
        "})();\n"
    )
