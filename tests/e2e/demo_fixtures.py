"""Fixtures and helpers of the demo's end-to-end tests (test_demo*.py, test_static*.py).

``demo_site`` runs the real ``tracker demo`` command in a subprocess (127.0.0.1, a free port,
a temporary data folder), reads the URL it prints, and stops it with Ctrl-C (SIGINT) at the
end, checking that it exits cleanly. Each test signs in as its own user, so tests share one
server without sharing numbers.
"""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from .helpers import boot_timeout_ms

ROOT = Path(__file__).resolve().parents[2]
URL_LINE = re.compile(r"(?:Demo running at|Serving at) (http://\S+)")


@dataclass
class DemoProcess:
    process: subprocess.Popen[str]
    url: str
    started_in_s: float
    data: Path
    stderr: list[str] = field(default_factory=list)

    def stop(self, timeout: float = 15.0) -> int:
        """Ctrl-C, as a person would; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise
        assert self.process.stderr is not None
        self.stderr.extend(self.process.stderr.read().splitlines())
        return int(self.process.returncode)


def start_demo(data: Path, bundle: Path, *extra: str, timeout: float = 60.0) -> DemoProcess:
    """``tracker demo --port 0``: waits for the URL line on stdout."""
    command = [
        sys.executable,
        "-m",
        "tracker.cli",
        "demo",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--data",
        str(data),
        "--bundle",
        str(bundle),
        "--cache",
        str(ROOT / ".cache"),
        *extra,
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("TRACKER_CONFIG", None)
    started = time.monotonic()
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = started + timeout
    lines: list[str] = []
    while time.monotonic() < deadline:
        if not selector.select(timeout=0.2):
            if process.poll() is not None:
                break
            continue
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        match = URL_LINE.search(line)
        if match:
            return DemoProcess(process, match.group(1), time.monotonic() - started, data)
    process.kill()
    _, err = process.communicate()
    raise RuntimeError(f"tracker demo did not print its URL: {''.join(lines)}\n{err}")


@pytest.fixture(scope="module")
def demo_site(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoProcess]:
    demo = start_demo(tmp_path_factory.mktemp("demo-data"), bundle)
    yield demo
    assert demo.stop() == 0, demo.stderr


@pytest.fixture
def email() -> str:
    """A user of its own for each test."""
    return f"learner-{uuid.uuid4().hex[:8]}@example.com"


def sign_in(page: Page, base: str, email: str, *, via: str = "index.html") -> None:
    """Opens a page that needs a user, follows the redirect to the sign-in page, signs in."""
    page.goto(f"{base}{via}")
    page.wait_for_url(re.compile(r"/signin\.html\?next="))
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{base}{via}")


def wait_for_js(page: Page, expression: str, timeout_ms: float = 30_000) -> None:
    """Polls ``expression`` until it is truthy.

    Not ``page.wait_for_function``: Playwright evaluates its predicate with ``eval`` inside the
    page, which the demo's CSP (no 'unsafe-eval', issue 10) refuses; ``page.evaluate`` goes
    through the DevTools protocol, which the CSP does not govern.
    """
    deadline = time.monotonic() + timeout_ms / 1000
    while not page.evaluate(f"Boolean({expression})"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"not true after {timeout_ms / 1000:.0f} s: {expression}")
        page.wait_for_timeout(50)


def wait_booted(page: Page) -> None:
    """The embed is ready (timeback.ready resolved) and the lesson's activity exists."""
    wait_for_js(page, "window.timeback && window.lesson", timeout_ms=boot_timeout_ms())
    page.evaluate("timeback.ready")


def advance(page: Page, seconds: float, step_s: float = 10.0) -> None:
    """Makes ``seconds`` pass on the page's fake clock, a few seconds at a time.

    ``run_for`` fires every timer at once, AbortSignal.timeout's included: a heartbeat sent
    at its start would be aborted as timed out (30 s) before the real server could answer.
    Short steps with a real pause between them let each request finish, as in real time.
    """
    left = seconds
    while left > 0:
        step = min(step_s, left)
        page.clock.run_for(int(step * 1000))
        page.wait_for_timeout(100)
        left -= step


def panel(page: Page) -> dict[str, Any]:
    """The live panel as a person reads it: state, active ms, flush lines, error lines."""
    data: dict[str, Any] = page.evaluate(
        """() => {
            const el = document.querySelector('[data-live-panel]');
            return {
                state: el.dataset.state,
                elapsedMs: Number(el.dataset.elapsedMs || 0),
                totalActiveMs: Number(el.dataset.totalActiveMs || 0),
                flushes: [...el.querySelectorAll('[data-flushes] li')].map((li) => li.textContent),
                errors: [...el.querySelectorAll('[data-errors] li')].map((li) => li.textContent),
            };
        }"""
    )
    return data


def set_hidden(page: Page, hidden: bool) -> None:
    """Hides or shows the tab: overrides document.visibilityState, fires visibilitychange."""
    page.evaluate(
        """(hidden) => {
            const state = hidden ? 'hidden' : 'visible';
            const define = (name, value) =>
                Object.defineProperty(document, name, {configurable: true, get: () => value});
            define('visibilityState', state);
            define('hidden', hidden);
            document.dispatchEvent(new Event('visibilitychange'));
        }""",
        hidden,
    )


def dashboard(page: Page, base: str) -> dict[str, Any]:
    """Opens the dashboard and returns the data it shows once it has rendered."""
    page.goto(f"{base}dashboard.html")
    wait_for_js(page, "document.body.dataset.loaded")
    data: dict[str, Any] = page.evaluate("window.dashboard")
    return data


def stat(page: Page, name: str) -> str:
    return page.inner_text(f'[data-stat="{name}"]').strip()
