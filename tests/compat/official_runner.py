"""Runs the official ``timeback-sdk`` FastAPI router on 127.0.0.1 (inside the Python 3.12 venv).

    python3.12 official_runner.py --port P --platform http://127.0.0.1:F --config C --env staging

Identity: the ``X-Test-Email`` request header (the official's custom identity mode), as our
server gets it in the suite. The platform's fixed URLs are pointed at the fake platform by
rewriting the SDK's endpoint tables in place before any client exists; nothing else of the
SDK is changed. Imports are dynamic because this file is type-checked in a venv without the
SDK (it never runs there).
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

IDENTITY_HEADER = "x-test-email"


def point_sdk_at(platform: str, env: str) -> None:
    """The SDK hard-codes its platform URLs per env; the suite's platform is local."""
    constants = importlib.import_module("timeback_core.constants")
    config = importlib.import_module("timeback_common.config")
    constants.SERVICE_URLS[env].update(
        api=platform, caliper=platform, qti=platform, token=f"{platform}/oauth2/token"
    )
    config.BEYONDAI_API_URLS[env] = platform
    config.BEYONDAI_CALIPER_URLS[env] = platform
    config.BEYONDAI_QTI_URLS[env] = platform
    config.BEYONDAI_TOKEN_URLS[env] = f"{platform}/oauth2/token"


def build_app(config_path: str, env: str, client_id: str) -> Any:
    fastapi = importlib.import_module("fastapi")
    timeback = importlib.import_module("timeback.server")
    adapter = importlib.import_module("timeback.server.adapters.fastapi")

    def get_email(request: Any) -> str | None:
        return request.headers.get(IDENTITY_HEADER) or None

    sdk = adapter.TimebackFastAPI(
        timeback.TimebackConfig(
            env=env,
            api=timeback.ApiCredentials(client_id=client_id, client_secret="secret"),
            identity=timeback.CustomIdentityConfig(get_email=get_email),
            config_path=config_path,
        )
    )
    app = fastapi.FastAPI()
    app.include_router(sdk.router, prefix="/api/timeback")
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--platform", required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--env", default="staging")
    parser.add_argument("--client-id", default="official")
    args = parser.parse_args()
    point_sdk_at(args.platform, "production" if args.env == "production" else "staging")
    uvicorn = importlib.import_module("uvicorn")
    app = build_app(args.config, args.env, args.client_id)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
