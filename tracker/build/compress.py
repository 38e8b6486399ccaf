"""Zstandard, brotli and gzip siblings (``name.zst``, ``name.br``, ``name.gz``) of the bundle's
compressible files.

A server (``tracker serve``, nginx's ``brotli_static``/``gzip_static``) sends the sibling the
browser accepts with ``Content-Encoding``, so nothing is compressed per request. Wheels and
Zip archives are tried too: the precompiled wheels and the embed's stdlib are *stored*
zips (tracker/build/bytecode.py, stdlib.py), which brotli shrinks to about a quarter;
Pyodide's own deflated ``python_stdlib.zip`` and the tracker's wheel would save under
10 %, so :data:`MIN_SAVING` leaves them without siblings.

A ``.zst`` is kept where it is no larger than the ``.br``, and for a file of 1 MiB or more
where it is at most 10 % larger (:data:`ZSTD_LARGE`, :data:`ZSTD_EXTRA`). The browser
decodes zstd about 3x faster than brotli (~40 ms against ~130 ms of CPU for 38 MB), on
every visit, since the HTTP cache keeps the encoded body; on two cores that CPU is taken
from the boot itself. Served zstd, the wasm, the module factory, pydantic-core and the
snapshot (0.46 MB more, +6 %) made the cold boot ~290 ms faster (995 against 1282 ms in
one interleaved run) and its longest task 53-80 ms instead of 93-157. For small files the
decode time is noise, and bytes on the wire win.
"""

from __future__ import annotations

import gzip
import importlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .errors import BuildError
from .files import sha256_of, write_atomic
from .output import BundleOutput

COMPRESSIBLE = (
    ".wasm",
    ".mjs",
    ".js",
    ".json",
    ".css",
    ".html",
    ".svg",
    ".txt",
    ".whl",
    ".zip",
    ".so",
    ".bin",
)
ENCODINGS = (".zst", ".br", ".gz")
MIN_SIZE = 1024  # below this the headers outweigh what compression saves
LARGE = 16 << 20  # bytes; above this brotli runs at a lower quality (see brotli_bytes)
MIN_SAVING = 0.1  # keep a sibling only when it is at least 10 % smaller
ZSTD_LARGE = 1 << 20  # bytes: from this size zstd's faster decode is worth some bytes
ZSTD_EXTRA = 0.1  # ... up to this much larger than the brotli sibling


def compressible(relative: str, size: int) -> bool:
    return relative.lower().endswith(COMPRESSIBLE) and size >= MIN_SIZE


def _build_extra(module: str) -> Any:
    """A compressor of the ``build`` extra, or BuildError saying how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:  # pragma: no cover - an install without the build extra
        raise BuildError(
            f"tracker build needs the {module} package: pip install 'lesson-time-tracker[build]'"
        ) from error


def brotli_bytes(data: bytes) -> bytes:
    brotli = _build_extra("brotli")
    # Quality 11 is slow (about a minute for the 9.6 MB wasm) but runs once per content:
    # the result is cached by the source's sha256. The memory snapshot (38 MB) changes
    # with every tracker build: quality 9 packs it in 10 s to 6.3 MB (quality 5: 1.6 s,
    # 6.5 MB); quality 11 would take minutes per build.
    return bytes(brotli.compress(data, quality=11 if len(data) < LARGE else 9))


# The zstd content coding of HTTP allows windows up to 8 MiB (RFC 9659); browsers refuse a
# larger one rather than decode it slowly.
ZSTD_WINDOW_LOG = 23
ZSTD_LEVEL = 19


def zstd_bytes(data: bytes) -> bytes:
    zstandard = _build_extra("zstandard")
    window = min(ZSTD_WINDOW_LOG, max(10, (len(data) - 1).bit_length()))
    params = zstandard.ZstdCompressionParameters.from_level(
        ZSTD_LEVEL, window_log=window, write_content_size=True
    )
    return bytes(zstandard.ZstdCompressor(compression_params=params).compress(data))


def gzip_bytes(data: bytes) -> bytes:
    # mtime=0 keeps the header free of the build time: same input, same bytes.
    return gzip.compress(data, compresslevel=9, mtime=0)


def _cached(data: bytes, digest: str, suffix: str, cache: Path) -> bytes:
    path = cache / f"{digest}{suffix}"
    if path.is_file():
        return path.read_bytes()
    packers = {".zst": zstd_bytes, ".br": brotli_bytes, ".gz": gzip_bytes}
    packed = packers[suffix](data)
    write_atomic(path, packed)
    return packed


def zstd_worth_it(size: int, zstd_size: int, brotli_size: int) -> bool:
    """Whether a file of ``size`` bytes ships a .zst beside its .br (see the docstring)."""
    if zstd_size <= brotli_size:
        return True
    return size >= ZSTD_LARGE and zstd_size <= brotli_size * (1 + ZSTD_EXTRA)


def add_siblings(output: BundleOutput, relatives: Iterable[str], cache: Path) -> int:
    """Writes the .zst, .br and .gz siblings worth having; returns how many files got them."""
    done = 0
    for relative in sorted(relatives):
        path = output.root / relative
        size = path.stat().st_size
        if not compressible(relative, size):
            continue
        data = path.read_bytes()
        digest = sha256_of(path)
        packed = {suffix: _cached(data, digest, suffix, cache) for suffix in ENCODINGS}
        if not zstd_worth_it(size, len(packed[".zst"]), len(packed[".br"])):
            del packed[".zst"]  # brotli serves this file
        kept = False
        for suffix, body in packed.items():
            if len(body) <= size * (1 - MIN_SAVING):
                output.write(relative + suffix, body)
                kept = True
        done += kept
    return done
