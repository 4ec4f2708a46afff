"""Prometheus metrics: one registry per application (no globals), prefix `engagement_`."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

from . import __version__

EVENT_KINDS = ("view", "share", "click")
EVENT_RESULTS = ("accepted", "duplicate", "bot", "rejected", "failed")


class Metrics:
    """Every metric the service exports; label values are bounded sets, never article ids."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
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
        self.redis_resets = Counter(
            "engagement_redis_data_loss_total", "Times Redis was found without its data and rebuilt", registry=r
        )
        self.pending_batches = Gauge("engagement_flush_pending_batches", "Sealed batches not yet acked", registry=r)
        self.build = Info("engagement_build", "Build information", registry=r)
        self.build.info({"version": __version__})
        for kind in EVENT_KINDS:
            for result in EVENT_RESULTS:
                self.events.labels(kind, result)

    def event(self, kind: str, result: str) -> None:
        """Count one event outcome (kind: view/share/click; result: see EVENT_RESULTS)."""
        self.events.labels(kind, result).inc()
