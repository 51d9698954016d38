"""Prometheus metrics of the bridge, shared by the web and worker processes.

`space-bridge serve` (gunicorn, several processes) and `space-bridge worker` write their
counters into one directory (prometheus_client's multiprocess mode, PROMETHEUS_MULTIPROC_DIR,
set by the CLI from `bridge.state_dir` before this module is imported), so the web process's
`/metrics` reports job outcomes counted by the workers. Queue depth is read from the
database at scrape time, so it is right whichever process, or host, ran the jobs.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

JOB_OUTCOMES = Counter(
    "space_bridge_outbox_jobs_total", "Outbox job attempts by outcome (done, retry, dead, lease_lost)",
    ["kind", "outcome"],
)
JOB_DURATION = Histogram(
    "space_bridge_outbox_job_duration_seconds", "Time a handler took for one attempt", ["kind"],
    buckets=(0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
JOB_LATENCY = Histogram(
    "space_bridge_outbox_job_latency_seconds", "Time from enqueue to successful completion", ["kind"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400),
)
HTTP_REQUESTS = Counter(
    "space_bridge_http_requests_total", "HTTP requests answered by the bridge", ["endpoint", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "space_bridge_http_request_duration_seconds", "Time to answer an HTTP request", ["endpoint"],
)


class QueueCollector:
    """Queue depth per state, and the age of the oldest due job, read from the outbox table."""

    def __init__(self, outbox):
        self.outbox = outbox

    def collect(self):
        depth = GaugeMetricFamily("space_bridge_outbox_jobs", "Outbox jobs by state", labels=["state"])
        for state, count in self.outbox.counts().items():
            depth.add_metric([state], count)
        yield depth
        yield GaugeMetricFamily(
            "space_bridge_outbox_oldest_pending_seconds",
            "Age of the oldest pending job (0 when the queue is empty)",
            value=self.outbox.oldest_pending_age(),
        )


def render(outbox) -> tuple[bytes, str]:
    """The text exposition of every metric, for GET /metrics."""
    queue = CollectorRegistry()
    queue.register(QueueCollector(outbox))
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        shared = CollectorRegistry()
        multiprocess.MultiProcessCollector(shared)
    else:
        shared = REGISTRY
    return generate_latest(shared) + generate_latest(queue), CONTENT_TYPE_LATEST
