"""How fast and how light the embed boots, beside its floor and TimeMe.js (issue 8).

    .venv/bin/tracker build && .venv/bin/python benchmarks/boot.py [--loads 7]

Serves the bundle with ``tracker serve``'s own static handler (tracker/server/static.py:
zstd/brotli/gzip siblings, immutable caching of the versioned folder) and three pages on
127.0.0.1, then loads them interleaved, round after round, each case cold (a fresh
incognito context) and warm (a persistent profile, second visit onwards):

- embed:   the one-tag embed, ready when ``timeback.ready`` resolves;
- runtime: bare ``loadPyodide()`` of the same bundle's runtime, no packages (the floor);
- timeme:  TimeMe.js (npm ``timeme.js``, fetched by ``npm pack`` into .cache), ready
           after ``TimeMe.initialize()``;
- embed, no automation: the embed in a Chromium started directly (same flags, a new
           profile per round: cold, then warm), the page reporting by beacon. Playwright's
           DevTools connection itself adds work to the boot (measure_direct); this row is
           what a visitor's browser does. No clicks there.

Per case: navigation -> ready (median and range), bytes on the wire (counted by the
server as it sends them, headers included, so that nothing the page or a worker of it
fetches is missed; 0 for what came from the HTTP cache), long tasks
before ready (count, each load's longest, total blocking time = sum of the part of each task over
50 ms) and the click-to-answer delay during boot: the mouse clicks the page every ~50 ms
from navigation until ready, and each delay is the handler's start minus the click's
event timeStamp. After ready, every page stays SETTLE_MS longer; the embed's page starts
an activity and flushes it (a real heartbeat, answered 204 by this site) meanwhile, and the
longest task of that stretch is its own column (the target is 50 ms). Writes
docs/benchmarks.md (table, the machine's load, where the time and bytes go) and prints the
table. Launch settings come from playwright.config.py.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext, Page, sync_playwright
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.browser_config import load  # noqa: E402
from tests.e2e.site import ServerThread  # noqa: E402
from tracker.build.npm import extract  # noqa: E402
from tracker.build.pins import NpmPin  # noqa: E402
from tracker.server.static import BundleFiles  # noqa: E402

TIMEME = NpmPin(
    name="timeme.js",
    version="2.1.0",
    sha256="a8831dede0f3ed489206f8a6922a11339f7028b3029d21458c25c7bb03193b0d",
)
READY_MARK = "bench:ready"
CLICK_EVERY_S = 0.05
READY_TIMEOUT_S = 60.0
LONG_TASK_MS = 50
SETTLE_MS = 1500  # observed after ready
POSTED: list[str] = []  # the API paths the pages sent to (the embed's heartbeats)
SENT: dict[str, int] = {}  # path -> bytes the server sent (headers and body) since reset
REPORTS: list[dict[str, Any]] = []  # what the pages without automation reported
# The embed's marks in boot order (web/timeback.js, web/src/runtime.js); absent ones skipped.
PHASES = (
    "timeback:script-start",
    "timeback-runtime:imported",
    "timeback-runtime:wasm-instantiated",
    "timeback-runtime:instantiated",
    "timeback-runtime:side-modules",
    "timeback-runtime:snapshot-fetched",
    "timeback-runtime:restored",
    "timeback-runtime:snapshot",
    "timeback-runtime:packages",
    "timeback:ready",
)

# Installed in every page before its own scripts: long tasks and click delays until ready.
PROBE = """
window.__bench = {longTasks: [], afterReady: [], clickDelays: [], ready: null, settled: false};
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if (__bench.ready === null || entry.startTime < __bench.ready) {
      __bench.longTasks.push(entry.duration);
    } else {
      __bench.afterReady.push(entry.duration);
    }
  }
}).observe({type: "longtask", buffered: true});
addEventListener("click", (event) => {
  if (__bench.ready === null) __bench.clickDelays.push(performance.now() - event.timeStamp);
}, true);
"""
READY = f"""performance.mark("{READY_MARK}"); __bench.ready = performance.now();
setTimeout(() => {{ __bench.settled = true; }}, {SETTLE_MS});"""
# The embed's page, once ready: what a lesson does first (start, then a flush that sends).
EMBED_AFTER_READY = """
const activity = timeback.activity.start({id: "bench-lesson", name: "Bench lesson",
                                          course: {subject: "Math", grade: 3}});
setTimeout(() => activity.flushTimeSpent(), 300);
"""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">
<title>{title}</title>{head}</head>
<body><h1>{title}</h1><button id="answer" style="width:400px;height:200px">Answer</button>
{body}</body></html>
"""


# The embed's page for a Chromium with no automation attached: the probe inline, and the
# page itself reports what it saw once settled (no click is possible there).
REPORT_PATH = "/bench/report"
DIRECT_REPORT = f"""
new Promise((done) => {{ const wait = () => __bench.settled ? done() : setTimeout(wait, 50);
                          wait(); }}).then(() => navigator.sendBeacon("{REPORT_PATH}",
  JSON.stringify({{bench: __bench,
    marks: performance.getEntriesByType("mark").map((m) => [m.name, m.startTime])}})));
"""


def pages(runtime_dir: str) -> dict[str, str]:
    return {
        "embed-direct": PAGE.format(
            title="embed",
            head=f'<script>{PROBE}</script><script src="/timeback/timeback.js" '
            'data-base="/api/timeback"></script>',
            body=f"<script>timeback.ready.then(() => {{ {READY} {EMBED_AFTER_READY} }});"
            f"{DIRECT_REPORT}</script>",
        ),
        "embed": PAGE.format(
            title="embed",
            head='<script src="/timeback/timeback.js" data-base="/api/timeback"></script>',
            body=f"<script>timeback.ready.then(() => {{ {READY} {EMBED_AFTER_READY} }});</script>",
        ),
        "runtime": PAGE.format(
            title="bare runtime",
            head="",
            body=(
                '<script type="module">\n'
                f'const url = new URL("/timeback/{runtime_dir}", location.href).href;\n'
                'const { loadPyodide } = await import(url + "pyodide.mjs");\n'
                f"await loadPyodide({{ indexURL: url }});\n{READY}\n</script>"
            ),
        ),
        "timeme": PAGE.format(
            title="TimeMe.js",
            head='<script src="/timeme/timeme.js"></script>',
            body=(
                '<script>TimeMe.initialize({currentPageName: "lesson", '
                f"idleTimeoutInSeconds: 30}}); {READY}</script>"
            ),
        ),
    }


class CountSent:
    """ASGI wrapper: adds what each response puts on the wire to SENT, by path."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("root_path", "") + scope.get("path", "")

        async def counted(message: Any) -> None:
            size = 0
            if message["type"] == "http.response.start":
                size = 16 + sum(len(k) + len(v) + 4 for k, v in message.get("headers", []))
            elif message["type"] == "http.response.body":
                size = len(message.get("body", b""))
            SENT[path] = SENT.get(path, 0) + size
            await send(message)

        await self.app(scope, receive, counted)


def site(bundle: Path, timeme: Path, runtime_dir: str) -> Starlette:
    texts = pages(runtime_dir)

    async def page(request: Any) -> Response:
        name = request.path_params["name"]
        if name not in texts:
            return Response(status_code=404)
        return HTMLResponse(texts[name], headers={"cache-control": "no-cache"})

    async def accepted(request: Any) -> Response:
        await request.body()
        POSTED.append(request.url.path)
        return Response(status_code=204)

    async def report(request: Any) -> Response:
        REPORTS.append(json.loads(await request.body()))
        return Response(status_code=204)

    return Starlette(
        routes=[
            Route("/{name}.html", page),
            Route(REPORT_PATH, report, methods=["POST"]),
            Route("/api/timeback/activity/{route}", accepted, methods=["POST"]),
            Mount("/timeback", CountSent(BundleFiles(directory=bundle))),
            Mount("/timeme", CountSent(BundleFiles(directory=timeme))),
        ]
    )


@dataclass
class Load:
    ready_ms: float
    wire_bytes: int
    long_tasks: list[float]
    after_ready: list[float]  # long tasks in the SETTLE_MS after ready
    click_delays: list[float]
    resources: dict[str, int] = field(default_factory=dict)  # path -> bytes sent
    marks: dict[str, float] = field(default_factory=dict)

    @property
    def blocking_ms(self) -> float:
        return sum(max(0.0, task - LONG_TASK_MS) for task in self.long_tasks)


def measure(page: Page, url: str) -> Load:
    SENT.clear()
    page.goto(url, wait_until="commit")
    deadline = time.monotonic() + READY_TIMEOUT_S
    while page.evaluate("window.__bench ? __bench.ready : null") is None:
        if time.monotonic() > deadline:
            raise SystemExit(f"{url}: not ready after {READY_TIMEOUT_S} s")
        page.mouse.click(200, 200)  # on the button; its answer waits for the main thread
        time.sleep(CLICK_EVERY_S)
    page.wait_for_function("__bench.settled", timeout=READY_TIMEOUT_S * 1000)
    found = page.evaluate(
        """() => ({
            bench: __bench,
            marks: performance.getEntriesByType("mark").map((m) => [m.name, m.startTime]),
        })"""
    )
    return load_of(found)


def load_of(found: dict[str, Any]) -> Load:
    """A Load from what a page collected (its probe and marks) and what the server sent."""
    resources = {path: size for path, size in SENT.items() if size}
    return Load(
        ready_ms=found["bench"]["ready"],
        wire_bytes=sum(resources.values()),
        long_tasks=found["bench"]["longTasks"],
        after_ready=found["bench"]["afterReady"],
        click_delays=found["bench"]["clickDelays"],
        resources=resources,
        marks=dict(found["marks"]),
    )


def measure_direct(config: Any, url: str, profile: Path) -> Load:
    """One load in a Chromium started without automation (no DevTools protocol attached).

    Under Playwright, traces show V8 collecting source positions (a ~40 ms re-parse of
    Pyodide's module factory) inside one boot task; launched without the DevTools
    connection that task is not there, and no visitor's browser has one. The page reports
    through a beacon.
    """
    before = len(REPORTS)
    SENT.clear()
    headless = ["--headless"] if config.HEADLESS else []
    command = [config.CHROMIUM, *config.ARGS, *headless, f"--user-data-dir={profile}", url]
    browser = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while len(REPORTS) == before:
            if time.monotonic() > deadline or browser.poll() is not None:
                raise SystemExit(f"{url}: no report from a Chromium without automation")
            time.sleep(0.05)
    finally:
        browser.terminate()
        browser.wait()
    return load_of(REPORTS[-1])


def run(loads: int) -> dict[tuple[str, str], list[Load]]:
    config = load()
    bundle = ROOT / "dist/timeback"
    folders = sorted(bundle.glob("r-*/"))
    if len(folders) != 1:
        raise SystemExit("expected one dist/timeback/r-*/ folder: run tracker build")
    timeme = extract(
        TIMEME, ROOT / ".cache/timeback/npm", lambda name: name == "timeme.js", label="TimeMe.js"
    )
    server = ServerThread(site(bundle, timeme, folders[0].name + "/"))
    server.start()
    cases = ("embed", "runtime", "timeme")
    results: dict[tuple[str, str], list[Load]] = {}
    try:
        with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profiles:
            browser = config.launch(playwright)
            warm: dict[str, BrowserContext] = {}
            for case in cases:
                warm[case] = config.launch_persistent(playwright, Path(profiles) / case)
                warm[case].add_init_script(PROBE)
                first = warm[case].new_page()
                measure(first, f"{server.url}/{case}.html")  # the first visit fills the cache
                first.close()
            for round_ in range(loads):
                for case in cases:
                    url = f"{server.url}/{case}.html"
                    context = config.new_context(browser)
                    context.add_init_script(PROBE)
                    sent = len(POSTED)
                    results.setdefault((case, "cold"), []).append(measure(context.new_page(), url))
                    if case == "embed" and len(POSTED) == sent:
                        raise SystemExit("the embed's page sent no heartbeat after ready")
                    context.close()
                    page = warm[case].new_page()
                    results.setdefault((case, "warm"), []).append(measure(page, url))
                    page.close()
                direct = Path(profiles) / f"direct-{round_}"
                url = f"{server.url}/embed-direct.html"
                sent = len(POSTED)
                results.setdefault(("embed, no automation", "cold"), []).append(
                    measure_direct(config, url, direct)
                )
                if len(POSTED) == sent:
                    raise SystemExit("the embed's page sent no heartbeat after ready")
                results.setdefault(("embed, no automation", "warm"), []).append(
                    measure_direct(config, url, direct)
                )
                shutil.rmtree(direct, ignore_errors=True)
                print(f"round {round_ + 1}/{loads} done", file=sys.stderr)
            for context in warm.values():
                context.close()
            browser.close()
    finally:
        server.stop()
    return results


def median_range(values: list[float], scale: float = 1.0, digits: int = 0) -> str:
    if not values:
        return "–"
    fmt: Callable[[float], str] = lambda v: f"{v / scale:.{digits}f}"  # noqa: E731
    return f"{fmt(statistics.median(values))} ({fmt(min(values))}–{fmt(max(values))})"


def table(results: dict[tuple[str, str], list[Load]]) -> str:
    lines = [
        "| case | visit | nav → ready, ms: median (range) | wire, MB | long tasks (median count)"
        " | longest task per load, ms: median / max | total blocking, ms"
        " | click → answer, ms: median / max"
        f" | longest task in the {SETTLE_MS / 1000:g} s after ready, ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for (case, visit), runs in results.items():
        delays = [d for run in runs for d in run.click_delays]
        longest = [max(run.long_tasks, default=0) for run in runs]
        lines.append(
            f"| {case} | {visit} | {median_range([r.ready_ms for r in runs])} "
            f"| {statistics.median(r.wire_bytes for r in runs) / 1e6:.2f} "
            f"| {statistics.median(len(r.long_tasks) for r in runs):.0f} "
            f"| {statistics.median(longest):.0f} / {max(longest):.0f} "
            f"| {statistics.median(r.blocking_ms for r in runs):.0f} "
            f"| {f'{statistics.median(delays):.0f} / {max(delays):.0f}' if delays else '–'} "
            f"| {max((max(r.after_ready, default=0) for r in runs), default=0):.0f} |"
        )
    return "\n".join(lines)


def where_it_goes(results: dict[tuple[str, str], list[Load]]) -> str:
    cold = results[("embed", "cold")]
    sizes: dict[str, list[int]] = {}
    for run in cold:
        for path, size in run.resources.items():
            sizes.setdefault(path.rsplit("/", 1)[-1] or path, []).append(size)
    biggest = sorted(((statistics.median(v), k) for k, v in sizes.items()), reverse=True)[:6]
    bytes_text = ", ".join(f"{name} {size / 1e6:.2f} MB" for size, name in biggest)
    phases = []
    for name in PHASES:
        values = [run.marks[name] for run in cold if name in run.marks]
        if values:
            phases.append(f"{name} {statistics.median(values):.0f} ms")
    return (
        "Where the embed's cold load goes (medians). Time, as performance marks since "
        f"navigation: {'; '.join(phases)}. From the runtime's import the wasm compiles off "
        "the main thread and the runtime instantiates into an empty memory of the "
        "snapshot's size while the snapshot's non-zero pages download (compressed) and "
        "are checked; "
        "restored is the memory taken over; the rest is the bridge's install and the "
        f"page's own work. Bytes, the largest transfers: {bytes_text}."
    )


def write_report(results: dict[tuple[str, str], list[Load]], loads: int, out: Path) -> str:
    loadavg = Path("/proc/loadavg").read_text().split()[:3]
    text = (
        "# Boot benchmark\n\n"
        "Made by `benchmarks/boot.py` (see its docstring for what each column means): "
        f"{loads} loads per case and visit, interleaved in one run, served by `tracker serve`'s "
        "static handler (zstd or brotli siblings, immutable versioned folder) on 127.0.0.1, "
        "Chromium headless with the launch settings of `playwright.config.py`. "
        f"Machine load (1/5/15 min) at the end of the run: {' / '.join(loadavg)}; "
        "the numbers move with it.\n\n"
        f"{table(results)}\n\n{where_it_goes(results)}\n"
    )
    out.write_text(text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loads", type=int, default=7, help="loads per case and visit")
    parser.add_argument("--out", type=Path, default=ROOT / "docs/benchmarks.md")
    args = parser.parse_args()
    if args.loads < 1:
        parser.error("--loads must be at least 1")
    print(write_report(run(args.loads), args.loads, args.out))


if __name__ == "__main__":
    main()
