"""Security headers on every response of ``tracker serve`` and ``tracker demo`` (issue 10).

A pure ASGI middleware, so streamed file responses and the API alike get them without a
buffering layer. Headers a route already set win: a route may know better.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# nosniff: a JSON error or an uploaded-looking body is never run as script or style.
# Referrer-Policy: lesson URLs (ids, run state) do not leak to other origins in full.
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
)


# The demo pages' Content-Security-Policy: scripts and styles only from files of this site
# (no inline script, style attribute or handler; an injected <script> does not run),
# WebAssembly allowed for Pyodide ('wasm-unsafe-eval' is not 'unsafe-eval': no JS eval),
# requests only to this origin, no plugins, no framing by other sites.
DEMO_CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    )
)
# A page that loads PyScript (its lessons written in Python in the page): PyScript's core
# builds functions from strings (Function(...)) for its hooks and js_import, so these pages
# also allow 'unsafe-eval'. Still no 'unsafe-inline': an injected <script> does not run.
PYSCRIPT_MARKER = "timeback-pyscript.mjs"
PYSCRIPT_CSP = DEMO_CSP.replace(
    "script-src 'self' 'wasm-unsafe-eval'", "script-src 'self' 'wasm-unsafe-eval' 'unsafe-eval'"
)


class SecurityHeaders:
    """Adds ``SECURITY_HEADERS`` to every HTTP response that does not carry them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
