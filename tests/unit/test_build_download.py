"""Downloads of tracker build: progress, and an unreachable registry named in seconds."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tracker.build.download import download, npm_registry, npm_tarball_url
from tracker.build.errors import BuildError

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/pkg/1.0.0":
            body = (
                b'{"dist": {"tarball": "http://%s/pkg-1.0.0.tgz"}}' % self.headers["Host"].encode()
            )
        elif self.path == "/pkg-1.0.0.tgz":
            body = PAYLOAD
        elif self.path == "/slow.tgz":
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD[:1000])
            self.wfile.flush()
            time.sleep(2)  # stalls mid-body
            return
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def registry() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_tarball_url_comes_from_the_registrys_metadata(
    registry: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TRACKER_NPM_REGISTRY", registry.rstrip("/"))
    assert npm_registry() == registry
    url = npm_tarball_url("pkg", "1.0.0")
    target = download(url, tmp_path / "pkg.tgz", "pkg@1.0.0")
    assert target.read_bytes() == PAYLOAD


def test_missing_package_names_the_registry_and_the_status(
    registry: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKER_NPM_REGISTRY", registry)
    with pytest.raises(BuildError, match=r"127\.0\.0\.1:\d+ answered HTTP 404"):
        npm_tarball_url("nope", "1.0.0")


def test_a_registry_that_never_answers_fails_within_the_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A socket that accepts connections (the backlog) but never answers.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    monkeypatch.setenv("TRACKER_NPM_REGISTRY", f"http://127.0.0.1:{silent.getsockname()[1]}/")
    started = time.monotonic()
    try:
        with pytest.raises(BuildError, match=r"cannot reach http://127\.0\.0\.1:\d+ \(no answer"):
            npm_tarball_url("pyodide", "314.0.7", timeout=0.5)
    finally:
        silent.close()
    assert time.monotonic() - started < 5


def test_a_closed_port_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    monkeypatch.setenv("TRACKER_NPM_REGISTRY", f"http://127.0.0.1:{port}/")
    with pytest.raises(BuildError, match=rf"cannot reach http://127\.0\.0\.1:{port} "):
        npm_tarball_url("pyodide", "314.0.7", timeout=0.5)


def test_a_stalled_download_is_given_up_and_leaves_no_file(registry: str, tmp_path: Path) -> None:
    target = tmp_path / "slow.tgz"
    with pytest.raises(BuildError, match=r"stopped sending after 0\.0 MB"):
        download(f"{registry}slow.tgz", target, "slow", timeout=0.5)
    assert not target.exists()


def test_progress_is_printed_in_bytes_of_the_total(
    registry: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    download(f"{registry}pkg-1.0.0.tgz", tmp_path / "p.tgz", "pkg@1.0.0")
    assert "downloading pkg@1.0.0 (1.0 MB)" in capsys.readouterr().err
