"""Prometheus metrics: one registry per application (no globals), prefix `engagement_`."""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Info
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from . import __version__

EVENT_KINDS = ("view", "share", "click")
EVENT_RESULTS = ("accepted", "duplicate", "bot", "rejected", "failed")
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})


@dataclass(frozen=True)
class FlushSnapshot:
    """The flusher's state as read at scrape time."""

    runs: int = 0
    failures: int = 0
    redis_resets: int = 0
    last_success: float | None = None
    last_seconds: float = 0.0
    last_rows: int = 0
    last_events: int = 0
    last_batches: int = 0
    lag_seconds: float = 0.0


class FlushCollector(Collector):
    """Exports the latest FlushSnapshot; counters come straight from the flusher's own tallies."""

    def __init__(self) -> None:
        self.snapshot: FlushSnapshot | None = None

    def describe(self) -> Iterator[Metric]:
        return iter(())  # the families depend on whether a flusher exists yet

    def collect(self) -> Iterator[Metric]:
        s = self.snapshot
        if s is None:
            return
        runs = CounterMetricFamily("engagement_flush_runs", "Flush runs, by result", labels=["result"])
        runs.add_metric(["success"], s.runs)
        runs.add_metric(["failure"], s.failures)
        yield runs
        yield CounterMetricFamily(
            "engagement_redis_data_loss", "Times Redis was found without its data and rebuilt", value=s.redis_resets
        )
        yield _gauge("engagement_flush_lag_seconds", "Seconds since the last successful flush", s.lag_seconds)
        yield _gauge("engagement_flush_last_duration_seconds", "Duration of the last successful flush", s.last_seconds)
        yield _gauge("engagement_flush_last_rows", "Hourly rows moved to SQLite by the last flush", s.last_rows)
        yield _gauge("engagement_flush_last_events", "Events moved to SQLite by the last flush", s.last_events)
        yield _gauge("engagement_flush_last_batches", "Batches applied by the last flush", s.last_batches)
        if s.last_success is not None:
            yield _gauge(
                "engagement_flush_last_success_timestamp_seconds", "Unix time of the last successful flush",
                s.last_success,
            )


class EventCollector(Collector):
    """Events by (kind, result), every pair declared at zero: plain integers, families made at scrape time."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], int] = {(k, r): 0 for k in EVENT_KINDS for r in EVENT_RESULTS}

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "engagement_events", "Events received, by kind and result", labels=["kind", "result"]
        )
        for (kind, result), n in self.counts.items():
            family.add_metric([kind, result], n)
        yield family


class RouteStats:
    """One (route, method)'s requests: counts by status, latency per bucket (not cumulative), +Inf, sum."""

    __slots__ = ("buckets", "counts", "slots")

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts: dict[int, int] = {}
        self.slots = [0.0] * (len(buckets) + 2)

    def observe(self, status: int, seconds: float) -> None:
        self.counts[status] = self.counts.get(status, 0) + 1
        self.slots[bisect.bisect_left(self.buckets, seconds)] += 1  # `le` is inclusive
        self.slots[-1] += seconds


class HttpCollector(Collector):
    """HTTP requests by (route, method, status) and their latency histogram by (route, method).

    Plain numbers bumped on the event loop and turned into metric families at scrape time. The edge
    holds each route's `RouteStats`, so a request costs a dict bump and a bisect, not prometheus_client's
    locked values or a lookup by labels.
    """

    BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], RouteStats] = {}

    def stats(self, route: str, method: str) -> RouteStats:
        """The table of (route, method); odd methods share one label."""
        key = (route, method if method in HTTP_METHODS else "other")
        found = self.routes.get(key)
        if found is None:
            found = self.routes[key] = RouteStats(self.BUCKETS)
        return found

    def describe(self) -> Iterator[Metric]:
        return iter(())  # label sets appear as requests come in

    def collect(self) -> Iterator[Metric]:
        tables = sorted(self.routes.items())
        labels = ["route", "method", "status"]
        requests = CounterMetricFamily("engagement_http_requests", "HTTP requests", labels=labels)
        for (route, method), table in tables:
            for status, n in sorted(table.counts.items()):
                requests.add_metric([route, method, str(status)], n)
        yield requests
        latency = HistogramMetricFamily(
            "engagement_http_request_duration_seconds", "HTTP request latency", labels=["route", "method"]
        )
        for (route, method), table in tables:
            if not table.counts:
                continue  # made at registration, never used yet
            cumulative = 0.0
            buckets: list[tuple[str, float]] = []
            for le, count in zip((*map(floatToGoString, self.BUCKETS), "+Inf"), table.slots[:-1], strict=True):
                cumulative += count
                buckets.append((le, cumulative))
            latency.add_metric([route, method], buckets, sum_value=table.slots[-1])
        yield latency


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


class Metrics:
    """Every metric the service exports; label values are bounded sets, never article ids."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.started = time.time()
        self.last_failed_event: float | None = None
        r = self.registry
        self.events = EventCollector()
        r.register(self.events)
        self.http = HttpCollector()
        r.register(self.http)
        self.redis_errors = Counter("engagement_redis_errors_total", "Redis errors seen by requests", registry=r)
        self.pending_batches = Gauge("engagement_flush_pending_batches", "Sealed batches not yet acked", registry=r)
        self.pending_deltas = Gauge(
            "engagement_flush_pending_delta_fields", "Live counter deltas not yet sealed", registry=r
        )
        self.flush = FlushCollector()
        r.register(self.flush)
        self.build = Info("engagement_build", "Build information", registry=r)
        self.build.info({"version": __version__})

    def event(self, kind: str, result: str) -> None:
        """Count one event outcome (kind: view/share/click; result: see EVENT_RESULTS)."""
        counts = self.events.counts
        key = (kind, result)
        counts[key] = counts.get(key, 0) + 1
        if result == "failed":
            self.last_failed_event = time.time()

    def event_counts(self) -> dict[str, dict[str, int]]:
        """Events so far by result, then kind."""
        out: dict[str, dict[str, int]] = {r: dict.fromkeys(EVENT_KINDS, 0) for r in EVENT_RESULTS}
        for (kind, result), n in self.events.counts.items():
            out.setdefault(result, {})[kind] = n
        return out
