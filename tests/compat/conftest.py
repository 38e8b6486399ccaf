"""The two servers under test and the fake platform they both talk to (issue 9).

Module-scoped: the official server takes a second or two to start. Tests use fresh run ids
and activity slugs, so they do not see each other's windows or attempts.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Mount

from tracker.server import Settings, TimebackServer

from ..unit.server.helpers import UvicornThread, free_socket
from .fake_platform import TOKEN_PATH, FakePlatform
from .official_venv import SKIP_VARIABLE, OfficialUnavailableError, ensure_official_venv

HERE = Path(__file__).resolve().parent
ENV = "staging"
IDENTITY_HEADER = "X-Test-Email"
KID = "kid@example.com"
KID_ID = "u-kid"
TWIN = "twin@example.com"  # two roster users share it: ambiguous
STRANGER = "stranger@example.com"  # not rostered

CONFIG: dict[str, Any] = {
    "name": "Compat App",
    "sensor": "https://app.example.com/sensors/default",
    "courses": [
        {
            "subject": "Math",
            "grade": 3,
            "courseCode": "MATH-3",
            "ids": {"staging": "math3-st", "production": "math3-prod"},
            "overrides": {"staging": {"sensor": "https://staging.example.com/sensors/math"}},
            # Documented keys neither server uses: both must ignore them (issue 9).
            "level": "Elementary",
            "metadata": {"courseType": "base", "isSupplemental": False},
        },
        {"subject": "Reading", "grade": 2},  # no ids: not pushed to the platform
        {"subject": "Social Studies", "courseCode": "SS 101", "ids": {"staging": "ss-st"}},
    ],
}


@dataclass
class Pair:
    """Both servers' API bases and the platform; ``official`` / ``ours`` are client ids."""

    official: str
    ours: str
    platform: FakePlatform
    ours_server: TimebackServer

    def send(
        self, method: str, path: str, *, email: str | None = KID, **kwargs: Any
    ) -> tuple[httpx.Response, httpx.Response]:
        headers = dict(kwargs.pop("headers", {}))
        if email is not None:
            headers[IDENTITY_HEADER] = email
        answers = []
        for base in (self.official, self.ours):
            answers.append(
                httpx.request(method, base + path, headers=headers, timeout=20, **kwargs)
            )
        return answers[0], answers[1]

    def events(self, client_id: str, run_id: str) -> list[dict[str, Any]]:
        """What the client sent for one run (its Caliper ``session``), in order."""
        session = f"urn:uuid:{run_id}"
        return [e for e in self.platform.client(client_id).events if e.get("session") == session]

    def run_events(
        self, run_id: str, *, expected: int, timeout_s: float = 10.0
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Both servers' events of a run; ours arrive through the outbox, so wait for them.

        Waits for ``expected`` events from ours (and a little longer, to see an extra one).
        """
        deadline = time.monotonic() + timeout_s
        while len(self.events("ours", run_id)) < expected and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)  # an event too many would arrive now
        return self.events("official", run_id), self.events("ours", run_id)


def _identity(request: Request) -> str | None:
    return request.headers.get(IDENTITY_HEADER) or None


def _wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the official server exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("the official server did not start within 60 s")


@pytest.fixture(scope="module")
def official_python() -> Path:
    try:
        return ensure_official_venv()
    except OfficialUnavailableError as exc:
        banner = "!" * 78
        message = f"\n{banner}\nCOMPATIBILITY SUITE NOT RUN: {exc}\n{banner}"
        if os.environ.get(SKIP_VARIABLE) == "1":
            pytest.skip(message)
        pytest.fail(message, pytrace=False)


@pytest.fixture(scope="module")
def pair(official_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    tmp = tmp_path_factory.mktemp("compat")
    config_file = tmp / "timeback.config.json"
    config_file.write_text(json.dumps(CONFIG))
    platform = FakePlatform()
    platform.add_user(KID, KID_ID, givenName="Kim", familyName="Doe", grades=["3"])
    platform.add_user(TWIN, "u-twin-1")
    platform.add_user(TWIN, "u-twin-2")
    with UvicornThread(platform.app()) as fake:
        sock = free_socket()
        port = sock.getsockname()[1]
        sock.close()
        official = subprocess.Popen(
            [
                str(official_python),
                str(HERE / "official_runner.py"),
                f"--port={port}",
                f"--platform={fake.url}",
                f"--config={config_file}",
                f"--env={ENV}",
                "--client-id=official",
            ]
        )
        ours = TimebackServer(
            Settings(
                config_path=config_file,
                database=tmp / "tracker.sqlite3",
                mode="platform",
                env=ENV,
                platform_api_url=fake.url,
                caliper_url=fake.url,
                token_url=fake.url + TOKEN_PATH,
                client_id="ours",
                client_secret="secret",
                poll_interval_s=0.05,
                retry_base_s=0.05,
            ),
            get_email=_identity,
        )
        app = Starlette(routes=[Mount("/api/timeback", app=ours.app)], lifespan=ours.lifespan)
        try:
            with UvicornThread(app) as ours_http:
                base = f"http://127.0.0.1:{port}/api/timeback"
                _wait_until_up(base + "/user/verify", official)
                yield Pair(base, ours_http.url + "/api/timeback", platform, ours)
        finally:
            official.terminate()
            official.wait(timeout=10)
            ours.close()
