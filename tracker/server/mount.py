"""Mounting the API in an app that is not Starlette (Django, or any ASGI app).

Starlette and FastAPI mount ``timeback.app`` with ``Mount``/``app.mount``. Other ASGI apps
have no mount: ``PrefixRouter`` sends the requests under a prefix to the tracker's app and
everything else to the host app, the way Starlette's ``Mount`` does (``root_path`` grows by
the prefix, ``path`` stays whole), so the tracker's routes and redirects resolve as if
mounted.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from .. import __version__
from .server import TimebackServer
from .settings import SettingsError
from .static import BundleFiles

log = logging.getLogger("tracker.server")


class PrefixRouter:
    """``PrefixRouter({"/api/timeback": timeback.app}, default=django_app)``."""

    def __init__(self, mounts: Mapping[str, ASGIApp], *, default: ASGIApp) -> None:
        for prefix in mounts:
            if not prefix.startswith("/") or prefix.endswith("/"):
                raise ValueError(f"mount prefix {prefix!r} must start and not end with '/'")
        # Longest first, so "/api/timeback" wins over "/api".
        self.mounts = sorted(mounts.items(), key=lambda item: -len(item[0]))
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            root = scope.get("root_path", "")
            path: str = scope["path"]
            below = path[len(root) :] if path.startswith(root) else path
            for prefix, app in self.mounts:
                if below == prefix or below.startswith(prefix + "/"):
                    await app({**scope, "root_path": root + prefix}, receive, send)
                    return
        # lifespan and the rest: the host app's (the tracker's app starts on first use).
        await self.default(scope, receive, send)


def check_bundle_version(folder: Path) -> str | None:
    """The bundle's tracker version; a bundle of another release refuses to be served.

    The browser tracker and the server speak one protocol version: a bundle left from an
    older ``tracker build`` next to a newer server is the mistake this catches at start-up.
    Only the release part is compared (``0.1.0`` of ``0.1.0+g1234``): local builds of one
    release are compatible. None when the folder holds no bundle yet.
    """
    manifest = folder / "bundle.json"
    if not manifest.is_file():
        return None
    try:
        version = str(json.loads(manifest.read_text())["versions"]["tracker"])
    except (ValueError, KeyError, TypeError) as exc:
        raise SettingsError(f"{manifest}: not a bundle manifest of tracker build") from exc
    if version.split("+")[0] != __version__.split("+")[0]:
        raise SettingsError(
            f"the browser bundle in {folder} is tracker {version}, this server is "
            f"{__version__}: run `tracker build` (or install matching versions)"
        )
    return version


def timeback_routes(
    server: TimebackServer,
    *,
    bundle: str | Path = "dist/timeback",
    api_path: str = "/api/timeback",
    bundle_path: str = "/timeback",
    config_path: str = "/timeback.config.json",
) -> list[BaseRoute]:
    """Everything a lesson page loads from the app: the API, the bundle and the config.

    ``Starlette(routes=[*timeback_routes(timeback), ...])``: the page's tag then is
    ``<script src="/timeback/timeback.js" data-base="/api/timeback"
    data-config="/timeback.config.json">``. The bundle is served with its precompressed
    siblings and immutable caching of the versioned folder (see docs/deploy-static.md).
    """
    folder = Path(bundle)
    if check_bundle_version(folder) is None:
        log.warning("no browser bundle in %s yet: run `tracker build`", folder)
    settings = server.settings

    async def config_file(request: Request) -> Response:
        if settings.config_path is not None:
            return FileResponse(settings.config_path, media_type="application/json")
        assert settings.config is not None  # Settings.checked(): a path or a config
        return JSONResponse(
            settings.config.model_dump(mode="json", by_alias=True, exclude_none=True)
        )

    return [
        Mount(api_path, app=server.app),
        Route(config_path, config_file, methods=["GET"]),
        Mount(bundle_path, app=BundleFiles(directory=folder, check_dir=False)),
    ]
