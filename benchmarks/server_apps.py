"""The apps ``benchmarks/server.py`` serves with uvicorn (app factories, one per process).

``floor``: bare Starlette answering 204, the HTTP floor of this uvicorn on this machine.
``tracker``: the wire-protocol API with a fixed-by-header identity, its store from
``TRACKER_DB`` (a SQLite file or a PostgreSQL URL), as ``tracker serve`` opens it.
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from tracker.server import Settings, TimebackServer


async def _no_content(request: Request) -> Response:
    await request.body()
    return Response(status_code=204)


def floor() -> Starlette:
    paths = ("/activity/heartbeat", "/activity/submit")
    return Starlette(routes=[Route(path, _no_content, methods=["POST"]) for path in paths])


def _identity(request: Request) -> str | None:
    return request.headers.get("x-user")


def tracker() -> ASGIApp:
    settings = Settings.from_env(config_path=os.environ["TRACKER_CONFIG"])
    server = TimebackServer(settings, get_email=_identity)
    # The app itself, with its middleware (checks, error map) and lifespan (the outbox).
    return server.app
