"""The demo site end to end: the real ``tracker demo`` server, Chromium, a learner's visit.

Each test signs in as a new user, works in a lesson as a person would (answers, a hidden tab,
leaving the page, coming back) and then checks that the dashboard, which reads the server's
store, shows what was done: XP, active minutes, the gradebook and course progress.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

# The fixtures come in through pytest_plugins below; the module is imported here first, so
# its asserts must be registered for rewriting before that import.
pytest.register_assert_rewrite("tests.e2e.demo_fixtures")

from .demo_fixtures import (  # noqa: E402
    DemoProcess,
    advance,
    dashboard,
    panel,
    set_hidden,
    sign_in,
    start_demo,
    stat,
    wait_booted,
    wait_for_js,
)
from .helpers import boot_timeout_ms, errors  # noqa: E402

pytest_plugins = ["tests.e2e.demo_fixtures"]

FRACTIONS = "fractions-with-like-denominators"
ARRAYS = "arrays-and-multiplication"
STORY = "the-lighthouse-keeper"


def _row(data: dict[str, Any], lesson: str) -> dict[str, Any]:
    rows = [
        g
        for g in data["gradebook"]
        if g["kind"] == "activity" and g["activityUrl"].endswith(f"/{lesson}")
    ]
    assert len(rows) == 1, rows
    row: dict[str, Any] = rows[0]
    return row


def _activity(data: dict[str, Any], lesson: str) -> dict[str, Any]:
    rows = [a for a in data["activities"] if a["activityUrl"].endswith(f"/{lesson}")]
    assert len(rows) == 1, data["activities"]
    row: dict[str, Any] = rows[0]
    return row


def _course(data: dict[str, Any], key: str) -> dict[str, Any]:
    for course in data["courses"]:
        if course["code"] == key or f"{course['subject']} G{course['grade']}" == key:
            found: dict[str, Any] = course
            return found
    raise AssertionError(f"no course {key}")


def test_demo_command_starts_in_seconds_and_stops_on_ctrl_c(
    bundle: Path, tmp_path: Path, demo_site: DemoProcess
) -> None:
    # demo_site built nothing new (the bundle fixture did); a second instance starts as fast.
    again = start_demo(tmp_path / "data", bundle)
    try:
        assert again.started_in_s < 15, again.started_in_s
        with urllib.request.urlopen(again.url) as response:  # the catalogue page
            assert response.status == 200
            assert b"Lessons" in response.read()
        with urllib.request.urlopen(f"{again.url}demo/api/session") as response:
            assert json.loads(response.read()) == {"email": None}
    finally:
        code = again.stop()
    assert code == 0, again.stderr
    text = "\n".join(again.stderr)
    assert "tracker build: bundle ready" in text  # progress of the build step
    assert "tracker demo: stopped" in text
    assert (tmp_path / "data" / "tracker.sqlite3").is_file()
    assert (tmp_path / "data" / "demo.sqlite3").is_file()


def _call(
    opener: urllib.request.OpenerDirector,
    base: str,
    path: str,
    body: dict[str, Any] | None = None,
    method: str | None = None,
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{base}{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    request.add_header("Origin", base.rstrip("/"))
    try:
        with opener.open(request) as response:
            text = response.read()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def test_demo_routes_need_a_session_and_check_what_they_are_sent(
    demo_site: DemoProcess, email: str
) -> None:
    base = demo_site.url
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    run = f"demo/api/lessons/{STORY}/run"
    for path in ("demo/api/dashboard", "demo/api/events", "demo/api/runs", run):
        status, body = _call(opener, base, path)
        assert (status, body["error"]["code"]) == (401, "UNAUTHORIZED"), path
    assert _call(opener, base, "auth/login", {"email": email})[0] == 200
    assert _call(opener, base, "demo/api/session") == (200, {"email": email})

    # Only stateful lessons have runs; a run is completed only when every part is done.
    assert _call(opener, base, f"demo/api/lessons/{FRACTIONS}/run")[0] == 404
    status, first = _call(opener, base, run)
    assert (status, first["step"], first["visits"], first["parts"]) == (200, 0, 1, 3)
    status, body = _call(opener, base, f"demo/api/lessons/{STORY}/complete", {})
    assert (status, body["error"]["code"]) == (409, "NOT_FINISHED")
    for bad in ({"step": 4, "answers": {}}, {"step": 1, "answers": {"0.0": "a"}}, [1]):
        status, body = _call(opener, base, run, bad, "PUT")  # type: ignore[arg-type]
        assert (status, body["error"]["code"]) == (400, "INVALID_PAYLOAD"), bad
    status, saved = _call(opener, base, run, {"step": 1, "answers": {"0.0": 0}}, "PUT")
    assert (status, saved["step"], saved["runId"]) == (200, 1, first["runId"])
    assert _call(opener, base, "demo/api/runs")[1]["runs"][STORY]["step"] == 1
    status, again = _call(opener, base, run)  # a second visit: same run, counted
    assert (again["runId"], again["visits"], again["step"]) == (first["runId"], 2, 1)
    assert _call(opener, base, "demo/api/dashboard?tz=Mars/Olympus")[0] == 400
    assert _call(opener, base, "demo/api/events?after=-1")[0] == 400
    assert _call(opener, base, f"{run}/restart", {})[0] == 204
    assert _call(opener, base, run)[1]["runId"] != first["runId"]


def test_sign_in_then_catalogue_of_both_courses(
    page: Page, demo_site: DemoProcess, email: str, console: list[tuple[str, str]]
) -> None:
    base = demo_site.url
    sign_in(page, base, email)  # the catalogue sent us to the sign-in page first

    expect(page.locator("[data-user-email]")).to_have_text(email)
    expect(page.locator(".course")).to_have_count(2)
    expect(page.get_by_role("heading", name="Math · Grade 3")).to_be_visible()
    expect(page.get_by_role("heading", name="Reading · Grade 4")).to_be_visible()
    cards = page.locator("[data-lesson]")
    expect(cards).to_have_count(3)
    assert cards.evaluate_all("cards => cards.map(c => c.dataset.lesson)") == [
        FRACTIONS,
        ARRAYS,
        STORY,
    ]
    # The session cookie is httpOnly and signed; the API knows the user by it.
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["timeback_session"]["httpOnly"]
    verify = page.evaluate("fetch('api/timeback/user/verify').then(r => r.json())")
    assert verify["email"] == email

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/signin\.html"))
    assert page.evaluate("fetch('demo/api/session').then(r => r.json())") == {"email": None}
    assert errors(console) == []


def test_js_quiz_minutes_xp_gradebook_and_progress_on_the_dashboard(
    page: Page, demo_site: DemoProcess, email: str, console: list[tuple[str, str]]
) -> None:
    base = demo_site.url
    sign_in(page, base, email)
    page.clock.install()  # before goto: the lesson's timers and performance.now() are fake
    page.goto(f"{base}lessons/fractions.html")
    wait_booted(page)
    expect(page.locator("[data-live-panel]")).to_have_attribute("data-state", "running")

    # Five questions, all right, 30 s on each: about 2.5 active minutes.
    for answer in ("3/5", "7/8", "4/6", "1 whole", "5/7"):
        page.get_by_role("button", name=answer, exact=True).click()
        advance(page, 30)
        page.locator("[data-next]").click()
    expect(page.locator("[data-result]")).to_be_visible(timeout=boot_timeout_ms())

    total_ms = int(page.evaluate("lesson.activity.totalActiveMs"))
    xp = int(page.get_attribute("[data-xp]", "data-xp") or "-1")
    # 2.5 fake minutes, plus the real seconds of the boot (the activity runs from its call).
    assert 150_000 <= total_ms < 210_000, total_ms
    assert xp == round(total_ms / 60_000) == 3
    expect(page.locator("[data-live-panel]")).to_have_attribute("data-state", "ended")
    shown = panel(page)
    assert len(shown["flushes"]) == 4  # one every 15 s; the panel lists the last four
    assert shown["errors"] == ["none"]

    data = dashboard(page, base)
    assert data["email"] == email
    assert data["xp"] == {"today": 3, "all": 3, "allTime": 3}
    assert stat(page, "xp-today") == "3"
    assert stat(page, "xp-all") == "3"
    # Minutes: the server's ledger has every window the page measured, to the millisecond.
    assert _activity(data, FRACTIONS)["activeMs"] == total_ms
    assert data["activeMinutes"]["allTime"] == round(total_ms / 60_000, 2)
    # Shown with one decimal (the server's minutes have two: rounded twice, within 0.06).
    assert abs(float(stat(page, "minutes-all")) - total_ms / 60_000) < 0.06
    assert sum(day["activeMinutes"] for day in data["days"]) == round(total_ms / 60_000, 2)
    row = _row(data, FRACTIONS)
    assert (row["attempt"], row["correctQuestions"], row["totalQuestions"]) == (1, 5, 5)
    assert (row["score"], row["xpCredited"], row["masteredUnits"]) == (100, 3, 1)
    # One mastered lesson of Math G3's two: 50 %.
    assert _course(data, "Math G3")["pctComplete"] == 50
    expect(page.locator('[data-course="Math G3"]')).to_have_attribute("data-pct", "50")
    expect(page.locator(f'tr[data-activity="{FRACTIONS}"] td').nth(3)).to_have_text("5/5 · 100%")
    # The live feed shows the Caliper events the server produced for this run.
    expect(page.locator('[data-feed] li[data-type="ActivityEvent"]')).to_have_count(1)
    assert page.locator('[data-feed] li[data-type="TimeSpentEvent"]').count() >= 10
    assert errors(console) == []


def test_python_lesson_hidden_tab_pauses_time_and_reaches_the_dashboard(
    page: Page, demo_site: DemoProcess, email: str, console: list[tuple[str, str]]
) -> None:
    base = demo_site.url
    sign_in(page, base, email)
    page.goto(f"{base}lessons/arrays.html")
    live = page.locator("[data-live-panel]")
    expect(live).to_have_attribute("data-state", "running", timeout=boot_timeout_ms())

    for answer in ("6", "12"):
        page.get_by_label("How many dots?").fill(answer)
        page.get_by_role("button", name="Check").click()
        page.locator("#next").click()

    # Hide the tab: the tracker flushes at once (onFlush in the panel) and counts no time.
    flushes_before = len([f for f in panel(page)["flushes"] if "active" in f])
    set_hidden(page, True)
    expect(live).to_have_attribute("data-state", "hidden")
    wait_for_js(
        page,
        f"document.querySelectorAll('[data-flushes] li').length > {flushes_before}"
        " && !document.querySelector('[data-flushes] li.muted')",
    )
    hidden_at = panel(page)["totalActiveMs"]
    time.sleep(1.5)
    assert panel(page)["totalActiveMs"] == hidden_at
    set_hidden(page, False)
    expect(live).to_have_attribute("data-state", "running")

    for answer in ("20", "18", "24"):  # the last one is wrong: 5 x 5 = 25
        page.get_by_label("How many dots?").fill(answer)
        page.get_by_role("button", name="Check").click()
        page.locator("#next").click()
    expect(page.locator("[data-result]")).to_be_visible()
    total_ms = int(panel(page)["totalActiveMs"])
    assert page.get_attribute("[data-xp]", "data-xp") == "1"  # 4/5 = 80 %: XP, no mastery

    data = dashboard(page, base)
    row = _row(data, ARRAYS)
    assert (row["attempt"], row["correctQuestions"], row["totalQuestions"]) == (1, 4, 5)
    assert (row["score"], row["xpCredited"], row["masteredUnits"]) == (80, 1, 0)
    assert data["xp"]["allTime"] == 1
    # The hidden stretch is paused time: the ledger's active time is what the page counted
    # (the panel shows it to the 250 ms of its refresh).
    active_ms = int(_activity(data, ARRAYS)["activeMs"])
    assert abs(active_ms - total_ms) < 300, (active_ms, total_ms)
    assert active_ms < 60_000
    assert _course(data, "Math G3")["pctComplete"] is None  # nothing mastered yet
    assert errors(console) == []


def test_stateful_lesson_resumes_its_run_over_visits_and_the_server_completes_it(
    page: Page,
    context: BrowserContext,
    demo_site: DemoProcess,
    email: str,
    console: list[tuple[str, str]],
) -> None:
    base = demo_site.url
    sign_in(page, base, email)
    page.clock.install()
    story = f"{base}lessons/story.html"

    def answer_part(choices: list[str]) -> None:
        for choice in choices:
            page.get_by_label(choice, exact=True).check()
        page.locator("[data-part] button[type=submit]").click()

    # Visit 1: part 1, a minute of reading, then leave for the catalogue (pagehide beacon).
    page.goto(story)
    wait_booted(page)
    run_id = page.evaluate("lesson.run.runId")
    assert page.evaluate("lesson.activity.runId") == run_id
    expect(page.locator("[data-visit]")).to_have_attribute("data-visit", "1")
    advance(page, 60)
    answer_part(["Eleven winters", "A green light"])
    expect(page.locator("[data-saved]")).to_have_attribute("data-saved", "1")
    page.goto(f"{base}index.html")
    expect(page.locator(f'[data-lesson="{STORY}"] [data-run-step]')).to_have_text(
        "Part 2 of 3 next"
    )

    # Visit 2: the same run, part 2.
    page.goto(story)
    wait_booted(page)
    assert page.evaluate("lesson.activity.runId") == run_id
    expect(page.locator("[data-visit]")).to_have_attribute("data-visit", "2")
    expect(page.get_by_role("heading", name="Part 2 · The signal")).to_be_visible()
    advance(page, 60)
    answer_part(["Its engine had failed", "Two short flashes"])
    with page.expect_navigation():
        page.get_by_role("link", name="Continue now (new visit)").click()

    # Visit 3: the last part; the page flushes its time, the server records the completion.
    wait_booted(page)
    assert page.evaluate("lesson.activity.runId") == run_id
    expect(page.get_by_role("heading", name="Part 3 · Morning")).to_be_visible()
    advance(page, 60)
    answer_part(["Safe in the harbour", "How a keeper's signal saved a boat"])
    expect(page.locator("[data-result]")).to_be_visible()
    result = page.evaluate("lesson.run.result")
    assert (result["correctQuestions"], result["totalQuestions"]) == (6, 6)
    assert result["attempt"] == 1
    assert result["masteredUnits"] == 1

    data = dashboard(page, base)
    # Every visit's windows landed in the one run, beacons included; the server's XP is
    # 1 per active minute of that run: three fake minutes plus the real seconds of boots.
    activity = _activity(data, STORY)
    assert activity["runs"] == 1
    assert activity["windows"] >= 3 * 4
    active_ms = int(activity["activeMs"])
    assert 180_000 <= active_ms < 210_000, active_ms
    assert result["activeMinutes"] == int(active_ms / 600) / 100
    assert result["xpEarned"] == result["xpCredited"] == round(active_ms / 60_000) == 3
    row = _row(data, STORY)
    assert row["runId"] == run_id
    assert (row["attempt"], row["score"], row["xpCredited"]) == (1, 100, 3)
    assert data["xp"]["allTime"] == 3
    # One mastered lesson of READ-4's three: 33 %.
    assert _course(data, "READ-4")["pctComplete"] == 33
    expect(page.locator('[data-course="READ-4"]')).to_have_attribute("data-pct", "33")
    events = page.evaluate("fetch('demo/api/events?limit=200').then(r => r.json())")["events"]
    sessions = {e["event"]["session"] for e in events}
    assert sessions == {f"urn:uuid:{run_id}"}
    completed = [e for e in events if e["type"] == "ActivityEvent"]
    assert len(completed) == 1
    assert completed[0]["event"]["actor"]["email"] == email

    # Back on the lesson: it is done; reading it again starts a new run.
    page.goto(story)
    expect(page.locator("[data-result]")).to_be_visible()
    with page.expect_navigation():
        page.get_by_role("button", name="Read it again").click()
    wait_booted(page)
    assert page.evaluate("lesson.run.runId") != run_id
    assert errors(console) == []


def test_a_lesson_mastered_twice_is_one_mastered_lesson(
    page: Page, demo_site: DemoProcess, email: str, console: list[tuple[str, str]]
) -> None:
    base = demo_site.url
    sign_in(page, base, email)
    for run in (1, 2):
        page.goto(f"{base}lessons/fractions.html")
        wait_booted(page)
        for answer in ("3/5", "7/8", "4/6", "1 whole", "5/7"):
            page.get_by_role("button", name=answer, exact=True).click()
            page.locator("[data-next]").click()
        expect(page.locator("[data-result]")).to_be_visible(timeout=boot_timeout_ms())
        expect(page.locator("[data-result]")).to_contain_text(
            "Mastered" if run == 1 else "Mastered again"
        )
    data = dashboard(page, base)
    rows = [g for g in data["gradebook"] if g["kind"] == "activity"]
    # Newest first: the second run masters nothing new.
    assert [(g["attempt"], g["masteredUnits"]) for g in rows] == [(2, 0), (1, 1)]
    # One of Math G3's two lessons, however often it was mastered: 50 %, not "2 of 2".
    assert _course(data, "Math G3")["pctComplete"] == 50
    page.goto(f"{base}index.html")
    badge = page.locator(f'[data-lesson="{FRACTIONS}"] [data-grade]')
    expect(badge).to_have_text("Mastered · best 100 %")
    assert errors(console) == []


def test_a_failed_lesson_is_not_shown_as_done_in_green(
    page: Page, demo_site: DemoProcess, email: str, console: list[tuple[str, str]]
) -> None:
    base = demo_site.url
    sign_in(page, base, email)
    page.goto(f"{base}lessons/fractions.html")
    wait_booted(page)
    for answer in ("3/10", "7/16", "4/0", "1 whole", "5/7"):  # two of five right
        page.get_by_role("button", name=answer, exact=True).click()
        page.locator("[data-next]").click()
    expect(page.locator("[data-result]")).to_contain_text("Not mastered yet")
    page.goto(f"{base}index.html")
    badge = page.locator(f'[data-lesson="{FRACTIONS}"] [data-grade]')
    expect(badge).to_have_text("Finished, not mastered yet · best 40 %")
    assert "badge--ok" not in (badge.get_attribute("class") or "")
    # Student words: no API jargon on the catalogue.
    text = page.locator("main").inner_text()
    assert "selector" not in text and "runId" not in text
    assert errors(console) == []


def test_the_story_stops_counting_when_a_visit_is_saved(
    page: Page, demo_site: DemoProcess, email: str, console: list[tuple[str, str]]
) -> None:
    base = demo_site.url
    sign_in(page, base, email)
    page.clock.install()
    page.goto(f"{base}lessons/story.html")
    wait_booted(page)
    for choice in ("Eleven winters", "A green light"):
        page.get_by_label(choice, exact=True).check()
    page.locator("[data-part] button[type=submit]").click()
    expect(page.locator("[data-saved]")).to_have_attribute("data-saved", "1")
    page.wait_for_function("() => lesson.activity.isEnded")
    counted = int(page.evaluate("lesson.activity.totalActiveMs"))
    advance(page, 120)  # two minutes on "See you next time"
    assert int(page.evaluate("lesson.activity.totalActiveMs")) == counted
    assert page.evaluate("timeback.activity.current") is None
    assert errors(console) == []


def test_the_dashboard_follows_the_gradebook_pages_to_the_last(
    page: Page, demo_site: DemoProcess, email: str, console: list[tuple[str, str]]
) -> None:
    """More completions than one page (50) holds: the dashboard shows them all."""
    base = demo_site.url
    sign_in(page, base, email)
    statuses = page.evaluate(
        """async (count) => {
            const statuses = [];
            const now = Date.now();
            for (let i = 0; i < count; i += 1) {
                const body = {
                    id: "fractions-with-like-denominators",
                    name: "Fractions with Like Denominators",
                    course: { subject: "Math", grade: 3 },
                    runId: crypto.randomUUID(),
                    endedAt: new Date(now - 60_000 + i).toISOString(),
                    metrics: { xpEarned: 0, totalQuestions: 5, correctQuestions: i % 6 },
                };
                const answer = await fetch("api/timeback/activity/submit", {
                    method: "POST",
                    headers: { "Content-Type": "application/json" },
                    body: JSON.stringify(body),
                });
                statuses.push(answer.status);
            }
            return statuses;
        }""",
        55,
    )
    assert statuses == [204] * 55
    first = page.evaluate("demo.api('demo/api/dashboard?tz=UTC')")
    assert len(first["gradebook"]) == 50 and first["gradebookNextCursor"]
    data = dashboard(page, base)
    attempts = [g["attempt"] for g in data["gradebook"] if g["kind"] == "activity"]
    assert attempts == list(range(55, 0, -1))
    expect(page.locator(f'[data-gradebook] tr[data-activity="{FRACTIONS}"]')).to_have_count(55)
    assert errors(console) == []
