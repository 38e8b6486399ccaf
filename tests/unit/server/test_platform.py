"""Platform mode (issue 9): users through OneRoster, OneRoster actor/course URLs, Caliper out.

Runs against the compat suite's fake platform in-process (no Python 3.12 needed).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx
import pytest

from tests.compat.fake_platform import TOKEN_PATH, FakePlatform
from tracker.server import Settings, SettingsError, TimebackServer
from tracker.server.platform import OneRosterClient, PlatformUrls, UserDirectory
from tracker.server.platform.urls import default_urls

from .conftest import NOW_MS, client_for, header_identity
from .helpers import heartbeat_body, new_run, submit_body

PLATFORM = "http://platform.test"
ROSTER = f"{PLATFORM}/ims/oneroster/rostering/v1p2"


@pytest.fixture
def platform() -> FakePlatform:
    fake = FakePlatform()
    fake.add_user("student@example.com", "u-1", givenName="Ana", familyName="Li", grades=["3"])
    fake.add_user("twin@example.com", "t-1")
    fake.add_user("twin@example.com", "t-2")
    return fake


@pytest.fixture
async def server(
    platform: FakePlatform, config_file: Path, db_path: Path
) -> AsyncIterator[TimebackServer]:
    settings = Settings(
        config_path=config_file,
        database=db_path,
        mode="platform",
        env="staging",
        platform_api_url=PLATFORM,
        caliper_url=PLATFORM,
        token_url=PLATFORM + TOKEN_PATH,
        client_id="ours",
        client_secret="s",
        poll_interval_s=0.05,
    )
    made = TimebackServer(
        settings,
        get_email=header_identity,
        caliper_transport=httpx.ASGITransport(app=platform.app()),
        clock=lambda: NOW_MS,
    )
    yield made
    # KNOWN ISSUE (reported): stopping the outbox worker right after a request sometimes
    # never returns under pytest-asyncio; bounded here so that the suite cannot hang.
    with anyio.move_on_after(5):
        await made.aclose()
    made.close()


def test_platform_settings_fill_the_envs_urls_and_need_credentials(config_file: Path) -> None:
    settings = Settings.from_env(
        {"TRACKER_MODE": "platform", "TIMEBACK_API_CLIENT_ID": "id", "TIMEBACK_ENV": "local"},
        config_path=config_file,
        client_secret="x",
    )
    staging = default_urls("staging")
    assert (settings.sink, settings.env) == ("caliper", "staging")
    assert (settings.platform_api_url, settings.caliper_url) == (staging.api, staging.caliper)
    assert settings.token_url == staging.token
    with pytest.raises(SettingsError, match=r"client_id.*platform mode"):
        Settings(config_path=config_file, mode="platform").checked()
    with pytest.raises(SettingsError, match="TRACKER_MODE"):
        Settings(config_path=config_file, mode="cloud").checked()  # type: ignore[arg-type]


async def test_heartbeat_names_the_oneroster_user_and_course(server: TimebackServer) -> None:
    async with client_for(server) as client:
        response = await client.post("/activity/heartbeat", json=heartbeat_body())
        assert response.status_code == 204, response.text
    [event] = server.store.events()
    assert event["actor"] == {
        "id": f"{ROSTER}/users/u-1",
        "type": "TimebackUser",
        "email": "student@example.com",
    }
    assert event["object"]["course"] == {"id": f"{ROSTER}/courses/math3-staging", "name": "MATH-3"}


@pytest.mark.parametrize(
    ("user", "status"), [("nobody@example.com", 404), ("twin@example.com", 409)]
)
async def test_unknown_and_ambiguous_users_are_refused(
    server: TimebackServer, user: str, status: int
) -> None:
    async with client_for(server, user) as client:
        for path, body in (
            ("/activity/heartbeat", heartbeat_body()),
            ("/activity/submit", submit_body()),
        ):
            response = await client.post(path, json=body)
            assert response.status_code == status
            assert response.json()["error"]["code"] == "USER_RESOLUTION_FAILED"
    assert server.store.row_counts()["events"] == 0


async def test_course_without_an_id_for_the_env_is_503(server: TimebackServer) -> None:
    async with client_for(server) as client:
        body = heartbeat_body(course={"subject": "Reading", "grade": 2})
        response = await client.post("/activity/heartbeat", json=body)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "MISSING_SYNCED_COURSE_ID"


async def test_verify_and_me_carry_the_timeback_id(server: TimebackServer) -> None:
    async with client_for(server) as client:
        verify = (await client.get("/user/verify")).json()
        me = (await client.get("/user/me")).json()
    assert (verify["verified"], verify["timebackId"]) == (True, "u-1")
    assert (me["id"], me["name"], me["grade"]) == ("u-1", "Ana Li", 3)
    async with client_for(server, "nobody@example.com") as client:
        assert (await client.get("/user/verify")).json() == {"verified": False}
        assert (await client.get("/user/me")).status_code == 404


async def test_users_are_cached_for_the_ttl(platform: FakePlatform) -> None:
    now = [0.0]
    urls = PlatformUrls(api=PLATFORM, caliper=PLATFORM, token=PLATFORM + TOKEN_PATH)
    from tracker.server.oauth import TokenSource

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=platform.app())) as http:
        tokens = TokenSource(http, urls.token, "ours", "s")
        directory = UserDirectory(
            OneRosterClient(http, urls, tokens), ttl_s=60, clock=lambda: now[0]
        )
        for _ in range(3):
            assert (await directory.resolve("Student@Example.com")).sourced_id == "u-1"
        assert directory.lookups == 1
        now[0] = 61.0
        await directory.resolve("student@example.com")
        assert directory.lookups == 2


async def test_events_reach_the_platforms_caliper_through_the_outbox(
    server: TimebackServer, platform: FakePlatform
) -> None:
    run = new_run()
    async with client_for(server) as client:
        await client.post("/activity/heartbeat", json=heartbeat_body(runId=run))
    # The outbox worker, started by the request, delivers in the background.
    for _ in range(500):
        if platform.client("ours").events:
            break
        await anyio.sleep(0.01)
    [event] = platform.client("ours").events
    assert event["session"] == f"urn:uuid:{run}"


async def test_record_names_the_oneroster_user(server: TimebackServer) -> None:
    activity = {"id": "lesson", "name": "Lesson", "course": {"code": "MATH-3"}}
    await server.activity.record(
        user={"email": "student@example.com"}, activity=activity, metrics={"xpEarned": 1}
    )
    await server.activity.record(
        user={"email": "x@example.com", "timebackId": "tb-9"},
        activity=activity,
        metrics={"xpEarned": 1},
    )
    first, second = server.store.events()
    assert first["actor"]["id"] == f"{ROSTER}/users/u-1"
    assert second["actor"]["id"] == f"{ROSTER}/users/tb-9"
    assert first["object"]["id"].endswith("/activities/MATH-3/lesson")
