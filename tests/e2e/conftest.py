"""Fixtures of the end-to-end suite.

One bundle build, one server and one Chromium per session; a fresh incognito context and
page per test. Every test also checks, on teardown, that its browser asked nothing of any
host but 127.0.0.1.

- ``site``: the running server (``site.url``, ``site.recorder``); ``recorder``: the same
  recorder, cleared for the test.
- ``page``: a page in a fresh context; ``page.clock`` works (install it before goto).
- ``console``: what the page logged (type, text), and its uncaught errors as "pageerror".
- ``playwright_config``: the module playwright.config.py, for tests that need another way
  in (``cdp_chromium`` for real hidden tabs, ``launch_persistent`` for a warm cache).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError

from tracker.build import build_bundle
from tracker.config import parse_config

from . import browser_config
from .recorder import Recorder
from .site import TEST_CONFIG, LiveSite, ServerThread, Site

ROOT = Path(__file__).resolve().parents[2]
PAGES = Path(__file__).resolve().parent / "pages"
EXAMPLES = ROOT / "dist" / "e2e-examples"  # written by tests/e2e/frontend.py
LOCAL_HOSTS = {"127.0.0.1"}
# Schemes that make no network request.
LOCAL_SCHEMES = {"data", "blob", "about", "chrome-error"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def playwright_config() -> ModuleType:
    return browser_config.load()


@pytest.fixture(scope="session")
def bundle() -> Path:
    """dist/timeback, built (or found up to date: ~0.1 s) once per session."""
    out = ROOT / "dist" / "timeback"
    build_bundle(out=str(out), cache=str(ROOT / ".cache"))
    return out


@pytest.fixture(scope="session")
def site(bundle: Path) -> Iterator[LiveSite]:
    parse_config(TEST_CONFIG)  # the test config must be one the tracker accepts
    # The real server can take the stub's place here: Recorder(create_app(...)).
    recorder = Recorder()
    server = ServerThread(Site(bundle, PAGES, recorder, TEST_CONFIG, examples=EXAMPLES))
    server.start()
    yield LiveSite(url=server.url, recorder=recorder, bundle=bundle)
    server.stop()


@pytest.fixture
def recorder(site: LiveSite) -> Recorder:
    site.recorder.clear()
    return site.recorder


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright: Playwright, playwright_config: ModuleType) -> Iterator[Browser]:
    browser: Browser = playwright_config.launch(playwright)
    yield browser
    browser.close()


@pytest.fixture
def context(browser: Browser, playwright_config: ModuleType) -> Iterator[BrowserContext]:
    context: BrowserContext = playwright_config.new_context(browser)
    urls: list[str] = []
    context.on("request", lambda request: urls.append(request.url))
    yield context
    with contextlib.suppress(PlaywrightError):  # a test may have closed it already
        context.close()
    assert_local(urls)


def assert_local(urls: list[str]) -> None:
    """Every URL the browser asked for is on 127.0.0.1 (or needs no network at all)."""
    remote = [
        url
        for url in urls
        if urlsplit(url).scheme not in LOCAL_SCHEMES and urlsplit(url).hostname not in LOCAL_HOSTS
    ]
    assert not remote, f"requests left 127.0.0.1: {remote}"


@pytest.fixture
def console(context: BrowserContext) -> list[tuple[str, str]]:
    """Console messages and uncaught errors of every page of the test's context."""
    messages: list[tuple[str, str]] = []

    def on_console(message: ConsoleMessage) -> None:
        messages.append((message.type, message.text))

    def on_page(page: Page) -> None:
        page.on("console", on_console)
        page.on("pageerror", lambda error: messages.append(("pageerror", str(error))))

    context.on("page", on_page)
    return messages


@pytest.fixture
def page(context: BrowserContext, console: list[tuple[str, str]]) -> Page:
    return context.new_page()
