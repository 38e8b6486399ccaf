"""The app server: wire-protocol routes, the event pipeline, Caliper sinks, ``activity.record()``.

    from tracker.server import Settings, TimebackServer

    timeback = TimebackServer(Settings.from_env(config_path="timeback.config.json"),
                              get_email=lambda request: request.session.get("email"))
    app.mount("/api/timeback", timeback.app)
    await timeback.activity.record({...})

Needs the ``server`` extra (Starlette, uvicorn, httpx, itsdangerous).
"""

from .errors import ApiError
from .identity import GetEmail
from .pipeline import CompletionResult
from .record import RecordParams
from .server import TimebackServer, create_app
from .settings import Settings, SettingsError
from .store import StoreError

__all__ = [
    "ApiError",
    "CompletionResult",
    "GetEmail",
    "RecordParams",
    "Settings",
    "SettingsError",
    "StoreError",
    "TimebackServer",
    "create_app",
]
