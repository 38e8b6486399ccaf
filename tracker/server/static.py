"""The browser bundle as static files: the types browsers insist on, the precompressed
siblings that ``tracker build`` writes, and caching by version.

A request for ``x.bin`` is answered with ``x.bin.zst`` when the browser accepts zstd and the
build wrote one (only where it is no larger than brotli's), else ``x.bin.br`` when it
accepts brotli, else ``x.bin.gz`` when it accepts gzip, else ``x.bin`` itself; the siblings
are files on disk (tracker/build/compress.py), nothing is compressed per request. Files in
the versioned folder (``r-<hash>/``, named after its content) never change under their URL:
they are cached for a year as immutable. Everything else (timeback.js, which names that folder,
and configs) is revalidated on every load, so a new build is picked up at once.
"""

from __future__ import annotations

import mimetypes
import os
import re

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

# Module scripts need a JavaScript type and WebAssembly.instantiateStreaming needs
# application/wasm; the platform's mimetypes table does not always know .mjs.
MEDIA_TYPES = {
    ".mjs": "text/javascript; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".wasm": "application/wasm",
    ".json": "application/json",
    ".whl": "application/zip",
    ".zip": "application/zip",
}
# Preferred first: a .zst exists only where it is no larger than the .br and decodes faster;
# brotli is about 20 % smaller than gzip on the wasm.
ENCODINGS = (("zstd", ".zst"), ("br", ".br"), ("gzip", ".gz"))
VERSIONED_FOLDER = re.compile(r"r-[0-9a-f]{16}")
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"


def accepted_encodings(header: str) -> set[str]:
    """The codings of an Accept-Encoding header, without those refused by ``q=0``."""
    accepted = set()
    for item in header.split(","):
        name, _, params = item.strip().partition(";")
        quality = params.strip().removeprefix("q=").strip() if params else "1"
        try:
            refused = float(quality) == 0
        except ValueError:
            refused = False
        if name.strip() and not refused:
            accepted.add(name.strip().lower())
    return accepted


def cache_control(full_path: str) -> str:
    folder = os.path.basename(os.path.dirname(full_path))
    return IMMUTABLE if VERSIONED_FOLDER.fullmatch(folder) else REVALIDATE


class BundleFiles(StaticFiles):
    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        path = str(full_path)
        served, stat, coding = path, stat_result, None
        accepted = accepted_encodings(Headers(scope=scope).get("accept-encoding", ""))
        for name, suffix in ENCODINGS:
            if name in accepted or "*" in accepted:
                try:
                    sibling = os.stat(path + suffix)
                except OSError:
                    continue
                served, stat, coding = path + suffix, sibling, name
                break
        response = super().file_response(served, stat, scope, status_code)
        # The type of what was asked for, not of the .br/.gz sibling sent in its place.
        media_type = MEDIA_TYPES.get(os.path.splitext(path)[1].lower())
        media_type = media_type or mimetypes.guess_type(path)[0]
        if media_type is not None:
            response.headers["content-type"] = media_type
        if coding is not None:
            response.headers["content-encoding"] = coding
        if self._has_siblings(path):
            response.headers["vary"] = "Accept-Encoding"
        response.headers["cache-control"] = cache_control(path)
        # The bundle is public and may be loaded by lesson pages of other origins (a CDN-like
        # static host): the runtime's module import and its fetches are CORS requests.
        response.headers["access-control-allow-origin"] = "*"
        return response

    @staticmethod
    def _has_siblings(path: str) -> bool:
        return any(os.path.isfile(path + suffix) for _, suffix in ENCODINGS)
