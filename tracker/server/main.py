"""``tracker serve`` / ``tracker demo``: the API, the browser bundle and (later) the demo site.

/api/timeback/...        the wire-protocol routes (TimebackServer.app)
/auth/login, /auth/logout  the demo sign-in (SessionAuth): only with `tracker demo` or
                         `tracker serve --demo-login`
/timeback/...            the browser bundle folder (--bundle)
/timeback.config.json    the config the server uses (--config)
/...                     a demo site, when one is passed to build_site()
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp

from .auth import load_secret
from .errors import ErrorBoundary
from .guards import UNSAFE_METHODS, HostAllowlist, OriginGuard
from .headers import SecurityHeaders
from .pipeline import now_ms
from .server import TimebackServer
from .settings import Settings
from .site_identity import choose_identity
from .store import Store

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
    store: Store | None = None,
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
    secret = load_secret(data)  # first: an unusable secret is the first thing to fix
    settings = Settings.from_env(environ, **overrides)
    demo_login = bool(getattr(args, "demo_login", False)) or args.command == "demo"
    identity = choose_identity(settings, demo_login=demo_login, secret=secret, data=data)
    try:
        server = TimebackServer(
            settings,
            get_email=identity.get_email,
            clock=clock,
            subject_secret=secret,
            store=store,
        )
    except BaseException:
        identity.close()
        raise
    server.on_close(identity.close)
    served_config = settings.config_path

    async def config_file(request: Request) -> Response:
        assert served_config is not None
        return FileResponse(served_config, media_type="application/json")

    routes: list[BaseRoute] = [
        Mount(API_PREFIX, app=server.app),
        Route("/timeback.config.json", config_file, methods=["GET"]),
        Mount(BUNDLE_PREFIX, app=_bundle(Path(args.bundle)), name="bundle"),
    ]
    if identity.session is not None:
        # The passwordless sign-in exists only when asked for (tracker demo, --demo-login).
        routes.append(Mount("/auth", app=identity.session.app()))
    if demo is not None:
        routes.append(Mount("/", app=demo))
    site = Starlette(
        routes=routes,
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(ErrorBoundary),
            Middleware(HostAllowlist, allowed_hosts=settings.allowed_hosts),
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
    from .mount import check_bundle_version
    from .static import BundleFiles

    if not folder.is_dir():
        log.warning("bundle folder %s does not exist yet: run `tracker build`", folder)
    else:
        check_bundle_version(folder)  # a bundle of another release refuses to be served
    return BundleFiles(directory=folder, check_dir=False)
