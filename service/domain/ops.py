"""The ops view: flush health, dropped events, and the summary the dashboard polls."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis.exceptions import RedisError

from ..metrics import FlushSnapshot, Metrics
from ..storage.flush_status import FlushStatus
from ..storage.ops_store import OpsStore
from .articles import rfc3339
from .clock import Clock, utcnow
from .flusher import Flusher, FlushReport, FlushState
from .networks import NETWORKS
from .results import EventTally, HealthStatus, NetworkCounts, OpsSummary, Trend
from .results import FlushStatus as FlushAnswer
from .trending import METRICS, WINDOWS, Ranking
from .trending_cache import TrendingStore
from .worker_lease import WorkerLease, works_here

WARN_INTERVALS = 3  # the flush is lagging past this many intervals without a success
DROP_WINDOW_S = 60.0  # a failed event this recent means events are being dropped
CHART_HOURS = 48
TOP_LIMIT = 10
PUBLIC = {stored: public for public, stored in METRICS.items()}


def flush_snapshot(state: FlushState, now: float, since: float) -> FlushSnapshot:
    """The flusher's tallies; the lag counts from `since` (start-up) until a first success."""
    report = state.last_report or FlushReport()
    reference = state.last_success if state.last_success is not None else since
    return FlushSnapshot(
        runs=state.runs,
        failures=state.failures,
        redis_resets=state.redis_resets,
        last_success=state.last_success,
        last_seconds=report.seconds,
        last_rows=report.rows,
        last_events=report.events,
        last_batches=report.batches,
        lag_seconds=max(0.0, now - reference),
    )


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else rfc3339(datetime.fromtimestamp(epoch, UTC))


def ranking_items(ranking: Ranking, limit: int) -> list[Trend]:
    return [Trend(article_id=i.article_id, title=i.title, url=i.url, count=i.count, score=i.score)
            for i in ranking.items[:limit]]


@dataclass(frozen=True)
class OpsConfig:
    flush_interval_s: float
    refresh_s: float
    networks_cache_s: float = 10.0
    role: str = "all"


class OpsView:
    """Assembles GET /v1/ops/summary from the trending store, the flusher and the metrics."""

    def __init__(
        self,
        trending: TrendingStore,
        flusher: Flusher,
        store: OpsStore,
        metrics: Metrics,
        config: OpsConfig,
        clock: Clock = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
        lease: WorkerLease | None = None,
        shared: FlushStatus | None = None,
    ) -> None:
        self.lease = lease
        self.shared = shared  # the worker's last flush, for a process that does not flush itself
        self.trending = trending
        self.flusher = flusher
        self.store = store
        self.metrics = metrics
        self.config = config
        self.clock = clock
        self.monotonic = monotonic
        self._networks: tuple[float, int, dict[str, dict[str, int]]] | None = None

    async def summary(self) -> OpsSummary:
        now = self.clock().timestamp()
        current = int(now) // 3600
        hourly = await self.hourly(current)
        flush = await self.flush(now)
        events = self.events(now)
        redis = await self.store.redis_memory()
        return OpsSummary(
            worker=await self.worker(), generated_at=_iso(now), refresh_s=self.config.refresh_s,
            headline=self.headline(hourly, current, now), hourly=hourly, networks=await self.networks(current),
            top=await self.top(), flush=flush, events=events, redis=redis, health=health(flush, events, redis),
        )

    async def hourly(self, current: int) -> dict[str, list[int]]:
        """Events per hour of each metric over the last 48 hour buckets (the current one last)."""
        hours = list(range(current - CHART_HOURS + 1, current + 1))
        out: dict[str, list[int]] = {"hours": [h * 3600 for h in hours]}
        for stored, public in PUBLIC.items():
            totals = await self.trending.hourly_totals(stored, hours)
            out[public] = [totals[h] for h in hours]
        return out

    def headline(self, hourly: dict[str, list[int]], current: int, now: float) -> dict[str, dict[str, Any]]:
        """Totals and per-minute rates over the 1h and 24h windows (same buckets as trending)."""
        out: dict[str, Any] = {}
        for name, key in (("1h", "last_hour"), ("24h", "last_day")):
            start = (current - WINDOWS[name].hours) * 3600
            minutes = max((now - start) / 60, 1.0)
            first = hourly["hours"].index(start)
            block: dict[str, Any] = {"from": _iso(start)}
            for public in PUBLIC.values():
                total = sum(hourly[public][first:])
                block[public] = total
                block[f"{public}_per_minute"] = round(total / minutes, 2)
            out[key] = block
        return out

    async def networks(self, current: int) -> NetworkCounts:
        """Flushed shares and clicks by network over the last 24 hours (cached a few seconds)."""
        cached = self._networks
        if cached is None or cached[1] != current or self.monotonic() - cached[0] >= self.config.networks_cache_s:
            cached = (self.monotonic(), current, await self.store.by_network(current - 24))
            self._networks = cached
        counts = cached[2]
        return NetworkCounts(
            window="24h",
            start=_iso((current - 24) * 3600),
            shares={n: counts["share"].get(n, 0) for n in NETWORKS},
            clicks={n: counts["click"].get(n, 0) for n in NETWORKS},
        )

    async def top(self) -> dict[str, dict[str, list[Trend]]]:
        """The top articles of every window and metric (cached rankings)."""
        out: dict[str, dict[str, list[Trend]]] = {}
        for name, window in WINDOWS.items():
            out[name] = {}
            for stored, public in PUBLIC.items():
                out[name][public] = ranking_items(await self.trending.top(stored, window), TOP_LIMIT)
        return out

    async def worker(self) -> dict[str, Any]:
        """This process's role and id, and who holds the worker lease."""
        out: dict[str, Any] = {"role": self.config.role, "process": None, "lease": None}
        if self.lease is not None:
            out["process"] = self.lease.holder_id
            try:
                out["lease"] = await self.lease.status()
            except RedisError as exc:
                out["lease"] = {"error": type(exc).__name__}
        return out

    async def _state(self) -> tuple[FlushState, str | None]:
        """This process's flush state, or the worker's last success where another process flushes."""
        if works_here(self.config.role, self.lease) or self.shared is None:
            return self.flusher.state, None
        try:
            shared = await self.shared.read()
        except RedisError:
            shared = None
        if shared is None:
            return FlushState(), None
        report = FlushReport(**{k: v for k, v in shared.report.items() if k in FlushReport.__dataclass_fields__})
        return FlushState(last_success=shared.last_success, last_report=report), shared.holder

    async def flush(self, now: float) -> FlushAnswer:
        """The flush state with pending work and whether it lags."""
        state, flushed_by = await self._state()
        snap = flush_snapshot(state, now, self.metrics.started)
        warn_after = WARN_INTERVALS * self.config.flush_interval_s
        pending: int | None = None
        deltas: int | None = None
        with contextlib.suppress(RedisError):  # unknown then; the lag and the Redis panel tell the rest
            pending, deltas = await self.flusher.batches.pending_count()
        report = state.last_report
        return FlushAnswer(
            last_success=_iso(snap.last_success),
            lag_s=round(snap.lag_seconds, 2),
            interval_s=self.config.flush_interval_s,
            warn_after_s=warn_after,
            lagging=snap.lag_seconds > warn_after,
            runs=snap.runs,
            failures=snap.failures,
            last_error=state.last_error,
            pending_batches=pending,
            pending_deltas=deltas,
            redis_resets=snap.redis_resets,
            last_report=report.as_dict() if report is not None else None,
            flushed_by=flushed_by or (self.lease.holder_id if self.lease is not None else None),
        )

    def events(self, now: float) -> EventTally:
        """Counted events, and those not counted by reason; `dropping` if one failed lately."""
        counts = self.metrics.event_counts()
        last_failed = self.metrics.last_failed_event
        return EventTally(
            accepted={PUBLIC.get(k, k): n for k, n in counts["accepted"].items()},  # related_click, ...: as is
            bots=sum(counts["bot"].values()),
            dropped={reason: sum(counts[reason].values()) for reason in ("duplicate", "rejected", "failed")},
            last_failed_at=_iso(last_failed),
            dropping=last_failed is not None and now - last_failed < DROP_WINDOW_S,
        )


def health(flush: FlushAnswer, events: EventTally, redis: dict[str, Any]) -> HealthStatus:
    """`warning` with reasons when the flush lags or fails, events drop, or Redis may evict."""
    reasons: list[str] = []
    if flush.lagging:
        reasons.append(f"flush lag {flush.lag_s:.0f}s exceeds {flush.warn_after_s:g}s (3 flush intervals)")
    if flush.last_error:
        reasons.append(f"last flush failed: {flush.last_error}")
    if events.dropping:
        reasons.append(f"events are being dropped: {events.dropped['failed']} failed so far")
    if "error" in redis:
        reasons.append(f"redis INFO failed: {redis['error']}")
    elif redis.get("maxmemory_policy") not in (None, "noeviction"):
        reasons.append(f"redis maxmemory-policy is {redis['maxmemory_policy']}: counters may be evicted")
    if redis.get("evicted_keys"):
        reasons.append(f"redis evicted {redis['evicted_keys']} keys")
    return HealthStatus(status="warning" if reasons else "ok", reasons=reasons)
