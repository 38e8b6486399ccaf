"""``tracker demo`` and ``tracker serve``: the API, the bundle and the demo site on one server.

    tracker demo [--host H] [--port P] [--data DIR] [--config FILE] [--bundle DIR]
    tracker demo --static OUT      the demo as plain files, no server needed

``demo`` builds the browser bundle first (only what changed), uses the demo's own
``timeback.config.json`` unless one is given, prints the URL once the server listens, and
stops cleanly on Ctrl-C. ``serve`` is the same site without the build step and with the
config lookup of ``tracker.server.main`` (--config, TRACKER_CONFIG, ./timeback.config.json).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import os
import socket
import sqlite3
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import uvicorn

from ..errors import TrackerError
from ..server.main import config_path
from .catalogue import default_config, web_root
from .site import compose


def say(message: str, command: str = "demo") -> None:
    """Progress on stderr (stdout carries only the URL line)."""
    print(f"tracker {command}: {message}", file=sys.stderr, flush=True)


def startup_error(exc: BaseException) -> str:
    """One line for a start-up failure; an OSError names its file."""
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or exc}"
    if isinstance(exc, sqlite3.Error):
        return f"database: {exc}"
    return " ".join(str(exc).split()) or type(exc).__name__


def _demo_config(args: argparse.Namespace, environ: Mapping[str, str]) -> None:
    """``tracker demo`` serves the demo's courses unless a config is given."""
    if config_path(args, environ) is None and not environ.get("TRACKER_CONFIG"):
        args.config = str(default_config())


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


class _Server(uvicorn.Server):
    """uvicorn's server, telling us once it listens."""

    def __init__(self, config: uvicorn.Config, *, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._on_started()


def run(args: argparse.Namespace, *, banner: str) -> int:
    """Serves the composed site until Ctrl-C (or SIGTERM); 0 on a clean stop."""
    command = str(getattr(args, "command", None) or "demo")
    try:
        sock = _listen(args.host, args.port)
    except OSError as exc:
        hint = (
            " (try --port with another number, or --port 0)"
            if exc.errno
            in (
                errno.EADDRINUSE,
                errno.EACCES,
            )
            else ""
        )
        say(f"cannot listen on {args.host}:{args.port}: {exc}{hint}", command)
        return 2
    try:
        composed = compose(args)
    except (TrackerError, OSError, sqlite3.Error) as exc:
        # An operator's mistake (a bad setting, a data folder that is a file, read-only or
        # full, a corrupt database): one line naming it, exit 2, no traceback.
        sock.close()
        say(startup_error(exc), command)
        return 2
    port = sock.getsockname()[1]
    url = _url(args.host, port)
    config = uvicorn.Config(
        composed.site, log_level="warning", access_log=False, lifespan="on", proxy_headers=False
    )
    settings = composed.server.settings
    say(f"store {settings.database} (sink {settings.sink}), config {settings.config_path}", command)
    demo_login = bool(getattr(args, "demo_login", False))
    if command == "serve" and settings.identity == "none" and not demo_login:
        say("no identity chosen (TRACKER_IDENTITY): the API answers 401 to everyone;", command)
        say("see docs/security.md, or --demo-login for a demo on a trusted network", command)

    def started() -> None:
        # stdout, one line, so that scripts and tests can read the URL.
        print(f"{banner} {url}", flush=True)
        say("press Ctrl-C to stop", command)

    server = _Server(config, on_started=started)
    try:
        asyncio.run(server.serve(sockets=[sock]))
    except KeyboardInterrupt:
        pass
    finally:
        composed.close()
        sock.close()
    say("stopped", command)
    return 0


def demo(args: argparse.Namespace) -> int:
    """``tracker demo``: build what changed, then serve the demo (or write it as files)."""
    from ..build import BuildError, build_bundle

    environ = os.environ
    started = time.monotonic()
    try:
        web_root()
        _demo_config(args, environ)
        say(f"browser bundle in {args.bundle} (only what changed is rebuilt)")
        build_bundle(out=args.bundle, cache=str(Path(args.cache)))
    except (TrackerError, BuildError) as exc:
        say(str(exc))
        return 2
    say(f"bundle ready ({time.monotonic() - started:.1f} s)")
    if getattr(args, "static", None):
        from .static import build_static

        try:
            out = build_static(
                Path(args.static),
                bundle=Path(args.bundle),
                config=args.config,
                cache=Path(args.cache),
            )
        except TrackerError as exc:
            say(str(exc))
            return 2
        say(f"static site written to {out}: serve that folder with any static file server,")
        say(f"e.g. python3 -m http.server -d {out} 8080, then open http://127.0.0.1:8080/")
        return 0
    return run(args, banner="Demo running at")


def serve(args: argparse.Namespace) -> int:
    """``tracker serve``: the API, the bundle and the demo site (no build step)."""
    with contextlib.suppress(TrackerError):
        web_root()
    if getattr(args, "workers", 1) != 1:
        from ..server.workers import serve_workers

        return serve_workers(args, say)
    return run(args, banner="Serving at")
