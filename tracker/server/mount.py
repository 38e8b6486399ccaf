"""Mounting the API in an app that is not Starlette (Django, or any ASGI app).

Starlette and FastAPI mount ``timeback.app`` with ``Mount``/``app.mount``. Other ASGI apps
have no mount: ``PrefixRouter`` sends the requests under a prefix to the tracker's app and
everything else to the host app, the way Starlette's ``Mount`` does (``root_path`` grows by
the prefix, ``path`` stays whole), so the tracker's routes and redirects resolve as if
mounted.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import ASGIApp, Receive, Scope, Send


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
