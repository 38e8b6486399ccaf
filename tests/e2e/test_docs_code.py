"""The browser blocks of the README and docs, run as written in Chromium against the real
server (tracker.server with the README's timeback.config.json), see tests/docs_code.py."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page

from tracker.config import parse_config
from tracker.server.server import create_app
from tracker.server.settings import Settings

from ..docs_code import Block, all_blocks, readme_config
from .conftest import EXAMPLES, PAGES
from .helpers import SUBMIT, boot_timeout_ms, errors
from .recorder import Recorder
from .site import LiveSite, ServerThread, Site

BLOCKS = all_blocks()
DOCS_PAGES = EXAMPLES / "docs"
# What the snippets call but leave to the page (the lesson's own functions).
PAGE_HELPERS = "function showPausedOverlay() {}\nfunction hidePausedOverlay() {}\n"
TAG = (
    '<script src="/timeback/timeback.js" data-base="/api/timeback"'
    ' data-config="/timeback.config.json"></script>'
)


def _of(mode: str) -> list[Block]:
    return [block for block in BLOCKS if block.mode == mode]


def _page(name: str, head: str, body: str) -> str:
    DOCS_PAGES.mkdir(parents=True, exist_ok=True)
    (DOCS_PAGES / name).write_text(
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<link rel='icon' href='data:,'>{head}</head><body>{body}</body></html>"
    )
    return f"/examples/docs/{name}"


@pytest.fixture(scope="module")
def docs_site(site: LiveSite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    config = json.loads(readme_config())
    settings = Settings(
        config=parse_config(config),
        database=tmp_path_factory.mktemp("docs") / "tracker.sqlite3",
    )
    app = create_app(settings, get_email=lambda request: "student@example.com")
    recorder = Recorder(app, mounted=True)
    server = ServerThread(Site(site.bundle, PAGES, recorder, config, examples=EXAMPLES))
    server.start()
    yield LiveSite(url=server.url, recorder=recorder, bundle=site.bundle)
    server.stop()


def _name(block: Block) -> str:
    return f"{block.file.stem}-{block.line}.html"


def _wait_ready(page: Page) -> None:
    page.wait_for_function("() => window.timeback", timeout=boot_timeout_ms())
    page.evaluate("() => timeback.ready")


def _ids(block: Block) -> str:
    return block.where


@pytest.mark.parametrize("block", _of("browser"), ids=_ids)
def test_browser_block_runs_as_written(
    block: Block, page: Page, docs_site: LiveSite, console: list[tuple[str, str]]
) -> None:
    docs_site.recorder.clear()
    helpers = f"<script>{PAGE_HELPERS}</script>"
    if block.lang == "html":
        url = _page(_name(block), helpers, block.text)
    elif "timeback.activity.start(" in block.text:
        # A page script: it runs after the tag, as a lesson's own script does.
        url = _page(_name(block), TAG + helpers, f"<script>{block.text}</script>")
    else:
        # A fragment about `activity`: run where one is running (a module allows await).
        start = (
            "const activity = timeback.activity.start({id: 'doc-1', name: 'Doc',"
            " course: {code: 'MATH-3'}});"
        )
        body = f"<script type='module'>{start}\n{block.text}\nwindow.docBlockDone = true;</script>"
        url = _page(_name(block), TAG + helpers, body)
    page.goto(docs_site.url + url)
    _wait_ready(page)
    if "async function finish()" in block.text:
        page.evaluate("() => finish()")
        docs_site.recorder.wait_for(SUBMIT)
    if "docBlockDone" in (DOCS_PAGES / _name(block)).read_text():
        page.wait_for_function("() => window.docBlockDone === true")
    page.wait_for_timeout(200)  # anything the block started has time to fail
    assert errors(console) == [], block.where
    assert all(r.status is not None and r.status < 400 for r in docs_site.recorder.requests)


@pytest.mark.parametrize("block", _of("pyscript"), ids=_ids)
def test_python_browser_block_runs_as_written_in_pyscript(
    block: Block, page: Page, docs_site: LiveSite, console: list[tuple[str, str]]
) -> None:
    docs_site.recorder.clear()
    code = (
        "import js\ntry:\n"
        + textwrap.indent(block.text, "    ")
        + "    js.window.docBlock = 'done'\n"
        "except Exception as error:\n"
        "    js.window.docBlock = f'{type(error).__name__}: {error}'\n"
    )
    hosts = [b for b in _of("pyscript-host") if b.file == block.file]
    if hosts:
        # The file's own page, with this block where it says "..." (its Python goes there).
        host = hosts[0].text
        assert host.count("\n...\n") == 1, hosts[0].where
        url = _page(_name(block), "", host.replace("\n...\n", "\n" + code))
    else:
        head = '<script type="module" src="/timeback/timeback-pyscript.mjs"></script>'
        url = _page(_name(block), head, f'<script type="py">\n{code}</script>')
    page.goto(docs_site.url + url)
    page.wait_for_function("() => window.docBlock !== undefined", timeout=boot_timeout_ms())
    assert page.evaluate("() => window.docBlock") == "done", block.where
    if "lesson.end(" in block.text:
        assert docs_site.recorder.of(SUBMIT)
    assert errors(console) == [], block.where
