"""Downloads of the build: a short connect timeout, the server named in every error, and
progress in bytes, so an unreachable registry fails in seconds with its name instead of
waiting a minute in silence (the ~20 MB of runtime take a while on a slow link)."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from .errors import BuildError
from .files import write_atomic
from .progress import say

DEFAULT_NPM_REGISTRY = "https://registry.npmjs.org/"
# Seconds without a byte (connect or read) before a download is given up.
TIMEOUT_S = float(os.environ.get("TRACKER_DOWNLOAD_TIMEOUT", "20"))
_CHUNK = 1 << 16


def npm_registry() -> str:
    """The registry: ``TRACKER_NPM_REGISTRY``, else npm's own ``npm_config_registry``."""
    registry = (
        os.environ.get("TRACKER_NPM_REGISTRY")
        or os.environ.get("npm_config_registry")  # noqa: SIM112 - npm spells it so
        or DEFAULT_NPM_REGISTRY
    )
    return registry if registry.endswith("/") else registry + "/"


def _host(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _open(url: str, what: str, timeout: float) -> Any:
    try:
        return urllib.request.urlopen(url, timeout=timeout)
    except urllib.error.HTTPError as exc:
        raise BuildError(f"{what}: {_host(url)} answered HTTP {exc.code} for {url}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, (TimeoutError, socket.timeout)):
            reason = f"no answer within {timeout:g} s"
        raise BuildError(
            f"{what}: cannot reach {_host(url)} ({reason}); check the network, or point "
            "TRACKER_NPM_REGISTRY / pip's index at a registry you can reach"
        ) from exc


def npm_tarball_url(name: str, version: str, *, timeout: float = TIMEOUT_S) -> str:
    """The tarball URL of ``name@version`` from the registry's metadata of that version."""
    registry = npm_registry()
    url = f"{registry}{quote(name, safe='@')}/{quote(version)}"
    with _open(url, f"looking up {name}@{version}", timeout) as response:
        try:
            tarball = json.load(response)["dist"]["tarball"]
        except (ValueError, KeyError, TypeError) as exc:
            raise BuildError(f"{url}: not the npm metadata of {name}@{version}") from exc
    if not isinstance(tarball, str):
        raise BuildError(f"{url}: no dist.tarball for {name}@{version}")
    return tarball


def _size(count: float) -> str:
    return f"{count / 1e6:.1f} MB"


def download(url: str, target: Path, what: str, *, timeout: float = TIMEOUT_S) -> Path:
    """Streams ``url`` to ``target`` (atomically), printing progress about once a second."""
    with _open(url, f"downloading {what}", timeout) as response:
        total = int(response.headers.get("Content-Length") or 0)
        chunks: list[bytes] = []
        received = 0
        last = time.monotonic()
        say(f"downloading {what}" + (f" ({_size(total)})" if total else ""))
        while True:
            try:
                chunk = response.read(_CHUNK)
            except (TimeoutError, OSError) as exc:
                raise BuildError(
                    f"downloading {what}: {_host(url)} stopped sending after "
                    f"{_size(received)} (no data within {timeout:g} s)"
                ) from exc
            if not chunk:
                break
            chunks.append(chunk)
            received += len(chunk)
            now = time.monotonic()
            if now - last >= 1.0:
                last = now
                shown = f"{_size(received)} of {_size(total)}" if total else _size(received)
                print(f"tracker build:   {what}: {shown}", file=sys.stderr, flush=True)
    if total and received != total:
        raise BuildError(f"downloading {what}: got {received} of {total} bytes from {url}")
    write_atomic(target, b"".join(chunks))
    return target
