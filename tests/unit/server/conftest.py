from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import Request

from tests.postgres_cluster import NO_POSTGRES_ENV, PostgresCluster
from tracker.server import Settings, TimebackServer

from .helpers import CONFIG, CaliperReceiver, UvicornThread

USER = "Student@Example.com"
# The server's "now" in tests: 2026-02-05T12:00Z, days after the helpers' windows (2026-01-27),
# so that they are neither in the future nor too old (issue 10 window policy).
NOW_MS = 1770292800000
HOST = "app.test"

ServerFactory = Callable[..., TimebackServer]


def header_identity(request: Request) -> str | None:
    """Tests sign in with a header; a real app would read its session."""
    return request.headers.get("x-user")


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "timeback.config.json"
    path.write_text(json.dumps(CONFIG), encoding="utf-8")
    return path


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "tracker.sqlite3"


# The store, pipeline and route tests run against both backends (issue 12); the others (and
# tests that open the SQLite file themselves) against SQLite.
BOTH_BACKENDS = {
    "test_heartbeat",
    "test_submit",
    "test_integrity",
    "test_record",
    "test_caliper_sink",
    "test_parts",
    "test_lenient",
    "test_errors",
    "test_store_backends",
    "test_replay",
    "test_pages",
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        module = metafunc.module.__name__.rsplit(".", 1)[-1]
        both = module in BOTH_BACKENDS and os.environ.get(NO_POSTGRES_ENV) != "1"
        metafunc.parametrize("backend", ["sqlite", "postgresql"] if both else ["sqlite"])


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """Started on first use; a failure to start fails the tests (no silent skip)."""
    cluster = PostgresCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def store_location(backend: str, db_path: Path, request: pytest.FixtureRequest) -> Path | str:
    """The database of this test: the SQLite file, or a fresh schema in the test cluster."""
    if backend == "sqlite":
        return db_path
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    return cluster.fresh_schema_url()


@pytest.fixture
def make_server(config_file: Path, store_location: Path | str) -> Iterator[ServerFactory]:
    """TimebackServer on a real store (SQLite file in tmp, or PostgreSQL); several calls
    share it (restarts)."""
    made: list[TimebackServer] = []

    def make(**settings: Any) -> TimebackServer:
        values: dict[str, Any] = {"config_path": config_file, "database": store_location}
        values.update(settings)
        get_email = values.pop("get_email", header_identity)
        clock = values.pop("clock", lambda: NOW_MS)
        extra = {key: values.pop(key) for key in ("subject_secret", "rate_clock") if key in values}
        if isinstance(values["database"], str):
            # A shared store takes its key from TRACKER_SESSION_SECRET (no data folder).
            extra.setdefault("subject_secret", "postgres-tests-subject-key-" + "k" * 16)
        server = TimebackServer(Settings(**values), get_email=get_email, clock=clock, **extra)
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()


@pytest.fixture
def server(make_server: ServerFactory) -> TimebackServer:
    return make_server()


def client_for(
    server: TimebackServer, user: str | None = USER, *, origin: str | None = None
) -> httpx.AsyncClient:
    """A client of ``server`` as ``user``; ``origin``: from a page of that origin (CORS)."""
    headers = {"x-user": user} if user else {}
    if origin is not None:
        headers["origin"] = origin
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=server.app),
        base_url=f"http://{HOST}",
        headers=headers,
    )


@pytest.fixture
async def client(server: TimebackServer) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(server) as http:
        yield http
    await server.aclose()


@pytest.fixture
def receiver() -> Iterator[CaliperReceiver]:
    """A Caliper receiver (and token endpoint) served by uvicorn on 127.0.0.1."""
    rec = CaliperReceiver()
    with UvicornThread(rec.app) as running:
        rec.url = running.url
        yield rec
