"""Prometheus metrics: one registry per application (no globals), prefix `engagement_`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

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


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


class Metrics:
    """Every metric the service exports; label values are bounded sets, never article ids."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._http_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self.started = time.time()
        self.last_failed_event: float | None = None
        r = self.registry
        self.events = Counter(
            "engagement_events_total", "Events received, by kind and result", ["kind", "result"], registry=r
        )
        self.http_requests = Counter(
            "engagement_http_requests_total", "HTTP requests", ["route", "method", "status"], registry=r
        )
        self.http_duration = Histogram(
            "engagement_http_request_duration_seconds", "HTTP request latency", ["route", "method"], registry=r,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
        )
        self.redis_errors = Counter("engagement_redis_errors_total", "Redis errors seen by requests", registry=r)
        self.pending_batches = Gauge("engagement_flush_pending_batches", "Sealed batches not yet acked", registry=r)
        self.pending_deltas = Gauge(
            "engagement_flush_pending_delta_fields", "Live counter deltas not yet sealed", registry=r
        )
        self.flush = FlushCollector()
        r.register(self.flush)
        self.build = Info("engagement_build", "Build information", registry=r)
        self.build.info({"version": __version__})
        for kind in EVENT_KINDS:
            for result in EVENT_RESULTS:
                self.events.labels(kind, result)

    def event(self, kind: str, result: str) -> None:
        """Count one event outcome (kind: view/share/click; result: see EVENT_RESULTS)."""
        self.events.labels(kind, result).inc()
        if result == "failed":
            self.last_failed_event = time.time()

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one HTTP request by route template; odd methods share one label."""
        method = method if method in HTTP_METHODS else "other"
        key = (route, method, status)
        children = self._http_children.get(key)
        if children is None:  # labels() is slow on the hot path: keep the children (a bounded set)
            children = (self.http_requests.labels(route, method, str(status)), self.http_duration.labels(route, method))
            self._http_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def event_counts(self) -> dict[str, dict[str, int]]:
        """Events so far by result, then kind."""
        out: dict[str, dict[str, int]] = {r: dict.fromkeys(EVENT_KINDS, 0) for r in EVENT_RESULTS}
        for family in self.events.collect():
            for sample in family.samples:
                if sample.name == "engagement_events_total":
                    out[sample.labels["result"]][sample.labels["kind"]] = int(sample.value)
        return out
