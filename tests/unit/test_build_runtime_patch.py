"""The two edits to Pyodide's module factory (tracker/build/runtime_patch.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracker.build import BuildError
from tracker.build.runtime_patch import (
    COMPILE_HINT,
    MODULE_FACTORY,
    patch_factory,
    patched_runtime,
)

# The lines of the pinned factory that the edits change, in the order they appear.
FACTORY = (
    "async function _createPyodideModule(moduleArg={}){async function createWasm(){"
    "function receiveInstance(instance,module){wasmExports=instance.exports;"
    "assignWasmExports(wasmExports);updateGOT(origExports);LDSO.init();loadDylibs();"
    "updateMemoryViews();return wasmExports}}wasmExports=await (createWasm());}"
)


def test_the_factory_gets_the_compile_hint_first_and_a_task_boundary_before_the_linker() -> None:
    patched = patch_factory(FACTORY)

    assert patched.startswith(COMPILE_HINT)
    assert "async function receiveInstance(instance,module){" in patched
    boundary = patched.index("await new Promise(resolve=>setTimeout(resolve,0));")
    assert patched.index("updateGOT(origExports);") < boundary < patched.index("LDSO.init();")


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


def test_the_patched_runtime_is_a_cached_copy_and_the_source_is_untouched(tmp_path: Path) -> None:
    source = tmp_path / "npm"
    source.mkdir()
    (source / MODULE_FACTORY).write_text(FACTORY)
    (source / "pyodide.mjs").write_text("export const loader = 1;\n")
    files = ("pyodide.mjs", MODULE_FACTORY)

    folder = patched_runtime(source, files, tmp_path / "cache")

    assert (source / MODULE_FACTORY).read_text() == FACTORY
    assert (folder / MODULE_FACTORY).read_text() == patch_factory(FACTORY)
    assert (folder / "pyodide.mjs").read_text() == "export const loader = 1;\n"
    assert not (folder / "pyodide.mjs").is_symlink()
    (folder / "pyodide.mjs").write_text("changed by hand")
    assert patched_runtime(source, files, tmp_path / "cache") == folder  # done once
    (source / "pyodide.mjs").write_text("export const loader = 2;\n")
    again = patched_runtime(source, files, tmp_path / "cache")
    assert again != folder  # a new runtime is a new copy
    assert (again / "pyodide.mjs").read_text() == "export const loader = 2;\n"


def test_a_runtime_without_the_factory_is_a_build_error(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match=f"{MODULE_FACTORY} is not among"):
        patched_runtime(tmp_path, ("pyodide.mjs",), tmp_path / "cache")
