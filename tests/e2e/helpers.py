"""Small helpers shared by the e2e tests."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page

from . import browser_config

MARKS = (
    "timeback:script-start",
    "timeback:runtime-loaded",
    "timeback:packages-loaded",
    "timeback:ready",
)
LESSON: dict[str, Any] = {
    "id": "fractions-with-like-denominators",
    "name": "Fractions with Like Denominators",
    "course": {"subject": "Math", "grade": 3},
}
READING: dict[str, Any] = {"id": "reading-1", "name": "Reading 1", "course": {"code": "READ-1"}}


def boot_timeout_ms() -> int:
    return int(browser_config.load().BOOT_TIMEOUT_MS)


def wait_ready(page: Page) -> str | None:
    """Awaits ``timeback.ready``; the error's "name: message" when it rejects, else None."""
    result: str | None = page.evaluate(
        """async (timeout) => {
            const deadline = new Promise((_, reject) =>
                setTimeout(() => reject(new Error(`not ready after ${timeout} ms`)), timeout));
            try {
                await Promise.race([timeback.ready, deadline]);
                return null;
            } catch (error) {
                return `${error.name}: ${error.message}`;
            }
        }""",
        boot_timeout_ms(),
    )
    return result


def marks(page: Page) -> dict[str, float]:
    """The timeback:* performance marks, name -> ms since navigation start."""
    entries: list[list[Any]] = page.evaluate(
        """() => performance.getEntriesByType("mark")
              .filter((m) => m.name.startsWith("timeback:"))
              .map((m) => [m.name, m.startTime])"""
    )
    return {str(name): float(at) for name, at in entries}


def errors(console: list[tuple[str, str]]) -> list[str]:
    return [text for kind, text in console if kind in ("error", "pageerror")]
