"""The server's Prometheus metrics (``GET /metrics``), in a registry of its own per app."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import CONTENT_TYPE_LATEST  # noqa: F401  (re-exported for the endpoint)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


@dataclass
class Metrics:
    registry: CollectorRegistry
    requests: Counter  # model, verb, status
    latency: Histogram  # model, verb (seconds from arrival to answer)
    batch_size: Histogram  # model, verb (requests per forward pass)
    queue_depth: Gauge  # model, verb
    rejected: Counter  # model, verb, reason: queue_full | timeout | disconnected | skipped

    def text(self) -> bytes:
        return generate_latest(self.registry)


def new_metrics() -> Metrics:
    r = CollectorRegistry()
    return Metrics(
        r,
        Counter("rnnkit_requests", "requests answered, by model, verb and HTTP status", ["model", "verb", "status"],
                registry=r),
        Histogram("rnnkit_request_seconds", "time from a request's arrival to its answer", ["model", "verb"],
                  buckets=LATENCY_BUCKETS, registry=r),
        Histogram("rnnkit_batch_size", "requests run in one forward pass", ["model", "verb"], buckets=BATCH_BUCKETS,
                  registry=r),
        Gauge("rnnkit_queue_depth", "requests waiting for a forward pass", ["model", "verb"], registry=r),
        Counter("rnnkit_rejected", "requests refused or dropped, by reason", ["model", "verb", "reason"], registry=r),
    )
