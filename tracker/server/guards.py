"""Guards every API request passes, as ASGI middleware: origin, content type, size, JSON.

    Starlette(routes, middleware=[Middleware(ErrorBoundary), Middleware(OriginGuard, ...),
                                  Middleware(JsonBodies, limit=..., routes=[("POST", "/x")])])

The checks run before any route does, in this order: origin (403), then for the routes that
take JSON, content type (415), size (413) and JSON (400). A route reads the parsed body with
``json_body(request)``. The errors are raised as ``ApiError``; ``ErrorBoundary`` renders them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import (
    BAD_HOST,
    FORBIDDEN_ORIGIN,
    PAYLOAD_TOO_LARGE,
    UNSUPPORTED_MEDIA_TYPE,
    ApiError,
    invalid,
)

# text/plain: navigator.sendBeacon(url, string) and fetch(url, {body: string}) send it, and
# a page-exit beacon is exactly where users expect a heartbeat to land. Accepting it does not
# open a CSRF hole because cross-site requests always carry an Origin, which is checked first.
JSON_TYPES = ("application/json", "text/plain")
UTF8 = ("utf-8", "utf8", "us-ascii")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _port(scheme: str, port: int | None) -> int | None:
    return port if port is not None else _DEFAULT_PORTS.get(scheme)


def same_host(origin: str, host_header: str | None) -> bool:
    """Does ``Origin`` name the host the request was sent to?

    The Host header omits the default port of the scheme the page used, so the origin's scheme
    fills it in; this keeps working behind a TLS-terminating proxy that forwards plain HTTP.
    """
    if not host_header:
        return False
    try:
        parts = urlsplit(origin)
        host = urlsplit(f"//{host_header}")
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or not host.hostname:
            return False
        same_port = _port(parts.scheme, parts.port) == _port(parts.scheme, host.port)
        return parts.hostname == host.hostname.lower() and same_port
    except ValueError:  # a port that is not a number
        return False


def check_origin(request: Request, allowed: Collection[str]) -> None:
    """403 for a request from another site. No Origin (same-origin GET, some beacons) is fine."""
    origin = request.headers.get("origin")
    if origin is None:
        return
    normalised = origin.strip().lower().rstrip("/")
    if normalised in allowed or same_host(normalised, request.headers.get("host")):
        return
    raise ApiError(
        403,
        FORBIDDEN_ORIGIN,
        "requests from this origin are not allowed",
        {"origin": origin[:200]},
    )


def _check_content_type(request: Request) -> None:
    header = request.headers.get("content-type", "")
    if not header.strip():
        # sendBeacon(url, new Blob([json])) sends no type at all: read it as JSON, as the
        # official server does. A type that is given and wrong is still refused.
        return
    media, *params = (part.strip().lower() for part in header.split(";"))
    charset = next(
        (p.split("=", 1)[1].strip('" ') for p in params if p.startswith("charset=")), None
    )
    if media not in JSON_TYPES or (charset is not None and charset not in UTF8):
        raise ApiError(
            415,
            UNSUPPORTED_MEDIA_TYPE,
            "send JSON as application/json (or text/plain), UTF-8",
            {"contentType": header[:200]},
        )


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413, PAYLOAD_TOO_LARGE, f"the body is larger than {limit} bytes", {"limit": limit}
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refusing more than ``limit`` bytes: by Content-Length, then as it streams."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _bad_string(value: Any) -> str | None:
    """The path of the first string holding a lone surrogate (not valid Unicode), if any.

    Iterative: a body nested almost as deep as the JSON parser allows must not overflow here.
    """
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return path or "body"
        elif isinstance(item, dict):
            for key, child in reversed(item.items()):
                child_path = f"{path}.{key}" if path else str(key)
                stack.append((child, child_path))
                stack.append((key, path))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{i}]") for i, child in reversed(list(enumerate(item))))
    return None


def parse_json(request: Request, raw: bytes) -> Any:
    """``raw`` as JSON, or 415 (wrong type) / 400 INVALID_PAYLOAD (field ``body``)."""
    _check_content_type(request)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise invalid("body", "is not UTF-8 text") from None
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise invalid("body", "is nested too deeply") from None
    except ValueError as exc:
        raise invalid("body", f"is not valid JSON ({str(exc)[:120]})") from None
    # Valid UTF-8 holds no surrogate: only a \u escape in the JSON can make a lone one.
    bad = _bad_string(data) if "\\u" in text else None
    if bad is not None:
        raise invalid(bad, "is not valid Unicode (lone surrogate)")
    return data


# -- middleware ------------------------------------------------------------------------------

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Where JsonBodies leaves the parsed body for the route (see json_body()).
JSON_BODY_KEY = "tracker.json_body"


def route_path(scope: Scope) -> str:
    """The path inside the app this middleware wraps (a mounted app sees its own paths)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root) : len(root) + 1] in ("", "/"):
        return path[len(root) :]
    return path


class OriginGuard:
    """403 FORBIDDEN_ORIGIN for requests a page of another site sent (CSRF, data theft).

    ``methods=None`` checks every request (the API: a foreign page must not read /user/me
    either); the site passes UNSAFE_METHODS so that plain links and assets keep working.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        allowed_origins: Collection[str] = (),
        methods: Collection[str] | None = None,
    ) -> None:
        self.app = app
        self.allowed = frozenset(allowed_origins)
        self.methods = None if methods is None else frozenset(methods)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (self.methods is None or scope["method"] in self.methods):
            check_origin(Request(scope), self.allowed)
        await self.app(scope, receive, send)


class JsonBodies:
    """Reads and parses the JSON body of the given (method, path) routes before they run.

    ``routes`` use Starlette's path syntax (``/lessons/{lesson}/run``). With ``allow_empty`` an
    empty body (a POST that sends nothing) is ``None`` instead of 400. Other requests pass
    untouched, so an unknown route stays 404 and a wrong method 405.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        routes: Iterable[tuple[str, str]],
        allow_empty: bool = False,
    ) -> None:
        self.app = app
        self.limit = limit
        self.allow_empty = allow_empty
        self._routes: list[tuple[str, re.Pattern[str]]] = [
            (method.upper(), compile_path(path)[0]) for method, path in routes
        ]

    def _covers(self, scope: Scope) -> bool:
        path = route_path(scope)
        return any(
            scope["method"] == method and pattern.match(path) for method, pattern in self._routes
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._covers(scope):
            await self.app(scope, receive, send)
            return
        raw = await read_json(Request(scope, receive), self.limit, allow_empty=self.allow_empty)
        await self.app(scope, replay_body(raw, receive), send)


async def read_json(request: Request, limit: int, *, allow_empty: bool = False) -> bytes:
    """Checks, reads and parses a JSON body into the scope (``json_body`` reads it there);
    returns the raw bytes, for the app inside to read again. 415 / 413 / 400 as ``ApiError``."""
    if not allow_empty:
        _check_content_type(request)  # 415 before reading a body of the wrong kind
    raw = await read_body(request, limit)
    if raw or not allow_empty:
        request.scope[JSON_BODY_KEY] = parse_json(request, raw)
    else:
        request.scope[JSON_BODY_KEY] = None
    return raw


def replay_body(raw: bytes, receive: Receive) -> Receive:
    """The body again for the app inside (it was consumed here), then the client's messages."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}
        return await receive()

    return replay


def json_body(request: Request) -> Any:
    """The body JsonBodies parsed for this route."""
    try:
        return request.scope[JSON_BODY_KEY]
    except KeyError:
        raise RuntimeError(
            f"{request.method} {request.url.path}: no JsonBodies middleware covers this route"
        ) from None


def host_allowed(host_header: str | None, allowed: Collection[str]) -> bool:
    """Does the Host header name one of ``allowed`` (``*.example.com`` covers subdomains)?"""
    if not host_header:
        return False
    try:
        host = (urlsplit(f"//{host_header.strip()}").hostname or "").rstrip(".")
    except ValueError:
        return False
    if not host:
        return False
    for pattern in allowed:
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and host != pattern[2:]:
                return True
        elif host == pattern.strip("[]"):
            return True
    return False


class HostAllowlist:
    """400 BAD_HOST for a Host header not in ``allowed_hosts`` (TRACKER_ALLOWED_HOSTS).

    A DNS-rebinding page, or a proxy that forwards any name, reaches the server under a host
    name the operator never chose; with an allowlist those requests stop here. Empty: off.
    """

    def __init__(self, app: ASGIApp, *, allowed_hosts: Collection[str] = ()) -> None:
        self.app = app
        self.allowed = tuple(allowed_hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            check_host(Request(scope), self.allowed)
        await self.app(scope, receive, send)


def check_host(request: Request, allowed: Collection[str]) -> None:
    """400 BAD_HOST for a Host header not in ``allowed``; an empty ``allowed`` checks nothing."""
    if not allowed:
        return
    host = request.headers.get("host")
    if not host_allowed(host, allowed):
        raise ApiError(
            400,
            BAD_HOST,
            "this server does not answer to that host name",
            {"host": (host or "")[:200]},
        )
