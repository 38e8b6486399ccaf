"""A throwaway PostgreSQL cluster for the tests (issue 12): initdb + pg_ctl in a temp folder.

It listens on a unix socket inside that folder only (no TCP port to collide with), and is
stopped (``pg_ctl stop -m immediate``) and deleted at the end of the session: nothing keeps
running. If it cannot start, the run fails loudly unless ``TRACKER_TEST_NO_POSTGRES=1`` says
to run the SQLite half alone.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path

NO_POSTGRES_ENV = "TRACKER_TEST_NO_POSTGRES"
# initdb refuses to run as root; Debian's package creates this user.
SYSTEM_USER = "postgres"


def find_binary(name: str) -> str | None:
    """``pg_ctl``/``initdb`` from PATH, /usr/local/bin or Debian's /usr/lib/postgresql/*/bin."""
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True):
        return candidate
    return None


class PostgresCluster:
    def __init__(self, *, durable: bool = False) -> None:
        # durable: fsync as a production server does (benchmarks); tests need no power-cut
        # safety and run with fsync off, which makes each commit cheap.
        self.durable = durable
        self.folder = Path(tempfile.mkdtemp(prefix="tracker-pg-"))
        self.data = self.folder / "data"
        self.socket_dir = self.folder
        self.port = 5432  # only names the socket file (.s.PGSQL.5432) in our own folder
        self.started = False

    def _as_owner(self, command: Sequence[str]) -> list[str]:
        if os.geteuid() != 0:
            return list(command)
        return ["runuser", "-u", SYSTEM_USER, "--", *command]

    def _run(self, command: Sequence[str]) -> None:
        result = subprocess.run(
            self._as_owner(command), capture_output=True, text=True, timeout=60, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command)} failed ({result.returncode}): "
                f"{(result.stderr or result.stdout).strip()[-800:]}"
            )

    def start(self) -> None:
        initdb, pg_ctl = find_binary("initdb"), find_binary("pg_ctl")
        if not initdb or not pg_ctl:
            raise RuntimeError(
                "PostgreSQL is not installed (no initdb/pg_ctl): run scripts/setup.sh, or set "
                f"{NO_POSTGRES_ENV}=1 to test SQLite only"
            )
        if os.geteuid() == 0:
            shutil.chown(self.folder, SYSTEM_USER)
        self._run([initdb, "-D", str(self.data), "-U", "tracker", "-A", "trust", "-E", "UTF8"])
        options = (
            f"-k {self.socket_dir} -p {self.port} -c listen_addresses='' -c max_connections=200"
        )
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        log_file = str(self.folder / "log")
        self._run([pg_ctl, "-D", str(self.data), "-l", log_file, "-o", options, "-w", "start"])
        self.started = True

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://tracker@/{database}?host={self.socket_dir}&port={self.port}"

    def fresh_schema_url(self) -> str:
        """A URL whose connections work in a new, empty schema: one per test, cheap."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {name}")
        return f"{self.url()}&options=-csearch_path%3D{name}"

    def stop(self) -> None:
        try:
            if self.started:
                pg_ctl = find_binary("pg_ctl")
                if pg_ctl:
                    self._run([pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop"])
        finally:
            self.started = False
            shutil.rmtree(self.folder, ignore_errors=True)
