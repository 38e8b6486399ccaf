"""``tracker build``'s precompressed siblings and versioned folder (no network)."""

from __future__ import annotations

import gzip
import io
import random
import zipfile
from pathlib import Path

import brotli
import pytest
import zstandard

from tracker.build import BuildError
from tracker.build.bundle import runtime_folder, stamp_embed
from tracker.build.compress import (
    ZSTD_LARGE,
    ZSTD_WINDOW_LOG,
    add_siblings,
    gzip_bytes,
    zstd_bytes,
    zstd_worth_it,
)
from tracker.build.embed import EMBED_MODULES, assemble_embed
from tracker.build.output import BundleOutput

WASM = b"\0asm\1\0\0\0" + bytes(range(256)) * 64  # 16 KB, compressible
SCRIPT = b"export const answer = 42;\n" * 200
# A zip whose members are already compressed: here, bytes no compressor can shrink.
WEB_SRC = Path(__file__).resolve().parents[2] / "web" / "src"
DEFLATED_WHEEL = b"PK" + random.Random(8).randbytes(4096)


def stored_zip() -> bytes:
    """A stored (uncompressed) zip of bytecode-like text, as the build repacks wheels."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("pkg/module.pyc", SCRIPT * 4)
    return buffer.getvalue()


def bundle(root: Path) -> BundleOutput:
    output = BundleOutput(root)
    output.write("r-0123456789abcdef/pyodide.asm.wasm", WASM)
    output.write("r-0123456789abcdef/pyodide.mjs", SCRIPT)
    output.write("r-0123456789abcdef/w-1-py3-none-any.whl", DEFLATED_WHEEL)
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
    # A zip deflated already gains nothing; tiny files are not worth it.
    assert not list(folder.glob("*.whl.*"))
    assert not (tmp_path / "out" / "tiny.json.br").exists()


def test_zstd_is_worth_some_bytes_only_for_large_files_issue_8() -> None:
    """Its faster decode pays for up to 10 % more bytes from 1 MiB on, never below."""
    assert zstd_worth_it(100, zstd_size=50, brotli_size=50)  # no larger: always
    assert not zstd_worth_it(ZSTD_LARGE - 1, zstd_size=105, brotli_size=100)
    assert zstd_worth_it(ZSTD_LARGE, zstd_size=110, brotli_size=100)
    assert not zstd_worth_it(ZSTD_LARGE * 9, zstd_size=111, brotli_size=100)


def test_a_zst_is_shipped_only_where_it_is_worth_it_issue_8(
    tmp_path: Path,
) -> None:
    """Bytes on the wire first for small files; decode time counts for large ones."""
    output = bundle(tmp_path / "out")
    # Snapshot-like bytes (short words among runs of zeros) that zstd packs tighter than
    # brotli; the loader's real JavaScript, where brotli (with its dictionary of web text) wins.
    rng = random.Random(3)
    words = [rng.randbytes(rng.randint(2, 12)) for _ in range(4000)]
    snapshot = b"".join(rng.choice(words) + bytes(rng.randint(0, 40)) for _ in range(60000))
    output.write("r-0123456789abcdef/snapshot.bin", snapshot)
    output.write("r-0123456789abcdef/runtime.js", (WEB_SRC / "runtime.js").read_bytes())
    add_siblings(output, set(output.files), tmp_path / "cache")
    folder = tmp_path / "out" / "r-0123456789abcdef"
    shipped = []
    for name in ("pyodide.asm.wasm", "pyodide.mjs", "runtime.js", "snapshot.bin"):
        data = (folder / name).read_bytes()
        worth = zstd_worth_it(
            len(data), len(zstd_bytes(data)), len((folder / f"{name}.br").read_bytes())
        )
        zst = folder / f"{name}.zst"
        assert zst.exists() == worth, name
        if worth:
            shipped.append(name)
            packed = zst.read_bytes()
            frame = zstandard.get_frame_parameters(packed)
            assert frame.window_size <= 1 << ZSTD_WINDOW_LOG  # what browsers decode
            assert frame.content_size == len(data)
            decoder = zstandard.ZstdDecompressor(max_window_size=1 << ZSTD_WINDOW_LOG)
            assert decoder.decompress(packed) == data
    assert "snapshot.bin" in shipped and "runtime.js" not in shipped  # both ways seen


def test_a_stored_zip_gets_siblings(tmp_path: Path) -> None:
    # The precompiled wheels and the embed's stdlib are stored zips: brotli does the work.
    output = BundleOutput(tmp_path / "out")
    data = stored_zip()
    output.write("r-0123456789abcdef/python_stdlib_slim.zip", data)
    assert add_siblings(output, set(output.files), tmp_path / "cache") == 1
    packed = (tmp_path / "out/r-0123456789abcdef/python_stdlib_slim.zip.br").read_bytes()
    assert brotli.decompress(packed) == data and len(packed) < len(data) / 4


def test_siblings_are_deterministic_and_cached(tmp_path: Path) -> None:
    first = bundle(tmp_path / "a")
    add_siblings(first, set(first.files), tmp_path / "cache")
    cached = sorted(p.name for p in (tmp_path / "cache").iterdir())
    # .zst, .br and .gz of the wasm, the script and the wheel (tried; not all are shipped)
    assert len(cached) == 9
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
