"""Property tests: random and mutated bodies at both POST routes never cause a 500, and a body
that is refused never leaves a row behind."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio.from_thread
import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tracker.server import Settings, TimebackServer

from .conftest import NOW_MS, USER, header_identity
from .helpers import CONFIG, heartbeat_body, submit_body

ROUTES = {"/activity/heartbeat": heartbeat_body, "/activity/submit": submit_body}
ALLOWED = {200, 204, 400, 413, 415}
FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(
        [
            "",
            "Math",
            "MATH-3",
            "2026-01-27T10:00:00.000Z",
            "2026-01-27T10:00:16.000Z",
            "2026-01-27T09:00:00+01:00",
            "9999-12-31T23:59:59.999Z",
            "f47ac10b-58cc-4372-a567-0e02b2c3d479",
            "\ud800",
        ]
    )
    | st.sampled_from([0, 1, -1, 3, 13, 14, 100, 101, 14200, 15000, 2**53 - 1, 2**53, 0.5, 1e300])
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = [
    "id",
    "name",
    "course",
    "course.subject",
    "course.grade",
    "course.code",
    "runId",
    "startedAt",
    "endedAt",
    "elapsedMs",
    "pausedMs",
    "metrics",
    "metrics.xpEarned",
    "metrics.totalQuestions",
    "metrics.correctQuestions",
    "metrics.masteredUnits",
    "pctComplete",
    "process",
    "time",
    "time.activeMs",
    "time.inactiveMs",
    "extra",
]
mutation = st.tuples(st.sampled_from(FIELDS), st.sampled_from(["set", "delete"]), json_values)


def mutate(body: dict[str, Any], changes: list[tuple[str, str, Any]]) -> dict[str, Any]:
    body = json.loads(json.dumps(body))
    for path, action, value in changes:
        *parents, last = path.split(".")
        target: Any = body
        for key in parents:
            if not isinstance(target, dict):
                break
            target = target.setdefault(key, {})
        if not isinstance(target, dict):
            continue
        if action == "delete":
            target.pop(last, None)
        else:
            target[last] = value
    return body


class SyncClient:
    """The app on one event loop in a thread, called synchronously (hypothesis is sync)."""

    def __init__(self, server: TimebackServer, portal: anyio.from_thread.BlockingPortal) -> None:
        self.server = server
        self._portal = portal
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=server.app),
            base_url="http://app.test",
            headers={"x-user": USER},
        )

    def post(self, route: str, content: bytes, content_type: str) -> httpx.Response:
        headers = {"content-type": content_type} if content_type else {}
        return self._portal.call(lambda: self._client.post(route, content=content, headers=headers))

    def close(self) -> None:
        self._portal.call(self._client.aclose)


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SyncClient]:
    folder: Path = tmp_path_factory.mktemp("fuzz")
    config = folder / "timeback.config.json"
    config.write_text(json.dumps(CONFIG))
    server = TimebackServer(
        # Thousands of bodies from one user in seconds: the rate limit (tested on its own in
        # test_ownership_limits.py) would answer 429 to what this test is about.
        Settings(config_path=config, database=folder / "fuzz.sqlite3", rate_limit_burst=0),
        get_email=header_identity,
        clock=lambda: NOW_MS,
    )
    with anyio.from_thread.start_blocking_portal() as portal:
        client = SyncClient(server, portal)
        yield client
        client.close()
    server.close()


def check(client: SyncClient, route: str, content: bytes, content_type: str) -> None:
    server = client.server
    before = server.store.row_counts()
    response = client.post(route, content, content_type)
    event(f"{route} -> {response.status_code}")  # shown by --hypothesis-show-statistics
    assert response.status_code in ALLOWED, response.text
    if response.status_code >= 400:
        error = response.json()["error"]
        assert set(error) == {"code", "message", "details"}
        if response.status_code == 400:
            assert isinstance(error["details"]["field"], str) and error["details"]["field"]
        assert server.store.row_counts() == before, "a refused body left rows behind"
    elif response.status_code == 200:
        assert response.json() == {"duplicate": True}
        assert server.store.row_counts() == before


@FUZZ
@given(
    route=st.sampled_from(sorted(ROUTES)),
    run_id=st.uuids(),
    changes=st.lists(mutation, min_size=1, max_size=3),
)
def test_mutated_bodies(
    fuzz_server: SyncClient, route: str, run_id: Any, changes: list[tuple[str, str, Any]]
) -> None:
    body = mutate(ROUTES[route](runId=str(run_id)), changes)
    content = json.dumps(body).encode("utf-8", "surrogatepass")
    check(fuzz_server, route, content, "application/json")


@FUZZ
@given(route=st.sampled_from(sorted(ROUTES)), body=json_values)
def test_random_json(fuzz_server: SyncClient, route: str, body: Any) -> None:
    check(fuzz_server, route, json.dumps(body).encode(), "text/plain;charset=UTF-8")


@FUZZ
@given(
    route=st.sampled_from(sorted(ROUTES)),
    raw=st.binary(max_size=300)
    | st.builds(
        lambda text, cut: text[:cut],
        st.sampled_from(
            [json.dumps(heartbeat_body()).encode(), json.dumps(submit_body()).encode()]
        ),
        st.integers(min_value=0, max_value=400),
    ),
    content_type=st.sampled_from(
        ["application/json", "text/plain", "application/json; charset=utf-8", "text/html", ""]
    ),
)
def test_random_bytes(fuzz_server: SyncClient, route: str, raw: bytes, content_type: str) -> None:
    check(fuzz_server, route, raw, content_type)


courses = st.sampled_from(
    [
        {"subject": "Math", "grade": 3},
        {"code": "MATH-3"},
        {"subject": "Reading", "grade": 2},
        {"code": "SS 101"},
        {"subject": "Science", "grade": 5},  # not in the config
    ]
)
base_ms = 1769508000000


@st.composite
def near_valid(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """Bodies of the right shape with values around the limits: many pass, some do not."""
    from tracker.timefmt import iso_from_epoch_ms

    run_id = str(draw(st.sampled_from([draw(st.uuids()), "f47ac10b-58cc-4372-a567-0e02b2c3d479"])))
    start = base_ms + draw(st.integers(0, 10)) * 15000
    common = {
        "id": draw(st.sampled_from(["lesson-1", "lesson-2"])),
        "name": "Lesson",
        "course": draw(courses),
        "runId": run_id,
    }
    if draw(st.booleans()):
        duration = draw(st.integers(0, 20000))
        body = {
            **common,
            "startedAt": iso_from_epoch_ms(start),
            "endedAt": iso_from_epoch_ms(start + duration),
            "elapsedMs": draw(st.integers(0, 22000)),
            "pausedMs": draw(st.integers(0, 22000)),
        }
        return "/activity/heartbeat", body
    metrics: dict[str, Any] = {"xpEarned": draw(st.integers(-5, 50) | st.floats(-5, 50))}
    if draw(st.booleans()):
        metrics["totalQuestions"] = draw(st.integers(0, 10))
        metrics["correctQuestions"] = draw(st.integers(0, 12))
    if draw(st.booleans()):
        metrics["masteredUnits"] = draw(st.integers(0, 10))
    body = {**common, "endedAt": iso_from_epoch_ms(start), "metrics": metrics}
    if draw(st.booleans()):
        body["pctComplete"] = draw(st.integers(-1, 101) | st.floats(0, 100))
    if draw(st.booleans()):
        body["time"] = {
            "activeMs": draw(st.integers(0, 10**6)),
            "inactiveMs": draw(st.integers(0, 10**5)),
        }
    return "/activity/submit", body


def check_ledgers(server: TimebackServer) -> None:
    """Whatever was accepted, the ledgers stay consistent."""

    def invariants(tx: Any) -> None:
        gaps = tx.all(
            "SELECT user_email, activity_url, COUNT(*), MAX(attempt) FROM gradebook"
            " WHERE kind = 'activity' GROUP BY user_email, activity_url"
        )
        assert all(count == top for _, _, count, top in gaps), "attempts are not 1..n"
        assert tx.one("SELECT COUNT(*) FROM gradebook WHERE pct_complete > 100")[0] == 0
        per_course = tx.all(
            "SELECT COUNT(*) FROM gradebook WHERE kind = 'course' GROUP BY user_email, course_key"
        )
        assert all(row[0] == 1 for row in per_course)
        orphans = tx.one(
            "SELECT COUNT(*) FROM time_ledger t LEFT JOIN events e ON e.id = t.event_id"
            " WHERE e.id IS NULL"
        )
        assert orphans[0] == 0
        # Counted time never exceeds what was reported, nor a window's span (issue 10).
        over = tx.one(
            "SELECT COUNT(*) FROM time_ledger WHERE counted_ms > active_ms OR (source ="
            " 'heartbeat' AND counted_ms > MAX(0, ended_at_ms - started_at_ms))"
        )
        assert over[0] == 0

    server.store.read(invariants)


@FUZZ
@given(request=near_valid())
def test_near_valid_bodies(fuzz_server: SyncClient, request: tuple[str, dict[str, Any]]) -> None:
    route, body = request
    check(fuzz_server, route, json.dumps(body).encode(), "application/json")
    check_ledgers(fuzz_server.server)
