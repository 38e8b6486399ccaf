"""The e2e web site: bundle, test pages, app config and the recorded API, on 127.0.0.1.

/api/timeback/...          the Recorder (in front of the stub or the real server)
/timeback/...              the bundle (dist/timeback)
/timeback.config.json      the test courses
/variants/ok/...           the bundle again under another prefix (URLs must be relative)
/variants/no-runtime/...   only timeback.js: the runtime is missing (a boot failure)
/variants/bad-lock/...     the bundle with a lock whose tracker sha256 is wrong (and no
                           memory snapshot, so that the lock is what the boot uses)
/variants/bad-snapshot/... the bundle with a corrupt memory snapshot (bytes flipped)
/variants/slow/...         the bundle, with pyodide.mjs held back SLOW_BOOT_S: a boot that is
                           slow for sure, while the page's main thread stays free
/...                       tests/e2e/pages
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from .recorder import Recorder

# Pyodide needs these exact types (wasm streaming compilation checks application/wasm);
# the system's mime.types is not to be trusted for them.
MEDIA_TYPES = {
    ".mjs": "text/javascript",
    ".js": "text/javascript",
    ".wasm": "application/wasm",
    ".json": "application/json",
    ".whl": "application/zip",
    ".zip": "application/zip",
}
# Revalidate every time: a rebuilt bundle is picked up at once, and unchanged files cost a
# 304 (the build keeps their mtimes).
NO_CACHE = "no-cache"
# How long /variants/slow/ holds the runtime back: every boot there outlasts it.
SLOW_BOOT_S = 4.0

TEST_CONFIG: dict[str, Any] = {
    "name": "Tracker e2e",
    "sensor": "http://127.0.0.1/sensors/e2e",
    "courses": [
        {"subject": "Math", "grade": 3},
        {"subject": "Reading", "courseCode": "READ-1"},
    ],
}


def _typed(response: Response, path: str) -> Response:
    media_type = MEDIA_TYPES.get(os.path.splitext(path)[1])
    if media_type:
        response.headers["content-type"] = media_type
    response.headers["cache-control"] = NO_CACHE
    return response


class BundleFiles(StaticFiles):
    def file_response(self, full_path: Any, *args: Any, **kwargs: Any) -> Response:
        return _typed(super().file_response(full_path, *args, **kwargs), str(full_path))


class Site:
    """ASGI entry: the API prefix goes to the recorder with uvicorn's own ``send``.

    Not routed through Starlette: its middleware wraps ``send``, and the recorder needs
    the original one to drop connections.
    """

    def __init__(
        self,
        bundle: Path,
        pages: Path,
        recorder: Recorder,
        config: dict[str, Any],
        examples: Path | None = None,
    ):
        self.recorder = recorder
        self.config = config
        self.bundle = bundle
        examples_mount = (
            [Mount("/examples", BundleFiles(directory=examples, html=True, check_dir=False))]
            if examples
            else []
        )
        self.web = Starlette(
            routes=[
                Route("/timeback.config.json", self._config),
                Route("/variants/{variant}/{path:path}", self._variant),
                Mount("/timeback", BundleFiles(directory=bundle)),
                # Front-end examples built by a test (tests/e2e/frontend.py), when it runs.
                *examples_mount,
                Mount("/", StaticFiles(directory=pages, html=True)),
            ]
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan" or (
            scope["type"] == "http" and scope["path"].startswith(self.recorder.base + "/")
        ):
            await self.recorder(scope, receive, send)
            return
        await self.web(scope, receive, send)

    async def _config(self, request: Request) -> Response:
        return JSONResponse(self.config, headers={"cache-control": NO_CACHE})

    async def _variant(self, request: Request) -> Response:
        variant, path = request.path_params["variant"], request.path_params["path"]
        file = (self.bundle / path).resolve()
        if not file.is_relative_to(self.bundle.resolve()) or not file.is_file():
            return Response(status_code=404)
        if variant == "no-runtime" and path != "timeback.js":
            return Response(status_code=404)
        if variant == "bad-lock" and os.path.basename(path) == "snapshot.json":
            return Response(status_code=404)
        if variant == "bad-snapshot" and os.path.basename(path) == "snapshot.bin":
            data = bytearray(file.read_bytes())
            middle = len(data) // 2
            data[middle : middle + 64] = bytes(byte ^ 0xFF for byte in data[middle : middle + 64])
            return _typed(Response(bytes(data)), path)
        if variant == "bad-lock" and os.path.basename(path) == "pyodide-lock.json":
            lock = json.loads(file.read_text())
            lock["packages"]["lesson-time-tracker"]["sha256"] = "0" * 64
            return _typed(Response(json.dumps(lock)), path)
        if variant not in ("ok", "no-runtime", "bad-lock", "bad-snapshot", "slow"):
            return Response(status_code=404)
        if variant == "slow" and os.path.basename(path) == "pyodide.mjs":
            await asyncio.sleep(SLOW_BOOT_S)
        return _typed(FileResponse(file), path)


@dataclass(frozen=True)
class LiveSite:
    """What tests get: the server's base URL, its recorder and the bundle it serves."""

    url: str
    recorder: Recorder
    bundle: Path


class ServerThread:
    """uvicorn serving an ASGI app on 127.0.0.1 (a free port) in a daemon thread."""

    def __init__(self, app: ASGIApp) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            http="h11",  # the recorder's connection drop relies on h11's cycle object
            proxy_headers=False,
            lifespan="auto",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        self._thread.join(0)
        waited = 0.0
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the e2e server thread died while starting")
            if waited > timeout:
                raise TimeoutError("the e2e server did not start")
            threading.Event().wait(0.02)
            waited += 0.02

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()
