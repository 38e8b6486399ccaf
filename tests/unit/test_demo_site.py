"""The demo site's own routes in process (sign-in, the stateful story, dashboard, events),
on the real ``tracker demo`` composition: the server, its store and the demo state."""

from __future__ import annotations

import argparse
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tracker.demo.catalogue import default_config
from tracker.demo.site import compose
from tracker.sources import source_root
from tracker.timefmt import iso_from_epoch_ms

STORY = "the-lighthouse-keeper"
RUN = f"/demo/api/lessons/{STORY}/run"
PARTS = json.loads((source_root() / "web/demo/lessons/story.json").read_text())["parts"]


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    args = argparse.Namespace(
        command="demo",
        data=str(tmp_path / "data"),
        config=str(default_config()),  # the demo's own courses, as `tracker demo` serves
        bundle=str(tmp_path / "b"),
    )
    composed = compose(args, environ={})
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=composed.site), base_url="http://127.0.0.1"
        ) as client:
            yield client
    finally:
        await composed.server.aclose()
        composed.close()


async def _sign_in(http: httpx.AsyncClient, email: str = "reader@example.com") -> None:
    answer = await http.post("/auth/login", json={"email": email})
    assert answer.status_code == 200, answer.text


def _answers(upto: int) -> dict[str, int]:
    return {
        f"{p}.{i}": q["answer"] for p in range(upto) for i, q in enumerate(PARTS[p]["questions"])
    }


async def test_signed_out_the_demo_routes_answer_401(http: httpx.AsyncClient) -> None:
    assert (await http.get("/demo/api/session")).json() == {"email": None}
    for path in (
        "/demo/api/dashboard",
        "/demo/api/runs",
        RUN,
        "/demo/api/events",
        "/demo/api/gradebook",
        "/demo/api/activities",
    ):
        assert (await http.get(path)).status_code == 401, path


async def test_the_story_run_from_first_visit_to_completion_and_restart(
    http: httpx.AsyncClient,
) -> None:
    await _sign_in(http)
    assert (await http.get("/demo/api/session")).json() == {"email": "reader@example.com"}
    run = (await http.get(RUN)).json()
    assert (run["step"], run["completed"], run["parts"]) == (0, False, len(PARTS))
    # Two minutes of reading in the run, as the page's heartbeats would record them.
    now = int(time.time() * 1000)
    window = {
        "id": STORY,
        "name": "The Lighthouse Keeper",
        "course": {"code": "READ-4"},
        "runId": run["runId"],
        "startedAt": iso_from_epoch_ms(now - 125_000),
        "endedAt": iso_from_epoch_ms(now - 5_000),
        "elapsedMs": 120_000,
        "pausedMs": 0,
    }
    assert (await http.post("/api/timeback/activity/heartbeat", json=window)).status_code == 204
    # Not finished: the server refuses to complete it.
    early = await http.post(f"/demo/api/lessons/{STORY}/complete", json={})
    assert early.status_code == 409
    for step in range(1, len(PARTS) + 1):
        saved = await http.put(RUN, json={"step": step, "answers": _answers(step)})
        assert saved.status_code == 200, saved.text
        assert saved.json()["step"] == step
    done = (await http.post(f"/demo/api/lessons/{STORY}/complete", json={})).json()
    result: dict[str, Any] = done["result"]
    assert done["completed"] is True
    assert result["correctQuestions"] == result["totalQuestions"] > 0
    assert (result["masteredUnits"], result["attempt"], result["xpEarned"]) == (1, 1, 2)
    # Completing again is the same completion, not a second attempt.
    again = (await http.post(f"/demo/api/lessons/{STORY}/complete", json={})).json()
    assert again["result"] == result
    runs = (await http.get("/demo/api/runs")).json()["runs"]
    assert runs[STORY]["completed"] is True

    board = (await http.get("/demo/api/dashboard", params={"tz": "Europe/Berlin"})).json()
    [entry] = [g for g in board["gradebook"] if g["kind"] == "activity"]
    assert (entry["masteredUnits"], entry["runId"]) == (1, run["runId"])
    events = (await http.get("/demo/api/events", params={"after": 0})).json()
    assert {e["type"] for e in events["events"]} >= {"TimeSpentEvent", "ActivityEvent"}

    # Reading it again: a new run; mastering it again adds no second mastered lesson.
    assert (await http.post(f"{RUN}/restart", json={})).status_code == 204
    second = (await http.get(RUN)).json()
    assert second["runId"] != run["runId"] and second["step"] == 0
    await http.put(RUN, json={"step": len(PARTS), "answers": _answers(len(PARTS))})
    redo = (await http.post(f"/demo/api/lessons/{STORY}/complete", json={})).json()
    assert (redo["result"]["attempt"], redo["result"]["masteredUnits"]) == (2, 0)


async def test_bad_requests_name_what_is_wrong(http: httpx.AsyncClient) -> None:
    await _sign_in(http)
    assert (await http.get("/demo/api/lessons/no-such-lesson/run")).status_code == 404
    bad_zone = await http.get("/demo/api/dashboard", params={"tz": "Mars/Olympus"})
    assert bad_zone.status_code == 400
    bad_step = await http.put(RUN, json={"step": "two", "answers": {}})
    assert bad_step.status_code == 400
    assert (await http.get("/demo/api/events", params={"after": "x"})).status_code == 400
    for route in ("gradebook", "activities"):
        for params in ({"cursor": "nope"}, {"limit": "0"}, {"limit": "201"}):
            answer = await http.get(f"/demo/api/{route}", params=params)
            assert answer.status_code == 400, (route, params)
            assert answer.json()["error"]["details"]["field"] == next(iter(params))


async def test_the_dashboard_lists_come_in_pages_that_the_list_routes_continue(
    http: httpx.AsyncClient,
) -> None:
    await _sign_in(http)
    now = int(time.time() * 1000)
    for index in range(5):
        body = {
            "id": f"lesson-{index}",
            "name": f"Lesson {index}",
            "course": {"code": "READ-4"},
            "runId": str(uuid.uuid4()),
            "endedAt": iso_from_epoch_ms(now - 60_000 + index),
            "metrics": {"xpEarned": 1},
        }
        window = {
            **{k: body[k] for k in ("id", "name", "course", "runId")},
            "startedAt": iso_from_epoch_ms(now - 300_000 + index * 20_000),
            "endedAt": iso_from_epoch_ms(now - 300_000 + index * 20_000 + 15_000),
            "elapsedMs": 1000 * (index + 1),
            "pausedMs": 14_000 - 1000 * index,
        }
        assert (await http.post("/api/timeback/activity/heartbeat", json=window)).status_code == 204
        assert (await http.post("/api/timeback/activity/submit", json=body)).status_code == 204
    board = (await http.get("/demo/api/dashboard")).json()
    assert len(board["gradebook"]) == 5 and board["gradebookNextCursor"] is None
    assert len(board["activities"]) == 5 and board["activitiesNextCursor"] is None
    for route, field in (("gradebook", "gradebook"), ("activities", "activities")):
        seen: list[Any] = []
        params: dict[str, Any] = {"limit": 2}
        while True:
            page = (await http.get(f"/demo/api/{route}", params=params)).json()
            assert len(page[field]) <= 2
            seen += page[field]
            if page["nextCursor"] is None:
                break
            params = {"limit": 2, "cursor": page["nextCursor"]}
        assert seen == board[field], route
