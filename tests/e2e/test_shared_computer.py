"""Two students on one browser (issue 10): a window kept after student A's page exit is
never replayed under student B, and still reaches A.

The real ``tracker demo`` server (its X-Tracker-Subject tags and run ownership) and the real
tracker in Chromium: A works in a lesson and leaves it (the pagehide beacon's window stays
in localStorage until a later load confirms it, P3), signs out; B signs in on the same
browser and takes the lesson; A comes back.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import Page, Response, Route

# Registered for assert rewriting before the import, as in test_demo.py.
pytest.register_assert_rewrite("tests.e2e.demo_fixtures")

from .demo_fixtures import DemoProcess, dashboard, sign_in, wait_booted, wait_for_js  # noqa: E402
from .helpers import BOOTING, errors, stored_windows  # noqa: E402

pytest_plugins = ["tests.e2e.demo_fixtures"]

FRACTIONS = "fractions-with-like-denominators"


def _runs(data: dict[str, Any]) -> int:
    rows = [a for a in data["activities"] if a["activityUrl"].endswith(f"/{FRACTIONS}")]
    return int(rows[0]["runs"]) if rows else 0


def _sign_out(page: Page, base: str) -> None:
    page.goto(f"{base}index.html")
    page.locator("[data-sign-out]").click()
    page.wait_for_url(f"{base}signin.html")


def test_a_kept_window_waits_for_its_student(
    page: Page, demo_site: DemoProcess, console: list[tuple[str, str]]
) -> None:
    base = demo_site.url
    a, b = "student-a@example.com", "student-b@example.com"

    # A: a lesson, a flush (the reply tells the tracker whose windows these are), then away.
    sign_in(page, base, a)
    page.goto(f"{base}lessons/fractions.html")
    wait_booted(page)
    a_run = page.evaluate("lesson.activity.runId")
    page.evaluate("lesson.activity.flushTimeSpent()")
    page.wait_for_timeout(500)
    page.goto(f"{base}index.html")  # pagehide: the open window leaves by beacon, and is kept
    kept = stored_windows(page)
    assert kept, "the beacon's window is kept until a later load confirms it"
    _sign_out(page, base)

    # B on the same browser: the kept window is A's, so B's page must not send it (not even
    # to be refused: the server would 403 it as A's run, but it must not leave the page).
    sent: list[str] = []
    page.on(
        "request",
        lambda request: (
            sent.append(request.post_data or "")
            if request.url.endswith("/activity/heartbeat")
            else None
        ),
    )
    sign_in(page, base, b)
    page.goto(f"{base}lessons/fractions.html")
    wait_booted(page)
    b_run = page.evaluate("lesson.activity.runId")
    assert b_run != a_run
    page.evaluate("lesson.activity.flushTimeSpent()")
    page.wait_for_timeout(1000)  # time for any resend of earlier windows
    assert set(kept) <= set(stored_windows(page)), "A's window waits for A"
    assert sent and not [body for body in sent if a_run in body], sent
    page.evaluate("lesson.activity.end()")
    data = dashboard(page, base)
    assert _runs(data) == 1  # B's own run only
    _sign_out(page, base)

    # A again: the window is theirs, it is resent (a duplicate now) and let go.
    sign_in(page, base, a)
    page.goto(f"{base}lessons/fractions.html")
    wait_booted(page)
    keys = "Object.keys(localStorage).filter((k) => k.startsWith('timeback.window.'))"
    wait_for_js(page, f"!{keys}.some((k) => {sorted(kept)!r}.includes(k))")
    data = dashboard(page, base)
    assert _runs(data) == 2  # the first visit's run (with its beacon window) and this one
    assert errors(console) == []


# A's exit beacon is lost (the network dropped as the tab closed): the embed's stored copy is
# then the only one, and the server has never seen A's run.
LOSE_EXIT_REQUESTS = """
    if (localStorage.getItem("test.lose-exit-requests") === "1") {
        navigator.sendBeacon = () => false;
        const fetch = window.fetch;
        window.fetch = (url, init) =>
            init && init.keepalive ? Promise.reject(new TypeError("offline")) : fetch(url, init);
    }
"""


def test_an_untagged_boot_window_never_lands_on_the_next_student(
    page: Page, demo_site: DemoProcess, console: list[tuple[str, str]]
) -> None:
    """A closes the lesson before Python is ready: the embed keeps the boot window with no
    user tag. B's page replays it as untagged, the server finds no run of B's: refused, and
    the tracker drops it (a warning, not B's time)."""
    base = demo_site.url
    a, b = "student-a2@example.com", "student-b2@example.com"
    sign_in(page, base, a)
    page.add_init_script(LOSE_EXIT_REQUESTS)
    page.evaluate("localStorage.setItem('test.lose-exit-requests', '1')")
    held: list[Route] = []  # the runtime is held back: Python never gets ready on A's page
    page.route("**/pyodide.asm.mjs", lambda route: held.append(route))
    page.goto(f"{base}lessons/fractions.html")
    wait_for_js(page, "window.lesson && lesson.activity.runId")
    a_run = page.evaluate("lesson.activity.runId")
    page.wait_for_timeout(500)
    assert page.evaluate(BOOTING), "the page must leave before Python is ready"
    page.goto(f"{base}index.html")  # pagehide: the embed closes the boot window
    for route in held:
        route.abort()
    page.unroute("**/pyodide.asm.mjs")
    page.evaluate("localStorage.removeItem('test.lose-exit-requests')")
    kept = stored_windows(page)
    assert len(kept) == 1 and a_run in kept[0], kept
    record = json.loads(page.evaluate("(key) => localStorage.getItem(key)", kept[0]))
    assert "subject" not in record, "made before any answer: it names nobody"
    _sign_out(page, base)

    replays: list[tuple[str, int]] = []

    def on_response(response: Response) -> None:
        request = response.request
        if request.url.endswith("/activity/heartbeat") and a_run in (request.post_data or ""):
            replays.append((request.headers.get("x-tracker-replay", ""), response.status))

    page.on("response", on_response)
    sign_in(page, base, b)
    page.goto(f"{base}lessons/fractions.html")
    wait_booted(page)
    wait_for_js(page, f"localStorage.getItem({kept[0]!r}) === null")  # dropped once refused
    assert replays == [("untagged", 403)], replays
    page.evaluate("lesson.activity.end()")
    data = dashboard(page, base)
    assert _runs(data) == 1  # B's own run only: A's boot window is not B's time
    # One warning from the tracker; the only error line is Chromium's own for the 403.
    warnings = [text for kind, text in console if kind == "warning" and "refused" in text]
    assert len(warnings) == 1 and "UNVERIFIED_REPLAY" in warnings[0], warnings
    assert errors(console) == [
        "Failed to load resource: the server responded with a status of 403 (Forbidden)"
    ]
