"""Two students on one browser (issue 10): a window kept after student A's page exit is
never replayed under student B, and still reaches A.

The real ``tracker demo`` server (its X-Tracker-Subject tags and run ownership) and the real
tracker in Chromium: A works in a lesson and leaves it (the pagehide beacon's window stays
in localStorage until a later load confirms it, P3), signs out; B signs in on the same
browser and takes the lesson; A comes back.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page

# Registered for assert rewriting before the import, as in test_demo.py.
pytest.register_assert_rewrite("tests.e2e.demo_fixtures")

from .demo_fixtures import DemoProcess, dashboard, sign_in, wait_booted, wait_for_js  # noqa: E402
from .helpers import errors, stored_windows  # noqa: E402

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
