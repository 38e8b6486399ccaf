"""``tracker build``'s precompressed siblings and versioned folder (no network)."""

from __future__ import annotations

import gzip
from pathlib import Path

import brotli
import pytest

from tracker.build import BuildError
from tracker.build.bundle import runtime_folder, stamp_embed
from tracker.build.compress import add_siblings, gzip_bytes
from tracker.build.embed import EMBED_MODULES, assemble_embed
from tracker.build.output import BundleOutput

WASM = b"\0asm\1\0\0\0" + bytes(range(256)) * 64  # 16 KB, compressible
SCRIPT = b"export const answer = 42;\n" * 200


def bundle(root: Path) -> BundleOutput:
    output = BundleOutput(root)
    output.write("r-0123456789abcdef/pyodide.asm.wasm", WASM)
    output.write("r-0123456789abcdef/pyodide.mjs", SCRIPT)
    output.write("r-0123456789abcdef/w-1-py3-none-any.whl", b"PK" + bytes(4096))
    output.write("tiny.json", b"{}")
    return output


def test_siblings_decompress_to_the_same_bytes(tmp_path: Path) -> None:
    output = bundle(tmp_path / "out")
    assert add_siblings(output, set(output.files), tmp_path / "cache") == 2
    folder = tmp_path / "out" / "r-0123456789abcdef"
    for name, data in (("pyodide.asm.wasm", WASM), ("pyodide.mjs", SCRIPT)):
        assert brotli.decompress((folder / f"{name}.br").read_bytes()) == data
        assert gzip.decompress((folder / f"{name}.gz").read_bytes()) == data
        assert f"r-0123456789abcdef/{name}.br" in output.files  # listed: cleaned up later
    # Zip archives are deflated already; tiny files are not worth it.
    assert not list(folder.glob("*.whl.*"))
    assert not (tmp_path / "out" / "tiny.json.br").exists()


def test_siblings_are_deterministic_and_cached(tmp_path: Path) -> None:
    first = bundle(tmp_path / "a")
    add_siblings(first, set(first.files), tmp_path / "cache")
    cached = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert len(cached) == 4  # .br and .gz of the wasm and the script, by sha256
    second = bundle(tmp_path / "b")
    add_siblings(second, set(second.files), tmp_path / "other-cache")
    for name in ("pyodide.asm.wasm.br", "pyodide.mjs.gz"):
        a = (tmp_path / "a" / "r-0123456789abcdef" / name).read_bytes()
        assert a == (tmp_path / "b" / "r-0123456789abcdef" / name).read_bytes()
    assert gzip_bytes(SCRIPT) == gzip_bytes(SCRIPT)  # no timestamp in the header
    # A second build reuses the cache and rewrites nothing.
    again = bundle(tmp_path / "a")
    again.changed = 0
    add_siblings(again, set(again.files), tmp_path / "cache")
    assert again.changed == 0
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == cached


def test_an_older_versioned_folder_is_removed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = BundleOutput(out)
    first.write("r-0000000000000000/a.js", b"old")
    first.finish({})
    second = BundleOutput(out)
    second.write("r-1111111111111111/a.js", b"new")
    assert second.finish({}) == ["r-0000000000000000/a.js"]
    assert not (out / "r-0000000000000000").exists()
    assert (out / "r-1111111111111111" / "a.js").read_bytes() == b"new"


def test_the_folder_name_follows_the_content() -> None:
    one = runtime_folder({"pyodide.mjs": "a" * 64, "t.whl": "b" * 64})
    assert one == runtime_folder({"t.whl": "b" * 64, "pyodide.mjs": "a" * 64})
    assert one != runtime_folder({"pyodide.mjs": "a" * 64, "t.whl": "c" * 64})
    assert one.startswith("r-") and one.endswith("/") and len(one) == 19


def test_the_embed_is_stamped_with_the_folder() -> None:
    source = 'const x = 1;\n  const RUNTIME_DIR = "";\n'
    assert stamp_embed(source, "r-0123456789abcdef/") == (
        'const x = 1;\n  const RUNTIME_DIR = "r-0123456789abcdef/";\n'
    )
    with pytest.raises(BuildError, match="RUNTIME_DIR"):
        stamp_embed("const x = 1;\n", "r-0123456789abcdef/")


def test_the_real_embed_has_the_line_to_stamp() -> None:
    source = assemble_embed(Path(__file__).resolve().parents[2] / "web" / "src")
    assert 'const RUNTIME_DIR = "r-0123456789abcdef/";' in stamp_embed(
        source, "r-0123456789abcdef/"
    )


def test_the_embed_is_one_function_of_every_module_in_order(tmp_path: Path) -> None:
    """web/src/ becomes one classic script: the header, then one private scope."""
    (tmp_path / "about.js").write_text("/* the embed */\n")
    for name in EMBED_MODULES:
        (tmp_path / name).write_text(f"// {name}\n")
    text = assemble_embed(tmp_path)
    assert text.startswith('/* the embed */\n(() => {\n  "use strict";\n')
    assert text.endswith("})();\n")
    positions = [text.index(f"// ---- web/src/{name} ----") for name in EMBED_MODULES]
    assert positions == sorted(positions)
    (tmp_path / "queue.js").unlink()
    with pytest.raises(BuildError, match=r"queue\.js not found"):
        assemble_embed(tmp_path)
