"""The bundle's file handler: precompressed siblings by Accept-Encoding, caching by version."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import brotli
import httpx
import pytest
import zstandard
from starlette.applications import Starlette
from starlette.routing import Mount

from tracker.server.static import BundleFiles, accepted_encodings

from .helpers import UvicornThread

WASM = b"\0asm\1\0\0\0" + bytes(2048)
SCRIPT = b"export const answer = 42;\n" * 100
FOLDER = "r-0123456789abcdef"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[httpx.Client]:
    bundle = tmp_path / "bundle"
    (bundle / FOLDER).mkdir(parents=True)
    for name, data in ((f"{FOLDER}/pyodide.asm.wasm", WASM), ("timeback.js", SCRIPT)):
        (bundle / name).write_bytes(data)
        (bundle / f"{name}.br").write_bytes(brotli.compress(data))
        (bundle / f"{name}.gz").write_bytes(gzip.compress(data, mtime=0))
    (bundle / FOLDER / "only-gzip.mjs").write_bytes(SCRIPT)
    (bundle / FOLDER / "only-gzip.mjs.gz").write_bytes(gzip.compress(SCRIPT, mtime=0))
    (bundle / FOLDER / "snapshot.bin").write_bytes(WASM)
    (bundle / FOLDER / "snapshot.bin.zst").write_bytes(zstandard.compress(WASM))
    (bundle / FOLDER / "snapshot.bin.br").write_bytes(brotli.compress(WASM))
    (bundle / FOLDER / "plain.whl").write_bytes(b"PK\3\4")
    (tmp_path / "secret.txt").write_text("not in the bundle")
    app = Starlette(routes=[Mount("/timeback", BundleFiles(directory=bundle))])
    with UvicornThread(app) as running, httpx.Client(base_url=running.url) as http:
        yield http


def raw(client: httpx.Client, path: str, encoding: str) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and the body as sent (read() would decode br/gzip)."""
    with client.stream("GET", path, headers={"accept-encoding": encoding}) as response:
        return response.status_code, dict(response.headers), b"".join(response.iter_raw())


def test_brotli_when_accepted(client: httpx.Client) -> None:
    status, headers, body = raw(client, f"/timeback/{FOLDER}/pyodide.asm.wasm", "gzip, br")
    assert status == 200
    assert headers["content-encoding"] == "br"
    assert headers["content-type"] == "application/wasm"
    assert headers["vary"] == "Accept-Encoding"
    assert int(headers["content-length"]) == len(body)
    assert brotli.decompress(body) == WASM


def test_zstd_where_the_build_wrote_a_zst_and_it_is_accepted_issue_8(
    client: httpx.Client,
) -> None:
    path = f"/timeback/{FOLDER}/snapshot.bin"
    _, headers, body = raw(client, path, "gzip, deflate, br, zstd")  # Chromium's header
    assert headers["content-encoding"] == "zstd"
    assert headers["content-type"] == "application/octet-stream"
    assert headers["vary"] == "Accept-Encoding"
    assert zstandard.ZstdDecompressor().decompress(body) == WASM
    # Not accepted (Safari), or refused: the .br.
    for encoding in ("gzip, deflate, br", "br, zstd;q=0"):
        _, headers, body = raw(client, path, encoding)
        assert headers["content-encoding"] == "br" and brotli.decompress(body) == WASM
    # Accepted, but the build wrote no .zst (brotli was smaller): the .br.
    _, headers, _ = raw(client, f"/timeback/{FOLDER}/pyodide.asm.wasm", "br, zstd")
    assert headers["content-encoding"] == "br"


def test_gzip_when_brotli_is_not_accepted(client: httpx.Client) -> None:
    for encoding in ("gzip, deflate", "gzip, br;q=0"):
        _, headers, body = raw(client, f"/timeback/{FOLDER}/pyodide.asm.wasm", encoding)
        assert headers["content-encoding"] == "gzip"
        assert gzip.decompress(body) == WASM
    # Brotli accepted but no .br on disk: the .gz.
    _, headers, body = raw(client, f"/timeback/{FOLDER}/only-gzip.mjs", "br, gzip")
    assert headers["content-encoding"] == "gzip"
    assert headers["content-type"] == "text/javascript; charset=utf-8"
    assert gzip.decompress(body) == SCRIPT


def test_identity_when_nothing_is_accepted(client: httpx.Client) -> None:
    for encoding in ("identity", "", "br;q=0, gzip;q=0"):
        _, headers, body = raw(client, f"/timeback/{FOLDER}/pyodide.asm.wasm", encoding)
        assert "content-encoding" not in headers
        assert headers["vary"] == "Accept-Encoding"  # a cache must not reuse it for br
        assert body == WASM
    _, headers, body = raw(client, f"/timeback/{FOLDER}/plain.whl", "br, gzip")
    assert "content-encoding" not in headers and "vary" not in headers
    assert headers["content-type"] == "application/zip"
    assert body == b"PK\3\4"


def test_versioned_files_are_immutable_the_entry_is_revalidated(client: httpx.Client) -> None:
    _, wasm, _ = raw(client, f"/timeback/{FOLDER}/pyodide.asm.wasm", "br")
    assert wasm["cache-control"] == "public, max-age=31536000, immutable"
    _, wheel, _ = raw(client, f"/timeback/{FOLDER}/plain.whl", "br")
    assert wheel["cache-control"] == "public, max-age=31536000, immutable"
    _, embed, body = raw(client, "/timeback/timeback.js", "br")
    assert embed["cache-control"] == "no-cache"
    assert embed["content-type"] == "text/javascript; charset=utf-8"
    assert brotli.decompress(body) == SCRIPT
    # Revalidation of the entry: its ETag, per encoding, answers 304.
    again = client.get(
        "/timeback/timeback.js",
        headers={"accept-encoding": "br", "if-none-match": embed["etag"]},
    )
    assert again.status_code == 304
    assert again.headers["cache-control"] == "no-cache"
    _, gzipped, _ = raw(client, "/timeback/timeback.js", "gzip")
    assert gzipped["etag"] != embed["etag"]


def test_no_path_outside_the_bundle(client: httpx.Client) -> None:
    for path in (
        "/timeback/../secret.txt",
        "/timeback/%2e%2e/secret.txt",
        "/timeback/r-0123456789abcdef/../../secret.txt",
        "/timeback/missing.js",
    ):
        status, _, body = raw(client, path, "br, gzip")
        assert status == 404, path
        assert b"not in the bundle" not in body


def test_accept_encoding_parsing() -> None:
    assert accepted_encodings("gzip, deflate, br, zstd") == {"gzip", "deflate", "br", "zstd"}
    assert accepted_encodings("br;q=0, GZIP;q=0.5") == {"gzip"}
    assert accepted_encodings("br; q=0.0") == set()
    assert accepted_encodings("") == set()
