"""The last successful flush, shared in Redis: replicas that do not flush show the worker's."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from . import keys
from .redis_cluster import Client


@dataclass(frozen=True)
class SharedFlush:
    last_success: float
    report: dict[str, Any]
    holder: str


class FlushStatus:
    """Write after each successful flush; read by the ops view of any process."""

    def __init__(self, redis: Client) -> None:
        self.redis = redis

    async def record(self, last_success: float, report: dict[str, Any], holder: str) -> None:
        mapping = {"last_success": repr(last_success), "report": json.dumps(report), "holder": holder}
        await self.redis.hset(keys.flush_state(), mapping=mapping)  # type: ignore[arg-type]

    async def read(self) -> SharedFlush | None:
        raw = await self.redis.hgetall(keys.flush_state())
        found = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
                 for k, v in raw.items()}
        if "last_success" not in found:
            return None
        return SharedFlush(float(found["last_success"]), json.loads(found.get("report") or "{}"),
                           found.get("holder", ""))
