"""Settings from code and environment; the SQLite store's schema, migrations and constraints."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tracker.server import Settings, SettingsError, StoreError, TimebackServer
from tracker.server.store import SCHEMA_VERSION, Store
from tracker.server.store import schema as sqlite_store

from .conftest import ServerFactory, client_for
from .helpers import heartbeat_body


def test_settings_from_environment(tmp_path: Path) -> None:
    environ = {
        "TRACKER_CONFIG": "conf/timeback.config.json",
        "TRACKER_DB": "sqlite:////var/lib/tracker/db.sqlite3",
        "TRACKER_SINK": "caliper",
        "CALIPER_URL": "https://caliper.example.com/",
        "CALIPER_TOKEN_URL": "https://auth.example.com/oauth2/token",
        "CALIPER_CLIENT_ID": "id",
        "CALIPER_CLIENT_SECRET": "secret",
        "TIMEBACK_ENV": "staging",
        "TRACKER_XP_POLICY": "reject",
        "TRACKER_XP_TOLERANCE": "2.5",
        "TRACKER_ALLOWED_ORIGINS": "https://a.example.com, https://B.example.com/",
    }
    settings = Settings.from_env(environ)
    assert settings.config_path == Path("conf/timeback.config.json")
    assert settings.database == Path("/var/lib/tracker/db.sqlite3")
    assert settings.sink == "caliper"
    assert settings.caliper_url == "https://caliper.example.com"
    assert settings.token_url == "https://auth.example.com/oauth2/token"
    assert (settings.client_id, settings.client_secret) == ("id", "secret")
    assert settings.env == "staging"
    assert settings.xp_policy == "reject"
    assert settings.xp_tolerance == 2.5
    assert settings.allowed_origins == ("https://a.example.com", "https://b.example.com")
    assert "secret" not in repr(settings)

    # Code wins over the environment.
    assert Settings.from_env(environ, env="production", sink="embedded").env == "production"
    assert Settings.from_env({"TRACKER_CONFIG": "x.json"}).database == Path("data/tracker.sqlite3")
    relative = Settings.from_env({"TRACKER_CONFIG": "x", "TRACKER_DB": "sqlite:///rel/db"})
    assert relative.database == Path("rel/db")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"sink": "kafka"}, "TRACKER_SINK"),
        ({"env": "prod"}, "TIMEBACK_ENV"),
        ({"xp_policy": "maybe"}, "TRACKER_XP_POLICY"),
        ({"xp_tolerance": "lots"}, "TRACKER_XP_TOLERANCE"),
        ({"sink": "caliper"}, "CALIPER_URL"),
        (
            {"sink": "caliper", "caliper_url": "https://c.example", "token_url": "https://t"},
            "CALIPER_CLIENT_ID",
        ),
        ({"caliper_url": "caliper.example.com"}, "absolute"),
        ({"allowed_origins": "https://a.example.com/path"}, "not an origin"),
        ({"database": "mysql://db/tracker"}, "use a file path, sqlite:///path or postgresql"),
        ({"config_path": None}, "no timeback.config.json"),
        ({"colour": "blue"}, "unknown setting"),
    ],
)
def test_bad_settings_fail_clearly(values: dict[str, Any], message: str) -> None:
    base: dict[str, Any] = {"config_path": "timeback.config.json"}
    base.update(values)
    base = {key: value for key, value in base.items() if value is not None}
    with pytest.raises(SettingsError, match=message):
        Settings.build(**base)


def test_bad_config_file_fails_at_start(tmp_path: Path) -> None:
    missing = Settings(config_path=tmp_path / "nope.json", database=tmp_path / "db")
    with pytest.raises(SettingsError, match="file not found"):
        TimebackServer(missing)
    broken = tmp_path / "broken.json"
    broken.write_text('{"name": "X", "courses": [{"subject": "Math", "grade": 3, "sensor": "x"}]}')
    with pytest.raises(SettingsError, match=r"courses\[0\]\.sensor"):
        TimebackServer(Settings(config_path=broken, database=tmp_path / "db"))
    not_json = tmp_path / "not.json"
    not_json.write_text("{")
    with pytest.raises(SettingsError, match="not valid JSON"):
        TimebackServer(Settings(config_path=not_json, database=tmp_path / "db"))


def test_store_is_wal_and_versioned(server: TimebackServer, db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()
    assert server.store.schema_version == SCHEMA_VERSION


async def test_schema_migrates_forward_keeping_data(
    make_server: ServerFactory, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_server()
    async with client_for(server) as client:
        assert (await client.post("/activity/heartbeat", json=heartbeat_body())).status_code == 204
    server.close()

    upgrade = ("ALTER TABLE events ADD COLUMN note TEXT",)
    migrations = (*sqlite_store.SQLITE_MIGRATIONS, upgrade)
    monkeypatch.setattr(sqlite_store, "SQLITE_MIGRATIONS", migrations)
    monkeypatch.setattr(sqlite_store, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    upgraded = Store(db_path)
    assert upgraded.schema_version == SCHEMA_VERSION + 1
    assert upgraded.row_counts()["events"] == 1
    assert upgraded.read(lambda tx: tx.one("SELECT note FROM events"))[0] is None
    upgraded.close()


def test_newer_schema_is_refused(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this server"):
        Store(db_path)


def test_dedupe_is_a_database_constraint(server: TimebackServer, db_path: Path) -> None:
    row = (
        "u@example.com",
        "run",
        "heartbeat",
        1,
        1,
        2,
        1,
        0,
        "https://a/activities/x",
        "Math/g3",
        "urn:uuid:e",
    )
    sql = (
        "INSERT INTO time_ledger (user_email, run_id, source, key_ms, started_at_ms, ended_at_ms,"
        " active_ms, inactive_ms, activity_url, course_key, event_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    conn = sqlite3.connect(db_path)
    conn.execute(sql, row)
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        conn.execute(sql, row)
    conn.close()


async def test_two_servers_racing_on_one_file_store_a_window_once(
    make_server: ServerFactory,
) -> None:
    servers = [make_server(), make_server()]
    clients = [client_for(server) for server in servers]
    body = heartbeat_body()
    responses = await asyncio.gather(
        *(clients[i % 2].post("/activity/heartbeat", json=body) for i in range(12))
    )
    for client in clients:
        await client.aclose()
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] * 11 + [204]
    assert servers[0].store.row_counts()["events"] == 1


def test_config_object_instead_of_path(tmp_path: Path) -> None:
    from tracker.config import parse_config

    from .helpers import CONFIG

    config = parse_config(json.loads(json.dumps(CONFIG)))
    server = TimebackServer(Settings(config=config, database=tmp_path / "db.sqlite3"))
    assert server.config is config
    server.close()
