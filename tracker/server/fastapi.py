"""The API as a FastAPI ``APIRouter``: ``app.include_router(timeback_router(timeback),
prefix="/api/timeback")``, with the routes, their bodies and answers in the app's OpenAPI.

Each route only documents; the request itself is handed, unchanged, to ``timeback.app``
(the way ``Mount`` would hand it), so the origin, size and JSON checks, the lenient reads,
the error shape and the identity are exactly those of the mounted app. FastAPI does not
parse the body: a model-parsed body would answer 422 where the protocol says 400.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ..wire import HEARTBEAT_PATH, ME_PATH, SUBMIT_PATH, VERIFY_PATH, HeartbeatBody, SubmitBody
from .server import TimebackServer

_ERROR = {"description": "refused: `{error: {code, message, details}}`"}


class _Forward:
    """ASGI app of one route: the request goes to the tracker's app at the right root."""

    def __init__(self, app: ASGIApp, path: str) -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        full: str = scope["path"]
        # What precedes the route's own path is where the router was included.
        root = full[: len(full) - len(self.path)] if full.endswith(self.path) else ""
        await self.app({**scope, "root_path": root}, receive, send)


class _ForwardingRoute(APIRoute):
    """Documented like any APIRoute, answered by the tracker's app.

    ``handle`` is the hook both ways FastAPI includes a router go through (older versions
    rebuild the route with the prefix, newer ones keep it and match with the prefix), so
    what to forward to and the path inside the app travel on the endpoint.
    """

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.methods and scope["method"] not in self.methods:
            allow = ", ".join(sorted(self.methods))
            response = PlainTextResponse(
                "Method Not Allowed", status_code=405, headers={"Allow": allow}
            )
            await response(scope, receive, send)
            return
        endpoint: Any = self.endpoint
        await _Forward(endpoint.timeback_app, endpoint.timeback_path)(scope, receive, send)


def _placeholder(app: ASGIApp, path: str) -> Any:
    def document() -> None:  # pragma: no cover - never called: the request is forwarded
        """Placeholder endpoint; the forwarded app answers."""

    document.timeback_app = app  # type: ignore[attr-defined]
    document.timeback_path = path  # type: ignore[attr-defined]
    return document


def _body(model: type[Any]) -> dict[str, Any]:
    schema = model.model_json_schema(by_alias=True)
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def timeback_router(server: TimebackServer, *, tags: list[str] | None = None) -> APIRouter:
    """The wire-protocol routes of ``server`` as an APIRouter (include it with a prefix)."""
    router = APIRouter(tags=list(tags or ["timeback"]), route_class=_ForwardingRoute)
    routes: list[tuple[str, str, str, dict[str, Any], dict[int | str, Any]]] = [
        (
            HEARTBEAT_PATH,
            "POST",
            "One time window of an activity (deduplicated on runId + startedAt)",
            _body(HeartbeatBody),
            {204: {"description": "stored"}, 200: {"description": "a duplicate"}, 400: _ERROR},
        ),
        (
            SUBMIT_PATH,
            "POST",
            "The completion of an activity run",
            _body(SubmitBody),
            {204: {"description": "recorded"}, 400: _ERROR, 409: _ERROR},
        ),
        (
            VERIFY_PATH,
            "GET",
            "Whether a user is signed in: {verified, timebackId, ...}",
            {},
            {200: {"description": "the answer"}},
        ),
        (
            ME_PATH,
            "GET",
            "The signed-in user's profile: XP, goals, courses and active minutes",
            {},
            {200: {"description": "the profile"}, 401: _ERROR},
        ),
    ]
    for path, method, summary, extra, responses in routes:
        router.add_api_route(
            path,
            _placeholder(server.app, path),
            methods=[method],
            summary=summary,
            openapi_extra=extra or None,
            responses=responses,
            name=f"timeback{path.replace('/', '_')}",
        )
    return router
