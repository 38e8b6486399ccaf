"""Browser settings shared by the end-to-end tests and the benchmarks.

Not importable by name (the file name has a dot): load it with ``load()`` from
tests/e2e/browser_config.py, or ``runpy.run_path``.

Three ways to get a Chromium:
- ``launch(pw)``: the normal one, a fresh incognito context per test (cold HTTP cache).
- ``launch_persistent(pw, profile_dir)``: one profile on disk, so a second load is warm.
- ``cdp_chromium(pw)``: Chromium started by us and driven over CDP. Playwright turns on
  focus emulation for every page it creates, so under ``launch()`` a page never becomes
  hidden; pages of the *default* context of a CDP-connected browser do become hidden when
  another tab is opened or brought to front, or the window is minimised, and fire a real
  ``visibilitychange``. ``launch()`` also adds --disable-background-timer-throttling and
  friends, so timer throttling of hidden tabs (time model H1) is only seen this way.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Playwright

CHROMIUM = os.environ.get("TIMEBACK_CHROMIUM", "/usr/bin/chromium")
# TIMEBACK_HEADED=1 shows the browser (needs a display).
HEADLESS = os.environ.get("TIMEBACK_HEADED", "") in ("", "0")

ARGS = [
    "--no-sandbox",  # we run as root in a container; the sandbox needs user namespaces
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Offline without page.route() (routing disables the HTTP cache, adds ~0.3 s per load
    # and loses beacons sent during context.close()): every host but 127.0.0.1 fails to
    # resolve, so nothing can leave the machine. Tests assert on the server's log.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]

# Timeouts (ms). Cold boot of Pyodide + pydantic is ~2.5 s on 2 cores; leave room for CI.
DEFAULT_TIMEOUT_MS = 10_000
NAVIGATION_TIMEOUT_MS = 15_000
BOOT_TIMEOUT_MS = 30_000
LAUNCH_TIMEOUT_MS = 30_000

CONTEXT_OPTIONS: dict[str, Any] = {
    "viewport": {"width": 1280, "height": 800},
    "locale": "en-US",
    "timezone_id": "UTC",
}


def launch(playwright: Playwright, *, headless: bool = HEADLESS) -> Browser:
    return playwright.chromium.launch(
        executable_path=CHROMIUM, args=ARGS, headless=headless, timeout=LAUNCH_TIMEOUT_MS
    )


def new_context(browser: Browser, **overrides: Any) -> BrowserContext:
    """A fresh (incognito) context with the shared options and timeouts."""
    context = browser.new_context(**{**CONTEXT_OPTIONS, **overrides})
    configure(context)
    return context


def launch_persistent(
    playwright: Playwright, profile_dir: str | Path, *, headless: bool = HEADLESS
) -> BrowserContext:
    """A context over a profile on disk: its HTTP cache survives between launches."""
    context = playwright.chromium.launch_persistent_context(
        str(profile_dir),
        executable_path=CHROMIUM,
        args=ARGS,
        headless=headless,
        timeout=LAUNCH_TIMEOUT_MS,
        **CONTEXT_OPTIONS,
    )
    configure(context)
    return context


def configure(context: BrowserContext) -> None:
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)


@contextmanager
def cdp_chromium(playwright: Playwright, *, headless: bool = HEADLESS) -> Iterator[Browser]:
    """Chromium started by us, connected over CDP: real hidden tabs (see the module doc).

    Use ``browser.contexts[0].new_page()``: pages of ``browser.new_context()`` do not
    become hidden.
    """
    profile = tempfile.mkdtemp(prefix="timeback-cdp-")
    command = [
        CHROMIUM,
        *ARGS,
        *(["--headless"] if headless else []),
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=0",  # Chromium picks a free port and writes it down
        f"--user-data-dir={profile}",
        "about:blank",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port = _devtools_port(Path(profile), process)
        browser = playwright.chromium.connect_over_cdp(
            f"http://127.0.0.1:{port}", no_defaults=True, timeout=LAUNCH_TIMEOUT_MS
        )
        try:
            configure(browser.contexts[0])
            yield browser
        finally:
            browser.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(profile, ignore_errors=True)


def _devtools_port(profile: Path, process: subprocess.Popen[bytes]) -> int:
    """Chromium writes the port it listens on to <profile>/DevToolsActivePort."""
    deadline = time.monotonic() + LAUNCH_TIMEOUT_MS / 1000
    marker = profile / "DevToolsActivePort"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{CHROMIUM} exited with {process.returncode} before listening")
        try:
            first_line = marker.read_text().splitlines()[0]
            return int(first_line)
        except (FileNotFoundError, IndexError, ValueError):
            time.sleep(0.05)
    raise TimeoutError(f"{CHROMIUM} did not open its DevTools port")
