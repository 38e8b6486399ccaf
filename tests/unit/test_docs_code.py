"""Every code block of the README and docs runs as written (see tests/docs_code.py).

Python blocks run against a real server (a scratch app folder, a real SQLite store); JSON
examples are parsed by the same code as real input; the browser blocks run in Chromium in
tests/e2e/test_docs_code.py. A block that is not run must be of a language that is not code
(shell, listings, nginx).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from tracker.config import parse_config
from tracker.server import Settings, TimebackServer

from ..docs_code import NOT_RUN_LANGUAGES, ROOT, Block, all_blocks, readme_config

BLOCKS = all_blocks()
KNOWN_MODES = {
    "server",
    "django",
    "in-async",
    "config",
    "heartbeat",
    "submit",
    "json",
    "me",
    "browser",
    "pyscript",
    "pyscript-host",
    "bundled",
    "not-run",
}

DRIVER = """
import asyncio, importlib, json, re, sys
import httpx

sys.path.insert(0, ".")
steps = json.loads(sys.argv[1])
module = importlib.import_module("doc_block")


async def main() -> None:
    app = getattr(module, "app", None) or getattr(module, "application", None)
    for step in steps:
        if step.startswith("await "):
            await eval(step[len("await "):], vars(module))
            continue
        method, path, _, status = step.split()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            answer = await http.request(method, path)
        assert answer.status_code == int(status), (step, answer.status_code, answer.text[:300])
    server = getattr(module, "timeback", None)
    if server is not None:
        await server.aclose()
        server.close()


asyncio.run(main())
"""

DJANGO_SETTINGS = """
SECRET_KEY = "docs-test-" + "k" * 40
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "django.sqlite3"}}
ROOT_URLCONF = "mysite.urls"
USE_TZ = True
"""


def _ids(block: Block) -> str:
    return block.where


def _of(*modes: str) -> list[Block]:
    return [block for block in BLOCKS if block.mode in modes]


def test_every_block_has_a_mode_and_only_non_code_is_not_run() -> None:
    assert BLOCKS, "no code blocks found"
    for block in BLOCKS:
        assert block.mode in KNOWN_MODES, f"{block.where}: unknown doc-test mode {block.mode!r}"
        if block.mode == "not-run":
            assert block.lang in NOT_RUN_LANGUAGES, f"{block.where}: {block.lang} must run"


def _app_folder(tmp_path: Path, block: Block) -> Path:
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "timeback.config.json").write_text(readme_config())
    (folder / "data").mkdir()
    if block.mode == "django":
        (folder / "mysite").mkdir()
        (folder / "mysite" / "__init__.py").write_text("")
        (folder / "mysite" / "settings.py").write_text(DJANGO_SETTINGS)
        (folder / "mysite" / "urls.py").write_text("urlpatterns = []\n")
    return folder


@pytest.mark.parametrize("block", _of("server", "django", "in-async"), ids=_ids)
def test_python_block_runs_as_written(block: Block, tmp_path: Path) -> None:
    folder = _app_folder(tmp_path, block)
    steps = list(block.steps)
    if block.mode == "in-async":
        [name] = block.steps  # the server's name in the fragment
        code = (
            "from tracker.server import Settings, TimebackServer\n\n"
            f"{name} = TimebackServer(Settings(config_path='timeback.config.json',"
            " database='data/tracker.sqlite3'))\n\n\n"
            "async def run_fragment() -> None:\n" + textwrap.indent(block.text, "    ")
        )
        steps = ["await run_fragment()"]
    else:
        code = block.text
    # As a module: top-level await is a SyntaxError there (a recipe that cannot be pasted).
    compile(code, block.where, "exec")
    (folder / "doc_block.py").write_text(code)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SESSION_SECRET": "s" * 40,
        "DJANGO_SETTINGS_MODULE": "mysite.settings",
    }
    result = subprocess.run(
        [sys.executable, "-c", DRIVER, json.dumps(steps)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{block.where}:\n{result.stdout}\n{result.stderr}"


@pytest.mark.parametrize("block", _of("config"), ids=_ids)
def test_config_example_is_accepted(block: Block) -> None:
    config = parse_config(json.loads(block.text))
    assert config.courses


@pytest.mark.parametrize("block", _of("json"), ids=_ids)
def test_json_example_is_json(block: Block) -> None:
    json.loads(block.text)


def _epoch_ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


@pytest.mark.parametrize("block", _of("heartbeat", "submit"), ids=_ids)
async def test_wire_example_is_stored_by_a_real_server(block: Block, tmp_path: Path) -> None:
    body = json.loads(block.text)
    config = tmp_path / "timeback.config.json"
    # The protocol's examples name the courses of its own config example.
    [protocol_config] = [b for b in _of("config") if b.file.name == "protocol.md"]
    config.write_text(protocol_config.text)
    # The server's "now" is the example's own time: a window is refused when far from now.
    now = _epoch_ms(body["endedAt"]) + 60_000
    server = TimebackServer(
        Settings(config_path=config, database=tmp_path / "data" / "tracker.sqlite3"),
        get_email=lambda request: "student@example.com",
        clock=lambda: now,
    )
    route = "/activity/heartbeat" if block.mode == "heartbeat" else "/activity/submit"
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=server.app), base_url="http://127.0.0.1"
    ) as http:
        answer = await http.post(route, json=body)
    assert answer.status_code == 204, f"{block.where}: {answer.status_code} {answer.text}"
    assert server.store.events()
    await server.aclose()
    server.close()


@pytest.mark.parametrize("block", _of("me"), ids=_ids)
async def test_documented_profile_has_the_fields_of_a_real_answer(
    block: Block, tmp_path: Path
) -> None:
    documented = json.loads(block.text)
    config = tmp_path / "timeback.config.json"
    config.write_text(readme_config())
    server = TimebackServer(
        Settings(config_path=config, database=tmp_path / "data" / "tracker.sqlite3"),
        get_email=lambda request: "student@example.com",
    )
    record = {
        "user": {"email": "student@example.com"},
        "activity": {"id": "lesson-1", "name": "Fractions", "course": {"code": "MATH-3"}},
        "metrics": {"xpEarned": 5, "masteredUnits": 1},
        "time": {"activeMs": 300_000},
    }
    await server.activity.record(record)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=server.app), base_url="http://127.0.0.1"
    ) as http:
        real = (await http.get("/user/me")).json()
    await server.aclose()
    server.close()
    assert set(documented) == set(real), block.where
    assert set(documented["courses"][0]) == set(real["courses"][0]), block.where
    assert set(documented["courses"][0]["xp"]) == set(real["courses"][0]["xp"]), block.where
