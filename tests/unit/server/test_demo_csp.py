"""The demo pages' CSP has no 'unsafe-inline' (issue 10), so the pages carry nothing inline.

Before: inline <script> on the sign-in and Python lesson pages and style="" attributes in the
pages and in the HTML the scripts render; a CSP without 'unsafe-inline' would have broken them.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tracker.demo.app import PageFiles
from tracker.demo.catalogue import web_root
from tracker.server.headers import DEMO_CSP, PYSCRIPT_CSP

WEB = web_root()
# <script> without src that the browser would run as JavaScript (type="py" is PyScript's).
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"py\")[^>]*>", re.I)
STYLE_ATTR = re.compile(r"\sstyle\s*=", re.I)
HANDLER_ATTR = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I)
STYLE_TAG = re.compile(r"<style[\s>]", re.I)


def _served_text(path: Path) -> str:
    # <!--static ... static--> blocks exist only in the static preview (no CSP there).
    return re.sub(r"<!--static.*?static-->", "", path.read_text(encoding="utf-8"), flags=re.S)


def test_no_inline_script_style_or_handler_in_the_demo() -> None:
    found = []
    for path in sorted([*WEB.rglob("*.html"), *WEB.rglob("*.js")]):
        text = _served_text(path)
        checks = [STYLE_ATTR, HANDLER_ATTR, STYLE_TAG]
        if path.suffix == ".html":
            checks.append(INLINE_SCRIPT)
        for pattern in checks:
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{path.relative_to(WEB)}:{line}: {match.group(0).strip()[:60]}")
    assert found == []


def test_the_policy_has_no_unsafe_inline_and_no_js_eval() -> None:
    directives = dict(part.strip().split(" ", 1) for part in DEMO_CSP.split(";"))
    assert "'unsafe-inline'" not in DEMO_CSP + PYSCRIPT_CSP
    assert "'unsafe-eval'" not in DEMO_CSP  # 'wasm-unsafe-eval' only: Pyodide's WebAssembly
    assert directives["script-src"] == "'self' 'wasm-unsafe-eval'"
    assert directives["object-src"] == "'none'"
    # PyScript pages: its core compiles hooks with Function(); that is all they add.
    assert PYSCRIPT_CSP.replace(" 'unsafe-eval'", "") == DEMO_CSP


async def test_demo_pages_are_served_with_the_policy() -> None:
    app = PageFiles(directory=WEB, html=True)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://app.test"
    ) as http:
        for page in ("/", "/signin.html", "/dashboard.html", "/lessons/fractions.html"):
            response = await http.get(page)
            assert response.status_code == 200, page
            assert response.headers["content-security-policy"] == DEMO_CSP, page
        pyscript = await http.get("/lessons/arrays.html")
        assert pyscript.headers["content-security-policy"] == PYSCRIPT_CSP
        script = await http.get("/assets/signin.js")
        assert script.status_code == 200
