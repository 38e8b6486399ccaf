"""Leaving the page: the last window goes out by beacon at pagehide (P1) and, unacknowledged,
is kept and sent again by the next page load (P3).

Under the fake clock the ``pagehide`` event's ``timeStamp`` is the stopped fake time, so the
window must end exactly at the exit. Beacons are not reported by Playwright's request
events, so the page carries a spy (``EXIT_SPY``): it logs ``sendBeacon`` and keepalive
``fetch`` calls in ``sessionStorage`` (which outlives the page within the tab) and can
refuse either. The back/forward cache needs a Chromium that allows it: it is tested in
``test_tracking_realtab.py``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page

from .helpers import (
    HEARTBEAT,
    LESSON,
    advance,
    assert_active_total,
    bodies,
    boot_with_fake_clock,
    counted_windows,
    freeze_clock,
    iso,
    page_errors,
    set_visibility,
    start_logged,
    stored_windows,
    wait_ready,
    wait_store_empty,
    window_body,
)
from .recorder import Recorder
from .site import LiveSite

EXIT_SPY = """(() => {
    const log = (entry) => {
        const entries = JSON.parse(sessionStorage.getItem("exitSpy") || "[]");
        entries.push(entry);
        sessionStorage.setItem("exitSpy", JSON.stringify(entries));
    };
    const path = (url) => new URL(String(url), location.href).pathname;
    const sendBeacon = navigator.sendBeacon;
    Object.defineProperty(navigator, "sendBeacon", {configurable: true, value: (url, data) => {
        const refuse = sessionStorage.getItem("refuseBeacon") === "1";
        const queued = refuse ? false : sendBeacon.call(navigator, url, data);
        log(["sendBeacon", path(url), data instanceof Blob ? data.type : typeof data, queued]);
        return queued;
    }});
    const fetch = window.fetch;
    window.fetch = function (input, init) {
        if (init && init.keepalive) {
            log(["fetch keepalive", path(input)]);
            if (sessionStorage.getItem("refuseKeepalive") === "1") {
                return Promise.reject(new TypeError("keepalive refused by the test"));
            }
        }
        return fetch.apply(this, arguments);
    };
})();"""
HEARTBEAT_PATH = "/api/timeback/activity/heartbeat"


def exit_spy(page: Page) -> list[list[Any]]:
    entries: list[list[Any]] = json.loads(
        page.evaluate("sessionStorage.getItem('exitSpy') || '[]'")
    )
    return entries


def stored_body(page: Page, key: str) -> str:
    record: dict[str, str] = json.loads(page.evaluate("(key) => localStorage.getItem(key)", key))
    return record["body"]


def test_navigating_away_sends_the_last_window_by_beacon_and_the_next_load_resends_it(
    page: Page, site: LiveSite, recorder: Recorder, console: list[tuple[str, str]]
) -> None:
    """P1: the open window is closed at pagehide, at the exit time, and handed to
    navigator.sendBeacon as application/json; when the beacon is refused, it goes by
    fetch(..., {keepalive: true}). P3: the beacon got no answer, so the window stays in
    localStorage; the next page load sends it again, byte for byte, and the server's dedupe
    answers duplicate: it is counted once and the store is emptied."""
    page.add_init_script(EXIT_SPY)
    boot_with_fake_clock(page, f"{site.url}/embed.html")
    run_id, s = start_logged(page)
    advance(page, 22_000)  # a heartbeat at 15 s, then 7 s in the open window
    page.wait_for_function("flushes.length === 1")  # acknowledged: no longer stored
    page.goto(f"{site.url}/blank.html")  # exit at t = 22 s

    first, beacon = recorder.wait_for(HEARTBEAT, count=2)
    assert first.json() == window_body(LESSON, run_id, s, s + 15_000, 15_000, 0)
    assert beacon.json() == window_body(LESSON, run_id, s + 15_000, s + 22_000, 7_000, 0)
    assert beacon.headers["content-type"] == "application/json"
    assert exit_spy(page) == [["sendBeacon", HEARTBEAT_PATH, "application/json", True]]
    # Kept until acknowledged, under its identity (decisions: delivery), as sent.
    key = f"timeback.window.{iso(s + 15_000)}.{run_id}"
    assert stored_windows(page) == [key]
    assert stored_body(page, key) == beacon.body.decode()

    # The next page with the tracker delivers it again as part of its boot (P3).
    page.goto(f"{site.url}/embed.html", wait_until="commit")
    page.clock.resume()  # let the runtime boot on flowing (fake) time
    assert wait_ready(page) is None
    *_, resent = recorder.wait_for(HEARTBEAT, count=3)
    assert resent.body == beacon.body
    assert (resent.status, resent.json(), resent.body) == (200, beacon.json(), beacon.body)
    assert [r.status for r in recorder.of(HEARTBEAT)] == [204, 204, 200]
    wait_store_empty(page)
    assert_active_total(counted_windows(recorder.of(HEARTBEAT)), 22_000)

    # A refused beacon (the keepalive quota is used up, say): the fetch keepalive fallback.
    recorder.clear()
    freeze_clock(page)
    run_id, s = start_logged(page)
    advance(page, 4_000)
    page.evaluate("sessionStorage.clear(); sessionStorage.setItem('refuseBeacon', '1')")
    page.goto(f"{site.url}/blank.html")
    (fallback,) = recorder.wait_for(HEARTBEAT)
    assert fallback.json() == window_body(LESSON, run_id, s, s + 4_000, 4_000, 0)
    assert fallback.headers["content-type"] == "application/json"
    assert exit_spy(page) == [
        ["sendBeacon", HEARTBEAT_PATH, "application/json", False],
        ["fetch keepalive", HEARTBEAT_PATH],
    ]
    assert_active_total(counted_windows(recorder.of(HEARTBEAT)), 4_000)
    assert page_errors(console) == []


@pytest.mark.parametrize("close", ["page.close", "context.close"])
def test_closing_the_tab_sends_the_last_window_by_beacon_at_the_exit_time(
    page: Page, context: BrowserContext, site: LiveSite, recorder: Recorder, close: str
) -> None:
    """P1 on closing the tab (page.close()) or the whole browser context: pagehide closes
    the window at that moment and sendBeacon delivers it. This page refuses keepalive
    fetches, so what arrives came by beacon. The window holds a hidden stretch, so its
    pausedMs is exercised too (W3)."""
    page.add_init_script(EXIT_SPY)
    page.add_init_script("sessionStorage.setItem('refuseKeepalive', '1')")
    boot_with_fake_clock(page, f"{site.url}/embed.html")
    run_id, s = start_logged(page)
    advance(page, 4_000)
    set_visibility(page, "hidden")  # t = 4 s: hide flush
    advance(page, 3_000)
    set_visibility(page, "visible")  # t = 7 s
    advance(page, 2_500)
    page.wait_for_function("flushes.length === 1")

    if close == "page.close":
        page.close()  # fires pagehide, like closing the tab
    else:
        context.close()

    first, beacon = recorder.wait_for(HEARTBEAT, count=2)
    windows = bodies([first, beacon])
    assert windows == [
        window_body(LESSON, run_id, s, s + 4_000, 4_000, 0),
        window_body(LESSON, run_id, s + 4_000, s + 9_500, 2_500, 3_000),  # ends at the exit
    ]
    assert beacon.headers["content-type"] == "application/json"
    assert beacon.status == 204
    assert_active_total(windows, 4_000 + 2_500)
