"""A private PostgreSQL for the tests: Debian's binaries, a temp dir, a unix socket, trust auth, no fsync.

PostgreSQL refuses to run as root, and CI runs as root: then initdb and the server run as the `postgres`
system user the Debian package creates, in a temp dir that user owns. Missing binaries fail loudly:
CI installs them (.ci/run), and a durable-store test that silently skipped would prove nothing.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg

PG_ROOT = Path("/usr/lib/postgresql")
START_TIMEOUT_S = 60.0


def find_pg_bin() -> Path:
    """The newest /usr/lib/postgresql/N/bin that has initdb and postgres."""
    found = [d / "bin" for d in PG_ROOT.glob("*") if all((d / "bin" / exe).exists() for exe in ("initdb", "postgres"))]
    if not found:
        raise RuntimeError(
            f"no PostgreSQL binaries under {PG_ROOT}/*/bin: install Debian's `postgresql` package "
            "(apt-get install -y postgresql; .ci/run does this)"
        )
    return max(found, key=lambda b: [int(p) for p in re.findall(r"\d+", b.parent.name)] or [0])


class PostgresServer:
    """One server for the session; each test gets a database of its own (`create_database`)."""

    def __init__(self) -> None:
        self.bin = find_pg_bin()
        self.dir = Path(tempfile.mkdtemp(prefix="pgtest-"))  # under /tmp: the postgres user can reach it
        self.data = self.dir / "data"
        self.process: subprocess.Popen[bytes] | None = None
        self.user: dict[str, Any] = {}
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
            self.user = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@/{database}?host={self.dir}"

    def start(self) -> None:
        subprocess.run(
            [str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
             "--locale=C", "--no-sync", "--no-instructions"],
            check=True, capture_output=True, timeout=120, **self.user,
        )
        log = open(self.dir / "postgres.log", "ab")  # noqa: SIM115 - the child keeps its own descriptor
        self.process = subprocess.Popen(
            [str(self.bin / "postgres"), "-D", str(self.data), "-k", str(self.dir), "-c", "listen_addresses=",
             "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
             "-c", "max_connections=300", "-c", "shared_buffers=32MB"],
            stdout=log, stderr=subprocess.STDOUT, **self.user,
        )
        log.close()
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.process.returncode}: {self.log_tail()}")
            ready = subprocess.run([str(self.bin / "pg_isready"), "-q", "-h", str(self.dir), "-U", "postgres"],
                                   check=False, timeout=10)
            if ready.returncode == 0:
                return
            time.sleep(0.05)  # polling until the server accepts connections
        raise RuntimeError(f"postgres did not accept connections within {START_TIMEOUT_S}s: {self.log_tail()}")

    def log_tail(self) -> str:
        return (self.dir / "postgres.log").read_text(errors="replace")[-2000:]

    def stop(self) -> None:
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # fast shutdown: sessions are ended, nothing is kept anyway
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


async def create_database(server: PostgresServer) -> str:
    """A new, empty database on the server; returns its URL (the app migrates it on start)."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    conn = await asyncpg.connect(server.url(), timeout=30)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return server.url(name)
