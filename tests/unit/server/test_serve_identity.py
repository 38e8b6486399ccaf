"""``tracker serve`` is safe to expose (issue 10): no demo sign-in unless asked for, identity
from a trusted proxy header, an HS256 token or a callback, Secure cookies, logout revokes.

Each attack first: what anyone reaching the server could do before.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from tracker.cli import main as cli_main
from tracker.server.main import build_site
from tracker.server.settings import SettingsError
from tracker.server.tokens import TokenInvalidError, b64encode, sign_hs256, verify_hs256

from .conftest import NOW_MS
from .test_site import site_args

VERIFY = "/api/timeback/user/verify"
KEY = "k" * 40
EMAIL = "learner@example.com"


@asynccontextmanager
async def site_client(
    tmp_path: Path,
    config_file: Path,
    environ: Mapping[str, str] | None = None,
    *,
    demo_login: bool = False,
    peer: str = "127.0.0.1",
    scheme: str = "http",
) -> AsyncIterator[httpx.AsyncClient]:
    args: argparse.Namespace = site_args(tmp_path, config_file)
    args.demo_login = demo_login
    app, server = build_site(args, environ=dict(environ or {}), clock=lambda: NOW_MS)
    transport = httpx.ASGITransport(app=app, client=(peer, 40000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url=f"{scheme}://app.test") as http:
            yield http
    finally:
        await server.aclose()
        server.close()


async def test_serve_has_no_demo_sign_in_unless_asked(tmp_path: Path, config_file: Path) -> None:
    """Before: /auth/login on every `tracker serve`: anyone reaching it was any student."""
    async with site_client(tmp_path, config_file) as http:
        login = await http.post("/auth/login", json={"email": EMAIL})
        assert login.status_code == 404
        assert "set-cookie" not in login.headers
        assert (await http.get(VERIFY)).status_code == 401
    async with site_client(tmp_path, config_file, demo_login=True) as http:
        assert (await http.post("/auth/login", json={"email": EMAIL})).status_code == 200
        assert (await http.get(VERIFY)).json()["email"] == EMAIL


def test_demo_login_flag_and_another_identity_is_a_one_line_error(
    tmp_path: Path,
    config_file: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRACKER_IDENTITY", "jwt")
    monkeypatch.setenv("TRACKER_JWT_KEY", KEY)
    code = cli_main(
        [
            "serve",
            "--demo-login",
            "--config",
            str(config_file),
            "--data",
            str(tmp_path / "d"),
            "--port",
            "0",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "--demo-login" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


async def test_proxy_header_is_believed_only_from_a_trusted_proxy(
    tmp_path: Path, config_file: Path
) -> None:
    env = {"TRACKER_IDENTITY": "proxy-header", "TRACKER_TRUSTED_PROXIES": "10.0.0.0/8"}
    header = {"X-Forwarded-Email": "Learner@Example.com"}
    async with site_client(tmp_path, config_file, env, peer="10.1.2.3") as http:
        answer = await http.get(VERIFY, headers=header)
        assert (answer.status_code, answer.json()["email"]) == (200, EMAIL)
    # A student who reaches the server directly types the same header.
    async with site_client(tmp_path, config_file, env, peer="192.168.1.9") as http:
        assert (await http.get(VERIFY, headers=header)).status_code == 401
    with pytest.raises(SettingsError, match="TRACKER_TRUSTED_PROXIES"):
        async with site_client(tmp_path, config_file, {"TRACKER_IDENTITY": "proxy-header"}):
            pass


def _token(**claims: object) -> str:
    base: dict[str, object] = {"email": EMAIL, "exp": time.time() + 600}
    base.update(claims)
    return sign_hs256({k: v for k, v in base.items() if v is not None}, KEY)


async def test_jwt_identity_takes_only_valid_hs256_tokens(
    tmp_path: Path, config_file: Path
) -> None:
    env = {
        "TRACKER_IDENTITY": "jwt",
        "TRACKER_JWT_KEY": KEY,
        "TRACKER_JWT_AUDIENCE": "tracker",
        "TRACKER_JWT_COOKIE": "app_token",
    }
    header = b64encode(b'{"alg":"none","typ":"JWT"}')
    payload = b64encode(
        f'{{"email":"{EMAIL}","exp":{int(time.time()) + 600},"aud":"tracker"}}'.encode()
    )
    forged = {
        "unsigned (alg none)": f"{header}.{payload}.",
        "other key": sign_hs256(
            {"email": EMAIL, "exp": time.time() + 600, "aud": "tracker"}, "x" * 40
        ),
        "expired": _token(aud="tracker", exp=time.time() - 3600),
        "no exp": _token(aud="tracker", exp=None),
        "other audience": _token(aud="another-app"),
        "not an email": _token(aud="tracker", email="admin"),
        "garbage": "a.b.c",
    }
    async with site_client(tmp_path, config_file, env) as http:
        good = _token(aud="tracker")
        bearer = await http.get(VERIFY, headers={"authorization": f"Bearer {good}"})
        assert (bearer.status_code, bearer.json()["email"]) == (200, EMAIL)
        cookie = await http.get(VERIFY, headers={"cookie": f"app_token={good}"})
        assert cookie.status_code == 200
        for name, token in forged.items():
            answer = await http.get(VERIFY, headers={"authorization": f"Bearer {token}"})
            assert answer.status_code == 401, name
        assert (await http.post("/auth/login", json={"email": EMAIL})).status_code == 404


def test_jwt_key_must_be_long_and_alg_must_be_hs256(tmp_path: Path, config_file: Path) -> None:
    from tracker.server import Settings

    with pytest.raises(SettingsError, match="TRACKER_JWT_KEY"):
        Settings.from_env(
            {
                "TRACKER_CONFIG": str(config_file),
                "TRACKER_IDENTITY": "jwt",
                "TRACKER_JWT_KEY": "short",
            }
        )
    header = b64encode(b'{"alg":"HS512"}')
    with pytest.raises(TokenInvalidError, match="HS256"):
        verify_hs256(f"{header}.e30.", KEY, now_s=0)


async def test_callback_identity(tmp_path: Path, config_file: Path) -> None:
    env = {
        "TRACKER_IDENTITY": "callback",
        "TRACKER_GET_EMAIL": "tests.unit.server.identity_hook:from_test_header",
    }
    async with site_client(tmp_path, config_file, env) as http:
        answer = await http.get(VERIFY, headers={"x-test-user": EMAIL})
        assert answer.json()["email"] == EMAIL
    with pytest.raises(SettingsError, match="TRACKER_GET_EMAIL"):
        async with site_client(
            tmp_path,
            config_file,
            {**env, "TRACKER_GET_EMAIL": "tests.unit.server.identity_hook:nope"},
        ):
            pass


async def test_cookie_is_secure_over_https_and_behind_a_trusted_tls_proxy(
    tmp_path: Path, config_file: Path
) -> None:
    async def cookie(http: httpx.AsyncClient, headers: dict[str, str] | None = None) -> str:
        answer = await http.post("/auth/login", json={"email": EMAIL}, headers=headers or {})
        text = answer.headers["set-cookie"]
        assert "HttpOnly" in text and "SameSite=lax" in text
        return text

    async with site_client(tmp_path, config_file, demo_login=True, scheme="https") as http:
        assert "Secure" in await cookie(http)
    env = {"TRACKER_TRUSTED_PROXIES": "10.0.0.1"}
    proto = {"x-forwarded-proto": "https"}
    async with site_client(tmp_path, config_file, env, demo_login=True, peer="10.0.0.1") as http:
        assert "Secure" in await cookie(http, proto)
        assert "Secure" not in await cookie(http)
    # Before: never Secure behind a TLS proxy; and the header from anyone else is not believed.
    async with site_client(tmp_path, config_file, env, demo_login=True, peer="10.9.9.9") as http:
        assert "Secure" not in await cookie(http, proto)


async def test_logout_revokes_the_cookie_even_in_a_copy_and_after_a_restart(
    tmp_path: Path, config_file: Path
) -> None:
    """Before: logout only asked the browser to forget; a copy stayed valid for 30 days."""
    async with site_client(tmp_path, config_file, demo_login=True) as http:
        await http.post("/auth/login", json={"email": EMAIL})
        stolen = http.cookies["timeback_session"]
        assert (await http.post("/auth/logout")).status_code == 204
        http.cookies.clear()
        http.cookies.set("timeback_session", stolen)
        assert (await http.get(VERIFY)).status_code == 401
        http.cookies.clear()
        await http.post("/auth/login", json={"email": EMAIL})  # signing in again works
        assert (await http.get(VERIFY)).status_code == 200
    async with site_client(tmp_path, config_file, demo_login=True) as http:
        http.cookies.set("timeback_session", stolen)
        assert (await http.get(VERIFY)).status_code == 401
    assert oct((tmp_path / "data" / "sessions.sqlite3").stat().st_mode & 0o777) == "0o600"
