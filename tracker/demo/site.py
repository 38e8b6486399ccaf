"""The demo's whole site as one ASGI app, without a web server: ``compose()``.

``tracker demo`` serves it with uvicorn (main.py); the static demo calls it in the page's
Pyodide (inpage.py) with an in-memory store and state, so both run the same code.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette

from ..server.main import build_site
from ..server.server import TimebackServer
from ..server.store import Store
from .app import DemoSite
from .catalogue import web_root
from .state import DB_FILE, DemoState


@dataclass
class Composed:
    site: Starlette
    server: TimebackServer
    demo: DemoSite

    def close(self) -> None:
        self.server.close()
        self.demo.close()


def compose(
    args: argparse.Namespace,
    environ: Mapping[str, str] | None = None,
    *,
    web: Path | None = None,
    store: Store | None = None,
    state: DemoState | None = None,
) -> Composed:
    """The whole site: ``build_site`` of tracker.server with the demo mounted at ``/``.

    ``store`` and ``state``: opened by the caller (in memory, in the page), else the files
    in ``args.data``."""
    environ = os.environ if environ is None else environ
    data = Path(args.data)
    web = web or web_root()
    # The demo's routes ask the site's identity (bound below): one user everywhere.
    demo = DemoSite(web, state if state is not None else DemoState(data / DB_FILE))
    try:
        site, server = build_site(args, demo=demo, environ=environ, store=store)
    except BaseException:
        demo.close()
        raise
    demo.bind(server)
    return Composed(site, server, demo)
