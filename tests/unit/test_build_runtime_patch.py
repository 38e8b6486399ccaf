"""The edits to Pyodide's module factory and loader (tracker/build/runtime_patch.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracker.build import BuildError
from tracker.build.runtime_patch import (
    COMPILE_HINT,
    LOADER,
    MODULE_FACTORY,
    patch_text,
    patched_runtime,
)

# The lines of the pinned factory that the edits change, in the order they appear.
FACTORY = (
    "async function _createPyodideModule(moduleArg={}){async function createWasm(){"
    "function receiveInstance(instance,module){wasmExports=instance.exports;"
    "assignWasmExports(wasmExports);updateGOT(origExports);LDSO.init();loadDylibs();"
    "updateMemoryViews();return wasmExports}}wasmExports=await (createWasm());}"
)
# The pinned loader's bootstrapPyodide (`Ae`) and its call in loadPyodide (`dt`), its
# instantiateWasm hook (`Ie`) and the settings that install it.
LOADER_TEXT = (
    "function Ae(e,t,n){let i=e.API,s;return t&&(s=i.restoreSnapshot(t)),"
    'i.finalizeBootstrap(s,n._snapshotDeserializer)}o(Ae,"bootstrapPyodide");'
    "async function dt(e={}){let r=await Re(i,n);Fe(r,t);let a=Ae(r,s,t);return await Oe(a,t)}"
    'function Ie(e){if(typeof WasmOffsetConverter<"u")return;'
    'let{binary:t,response:n}=_(e+"pyodide.asm.wasm"),i=K();return function(s,r){return '
    "async function(){try{let l;n?l=await WebAssembly.instantiateStreaming(n,s):"
    "l=await WebAssembly.instantiate(await t,s);let{instance:d,module:u}=l;r(d,u)}"
    'catch(l){console.warn("wasm instantiation failed!")}}(),{}}}'
    'function q(e){let n={locateFile:o(i=>e.indexURL+i,"locateFile"),'
    "instantiateWasm:Ie(e.indexURL)};return n}"
)


def patch_factory(text: str) -> str:
    return patch_text(MODULE_FACTORY, text)


def test_the_factory_gets_the_compile_hint_first_and_a_task_boundary_before_the_linker() -> None:
    patched = patch_factory(FACTORY)

    assert patched.startswith(COMPILE_HINT)
    assert "async function receiveInstance(instance,module){" in patched
    boundary = patched.index("await new Promise(resolve=>setTimeout(resolve,0));")
    assert patched.index("updateGOT(origExports);") < boundary < patched.index("LDSO.init();")


def test_the_loader_yields_between_the_restore_and_finalize_bootstrap() -> None:
    patched = patch_text(LOADER, LOADER_TEXT)

    assert not patched.startswith(COMPILE_HINT)  # the hint is the factory's alone
    assert "async function Ae(" in patched
    assert "let a=await Ae(r,s,t);" in patched
    restore = patched.index("s=i.restoreSnapshot(t)")
    boundary = patched.index("await new Promise(resolve=>setTimeout(resolve,0));")
    assert restore < boundary < patched.index("return i.finalizeBootstrap(")


def test_the_loader_instantiates_a_wasm_module_it_is_given_and_fetches_none() -> None:
    """The embed starts the wasm's compile itself (web/src/runtime.js compileRuntime)."""
    patched = patch_text(LOADER, LOADER_TEXT)

    assert "instantiateWasm:Ie(e.indexURL,e._wasmModule)" in patched
    assert "function Ie(e,m){" in patched
    # Given a module: no fetch of the wasm, and the module is what gets instantiated.
    assert 'let{binary:t,response:n}=m?{}:_(e+"pyodide.asm.wasm")' in patched
    given = patched.index("m?l={module:await m,instance:await WebAssembly.instantiate(await m,s)}")
    assert given < patched.index("n?l=await WebAssembly.instantiateStreaming(n,s)")


@pytest.mark.parametrize(
    ("text", "times"),
    [
        (FACTORY.replace("LDSO.init();loadDylibs();", "loadDylibs();"), 0),
        (FACTORY.replace("function receiveInstance(", "function receive("), 0),
        (FACTORY + FACTORY, 2),
    ],
)
def test_a_factory_unlike_the_pinned_one_fails_the_build_by_name(text: str, times: int) -> None:
    with pytest.raises(BuildError, match=f"{MODULE_FACTORY}: the edit '.*' .* {times} times"):
        patch_factory(text)


def test_a_loader_unlike_the_pinned_one_fails_the_build_by_name() -> None:
    renamed = LOADER_TEXT.replace("let a=Ae(", "let a=Be(")
    with pytest.raises(BuildError, match=f"{LOADER}: the edit 'loadPyodide awaits .*' .* 0 times"):
        patch_text(LOADER, renamed)


def test_the_patched_runtime_is_a_cached_copy_and_the_source_is_untouched(tmp_path: Path) -> None:
    source = tmp_path / "npm"
    source.mkdir()
    (source / MODULE_FACTORY).write_text(FACTORY)
    (source / LOADER).write_text(LOADER_TEXT)
    (source / "python_stdlib.zip").write_bytes(b"zip 1")
    files = (LOADER, MODULE_FACTORY, "python_stdlib.zip")

    folder = patched_runtime(source, files, tmp_path / "cache")

    assert (source / MODULE_FACTORY).read_text() == FACTORY
    assert (folder / MODULE_FACTORY).read_text() == patch_factory(FACTORY)
    assert (folder / LOADER).read_text() == patch_text(LOADER, LOADER_TEXT)
    assert (folder / "python_stdlib.zip").read_bytes() == b"zip 1"
    assert not (folder / "python_stdlib.zip").is_symlink()
    (folder / "python_stdlib.zip").write_bytes(b"changed by hand")
    assert patched_runtime(source, files, tmp_path / "cache") == folder  # done once
    (source / "python_stdlib.zip").write_bytes(b"zip 2")
    again = patched_runtime(source, files, tmp_path / "cache")
    assert again != folder  # a new runtime is a new copy
    assert (again / "python_stdlib.zip").read_bytes() == b"zip 2"


@pytest.mark.parametrize("missing", [MODULE_FACTORY, LOADER])
def test_a_runtime_without_an_edited_file_is_a_build_error(tmp_path: Path, missing: str) -> None:
    files = tuple(name for name in (MODULE_FACTORY, LOADER) if name != missing)
    with pytest.raises(BuildError, match=f"{missing} is not among"):
        patched_runtime(tmp_path, files, tmp_path / "cache")
