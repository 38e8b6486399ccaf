"""Edits to Pyodide's JavaScript (pyodide.asm.mjs, pyodide.mjs) that keep the boot's tasks short.

Each leaves what the runtime does unchanged; it only moves work (docs/decisions.md):

- a V8 compile hint as the first line: V8 then compiles every function of the file while
  it streams in, off the main thread. Without it the ~1.2 MB factory function is parsed
  and compiled lazily, on the main thread, when loadPyodide first calls it: a 35-45 ms
  part of one task;
- a task boundary inside Emscripten's ``receiveInstance``: after the wasm's exports are
  assigned and before the dynamic linker's set-up (``LDSO.init``, ``loadDylibs``, which
  wraps every undefined function symbol in a small wasm module). The two halves ran as
  one task of 90-100 ms. ``receiveInstance``'s result is awaited (``wasmExports = await
  (createWasm())`` and the ``instantiateWasm`` hook's ``resolve``), so it may be async;
- a task boundary in the loader's ``bootstrapPyodide`` between the snapshot's restore (the
  38 MB memory copy, ~25 ms) and ``finalizeBootstrap`` (~40 ms), which ran in one task
  together with the runtime's init. Nothing else holds the runtime during that boundary;
- an option ``_wasmModule`` of loadPyodide: a promise of the compiled ``pyodide.asm.wasm``,
  which Pyodide then only instantiates instead of fetching and streaming it itself.

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
LOADER = "pyodide.mjs"
# Chromium 136+ (explicit compile hints); other engines read a comment.
COMPILE_HINT = "//# allFunctionsCalledOnLoad\n"


@dataclass(frozen=True)
class Edit:
    file: str
    name: str
    old: str
    new: str


EDITS = (
    Edit(
        MODULE_FACTORY,
        "receiveInstance is async",
        "function receiveInstance(instance,module){",
        "async function receiveInstance(instance,module){",
    ),
    Edit(
        MODULE_FACTORY,
        "a task boundary before the dynamic linker's set-up",
        "updateGOT(origExports);LDSO.init();loadDylibs();",
        "updateGOT(origExports);await new Promise(resolve=>setTimeout(resolve,0));"
        "LDSO.init();loadDylibs();",
    ),
    # Minified names, pinned with the loader's sha256: bootstrapPyodide is `Ae`.
    Edit(
        LOADER,
        "a task boundary between the snapshot's restore and finalizeBootstrap",
        "function Ae(e,t,n){let i=e.API,s;return t&&(s=i.restoreSnapshot(t)),"
        "i.finalizeBootstrap(s,n._snapshotDeserializer)}",
        "async function Ae(e,t,n){let i=e.API,s;t&&(s=i.restoreSnapshot(t));"
        "await new Promise(resolve=>setTimeout(resolve,0));"
        "return i.finalizeBootstrap(s,n._snapshotDeserializer)}",
    ),
    Edit(
        LOADER, "loadPyodide awaits bootstrapPyodide", "let a=Ae(r,s,t);", "let a=await Ae(r,s,t);"
    ),
    # The option `_wasmModule` (a promise of the compiled pyodide.asm.wasm): the embed
    # starts the wasm's streaming compile itself, before Pyodide's loader and factory have
    # set up, and Pyodide only instantiates it (getInstantiateWasmFunc is `Ie`; without the
    # option it fetches and streams as ever).
    Edit(
        LOADER,
        "the wasm hook gets the _wasmModule option",
        "instantiateWasm:Ie(e.indexURL)",
        "instantiateWasm:Ie(e.indexURL,e._wasmModule)",
    ),
    Edit(
        LOADER,
        "no fetch of the wasm when it is given",
        'function Ie(e){if(typeof WasmOffsetConverter<"u")return;'
        'let{binary:t,response:n}=_(e+"pyodide.asm.wasm"),i=K();',
        'function Ie(e,m){if(typeof WasmOffsetConverter<"u")return;'
        'let{binary:t,response:n}=m?{}:_(e+"pyodide.asm.wasm"),i=K();',
    ),
    Edit(
        LOADER,
        "a given wasm module is instantiated",
        "n?l=await WebAssembly.instantiateStreaming(n,s):"
        "l=await WebAssembly.instantiate(await t,s);",
        "m?l={module:await m,instance:await WebAssembly.instantiate(await m,s)}:"
        "n?l=await WebAssembly.instantiateStreaming(n,s):"
        "l=await WebAssembly.instantiate(await t,s);",
    ),
)


def patch_text(file: str, text: str) -> str:
    """``text`` of the runtime's ``file`` with its edits (the factory's: compile hint first)."""
    for edit in EDITS:
        if edit.file != file:
            continue
        found = text.count(edit.old)
        if found != 1:
            raise BuildError(
                f"{file}: the edit '{edit.name}' expects its text once, found it "
                f"{found} times: this Pyodide differs from the pinned one "
                "(tracker/build/runtime_patch.py)"
            )
        text = text.replace(edit.old, edit.new)
    return COMPILE_HINT + text if file == MODULE_FACTORY else text


def patched_runtime(runtime: Path, files: tuple[str, ...], cache: Path) -> Path:
    """A copy of ``runtime``'s ``files`` with the edits applied, kept in ``cache``.

    Copies, not links: Node resolves a linked module to its real path, and pyodide.mjs
    would then import the unpatched factory next to it.
    """
    for edited in (MODULE_FACTORY, LOADER):
        if edited not in files:
            raise BuildError(f"{edited} is not among the runtime's files")
    key = hashlib.sha256(Path(__file__).read_bytes())
    for name in files:
        key.update(f"{name} {sha256_of(runtime / name)}\n".encode())
    folder = cache / key.hexdigest()[:24]
    done = folder / ".complete"
    if done.is_file():
        return folder
    for name in files:
        if name in (MODULE_FACTORY, LOADER):
            text = (runtime / name).read_text(encoding="utf-8")
            write_atomic(folder / name, patch_text(name, text).encode("utf-8"))
        else:
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(runtime / name, folder / name)
    done.touch()
    return folder
