"""``tracker serve``'s site over real TCP: uvicorn on 127.0.0.1, session cookie, static files."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tracker.cli import main as cli_main
from tracker.server.main import build_site

from .conftest import NOW_MS
from .helpers import UvicornThread, heartbeat_body, submit_body, window

API = "/api/timeback"


def site_args(tmp_path: Path, config_file: Path) -> argparse.Namespace:
    bundle = tmp_path / "bundle"
    bundle.mkdir(exist_ok=True)
    (bundle / "pyodide.mjs").write_text("export const x = 1;\n")
    (bundle / "pyodide.asm.wasm").write_bytes(b"\0asm\1\0\0\0")
    (bundle / "lock.json").write_text("{}")
    return argparse.Namespace(
        command="serve",
        host="127.0.0.1",
        port=0,
        data=str(tmp_path / "data"),
        config=str(config_file),
        bundle=str(bundle),
        demo_login=True,  # these tests sign in with the demo sign-in
    )


@pytest.fixture
def site(tmp_path: Path, config_file: Path) -> Iterator[tuple[httpx.Client, UvicornThread]]:
    app, server = build_site(site_args(tmp_path, config_file), environ={}, clock=lambda: NOW_MS)
    with UvicornThread(app) as running, httpx.Client(base_url=running.url) as http:
        yield http, running
    server.close()


def sign_in(http: httpx.Client, email: str = "Learner@Example.com") -> None:
    response = http.post("/auth/login", json={"email": email})
    assert response.status_code == 200
    assert response.json() == {"email": email.lower()}
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie


def test_signed_in_page_flow_over_tcp(site: tuple[httpx.Client, UvicornThread]) -> None:
    http, _ = site
    assert http.post(f"{API}/activity/heartbeat", json=heartbeat_body()).status_code == 401
    sign_in(http)
    verify = http.get(f"{API}/user/verify")
    assert verify.status_code == 200
    assert verify.json()["email"] == "learner@example.com"

    assert http.post(f"{API}/activity/heartbeat", json=window(0)).status_code == 204
    again = http.post(f"{API}/activity/heartbeat", json=window(0))
    assert (again.status_code, again.json()) == (200, {"duplicate": True})
    # A page-exit beacon: a string body is sent as text/plain.
    beacon = http.post(
        f"{API}/activity/heartbeat",
        content=json.dumps(window(1)),
        headers={"content-type": "text/plain;charset=UTF-8", "origin": str(http.base_url)},
    )
    assert beacon.status_code == 204
    assert http.post(f"{API}/activity/submit", json=submit_body()).status_code == 204
    me = http.get(f"{API}/user/me").json()
    assert me["activeMinutes"]["allTime"] == 0.5
    # Forwarded as claimed (xp_policy accept, issue 9), flagged: 0.5 minutes seen.
    assert me["xp"]["allTime"] == 8

    assert http.post("/auth/logout").status_code == 204
    assert http.get(f"{API}/user/verify").status_code == 401


def test_forged_cookie_is_anonymous(site: tuple[httpx.Client, UvicornThread]) -> None:
    http, _ = site
    http.cookies.set("timeback_session", "learner@example.com")
    assert http.get(f"{API}/user/verify").status_code == 401


def test_foreign_origin_over_tcp(site: tuple[httpx.Client, UvicornThread]) -> None:
    http, _ = site
    sign_in(http)
    response = http.post(
        f"{API}/activity/heartbeat",
        json=heartbeat_body(),
        headers={"origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "FORBIDDEN_ORIGIN"
    login = http.post(
        "/auth/login", json={"email": "x@example.com"}, headers={"origin": "https://evil.example"}
    )
    assert login.status_code == 403


def test_oversized_bodies_over_tcp(site: tuple[httpx.Client, UvicornThread]) -> None:
    http, running = site
    sign_in(http)
    declared = http.post(
        f"{API}/activity/submit",
        content=b"{" + b" " * 70_000 + b"}",
        headers={"content-type": "application/json"},
    )
    assert declared.status_code == 413

    def chunks() -> Iterator[bytes]:
        yield b'{"id": "'
        for _ in range(40):
            yield b"x" * 4096
        yield b'"}'

    # No Content-Length (chunked): the limit holds while the body streams in.
    with httpx.Client(base_url=running.url, cookies=http.cookies) as fresh:
        streamed = fresh.post(
            f"{API}/activity/heartbeat",
            content=chunks(),
            headers={"content-type": "application/json"},
        )
    assert "content-length" not in streamed.request.headers
    assert streamed.status_code == 413
    assert streamed.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_bundle_and_config_are_served(
    site: tuple[httpx.Client, UvicornThread], config_file: Path
) -> None:
    http, _ = site
    mjs = http.get("/timeback/pyodide.mjs")
    assert mjs.status_code == 200
    assert mjs.headers["content-type"].startswith("text/javascript")
    wasm = http.get("/timeback/pyodide.asm.wasm")
    assert wasm.headers["content-type"] == "application/wasm"
    assert http.get("/timeback/lock.json").headers["content-type"] == "application/json"
    assert http.get("/timeback/missing.js").status_code == 404
    config = http.get("/timeback.config.json")
    assert config.status_code == 200
    assert config.json() == json.loads(config_file.read_text())


def test_every_response_carries_the_security_headers(
    site: tuple[httpx.Client, UvicornThread],
) -> None:
    """Issue 10: nosniff and a Referrer-Policy on the API, its errors, the bundle and config."""
    http, _ = site
    responses = [
        http.post(f"{API}/activity/heartbeat", json=heartbeat_body()),  # 401 error body
        http.get(f"{API}/user/verify"),
        http.get("/timeback/pyodide.mjs"),
        http.get("/timeback/missing.js"),
        http.get("/timeback.config.json"),
    ]
    sign_in(http)
    responses.append(http.post(f"{API}/activity/heartbeat", json=heartbeat_body()))
    for response in responses:
        assert response.headers["x-content-type-options"] == "nosniff", response.url
        assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_serve_with_a_bad_config_fails_at_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "X", "courses": [{"subject": "Math"}]}))
    code = cli_main(["serve", "--config", str(bad), "--data", str(tmp_path / "d"), "--port", "1"])
    assert code == 2
    err = capsys.readouterr().err
    assert "timeback.config.json" in err and "courses[0]" in err

    code = cli_main(["serve", "--config", str(tmp_path / "nope.json"), "--data", str(tmp_path)])
    assert code == 2
    assert "file not found" in capsys.readouterr().err
