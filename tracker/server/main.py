"""``tracker serve`` / ``tracker demo``: the API, the browser bundle and (later) the demo site.

/api/timeback/...        the wire-protocol routes (TimebackServer.app)
/auth/login, /auth/logout  session cookie sign-in (SessionAuth) for demos
/timeback/...            the browser bundle folder (--bundle)
/timeback.config.json    the config the server uses (--config)
/...                     a demo site, when one is passed to build_site()
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp

from ..errors import TrackerError
from .auth import SessionAuth, load_secret
from .errors import ErrorBoundary
from .guards import UNSAFE_METHODS, OriginGuard
from .headers import SecurityHeaders
from .pipeline import now_ms
from .server import TimebackServer
from .settings import Settings

API_PREFIX = "/api/timeback"
BUNDLE_PREFIX = "/timeback"
DB_FILE = "tracker.sqlite3"
CONFIG_CANDIDATES = ("timeback.config.json",)

log = logging.getLogger("tracker.server")


def config_path(args: argparse.Namespace, environ: Mapping[str, str]) -> Path | None:
    """``--config``, then ``TRACKER_CONFIG``, then ``./timeback.config.json``."""
    if args.config:
        return Path(args.config)
    if environ.get("TRACKER_CONFIG"):
        return None  # Settings.from_env reads it
    for candidate in CONFIG_CANDIDATES:
        if Path(candidate).is_file():
            return Path(candidate)
    return None


def build_site(
    args: argparse.Namespace,
    *,
    demo: ASGIApp | None = None,
    environ: Mapping[str, str] | None = None,
    clock: Callable[[], int] = now_ms,
) -> tuple[Starlette, TimebackServer]:
    """The whole site of ``tracker serve``; raises SettingsError/StoreError on a bad setup."""
    environ = os.environ if environ is None else environ
    data = Path(args.data)
    overrides: dict[str, object] = {}
    if not environ.get("TRACKER_DB"):
        overrides["database"] = data / DB_FILE
    path = config_path(args, environ)
    if path is not None:
        overrides["config_path"] = path
    settings = Settings.from_env(environ, **overrides)
    secret = load_secret(data)
    auth = SessionAuth(secret, allowed_origins=settings.allowed_origins)
    server = TimebackServer(settings, get_email=auth.get_email, clock=clock, subject_secret=secret)
    served_config = settings.config_path

    async def config_file(request: Request) -> Response:
        assert served_config is not None
        return FileResponse(served_config, media_type="application/json")

    routes: list[BaseRoute] = [
        Mount(API_PREFIX, app=server.app),
        Mount("/auth", app=auth.app()),
        Route("/timeback.config.json", config_file, methods=["GET"]),
        Mount(BUNDLE_PREFIX, app=_bundle(Path(args.bundle)), name="bundle"),
    ]
    if demo is not None:
        routes.append(Mount("/", app=demo))
    site = Starlette(
        routes=routes,
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(ErrorBoundary),
            # The demo's own POST/PUT routes, and whatever else writes: same site only.
            Middleware(
                OriginGuard, allowed_origins=settings.allowed_origins, methods=UNSAFE_METHODS
            ),
        ],
        lifespan=server.lifespan,
    )
    site.state.timeback = server
    return site, server


def _bundle(folder: Path) -> ASGIApp:
    from .static import BundleFiles

    if not folder.is_dir():
        log.warning("bundle folder %s does not exist yet: run `tracker build`", folder)
    return BundleFiles(directory=folder, check_dir=False)


def serve(args: argparse.Namespace, *, demo: ASGIApp | None = None) -> int:
    import uvicorn

    try:
        site, server = build_site(args, demo=demo)
    except TrackerError as exc:
        print(f"tracker {args.command if 'command' in args else 'serve'}: {exc}", file=sys.stderr)
        return 2
    print(
        f"tracker: http://{args.host}:{args.port}{API_PREFIX} "
        f"(sink {server.settings.sink}, database {server.settings.database})",
        file=sys.stderr,
    )
    try:
        uvicorn.run(site, host=args.host, port=args.port, log_level="info")
    finally:
        server.close()
    return 0


def demo(args: argparse.Namespace) -> int:
    """The demo site is issue 5; until it lands this serves the API and the bundle."""
    print(
        "tracker demo: the demo site is not built yet; serving the API and the bundle only",
        file=sys.stderr,
    )
    return serve(args)
