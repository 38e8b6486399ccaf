"""``tracker demo --static OUT``: the demo as plain files for any static file host.

    OUT/index.html, signin.html, dashboard.html, lessons/...   the demo pages (web/demo)
    OUT/timeback/...                                           the browser bundle, unchanged
    OUT/timeback.config.json                                   the courses

Every page gets ``assets/standin.js`` before the embed: an in-browser stand-in for the app
server. It answers what the pages would ask the server (the tracker's heartbeats, beacons and
completions, sign-in, the demo routes) and keeps each payload in ``localStorage``, where the
page's inspector shows it, so a beacon sent as a page closes is there on the next page. The
tracker itself runs for real. All URLs are relative: the folder works under any path prefix.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from .catalogue import DemoError, web_root

MARKER = ".tracker-demo-static"
# <!--static <script src="assets/standin.js"></script> static--> in every page's <head>.
STATIC_BLOCK = re.compile(r"<!--static (.*?) static-->", re.DOTALL)
MODE = 'data-mode="server"'


def static_page(html: str) -> str:
    """A page of the server demo, turned into its static twin."""
    if MODE not in html:
        raise DemoError('a demo page lacks <html data-mode="server">')
    return STATIC_BLOCK.sub(r"\1", html.replace(MODE, 'data-mode="static"', 1))


def _prepare(out: Path) -> None:
    if out.exists():
        if not out.is_dir():
            raise DemoError(f"{out} exists and is not a folder")
        if any(out.iterdir()) and not (out / MARKER).exists():
            raise DemoError(
                f"{out} is not empty and was not written by tracker demo --static: "
                "choose another folder"
            )
        shutil.rmtree(out)
    out.mkdir(parents=True)


def build_static(
    out: Path, *, bundle: Path, config: str | None = None, web: Path | None = None
) -> Path:
    """Writes the static demo to ``out`` (replacing an earlier static build there)."""
    web = web or web_root()
    if not (bundle / "timeback.js").is_file():
        raise DemoError(f"{bundle} holds no browser bundle: run tracker build")
    _prepare(out)
    shutil.copytree(web, out, dirs_exist_ok=True)
    for page in out.rglob("*.html"):
        page.write_text(static_page(page.read_text(encoding="utf-8")), encoding="utf-8")
    shutil.copytree(bundle, out / "timeback")
    if config is not None:
        shutil.copyfile(config, out / "timeback.config.json")
    (out / MARKER).write_text("written by tracker demo --static; replaced on the next build\n")
    return out
