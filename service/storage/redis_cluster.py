"""Redis Cluster: detected at start from the node REDIS_URL names, served by redis-py's RedisCluster.

On a cluster no script goes into a pipeline: `pipeline()` hands out a `ClusterBatch`, which sends the plain
commands in redis-py's cluster pipeline (one per node), then every script call (and PFCOUNT, refused in a
cluster pipeline) as a call of its own, concurrently, each within the request bound. A script a node lacks
(NOSCRIPT: restarted, failed over, new) is loaded on that node and the call repeated; every batched script
is idempotent or counts by event id, so the repeat is safe. Nothing relies on order across nodes: the
plain commands are answered before any script is sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError, RedisError

from .related_lua import SCRIPTS as RELATED_SCRIPTS
from .scripts import SCRIPTS as COUNTING_SCRIPTS

SCRIPTS = {**COUNTING_SCRIPTS, **RELATED_SCRIPTS}  # sha1 -> source: what to load on a node that lacks one
RAW = {"unlink": "UNLINK"}  # queued as raw commands (redis-py's ClusterPipeline.unlink is a coroutine)
DIRECT = frozenset({"evalsha", "eval", "pfcount"})  # each its own call on a cluster, never pipelined


class Cluster(RedisCluster):
    """redis-py's RedisCluster, with the bound every batched call is kept within."""

    request_timeout_s: float = 5.0

    def primaries(self) -> list[ClusterNode]:
        return list(self.get_primaries())

    async def on_primaries(self, *args: Any) -> dict[str, Any]:
        """One command on every primary, concurrently: node name -> reply (or the error it raised)."""
        nodes = self.primaries()
        replies = await asyncio.gather(
            *(self.execute_command(*args, target_nodes=node) for node in nodes), return_exceptions=True
        )
        return {node.name: reply for node, reply in zip(nodes, replies, strict=True)}

    async def script_call(self, command: str, *args: Any) -> Any:
        """EVALSHA/EVAL on the node of its keys; NOSCRIPT: load it there, call again."""
        try:
            return await self.execute_command(command, *args)
        except NoScriptError:
            sha, numkeys = args[0], int(args[1])
            if numkeys < 1 or sha not in SCRIPTS:
                raise
            node = self.get_node_from_key(args[2])
            await self.execute_command("SCRIPT LOAD", SCRIPTS[sha], target_nodes=node)
            return await self.execute_command(command, *args)


Client = aioredis.Redis | Cluster


def pipeline(redis: Client, transaction: bool = False) -> Any:
    """redis-py's pipeline on one Redis (and a one-slot transaction anywhere); a ClusterBatch on a cluster."""
    if isinstance(redis, Cluster) and not transaction:
        return ClusterBatch(redis)
    return redis.pipeline(transaction=transaction)


async def queue_script(pipe: Any, script: AsyncScript, keys: list[str], args: Sequence[str | int]) -> None:
    """Queue a script call: on a pipeline (redis-py loads the script first) or a ClusterBatch (its own call)."""
    if isinstance(pipe, ClusterBatch):
        pipe.evalsha(script.sha, len(keys), *keys, *args)
    else:
        await script(keys=keys, args=args, client=pipe)


class ClusterBatch:
    """Commands queued like a pipeline's (`batch.hset(...)`); `execute` answers them in queued order."""

    def __init__(self, cluster: Cluster) -> None:
        self._cluster = cluster
        self._queued: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    async def __aenter__(self) -> ClusterBatch:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._queued.clear()

    def __len__(self) -> int:
        return len(self._queued)

    def __getattr__(self, name: str) -> Callable[..., ClusterBatch]:
        if name.startswith("_"):
            raise AttributeError(name)

        def queue(*args: Any, **kwargs: Any) -> ClusterBatch:
            self._queued.append((name, args, kwargs))
            return self

        return queue

    async def execute(self) -> list[Any]:
        queued, self._queued = self._queued, []
        replies: list[Any] = [None] * len(queued)
        plain = [i for i, (name, _a, _k) in enumerate(queued) if name not in DIRECT]
        if plain:
            pipe = self._cluster.pipeline()
            for i in plain:
                name, args, kwargs = queued[i]
                if name in RAW:  # a coroutine on redis-py's ClusterPipeline: it would not be queued
                    pipe.execute_command(RAW[name], *args)
                else:
                    getattr(pipe, name)(*args, **kwargs)
            async with asyncio.timeout(self._cluster.request_timeout_s):
                for i, reply in zip(plain, await pipe.execute(), strict=True):
                    replies[i] = reply
        direct = [i for i in range(len(queued)) if queued[i][0] in DIRECT]
        if direct:
            done = await asyncio.gather(*(self._direct(*queued[i]) for i in direct))
            for i, reply in zip(direct, done, strict=True):
                replies[i] = reply
        return replies

    async def _direct(self, name: str, args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
        async with asyncio.timeout(self._cluster.request_timeout_s):
            if name == "pfcount":
                return await self._cluster.pfcount(*args)
            return await self._cluster.script_call(name.upper(), *args)


async def cluster_enabled(client: aioredis.Redis) -> bool:
    """True when the node answers INFO cluster with cluster_enabled:1 (False where INFO is refused)."""
    try:
        info = await client.info("cluster")
    except RedisError:
        return False
    return bool(int(info.get("cluster_enabled", 0)))


async def ping_all(redis: Client) -> None:
    """PING every primary (one Redis: itself); raises the first failure."""
    if not isinstance(redis, Cluster):
        await redis.ping()
        return
    for node, reply in (await redis.on_primaries("PING")).items():
        if isinstance(reply, BaseException):
            raise type(reply)(f"{node}: {reply}") if isinstance(reply, RedisError) else reply
