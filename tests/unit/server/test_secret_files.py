"""The session secret and the data files (issue 10): written atomically, private, never empty."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tracker.demo.state import DemoState
from tracker.server import auth as auth_module
from tracker.server.auth import SECRET_ENV, SECRET_FILE, SecretError, load_secret
from tracker.server.store import Store


@pytest.fixture(autouse=True)
def _no_env_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_fresh_start_writes_a_private_secret_of_full_length(tmp_path: Path) -> None:
    data = tmp_path / "data"
    secret = load_secret(data)
    path = data / SECRET_FILE
    assert len(secret) >= auth_module.MIN_SECRET_LENGTH
    assert path.read_text(encoding="utf-8") == secret
    assert _mode(path) == 0o600
    assert sorted(p.name for p in data.iterdir()) == [SECRET_FILE]  # no temp file left
    assert load_secret(data) == secret  # a restart keeps everybody signed in


def test_the_secret_is_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        load_secret(tmp_path)
    finally:
        os.umask(old)
    assert _mode(tmp_path / SECRET_FILE) == 0o600


def test_a_failed_write_leaves_no_secret_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk at first start must not leave an empty secret for the next start to use."""

    def full_disk(fd: int, data: bytes) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", full_disk)
    with pytest.raises(SecretError, match=SECRET_FILE):
        load_secret(tmp_path)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    assert len(load_secret(tmp_path)) >= auth_module.MIN_SECRET_LENGTH


def test_a_failed_fsync_leaves_no_secret_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(SecretError, match=SECRET_FILE):
        load_secret(tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("content", ["", "\n", "  \n", "short-secret", "x" * 31])
def test_an_empty_or_short_secret_file_refuses_to_start(tmp_path: Path, content: str) -> None:
    (tmp_path / SECRET_FILE).write_text(content, encoding="utf-8")
    with pytest.raises(SecretError) as caught:
        load_secret(tmp_path)
    message = str(caught.value)
    assert str(tmp_path / SECRET_FILE) in message
    assert "\n" not in message
    assert (tmp_path / SECRET_FILE).read_text(encoding="utf-8") == content  # left for the operator


def test_a_short_secret_from_the_environment_refuses_to_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, "too-short")
    with pytest.raises(SecretError, match=SECRET_ENV):
        load_secret(tmp_path)
    monkeypatch.setenv(SECRET_ENV, "k" * 32)
    assert load_secret(tmp_path) == "k" * 32


def test_an_unreadable_secret_file_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / SECRET_FILE).mkdir()  # a folder where the file should be
    with pytest.raises(SecretError, match=SECRET_FILE):
        load_secret(tmp_path)


def test_the_serve_command_prints_one_line_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tracker.cli import main

    data = tmp_path / "data"
    data.mkdir()
    (data / SECRET_FILE).write_text("", encoding="utf-8")
    code = main(["serve", "--data", str(data), "--port", "0"])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert str(data / SECRET_FILE) in err
    assert len(err.strip().splitlines()) == 1


def test_the_database_and_its_wal_files_are_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        store = Store(tmp_path / "data" / "tracker.sqlite3")
        try:
            store.write(lambda tx: tx.execute("CREATE TABLE IF NOT EXISTS probe (x)"))
            files = sorted((tmp_path / "data").iterdir())
            assert {p.name for p in files} >= {
                "tracker.sqlite3",
                "tracker.sqlite3-wal",
                "tracker.sqlite3-shm",
            }
            for path in files:
                assert _mode(path) == 0o600, path
        finally:
            store.close()
    finally:
        os.umask(old)


def test_the_demo_state_creates_the_database_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        state = DemoState(tmp_path / "tracker.sqlite3")
        try:
            for path in tmp_path.iterdir():
                assert _mode(path) == 0o600, path
        finally:
            state.close()
    finally:
        os.umask(old)


def test_a_shared_store_needs_the_secret_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tracker.server.auth import SecretError, shared_secret

    monkeypatch.delenv("TRACKER_SESSION_SECRET", raising=False)
    with pytest.raises(SecretError, match="TRACKER_SESSION_SECRET: required with a PostgreSQL"):
        shared_secret()
    monkeypatch.setenv("TRACKER_SESSION_SECRET", "short")
    with pytest.raises(SecretError, match="too short"):
        shared_secret()
    monkeypatch.setenv("TRACKER_SESSION_SECRET", "x" * 40)
    assert shared_secret() == "x" * 40
