"""Smoke tests: the bundle boots in Chromium offline, by the embed and by PyScript, and a
boot failure stays inside the tracker."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page

import tracker

from .helpers import LESSON, MARKS, boot_timeout_ms, errors, marks, wait_ready
from .recorder import Recorder
from .site import LiveSite


def test_embed_boots_offline_with_marks_in_order(
    page: Page,
    site: LiveSite,
    recorder: Recorder,
    console: list[tuple[str, str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(f"{site.url}/embed.html")

    assert wait_ready(page) is None
    found = marks(page)
    assert list(found) == list(MARKS), found
    times = [found[name] for name in MARKS]
    assert times == sorted(times)
    with capsys.disabled():
        steps = ", ".join(
            f"{name.removeprefix('timeback:')} {at:.0f} ms" for name, at in found.items()
        )
        print(f"\n  boot (cold, fresh context): {steps}")

    versions = page.evaluate(
        """async () => (await timeback.pyodide).runPython(
            "import pydantic, tracker; f'{pydantic.VERSION} {tracker.__version__}'")"""
    )
    assert versions == f"2.14.4 {tracker.__version__}"
    # The runtime and wheels came from the bundle on this server, nothing from elsewhere
    # (the context fixture checks every URL on teardown too).
    # ... from its versioned folder (cached as immutable by tracker serve).
    folder = r"/timeback/r-[0-9a-f]{16}/"
    assert any(re.search(rf"{folder}pyodide\.asm\.wasm$", url) for url in requests)
    # The tracker comes restored from the memory snapshot made of its wheel (issue 8).
    assert any(re.search(rf"{folder}snapshot\.bin$", url) for url in requests)
    assert all(url.startswith(site.url) or url.startswith("data:") for url in requests)
    assert page.text_content("#status") == "page works"
    assert errors(console) == []
    # Booting sends nothing to the API: no activity, no stored windows.
    assert recorder.requests == []


def test_bundle_works_under_any_prefix(page: Page, site: LiveSite) -> None:
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(f"{site.url}/prefix.html")

    assert wait_ready(page) is None
    bundle_files = [url for url in requests if re.search(r"\.(mjs|wasm|zip|whl|json)$", url)]
    assert bundle_files
    assert all(
        url.startswith(f"{site.url}/variants/ok/") or url.endswith("/timeback.config.json")
        for url in bundle_files
    ), bundle_files


def test_pyscript_page_boots_offline_with_the_local_runtime(
    page: Page, site: LiveSite, console: list[tuple[str, str]]
) -> None:
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(f"{site.url}/pyscript.html")

    page.wait_for_function(
        "document.getElementById('out').textContent !== 'loading'", timeout=boot_timeout_ms()
    )
    assert page.text_content("#out") == f"tracker {tracker.__version__} pydantic 2.14.4"
    runtime = re.compile(rf"{re.escape(site.url)}/timeback/r-[0-9a-f]{{16}}/pyodide\.mjs")
    assert any(runtime.fullmatch(url) for url in requests)
    assert any(re.search(r"/timeback/r-[0-9a-f]{16}/pyodide\.asm\.wasm$", url) for url in requests)
    assert errors(console) == []


@pytest.mark.parametrize(
    ("page_name", "reason"),
    [
        ("broken-runtime.html", "Failed to fetch dynamically imported module"),
        ("broken-lock.html", "could not load the Python packages"),
    ],
)
def test_boot_failure_rejects_ready_logs_and_leaves_the_page_working(
    page: Page, site: LiveSite, console: list[tuple[str, str]], page_name: str, reason: str
) -> None:
    # Calls made while booting: their promises reject and onError hears of the failure.
    page.add_init_script(
        """document.addEventListener("DOMContentLoaded", () => {
            window.seen = {errors: [], ended: null};
            const activity = timeback.activity.start({
                id: "lesson-1", name: "Fractions", course: {subject: "Math", grade: 3},
                onError: (error, context) =>
                    seen.errors.push([error.message, context.type, context.runId]),
            });
            seen.runId = activity.runId;
            activity.end().then(
                () => (seen.ended = "resolved"),
                (error) => (seen.ended = `rejected: ${error.message}`),
            );
        })"""
    )
    page.goto(f"{site.url}/{page_name}")

    failure = wait_ready(page)
    assert failure is not None
    assert "the tracker could not start" in failure
    assert reason in failure

    logged = [text for text in errors(console) if "the tracker could not start" in text]
    assert len(logged) == 1, console
    assert not [text for kind, text in console if kind == "pageerror"], console

    seen = page.evaluate("seen")
    assert seen["ended"].startswith("rejected: timeback: the tracker could not start")
    assert len(seen["errors"]) == 1
    message, context_type, run_id = seen["errors"][0]
    assert "the tracker could not start" in message
    assert (context_type, run_id) == ("timeSpent", seen["runId"])

    # The lesson goes on: its own script ran, its buttons work, the API stays callable.
    assert page.text_content("#status") == "page works"
    page.click("#next")
    assert page.get_attribute("#next", "data-clicks") == "1"
    after = page.evaluate(
        """async ([lesson, timeout]) => {
            const activity = timeback.activity.start(lesson);
            const late = new Promise((resolve) => setTimeout(() => resolve("pending"), timeout));
            const ended = await Promise.race([
                activity.end().then(() => "resolved", (error) => error.message),
                late,
            ]);
            return {current: timeback.activity.current, ended, id: activity.id};
        }""",
        [LESSON, 5000],
    )
    assert after["current"] is None
    assert after["id"] == LESSON["id"]
    assert "the tracker could not start" in after["ended"]
    assert not [text for kind, text in console if kind == "pageerror"], console
