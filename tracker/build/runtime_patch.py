"""Two edits to Pyodide's module factory (pyodide.asm.mjs) that keep the boot's tasks short.

Both leave what the runtime does unchanged; they only move work (docs/decisions.md):

- a V8 compile hint as the first line: V8 then compiles every function of the file while
  it streams in, off the main thread. Without it the ~1.2 MB factory function is parsed
  and compiled lazily, on the main thread, when loadPyodide first calls it: a 35-45 ms
  part of one task;
- a task boundary inside Emscripten's ``receiveInstance``: after the wasm's exports are
  assigned and before the dynamic linker's set-up (``LDSO.init``, ``loadDylibs``, which
  wraps every undefined function symbol in a small wasm module). The two halves ran as
  one task of 90-100 ms. ``receiveInstance``'s result is awaited (``wasmExports = await
  (createWasm())`` and the ``instantiateWasm`` hook's ``resolve``), so it may be async.

The pinned runtime's text is known (pins.py checks its sha256); each edit must match
exactly once, so a new Pyodide that changed these lines fails the build by name rather
than booting with a long task again.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from .errors import BuildError
from .files import sha256_of, write_atomic

MODULE_FACTORY = "pyodide.asm.mjs"
# Chromium 136+ (explicit compile hints); other engines read a comment.
COMPILE_HINT = "//# allFunctionsCalledOnLoad\n"


@dataclass(frozen=True)
class Edit:
    name: str
    old: str
    new: str


EDITS = (
    Edit(
        "receiveInstance is async",
        "function receiveInstance(instance,module){",
        "async function receiveInstance(instance,module){",
    ),
    Edit(
        "a task boundary before the dynamic linker's set-up",
        "updateGOT(origExports);LDSO.init();loadDylibs();",
        "updateGOT(origExports);await new Promise(resolve=>setTimeout(resolve,0));"
        "LDSO.init();loadDylibs();",
    ),
)


def patch_factory(text: str) -> str:
    """``text`` of pyodide.asm.mjs with the compile hint and every edit applied."""
    for edit in EDITS:
        found = text.count(edit.old)
        if found != 1:
            raise BuildError(
                f"{MODULE_FACTORY}: the edit '{edit.name}' expects its text once, found it "
                f"{found} times: this Pyodide differs from the pinned one "
                "(tracker/build/runtime_patch.py)"
            )
        text = text.replace(edit.old, edit.new)
    return COMPILE_HINT + text


def patched_runtime(runtime: Path, files: tuple[str, ...], cache: Path) -> Path:
    """A copy of ``runtime``'s ``files`` with the module factory patched, kept in ``cache``.

    Copies, not links: Node resolves a linked module to its real path, and pyodide.mjs
    would then import the unpatched factory next to it.
    """
    if MODULE_FACTORY not in files:
        raise BuildError(f"{MODULE_FACTORY} is not among the runtime's files")
    key = hashlib.sha256(Path(__file__).read_bytes())
    for name in files:
        key.update(f"{name} {sha256_of(runtime / name)}\n".encode())
    folder = cache / key.hexdigest()[:24]
    done = folder / ".complete"
    if done.is_file():
        return folder
    for name in files:
        if name == MODULE_FACTORY:
            text = (runtime / name).read_text(encoding="utf-8")
            write_atomic(folder / name, patch_factory(text).encode("utf-8"))
        else:
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(runtime / name, folder / name)
    done.touch()
    return folder
