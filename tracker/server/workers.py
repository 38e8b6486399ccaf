"""``tracker serve --workers N``: N uvicorn worker processes on one PostgreSQL store (issue 12).

Each worker builds its own site (its own store connections, writer and Caliper sink) from the
same arguments, passed through the environment because uvicorn starts workers by importing
``worker_site``. SQLite is one process's store: N > 1 is refused there, since its single
writer lock would make the workers queue behind one another and the per-process group commit
and read pools assume they own the file's writes.
"""

from __future__ import annotations

import argparse
import json
import os

from starlette.applications import Starlette

from ..errors import TrackerError

ARGS_ENV = "TRACKER_SERVE_ARGS"
MAX_WORKERS = 64


class WorkersError(TrackerError):
    """``--workers`` cannot be used with this setup."""


def check_workers(workers: int, *, many_processes: bool) -> None:
    if not 1 <= workers <= MAX_WORKERS:
        raise WorkersError(f"--workers: must be between 1 and {MAX_WORKERS}, not {workers}")
    if workers > 1 and not many_processes:
        raise WorkersError(
            f"--workers {workers}: the SQLite store serves one process; set "
            "TRACKER_DB=postgresql://... for several workers (docs/deploy.md), or use --workers 1"
        )


def worker_site() -> Starlette:
    """uvicorn's app factory in each worker process."""
    from ..demo.site import compose

    args = argparse.Namespace(**json.loads(os.environ[ARGS_ENV]))
    return compose(args).site


def serve_workers(args: argparse.Namespace, say: object) -> int:
    """Checks the store in this process, then hands the port to uvicorn's supervisor."""
    import uvicorn

    from ..demo.site import compose

    command = str(getattr(args, "command", None) or "serve")
    assert callable(say)
    try:
        composed = compose(args)
        try:
            check_workers(args.workers, many_processes=composed.server.store.allows_many_processes)
        finally:
            composed.close()
    except TrackerError as exc:
        say(str(exc), command)
        return 2
    os.environ[ARGS_ENV] = json.dumps(
        {k: v for k, v in vars(args).items() if isinstance(v, str | int | float | bool | None)}
    )
    say(f"{args.workers} workers on http://{args.host}:{args.port}/", command)
    uvicorn.run(
        "tracker.server.workers:worker_site",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="warning",
        access_log=False,
        lifespan="on",
    )
    return 0
