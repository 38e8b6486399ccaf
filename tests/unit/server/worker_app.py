"""The API as each uvicorn worker process of ``test_workers`` builds it (an app factory).

Identity comes from the ``x-user`` header, as in the other route tests; the store and the
Caliper sink from the environment (``TRACKER_DB``, ``CALIPER_*``), as ``tracker serve`` reads
them.
"""

from __future__ import annotations

import os

from starlette.requests import Request
from starlette.types import ASGIApp

from tracker.server import Settings, TimebackServer


def _identity(request: Request) -> str | None:
    return request.headers.get("x-user")


def make_app() -> ASGIApp:
    settings = Settings.from_env(config_path=os.environ["TRACKER_CONFIG"])
    # The windows of the test are days old: the server's "now" is the tests' fixed now.
    server = TimebackServer(
        settings, get_email=_identity, clock=lambda: int(os.environ["TEST_NOW_MS"])
    )
    # The app with its middleware (checks, error map) and its own lifespan (the outbox).
    return server.app
