"""The static demo's server, in the page: the site of ``tracker demo`` called without HTTP.

``web/demo/assets/server-shim.js`` hands each request the pages make to the server's routes
(method, path, headers, body) to ``InPageServer.handle``, which calls the ASGI app that
``compose()`` builds for ``tracker demo`` and returns the status, headers and body. The store
and the demo state are SQLite in memory (Pyodide has no threads, so both write in the calling
task). A cookie jar plays the browser's part for the site's own cookies (the demo sign-in).

``saved()`` is what the page keeps in the browser's storage after each request: both
databases as images, the session secret and the cookies. The next page passes it back to
``InPageServer.open``, so a beacon sent as a page closes is in the next page's store.
"""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import time
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..server.auth import SECRET_FILE
from ..server.private_files import create_private
from ..server.store.memory import MemoryStore
from .catalogue import CONFIG_FILE
from .site import Composed, compose
from .state import DemoState

# What saved() holds; each value is base64 text, so the page can keep it in localStorage.
STORE_KEY = "store"
STATE_KEY = "state"
SECRET_KEY = "secret"
COOKIES_KEY = "cookies"


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def as_json(self) -> dict[str, Any]:
        """For the shim: the body as text (every answer of these routes is JSON or empty)."""
        return {
            "status": self.status,
            "headers": self.headers,
            "body": self.body.decode("utf-8", errors="replace"),
        }


@dataclass
class CookieJar:
    """The site's cookies by name, as a browser keeps them for one site."""

    cookies: dict[str, str] = field(default_factory=dict)

    def header(self) -> str | None:
        if not self.cookies:
            return None
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    def take(self, set_cookie: str, now_s: float | None = None) -> None:
        """One ``Set-Cookie`` header: stores the cookie, or forgets it when it has expired."""
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(set_cookie)
        except CookieError:
            return  # a browser ignores a cookie it cannot parse
        now_s = time.time() if now_s is None else now_s
        for name, morsel in jar.items():
            if _expired(morsel["max-age"], morsel["expires"], now_s):
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = morsel.value


def _expired(max_age: str, expires: str, now_s: float) -> bool:
    if max_age:
        try:
            return int(max_age) <= 0
        except ValueError:
            return False
    if expires:
        try:
            return parsedate_to_datetime(expires).timestamp() <= now_s
        except (TypeError, ValueError):
            return False
    return False


@dataclass
class InPageServer:
    """The composed demo site, its in-memory databases and the page's cookie jar."""

    composed: Composed
    store: MemoryStore
    state: DemoState
    jar: CookieJar
    data: Path

    @classmethod
    def open(
        cls,
        *,
        data: Path,
        config: Path,
        web: Path,
        saved: Mapping[str, str] | None = None,
    ) -> InPageServer:
        """The site of ``tracker demo`` with ``config`` and the lessons of ``web``, its
        databases and secret from ``saved`` (what an earlier page's ``saved()`` returned)."""
        saved = saved or {}
        # The bundle is the static host's: an empty folder stands for it here.
        (data / "bundle").mkdir(parents=True, exist_ok=True)
        # Written here, not by load_secret(): Pyodide has no os.link, which its atomic write
        # of a new secret uses. The same secret on every page keeps the sign-in cookie valid.
        secret = data / SECRET_FILE
        create_private(secret)
        secret.write_text(
            base64.b64decode(saved[SECRET_KEY]).decode()
            if saved.get(SECRET_KEY)
            else secrets.token_urlsafe(32),
            encoding="utf-8",
        )
        store = MemoryStore(_bytes(saved.get(STORE_KEY)))
        try:
            state = DemoState(None, image=_bytes(saved.get(STATE_KEY)))
        except BaseException:
            store.close()
            raise
        args = argparse.Namespace(
            command="demo", data=str(data), config=str(config), bundle=str(data / "bundle")
        )
        try:
            composed = compose(args, environ={}, web=web, store=store, state=state)
        except BaseException:
            store.close()
            state.close()
            raise
        cookies = json.loads(saved[COOKIES_KEY]) if saved.get(COOKIES_KEY) else {}
        return cls(composed, store, state, CookieJar(dict(cookies)), data)

    async def handle(
        self, method: str, url: str, headers: list[tuple[str, str]], body: bytes
    ) -> Answer:
        """One request, as the ASGI app would get it over HTTP from ``url``'s origin."""
        parts = urlsplit(url)
        host = parts.netloc
        sent = [(name.lower(), value) for name, value in headers if name.lower() != "cookie"]
        names = {name for name, _ in sent}
        if "host" not in names:
            sent.append(("host", host))
        cookie = self.jar.header()
        if cookie is not None:
            sent.append(("cookie", cookie))
        if body and "content-length" not in names:
            sent.append(("content-length", str(len(body))))
        port = parts.port or (443 if parts.scheme == "https" else 80)
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method.upper(),
            "scheme": parts.scheme or "http",
            "path": parts.path or "/",
            "raw_path": (parts.path or "/").encode(),
            "query_string": parts.query.encode(),
            "root_path": "",
            "headers": [(name.encode("latin-1"), value.encode("latin-1")) for name, value in sent],
            "client": ("127.0.0.1", 0),
            "server": (parts.hostname or "localhost", port),
            "state": {},
        }
        pending = [{"type": "http.request", "body": body, "more_body": False}]
        status = 500
        answer_headers: list[tuple[str, str]] = []
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            return pending.pop(0) if pending else {"type": "http.disconnect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                for name, value in message.get("headers", []):
                    answer_headers.append((name.decode("latin-1"), value.decode("latin-1")))
            elif message["type"] == "http.response.body":
                chunks.append(bytes(message.get("body", b"")))

        await self.composed.site(scope, receive, send)
        for name, value in answer_headers:
            if name.lower() == "set-cookie":
                self.jar.take(value)
        return Answer(status, answer_headers, b"".join(chunks))

    async def handle_json(self, request: str) -> str:
        """``handle`` for the shim: a JSON request {method, url, headers, body} in, JSON out."""
        data = json.loads(request)
        answer = await self.handle(
            str(data["method"]),
            str(data["url"]),
            [(str(k), str(v)) for k, v in data.get("headers", [])],
            str(data.get("body") or "").encode(),
        )
        return json.dumps(answer.as_json())

    def saved(self) -> dict[str, str]:
        """Everything the next page needs to reopen this server, as text values."""
        secret = self.data / SECRET_FILE
        return {
            STORE_KEY: _text(self.store.image()),
            STATE_KEY: _text(self.state.image()),
            SECRET_KEY: _text(secret.read_bytes()) if secret.is_file() else "",
            COOKIES_KEY: json.dumps(self.jar.cookies),
        }

    def saved_json(self) -> str:
        return json.dumps(self.saved())

    def close(self) -> None:
        self.composed.close()


def _bytes(text: str | None) -> bytes | None:
    return base64.b64decode(text) if text else None


def _text(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def open_in_page(folder: str, saved: str) -> InPageServer:
    """For the shim: the server of the archive unpacked in ``folder`` (server-shim.js), from
    the JSON text of an earlier page's ``saved()`` (empty on the first page)."""
    root = Path(folder)
    web = root / "server" / "web"
    return InPageServer.open(
        data=root / "data",
        config=web / CONFIG_FILE,
        web=web,
        saved=json.loads(saved) if saved else None,
    )
