"""Issue 10: a Host allowlist, and start-up failures as one line with exit 2 (no traceback)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracker.cli import main as cli_main
from tracker.server.guards import host_allowed

from .conftest import ServerFactory, client_for
from .helpers import window


def test_host_patterns() -> None:
    allowed = ("app.example.com", "*.lessons.example.com", "[::1]")
    assert host_allowed("app.example.com", allowed)
    assert host_allowed("APP.example.com:8443", allowed)
    assert host_allowed("a.lessons.example.com", allowed)
    assert host_allowed("[::1]:8000", allowed)
    for other in ("evil.example", "lessons.example.com", "app.example.com.evil", "", None, "[x"):
        assert not host_allowed(other, allowed), other


async def test_a_request_for_another_host_is_400(make_server: ServerFactory) -> None:
    """Before: any Host was answered (DNS rebinding reaches a server bound to a LAN)."""
    server = make_server(allowed_hosts=("app.test",))
    async with client_for(server) as http:
        assert (await http.post("/activity/heartbeat", json=window(0))).status_code == 204
        rebound = await http.post(
            "/activity/heartbeat", json=window(1), headers={"host": "attacker.example"}
        )
        assert rebound.status_code == 400
        assert rebound.json()["error"]["code"] == "BAD_HOST"
    assert server.store.row_counts()["time_ledger"] == 1
    await server.aclose()


def _serve(tmp_path: Path, data: Path, config_file: Path, *extra: str) -> list[str]:
    return ["serve", "--data", str(data), "--config", str(config_file), "--port", "0", *extra]


def test_a_data_folder_that_is_a_file_is_one_line(
    tmp_path: Path, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: a traceback from mkdir."""
    data = tmp_path / "data"
    data.write_text("not a folder")
    assert cli_main(_serve(tmp_path, data, config_file)) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert str(data) in err


def test_an_unwritable_data_folder_is_one_line(
    tmp_path: Path,
    config_file: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import tracker.server.private_files as private_files

    def read_only(path: Path) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(private_files, "create_private", read_only)
    import tracker.demo.state as demo_state

    monkeypatch.setattr(demo_state, "create_private", read_only)
    assert cli_main(_serve(tmp_path, tmp_path / "data", config_file)) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "Permission denied" in err and str(tmp_path / "data") in err


def test_a_bad_setting_is_one_line(
    tmp_path: Path,
    config_file: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRACKER_ALLOWED_HOSTS", "https://app.example.com")
    assert cli_main(_serve(tmp_path, tmp_path / "data", config_file)) == 2
    err = capsys.readouterr().err
    assert "TRACKER_ALLOWED_HOSTS" in err and len(err.strip().splitlines()) == 1
