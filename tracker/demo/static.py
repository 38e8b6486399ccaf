"""``tracker demo --static OUT``: the demo as plain files for any static file host.

    OUT/index.html, signin.html, dashboard.html, lessons/...   the demo pages (web/demo)
    OUT/timeback/...                                           the browser bundle, unchanged
    OUT/timeback.config.json                                   the courses
    OUT/assets/server/server.zip, server.json                  the in-page server

The server of ``tracker demo`` runs in the page's own Pyodide: ``server.zip`` holds
tracker.server, tracker.demo, the pinned pure-Python wheels they import (pins.SERVER_WHEELS)
and the files the demo routes read (lessons.json, lesson content, the config). Every page
gets ``assets/server-shim.js``, a transport with no rules: it hands the pages' requests to
that server (tracker/demo/inpage.py) once the tracker is ready. Pages without a lesson also
get the embed, so they have a Pyodide too. All URLs are relative: the folder works under any
path prefix.
"""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from pathlib import Path

from ..build.pins import SERVER_WHEELS
from ..build.wheels import fetch_wheels
from .catalogue import CONFIG_FILE, LESSONS_FILE, Catalogue, DemoError, web_root

MARKER = ".tracker-demo-static"
# <!--static <script src="assets/server-shim.js"></script> ... static--> in every page's <head>.
STATIC_BLOCK = re.compile(r"<!--static (.*?) static-->", re.DOTALL)
MODE = 'data-mode="server"'
SERVER_DIR = "assets/server"
ARCHIVE = "server.zip"
MANIFEST = "server.json"
# In the archive: site/ goes on sys.path (site/tracker extends the tracker package, whose
# browser wheel has no server), web/ is the demo folder the routes read.
SKIPPED = ("build", "browser")  # the build tools; the browser side is the wheel's


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


def _runtime_dir(bundle: Path) -> str:
    """The bundle's runtime folder (``r-<hash>``), where the full python_stdlib.zip is."""
    found = sorted(p.parent.name for p in bundle.glob("r-*/python_stdlib.zip"))
    if len(found) != 1:
        raise DemoError(f"{bundle} holds no single runtime folder: run tracker build")
    return found[0]


def write_server(out: Path, *, bundle: Path, web: Path, config: Path, cache: Path) -> Path:
    """OUT/assets/server/: the archive of the in-page server and its manifest."""
    import tracker

    folder = out / SERVER_DIR
    folder.mkdir(parents=True, exist_ok=True)
    wheels = fetch_wheels(SERVER_WHEELS, cache / "timeback" / "wheels")
    package = Path(tracker.__file__).parent
    catalogue = Catalogue.load(web)
    with zipfile.ZipFile(folder / ARCHIVE, "w", zipfile.ZIP_DEFLATED) as archive:
        for pin in SERVER_WHEELS:
            with zipfile.ZipFile(wheels[pin.name]) as wheel:
                for item in wheel.infolist():
                    if not item.is_dir():
                        archive.writestr(f"site/{item.filename}", wheel.read(item))
        for source in sorted(package.rglob("*.py")):
            relative = source.relative_to(package)
            if relative.parts[0] not in SKIPPED:
                archive.write(source, f"site/tracker/{relative.as_posix()}")
        archive.write(web / LESSONS_FILE, f"web/{LESSONS_FILE}")
        for lesson in catalogue.lessons:
            if lesson.content:
                archive.write(web / lesson.content, f"web/{lesson.content}")
        archive.write(config, f"web/{CONFIG_FILE}")
    manifest = {
        "archive": ARCHIVE,
        # Relative to this folder: the full standard library (sqlite3 and what the server
        # imports beyond the tracker's slim one).
        "stdlib": f"../../timeback/{_runtime_dir(bundle)}/python_stdlib.zip",
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return folder


def build_static(
    out: Path,
    *,
    bundle: Path,
    config: str | None = None,
    web: Path | None = None,
    cache: Path = Path(".cache"),
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
        shutil.copyfile(config, out / CONFIG_FILE)
    served = Path(config) if config is not None else web / CONFIG_FILE
    write_server(out, bundle=bundle, web=web, config=served, cache=cache)
    (out / MARKER).write_text("written by tracker demo --static; replaced on the next build\n")
    return out
