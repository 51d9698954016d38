"""Prometheus metrics of the bridge, shared by the web and worker processes.

`space-bridge serve` (gunicorn, several processes) and `space-bridge worker` write their
counters into files (prometheus_client's multiprocess mode): each service into a directory of
its own, `<bridge.state_dir>/metrics/<service>/`, set up by the CLI before prometheus_client is
first imported (bridge/cli_support.py, which also empties a service's directory when it starts).
The web process's `/metrics` merges the files of every service's directory, so it reports job
outcomes counted by the workers. Queue depth is read from the database at scrape time, so it is
right whichever process, or host, ran the jobs.

Names follow https://prometheus.io/docs/practices/naming/: a counter ends in `_total`, a gauge
never does, units are base units in the name (`_seconds`). prometheus_client names a counter's
family without its `_total`, so no gauge may be called like a counter minus `_total` (the gauge of
stored jobs was once `space_bridge_outbox_jobs`, the family of the attempts counter
`space_bridge_outbox_jobs_total`: two families of one name). docs/operations.md lists them all.
"""

from __future__ import annotations

import glob
import hmac
import ipaddress
import json
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
from prometheus_client.multiprocess import MultiProcessCollector

#: Set by the CLI to `<bridge.state_dir>/metrics`, whose subdirectories (one per service) hold the
#: files /metrics merges; PROMETHEUS_MULTIPROC_DIR is this process's own subdirectory.
SHARED_DIR_ENV = "SPACE_BRIDGE_METRICS_DIR"

JOB_ATTEMPTS = Counter(
    "space_bridge_outbox_job_attempts_total",
    "Outbox job attempts by kind and outcome (done, retry, dead, lease_lost)",
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
        depth = GaugeMetricFamily(
            "space_bridge_outbox_jobs_stored",
            "Jobs in the outbox table by state (done jobs are kept outbox.keep_done_days)", labels=["state"])
        for state, count in self.outbox.counts().items():
            depth.add_metric([state], count)
        yield depth
        yield GaugeMetricFamily(
            "space_bridge_outbox_oldest_pending_seconds",
            "Age of the oldest pending job (0 when the queue is empty)",
            value=self.outbox.oldest_pending_age(),
        )


class SharedFilesCollector:
    """The counters and histograms of every process of every service on this host, merged.

    prometheus_client's MultiProcessCollector reads one directory; each service has its own (so
    each can empty it when it starts), hence the files of all of them merged in one pass, which
    keeps one family per metric."""

    def __init__(self, patterns: list[str]):
        self.patterns = patterns

    def collect(self):
        files = sorted(f for pattern in self.patterns for f in glob.glob(pattern))
        return MultiProcessCollector.merge(files, accumulate=True)


def render(outbox) -> tuple[bytes, str]:
    """The text exposition of every metric, for GET /metrics."""
    queue = CollectorRegistry()
    queue.register(QueueCollector(outbox))
    if os.environ.get(SHARED_DIR_ENV):
        shared = CollectorRegistry()
        shared.register(SharedFilesCollector([os.path.join(os.environ[SHARED_DIR_ENV], "*", "*.db")]))
    elif os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # set by whoever runs the bridge: one directory
        shared = CollectorRegistry()
        shared.register(SharedFilesCollector([os.path.join(os.environ["PROMETHEUS_MULTIPROC_DIR"], "*.db")]))
    else:
        shared = REGISTRY
    return generate_latest(shared) + generate_latest(queue), CONTENT_TYPE_LATEST


def client_address(peer: str | None, forwarded_for: str | None,
                   trusted) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address of the client, or None when it cannot be told.

    The peer is the client unless it is a trusted proxy (`bridge.trusted_proxies`, nginx on this
    host); then the X-Forwarded-For entries are walked from the right, where each proxy appends
    the address it saw (nginx's $proxy_add_x_forwarded_for), so entries a client wrote on the
    left are never believed over the proxy's own. Unreadable entries mean "unknown".
    """
    def parse(text: str | None):
        try:
            ip = ipaddress.ip_address((text or "").strip())
        except ValueError:
            return None
        return ip.ipv4_mapped or ip if isinstance(ip, ipaddress.IPv6Address) else ip

    def is_trusted(ip) -> bool:
        return any(ip in net for net in trusted if ip.version == net.version)

    address = parse(peer)
    entries = (forwarded_for or "").split(",") if forwarded_for else []
    while address is not None and is_trusted(address) and entries:
        address = parse(entries.pop())
    return address


def refusal(request, bridge_settings):
    """None when this request may read /metrics (allowed address or the bearer token), else the
    401 or 403 response saying why."""
    from flask import Response

    conf = bridge_settings.metrics
    client = client_address(request.remote_addr, request.headers.get("X-Forwarded-For"),
                            bridge_settings.trusted_proxies)
    if client is not None and any(client in net for net in conf.allow if client.version == net.version):
        return None
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if conf.token is not None and scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode("latin-1", "replace"), conf.token.get_secret_value().encode("utf-8")):
        return None

    def answer(status: int, message: str, **headers) -> Response:
        return Response(json.dumps({"error": message}), status=status, mimetype="application/json",
                        headers=headers)

    if conf.token is None:
        return answer(403, "metrics are only served to the addresses of bridge.metrics.allow")
    if scheme:
        return answer(401, "wrong metrics token", **{"WWW-Authenticate": 'Bearer error="invalid_token"'})
    return answer(401, "metrics need Authorization: Bearer <bridge.metrics.token>",
                  **{"WWW-Authenticate": 'Bearer realm="space-bridge metrics"'})
