"""The code blocks of README.md and docs/*.md, with how each one is run by the tests.

A block's mode is the HTML comment right above its fence, ``<!-- doc-test: MODE | STEP | … -->``,
or the default of its language. Modes:

- ``server``: a Python module (no top-level await) run as written in a scratch app folder
  with the README's ``timeback.config.json``; each STEP then runs against it: ``GET PATH ->
  STATUS`` sends a request to its ``app`` (or ``application``), ``await CALL`` awaits a call
  of one of its functions.
- ``in-async NAME``: a fragment that runs inside ``async def`` with ``NAME`` a real
  ``TimebackServer`` (e.g. ``await timeback.activity.record(...)``).
- ``django``: like ``server``, in a folder that also holds a Django project ``mysite``.
- ``config``: JSON that ``parse_config`` accepts; ``heartbeat`` / ``submit``: JSON bodies a
  real server stores (204); ``json``: valid JSON.
- ``browser``: HTML or JavaScript run in Chromium (tests/e2e/test_docs_code.py);
  ``pyscript``: Python run in a PyScript page there (inside the ``pyscript-host`` HTML block
  of the same file, if it has one, in place of its ``...``); ``bundled``: an app's module that the
  front-end example tests build and run (tests/e2e/test_frontend_hooks.py).
- ``not-run``: shell commands, listings, diagrams and server configuration, for languages
  that are not code the tests can run (sh, text, nginx, mermaid, no language) only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

_FENCE = re.compile(r"^```(\S*)\s*$")
_MODE = re.compile(r"^<!--\s*doc-test:\s*(.+?)\s*-->\s*$")
DEFAULT_MODES = {
    "python": "server",
    "json": "json",
    "html": "browser",
    "js": "browser",
    "jsx": "bundled",
    "sh": "not-run",
    "text": "not-run",
    "nginx": "not-run",
    "mermaid": "not-run",
    "": "not-run",
}
NOT_RUN_LANGUAGES = {"sh", "text", "nginx", "mermaid", ""}


@dataclass(frozen=True)
class Block:
    file: Path
    line: int  # of the opening fence, 1-based
    lang: str
    text: str
    mode: str
    steps: tuple[str, ...]

    @property
    def where(self) -> str:
        return f"{self.file.relative_to(ROOT)}:{self.line}"


def blocks(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").split("\n")
    found: list[Block] = []
    index = 0
    while index < len(lines):
        fence = _FENCE.match(lines[index])
        if not fence:
            index += 1
            continue
        lang = fence.group(1)
        end = index + 1
        while not lines[end].startswith("```"):
            end += 1
        text = "\n".join(lines[index + 1 : end]) + "\n"
        above = lines[index - 1] if index else ""
        declared = _MODE.match(above)
        parts = [p.strip() for p in declared.group(1).split("|")] if declared else []
        mode = parts[0] if parts else DEFAULT_MODES.get(lang, "unknown")
        if not declared and lang == "python" and "from tracker.browser" in text:
            mode = "pyscript"
        found.append(Block(path, index + 1, lang, text, mode, tuple(parts[1:])))
        index = end + 1
    return found


def all_blocks() -> list[Block]:
    return [block for path in DOCS for block in blocks(path)]


def readme_config() -> str:
    """The README's timeback.config.json: the app folder every server block runs in."""
    [config] = [b for b in blocks(ROOT / "README.md") if b.mode == "config"]
    return config.text
