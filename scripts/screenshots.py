#!/usr/bin/env python3
"""Takes the screenshots of the demo: docs/screenshots/{lesson,dashboard,dashboard-full,static}.png.

    .venv/bin/python scripts/screenshots.py               starts its own demo (temporary data)
    .venv/bin/python scripts/screenshots.py --url URL     uses a demo that is already running

It signs in as ada@example.com, sends a week of earlier learning through the wire protocol
(heartbeat windows and completions with past times, so the charts have a history), then
works through the fractions quiz with a fake clock and photographs the lesson and the
dashboard at 1280x800. The static shot (its dashboard, served by the server code in the page)
comes from a static build served by http.server.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, ViewportSize, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("TIMEBACK_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
EMAIL = "ada@example.com"
MATH = {"subject": "Math", "grade": 3}
# Earlier days: (days ago, lesson id, name, course, active minutes, completion or None)
HISTORY: list[tuple[int, str, str, dict[str, Any], int, dict[str, int] | None]] = [
    (6, "arrays-and-multiplication", "Arrays and Multiplication", MATH, 7, None),
    (5, "the-lighthouse-keeper", "The Lighthouse Keeper", {"code": "READ-4"}, 9, None),
    (
        4,
        "arrays-and-multiplication",
        "Arrays and Multiplication",
        MATH,
        12,
        {"xpEarned": 12, "totalQuestions": 5, "correctQuestions": 4, "masteredUnits": 0},
    ),
    (2, "the-lighthouse-keeper", "The Lighthouse Keeper", {"code": "READ-4"}, 6, None),
    (
        1,
        "fractions-with-like-denominators",
        "Fractions with Like Denominators",
        MATH,
        10,
        {"xpEarned": 0, "totalQuestions": 5, "correctQuestions": 3, "masteredUnits": 0},
    ),
]


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@contextmanager
def demo_server() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="tracker-shots-") as data:
        command = [sys.executable, "-m", "tracker.cli", "demo", "--port", "0", "--data", data]
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ}
        )
        assert process.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + 600  # a first run downloads and builds the bundle
        url = None
        while url is None and time.monotonic() < deadline and process.poll() is None:
            if selector.select(timeout=0.5):
                match = re.search(r"running at (http://\S+)", process.stdout.readline())
                url = match.group(1) if match else None
        if url is None:
            process.kill()
            raise SystemExit("screenshots: tracker demo did not start")
        try:
            yield url
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=20)


@contextmanager
def static_server() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="tracker-static-") as www:
        out = Path(www) / "demo"
        subprocess.run(
            [sys.executable, "-m", "tracker.cli", "demo", "--static", str(out)],
            cwd=ROOT,
            check=True,
        )

        class Quiet(SimpleHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=www))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/demo/"
        finally:
            server.shutdown()
            server.server_close()


def advance(page: Page, seconds: int) -> None:
    """Fake time in steps: one long run_for would also fire the 30 s timeout of a request
    that is still on its way (AbortSignal.timeout is faked too)."""
    while seconds > 0:
        step = min(10, seconds)
        page.clock.run_for(step * 1000)
        page.wait_for_timeout(100)
        seconds -= step


def sign_in(page: Page, base: str) -> None:
    page.goto(f"{base}signin.html")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{base}index.html")


def post(page: Page, path: str, body: dict[str, Any]) -> None:
    status = page.evaluate(
        """async ([url, body]) => (await fetch(url, {method: "POST", body,
            headers: {"Content-Type": "application/json"}})).status""",
        [path, json.dumps(body)],
    )
    if status not in (200, 204):
        raise SystemExit(f"screenshots: seeding {path} answered {status}")


def seed_history(page: Page) -> None:
    """Earlier days through the real API: one-minute windows and a few completions."""
    today = datetime.now(UTC).replace(hour=17, minute=0, second=0, microsecond=0)
    for days_ago, lesson, name, course, minutes, completion in HISTORY:
        run_id = str(uuid.uuid4())
        start = today - timedelta(days=days_ago)
        identity = {"id": lesson, "name": name, "course": course, "runId": run_id}
        for minute in range(minutes):
            window_start = start + timedelta(minutes=minute)
            post(
                page,
                "api/timeback/activity/heartbeat",
                {
                    **identity,
                    "startedAt": iso(window_start),
                    "endedAt": iso(window_start + timedelta(minutes=1)),
                    "elapsedMs": 58_000,
                    "pausedMs": 2_000,
                },
            )
        if completion is not None:
            ended = start + timedelta(minutes=minutes)
            post(
                page,
                "api/timeback/activity/submit",
                {**identity, "endedAt": iso(ended), "metrics": completion},
            )


def lesson_and_dashboard(base: str, out: Path) -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport=VIEWPORT, locale="en-US")
        page = context.new_page()
        sign_in(page, base)
        seed_history(page)

        page.clock.install()
        page.goto(f"{base}lessons/fractions.html")
        page.wait_for_function("window.timeback && window.lesson", timeout=60_000)
        page.evaluate("timeback.ready")
        for answer in ("3/5", "7/8"):
            page.get_by_role("button", name=answer, exact=True).click()
            advance(page, 40)
            page.locator("[data-next]").click()
        page.get_by_role("button", name="4/6", exact=True).click()
        advance(page, 53)
        page.wait_for_timeout(400)  # the panel refreshes four times a second
        page.screenshot(path=str(out / "lesson.png"))
        print(f"screenshots: {out / 'lesson.png'}")

        page.locator("[data-next]").click()
        for answer in ("1 whole", "5/7"):
            page.get_by_role("button", name=answer, exact=True).click()
            advance(page, 40)
            page.locator("[data-next]").click()
        page.wait_for_selector("[data-result]")

        page.goto(f"{base}dashboard.html")
        page.wait_for_function("document.body.dataset.loaded")
        page.wait_for_selector('[data-feed] li[data-type="ActivityEvent"]')
        page.wait_for_timeout(1200)
        page.screenshot(path=str(out / "dashboard.png"))
        print(f"screenshots: {out / 'dashboard.png'}")
        page.screenshot(path=str(out / "dashboard-full.png"), full_page=True)
        print(f"screenshots: {out / 'dashboard-full.png'}")
        browser.close()


def static_dashboard(out: Path) -> None:
    """The static build's dashboard: its numbers and Caliper events come from the server
    code running in the page (tracker/demo/inpage.py)."""
    with static_server() as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_context(viewport=VIEWPORT, locale="en-US").new_page()
        sign_in(page, base)
        page.clock.install()
        page.goto(f"{base}lessons/fractions.html")
        page.wait_for_function("window.timeback && window.lesson", timeout=60_000)
        page.evaluate("timeback.ready")
        for answer in ("3/5", "7/8", "4/6", "1 whole", "5/7"):
            page.get_by_role("button", name=answer, exact=True).click()
            advance(page, 16)
            page.locator("[data-next]").click()
        page.wait_for_selector("[data-result]")
        page.goto(f"{base}dashboard.html")
        page.wait_for_function("document.body.dataset.loaded", timeout=60_000)
        page.wait_for_selector('[data-feed] li[data-type="ActivityEvent"]', timeout=30_000)
        page.screenshot(path=str(out / "static.png"))
        print(f"screenshots: {out / 'static.png'}")
        browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running demo, e.g. http://127.0.0.1:8000/")
    parser.add_argument("--out", default=str(OUT), help="folder (default: %(default)s)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.url:
        lesson_and_dashboard(args.url.rstrip("/") + "/", out)
    else:
        with demo_server() as url:
            lesson_and_dashboard(url, out)
    static_dashboard(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
