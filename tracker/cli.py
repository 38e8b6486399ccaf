"""The ``tracker`` command: ``build`` (browser bundle), ``serve`` (API, bundle, demo), ``demo``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tracker", description=__doc__)
    parser.add_argument("--version", action="version", version=f"tracker {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    build = commands.add_parser("build", help="assemble the browser bundle (Pyodide + wheels)")
    build.add_argument(
        "--out", default="dist/timeback", help="output folder (default: %(default)s)"
    )
    build.add_argument("--cache", default=".cache", help="download cache (default: %(default)s)")

    for name, help_text in (
        ("serve", "serve the API, the browser bundle and the demo site"),
        ("demo", "set up what is missing, then serve the demo and print its URL"),
    ):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--host", default="127.0.0.1")
        sub.add_argument("--port", type=int, default=8000)
        sub.add_argument("--data", default="data", help="data folder (SQLite store)")
        sub.add_argument("--config", default=None, help="timeback.config.json to use")
        sub.add_argument("--bundle", default="dist/timeback", help="browser bundle folder")
        if name == "serve":
            sub.add_argument(
                "--demo-login",
                action="store_true",
                help="mount the passwordless demo sign-in (/auth/login): anyone who reaches "
                "the server can then be any student; for trusted networks only",
            )
            sub.add_argument(
                "--workers",
                type=int,
                default=1,
                help="worker processes (more than 1 needs TRACKER_DB=postgresql://...)",
            )
        if name == "demo":
            sub.add_argument(
                "--cache", default=".cache", help="download cache (default: %(default)s)"
            )
            sub.add_argument(
                "--static",
                metavar="OUT",
                default=None,
                help="write the demo as static files to OUT (no server needed) and exit",
            )
    return parser


def _build_npm_package(bundle_out: str) -> None:
    from pathlib import Path

    from .build.npm_package import build_npm_package
    from .build.progress import say
    from .sources import source_root

    tarball = build_npm_package(source_root(), Path(bundle_out).parent / "npm", __version__)
    say(f"npm package: {tarball}")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "build":
        from .build import build_bundle
        from .build.errors import BuildError

        try:
            build_bundle(out=args.out, cache=args.cache)
            _build_npm_package(args.out)
        except (BuildError, OSError) as exc:
            # An operator's mistake or an unreachable registry: one line, no traceback.
            print(f"tracker build: error: {exc}", file=sys.stderr)
            return 2
        return 0
    # Both serve the API, the bundle and the demo site (tracker.demo composes them).
    if args.command == "serve":
        from .demo.main import serve

        return int(serve(args))
    from .demo.main import demo

    return int(demo(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
