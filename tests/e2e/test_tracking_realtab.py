"""Real browser behaviour, in a Chromium started by us and driven over CDP: tabs that really
become hidden (another tab in front, the window minimised), throttled timers in hidden tabs,
and the back/forward cache.

``chromium.launch()`` cannot do any of this: Playwright's focus emulation keeps every page
visible, and it starts Chromium with ``--disable-back-forward-cache`` (checked: after
``go_back()`` its pages get ``pageshow`` with ``persisted`` false). Pages of the default
context of ``cdp_chromium()`` get the real thing, so here the page's own listeners record
the browser's events and the tracker's windows are compared with their ``timeStamp``s.
Real time, so no scripted durations: the checks are against what the page recorded.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, Request, Route

from tracker.timefmt import whole_ms

from .conftest import assert_local
from .helpers import (
    HEARTBEAT,
    LESSON,
    assert_active_total,
    assert_windows_add_up,
    bodies,
    counted_windows,
    epoch_ms,
    iso,
    run_at_dom_ready,
    start_logged,
    stored_windows,
    wait_ready,
    window_body,
)
from .recorder import Recorder
from .site import LiveSite

# end() and the performance.now() of its call.
TIMED_END = """() => {
    const at = performance.now();
    return activity.end().then(() => [at, activity.isEnded]);
}"""
# The browser's own lifecycle events as the page saw them: [type, visibilityState,
# persisted, timeStamp]. In the back/forward cache the page's JS heap survives, and so does
# this log.
LIFECYCLE_LOG = """(() => {
    window.lifecycle = [];
    window.marker = Math.random();
    for (const [target, type] of [[document, "visibilitychange"], [window, "pagehide"],
                                  [window, "pageshow"]]) {
        target.addEventListener(type, (event) => lifecycle.push(
            [type, document.visibilityState, event.persisted ?? null, event.timeStamp]));
    }
})();"""


@pytest.fixture(scope="module")
def cdp_browser(playwright: Playwright, playwright_config: ModuleType) -> Iterator[Browser]:
    with playwright_config.cdp_chromium(playwright) as browser:
        yield browser


@pytest.fixture
def tab(cdp_browser: Browser, site: LiveSite, recorder: Recorder) -> Iterator[Page]:
    """A fresh tab of the default context (the one whose tabs really hide), with an empty
    localStorage; uncaught page errors fail the test; every request stays on 127.0.0.1."""
    context = cdp_browser.contexts[0]
    urls: list[str] = []
    pageerrors: list[str] = []

    def on_request(request: Request) -> None:
        urls.append(request.url)

    context.on("request", on_request)
    page = context.new_page()
    page.on("pageerror", lambda error: pageerrors.append(str(error)))
    page.goto(f"{site.url}/blank.html")
    page.evaluate("localStorage.clear(); sessionStorage.clear()")
    yield page
    for other in context.pages[1:]:  # the first is the about:blank Chromium opened with
        other.close()
    context.remove_listener("request", on_request)
    assert_local(urls)
    assert pageerrors == []


def lifecycle(page: Page, kind: str, **match: Any) -> list[float]:
    """timeStamps of the logged events of ``kind`` (visibilityState/persisted as given)."""
    found = []
    for event_type, state, persisted, stamp in page.evaluate("lifecycle"):
        if event_type != kind:
            continue
        if "state" in match and state != match["state"]:
            continue
        if "persisted" in match and persisted != match["persisted"]:
            continue
        found.append(stamp)
    return found


def origin(page: Page) -> int:
    # The tracker rounds timeOrigin once and every timestamp on its own (T3), halves up:
    # Python's round() takes halves to even and would be 1 ms off for a time ending in .5.
    time_origin: float = page.evaluate("performance.timeOrigin")
    return whole_ms(time_origin)


def test_real_hidden_tab_flushes_at_the_hide_and_pauses_at_exactly_the_timeout(
    tab: Page, site: LiveSite, recorder: Recorder
) -> None:
    """A real hidden tab (another tab brought to front). W5/T2: the flush at the hide ends
    at the visibilitychange event's timeStamp. H1: Chromium throttles timers in hidden tabs,
    yet the window of the hidden timeout ends at exactly hide + hiddenTimeoutMs. H2: onPause
    at the timeout, onResume when the tab is in front again, a fresh window at that event;
    no active time while hidden."""
    tab.goto(f"{site.url}/embed.html")
    assert wait_ready(tab) is None
    tab.evaluate(LIFECYCLE_LOG)
    run_id, s = start_logged(tab, {"hiddenTimeoutMs": 1_500})
    tab.wait_for_function("activity.totalActiveMs >= 200")

    other = tab.context.new_page()
    other.goto(f"{site.url}/blank.html")
    other.bring_to_front()
    tab.wait_for_function("document.visibilityState === 'hidden'", polling=50)
    hide_flush, timeout_window = recorder.wait_for(HEARTBEAT, count=2)
    tab.bring_to_front()
    tab.wait_for_function("document.visibilityState === 'visible'", polling=50)
    tab.wait_for_function("activity.elapsedMs >= 200")
    end_at, ended = tab.evaluate(TIMED_END)
    assert ended is True

    o = origin(tab)
    (hide,) = [whole_ms(t) for t in lifecycle(tab, "visibilitychange", state="hidden")]
    (show,) = [whole_ms(t) for t in lifecycle(tab, "visibilitychange", state="visible")]
    windows = bodies(recorder.wait_for(HEARTBEAT, count=3))
    assert windows[:2] == bodies([hide_flush, timeout_window])
    assert windows[0] == window_body(LESSON, run_id, s, o + hide, o + hide - s, 0)
    assert windows[1] == window_body(LESSON, run_id, o + hide, o + hide + 1_500, 0, 1_500)
    final = windows[2]
    assert final["startedAt"] == window_body(LESSON, run_id, o + show, 0, 0, 0)["startedAt"]
    assert final["pausedMs"] == 0
    assert abs(final["elapsedMs"] - (end_at - show)) <= 2
    assert_active_total(windows, (o + hide - s) + (end_at - show))

    (pause_at, resume_at) = [at for name, at in tab.evaluate("changes")]
    assert [name for name, _ in tab.evaluate("changes")] == ["pause", "resume"]
    assert pause_at >= hide + 1_500 - 1  # the timer is only the trigger (H1)
    assert resume_at >= show - 1
    assert tab.evaluate("flushes")[:2] == [o + hide - s, 0]


def test_tab_hidden_while_booting_is_not_counted(
    tab: Page, site: LiveSite, recorder: Recorder
) -> None:
    """B1/B2: an activity started while Python boots; the window is minimised and restored
    before Python runs (the runtime's download is held until then). The boot replay rebuilds
    the hidden stretch from the browser's visibility-state entries: the first window ends at
    the hide, the hidden stretch is pausedMs, and the JS estimate while booting already
    leaves it out."""
    held: list[Route] = []
    # The runtime's download is held: boot waits there until the test lets it go.
    tab.route("**/pyodide.asm.wasm", lambda route: held.append(route))
    run_at_dom_ready(
        tab,
        """
        window.calledAt = performance.now();
        window.activity = timeback.activity.start(LESSON);
        """,
        LESSON=LESSON,
    )
    tab.add_init_script(LIFECYCLE_LOG)
    tab.goto(f"{site.url}/embed.html", wait_until="domcontentloaded")
    tab.wait_for_function("window.activity !== undefined")

    cdp = tab.context.new_cdp_session(tab)
    window_id = cdp.send("Browser.getWindowForTarget")["windowId"]
    cdp.send(
        "Browser.setWindowBounds", {"windowId": window_id, "bounds": {"windowState": "minimized"}}
    )
    tab.wait_for_function("document.visibilityState === 'hidden'", polling=50)
    hidden_since = lifecycle(tab, "visibilitychange", state="hidden")[0]
    tab.wait_for_function(f"performance.now() > {hidden_since + 500}", polling=50)
    cdp.send(
        "Browser.setWindowBounds", {"windowId": window_id, "bounds": {"windowState": "normal"}}
    )
    tab.wait_for_function("document.visibilityState === 'visible'", polling=50)
    cdp.detach()

    booting = tab.evaluate(
        """() => ({booting: performance.getEntriesByName("timeback:ready").length === 0,
                  now: performance.now(), estimate: activity.totalActiveMs})"""
    )
    assert booting["booting"] and held, "the hide and show must happen while booting"
    called_at = tab.evaluate("calledAt")
    (hide,) = lifecycle(tab, "visibilitychange", state="hidden")
    (show,) = lifecycle(tab, "visibilitychange", state="visible")
    # timeback.js's own estimate until Python takes over: hidden time left out.
    assert abs(booting["estimate"] - ((hide - called_at) + (booting["now"] - show))) <= 2

    for route in held:
        route.continue_()
    tab.unroute("**/pyodide.asm.wasm")
    assert wait_ready(tab) is None
    assert tab.evaluate("performance.getEntriesByName('timeback:ready')[0].startTime") > show
    run_id, s = tab.evaluate("[activity.runId, activity.startedAt.getTime()]")
    end_at, ended = tab.evaluate(TIMED_END)
    assert ended is True

    o = origin(tab)
    assert abs(s - (o + called_at)) <= 2  # B1: started at the call
    windows = bodies(recorder.wait_for(HEARTBEAT, count=2))
    assert_windows_add_up(windows)
    first, final = windows
    # Python placed the hide at the browser's visibility-state entry, which Chromium stamps
    # within a fraction of a millisecond of the event: 1 ms of rounding either way.
    assert first["runId"] == final["runId"] == run_id
    assert first["startedAt"] == iso(s) and first["pausedMs"] == 0
    assert abs(epoch_ms(first["endedAt"]) - (o + hide)) <= 1
    assert final["startedAt"] == first["endedAt"]
    assert abs(final["pausedMs"] - (show - hide)) <= 2
    assert abs(final["elapsedMs"] - (end_at - show)) <= 2
    assert_active_total(windows, (hide - called_at) + (end_at - show))


def test_back_forward_cache_restore_opens_a_fresh_window_and_skips_the_cached_time(
    tab: Page, site: LiveSite, recorder: Recorder
) -> None:
    """P1: leaving the page (into the back/forward cache) sends the open window by beacon,
    ending at pagehide. P2: back again, pageshow with persisted true opens a fresh window;
    the time in the cache is in no window. P3: the beacon's window, unacknowledged, is sent
    again with the next flush and answered as a duplicate."""
    tab.add_init_script(LIFECYCLE_LOG)
    tab.goto(f"{site.url}/embed.html")
    assert wait_ready(tab) is None
    marker = tab.evaluate("marker")
    run_id, s = start_logged(tab)
    tab.wait_for_function("activity.totalActiveMs >= 200")

    tab.goto(f"{site.url}/blank.html")
    (beacon,) = recorder.wait_for(HEARTBEAT)
    assert beacon.headers["content-type"] == "application/json"
    left_at = epoch_ms(beacon.json()["endedAt"])
    tab.wait_for_function(f"Date.now() > {left_at + 1000}")  # a second in the cache
    tab.go_back(wait_until="commit")  # a restore fires no load event
    tab.wait_for_function(
        "lifecycle.some(([type, , persisted]) => type === 'pageshow' && persisted)"
    )
    # It really came from the cache: the same JS heap, a persisted pagehide and pageshow.
    assert tab.evaluate("marker") == marker
    (left,) = lifecycle(tab, "pagehide", persisted=True)
    (back,) = lifecycle(tab, "pageshow", persisted=True)
    assert back - left >= 1000

    tab.wait_for_function("activity.elapsedMs >= 200")
    end_at, ended = tab.evaluate(TIMED_END)
    assert ended is True
    # Visible again at pageshow, or at the visibilitychange that follows it.
    visible = max([back, *[t for t in lifecycle(tab, "visibilitychange", state="visible")]])

    o = origin(tab)
    requests = recorder.wait_for(HEARTBEAT, count=3)
    before = window_body(LESSON, run_id, s, o + whole_ms(left), o + whole_ms(left) - s, 0)
    assert beacon.json() == before
    assert (requests[1].status, requests[1].json()) == (200, before)  # resent (P3)
    after = requests[2].json()
    # P2: the fresh window opens at the restore. Chromium stamps pageshow a few ms before
    # the visibilitychange to visible but dispatches it after; the tracker never places an
    # event before one it already handled (decisions), so the window may open at either.
    assert o + whole_ms(back) <= epoch_ms(after["startedAt"]) <= o + whole_ms(visible)
    assert abs(after["elapsedMs"] - (end_at - visible)) <= 2
    assert_windows_add_up([after])
    assert stored_windows(tab) == []
    assert_active_total(counted_windows(requests), (o + whole_ms(left) - s) + (end_at - visible))
