"""How long the embed takes to boot in Chromium, phase by phase, cold and warm.

    .venv/bin/tracker build && .venv/bin/python benchmarks/boot.py [RUNS]

Serves the bundle and tests/e2e/pages/embed.html on 127.0.0.1 with the e2e site, loads the
page RUNS times in a fresh incognito context (cold HTTP cache) and RUNS times in one
persistent profile (warm), and prints the median and range of each performance mark the
embed sets (ms since navigation start) and the bytes transferred. Prints; asserts nothing.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.browser_config import load  # noqa: E402
from tests.e2e.helpers import MARKS, marks, wait_ready  # noqa: E402
from tests.e2e.recorder import Recorder  # noqa: E402
from tests.e2e.site import TEST_CONFIG, ServerThread, Site  # noqa: E402


def measure(page: Page, url: str) -> tuple[dict[str, float], int]:
    transferred = 0

    def count(response: object) -> None:
        nonlocal transferred
        sizes = response.request.sizes()  # type: ignore[attr-defined]
        transferred += max(0, int(sizes["responseBodySize"]))  # -1: served from cache

    page.on("response", count)
    page.goto(url)
    error = wait_ready(page)
    if error is not None:
        raise SystemExit(f"boot failed: {error}")
    return marks(page), transferred


def report(label: str, runs: list[tuple[dict[str, float], int]]) -> None:
    print(f"{label} ({len(runs)} runs)")
    for name in MARKS:
        values = [found[name] for found, _ in runs]
        print(
            f"  {name.removeprefix('timeback:'):16} median {statistics.median(values):6.0f} ms"
            f"   range {min(values):5.0f}-{max(values):5.0f} ms"
        )
    size = statistics.median(b for _, b in runs)
    print(f"  bytes over the wire (median): {size / 1e6:.1f} MB")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    config = load()
    recorder = Recorder()
    server = ServerThread(
        Site(ROOT / "dist/timeback", ROOT / "tests/e2e/pages", recorder, TEST_CONFIG)
    )
    server.start()
    url = f"{server.url}/embed.html"
    try:
        with sync_playwright() as playwright:
            browser = config.launch(playwright)
            cold = []
            for _ in range(count):
                context = config.new_context(browser)
                cold.append(measure(context.new_page(), url))
                context.close()
            browser.close()
            with tempfile.TemporaryDirectory() as profile:
                context = config.launch_persistent(playwright, profile)
                measure(context.new_page(), url)  # fills the cache
                warm = []
                for _ in range(count):
                    page = context.new_page()
                    warm.append(measure(page, url))
                    page.close()
                context.close()
    finally:
        server.stop()
    report("cold: fresh context", cold)
    report("warm: persistent profile", warm)


if __name__ == "__main__":
    main()
