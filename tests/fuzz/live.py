"""A live `python -m service serve` in a subprocess, and raw HTTP over sockets (any bytes, no client library)."""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "live-admin-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Answer:
    """One HTTP answer read off a socket (`status` 0: none came before the connection closed)."""

    raw: bytes
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @classmethod
    def parse(cls, raw: bytes) -> Answer:
        head, sep, body = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        if not sep or not lines[0].startswith("HTTP/"):
            return cls(raw)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return cls(raw, int(lines[0].split()[1]), headers, body)

    def json(self) -> Any:
        return json.loads(self.body)


def exchange(port: int, data: bytes, *, source: str = "127.0.0.1", timeout: float = 15.0) -> Answer:
    """Send `data` on a fresh connection and read until the server closes it (or `timeout` passes: a hang)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0)) as s:
        s.sendall(data)
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                break
            except ConnectionResetError:  # the server closed with bytes of ours unread: its answer came first
                return Answer.parse(b"".join(chunks))
            if not chunk:
                return Answer.parse(b"".join(chunks))
            chunks.append(chunk)
        raise TimeoutError(f"no complete answer within {timeout} s: {b''.join(chunks)[:200]!r}")


class LiveServer:
    """`python -m service serve` on a free port with the given environment; stdout and stderr in `log`."""

    def __init__(self, tmp: Path, redis_url: str, env: dict[str, str] | None = None,
                 args: tuple[str, ...] = (), nofile: int | None = None) -> None:
        self.port = free_port()
        self.log = tmp / "serve.log"
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "HEADER_", "MAX_"))}
        environ.update(REDIS_URL=redis_url, DATA_DIR=str(tmp / "data"), ADMIN_TOKEN=TOKEN, LOG_FORMAT="json",
                       LOG_LEVEL="DEBUG", **(env or {}))

        def limit_files() -> None:
            if nofile is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "service", "serve", "--host", "127.0.0.1", "--port", str(self.port), *args],
                cwd=ROOT, env=environ, stdout=out, stderr=subprocess.STDOUT, preexec_fn=limit_files,
            )

    def get(self, path: str, timeout: float = 15.0, **headers: str) -> Answer:
        lines = "".join(f"{k.replace('_', '-')}: {v}\r\n" for k, v in headers.items())
        request = f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{lines}\r\n"
        return exchange(self.port, request.encode(), timeout=timeout)

    def wait_ready(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.output()
            try:
                if self.get("/readyz", timeout=5).status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)  # polling until the service answers
        raise AssertionError(f"not ready: {self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
