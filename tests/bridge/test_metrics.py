"""/metrics as Prometheus reads it: names by its conventions, one family each, every metric
documented; and the files of the services' processes (multiprocess mode) emptied when a
service starts, without touching what another running process counts."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bridge import config, metrics
from bridge.app import create_app
from bridge.outbox import Outbox, PermanentFailure, Worker

REPO = Path(__file__).resolve().parents[2]


def families(text: str) -> list:
    return list(text_string_to_metric_families(text))


def bridge_families(text: str) -> dict[str, str]:
    """{family name: type} of the bridge's own metrics; fails on a family seen twice.

    In one process prometheus_client also writes each counter's and histogram's creation time,
    as a gauge family `<name>_created` (the text format has no place for it); not ours to name."""
    found = [(f.name, f.type) for f in families(text) if f.name.startswith("space_bridge_")]
    found = [(name, kind) for name, kind in found
             if not (name.endswith("_created") and kind == "gauge"
                     and any(other == name.removesuffix("_created") for other, _ in found))]
    names = [name for name, _ in found]
    assert len(names) == len(set(names)), f"families exposed twice: {sorted(n for n in names if names.count(n) > 1)}"
    return dict(found)


def exposed_names(text: str) -> set[str]:
    """The names a PromQL query uses: a counter's with its `_total`."""
    return {name + ("_total" if kind == "counter" else "") for name, kind in bridge_families(text).items()}


@pytest.fixture
def scraped(settings_file, engine):
    """/metrics after one job done, one retried, one dead and one HTTP request."""
    settings = config.load(settings_file)
    outbox = Outbox(engine, settings.outbox)
    outbox.enqueue("t.names", {}, key="n-done")
    outbox.enqueue("t.names-retry", {}, key="n-retry")
    outbox.enqueue("t.names-dead", {}, key="n-dead")

    def dead(job):
        raise PermanentFailure("refused")

    def retry(job):
        raise RuntimeError("later")

    Worker(outbox, {"t.names": lambda job: None, "t.names-retry": retry, "t.names-dead": dead}).run_once()
    client = create_app(settings, engine).test_client()
    assert client.get("/healthz").status_code == 200
    resp = client.get("/metrics")
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def test_names_follow_prometheus_conventions_one_family_each(scraped):
    found = bridge_families(scraped)
    assert found == {
        "space_bridge_outbox_jobs_stored": "gauge",
        "space_bridge_outbox_oldest_pending_seconds": "gauge",
        "space_bridge_outbox_job_attempts": "counter",
        "space_bridge_outbox_job_duration_seconds": "histogram",
        "space_bridge_outbox_job_latency_seconds": "histogram",
        "space_bridge_http_requests": "counter",
        "space_bridge_http_request_duration_seconds": "histogram",
    }
    # https://prometheus.io/docs/practices/naming/: counters end in _total, nothing else does.
    for family in families(scraped):
        if family.name.startswith("space_bridge_"):
            for sample in family.samples:
                assert sample.name.endswith("_total") == (family.type == "counter" and not sample.name.endswith(
                    "_created")), sample.name
    by_name = {f.name: f for f in families(scraped)}
    stored = {s.labels["state"]: s.value for s in by_name["space_bridge_outbox_jobs_stored"].samples}
    assert stored == {"pending": 1, "running": 0, "done": 1, "dead": 1}
    attempts = {(s.labels["kind"], s.labels["outcome"]): s.value
                for s in by_name["space_bridge_outbox_job_attempts"].samples if s.name.endswith("_total")}
    assert attempts[("t.names", "done")] >= 1 and attempts[("t.names-retry", "retry")] >= 1
    assert attempts[("t.names-dead", "dead")] >= 1
    durations = {s.labels["endpoint"] for s in by_name["space_bridge_http_request_duration_seconds"].samples}
    assert "healthz" in durations


def test_every_metric_is_documented_in_operations(scraped):
    text = (REPO / "docs" / "operations.md").read_text()
    section = text[text.index("## Health and metrics"):text.index("## Logs")]
    documented = set(re.findall(r"^\| `(space_bridge_[a-z_]+)` \| (?:gauge|counter|histogram) \|", section, re.M))
    assert documented == exposed_names(scraped)


# -- the files of several processes (prometheus_client's multiprocess mode) ---------------
# A process of a service, as `space-bridge serve` or `worker` prepares itself (bridge.cli_support),
# counting one thing and then holding on until the test closes its stdin.
SERVICE = """
import sys
from bridge import cli_support, config
cli_support.prepare_process(config.load(sys.argv[1]), service=sys.argv[2])
from bridge import metrics
if sys.argv[2] == "serve":
    metrics.HTTP_REQUESTS.labels(endpoint="healthz", method="GET", status=200).inc()
else:
    metrics.JOB_ATTEMPTS.labels(kind="t.shared", outcome="done").inc()
print("counted", flush=True)
sys.stdin.read()
"""


class Service:
    def __init__(self, settings_file: Path, name: str):
        env = {k: v for k, v in os.environ.items() if k not in ("PROMETHEUS_MULTIPROC_DIR", metrics.SHARED_DIR_ENV)}
        self.proc = subprocess.Popen([sys.executable, "-c", SERVICE, str(settings_file), name], cwd=REPO, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line == "counted\n", self.proc.stderr.read()

    def stop(self):
        self.proc.stdin.close()
        assert self.proc.wait(timeout=30) == 0, self.proc.stderr.read()


def shared_counts(root: Path) -> dict[str, float]:
    """What /metrics would report from the files under `root`."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry()
    registry.register(metrics.SharedFilesCollector([str(root / "*" / "*.db")]))
    text = generate_latest(registry).decode()
    bridge_families(text)  # one family each, merged across the services' directories
    return {s.name: s.value for f in families(text) for s in f.samples}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_service_start_empties_its_own_directory_unless_another_of_it_runs(settings_file):
    root = Path(config.load(settings_file).bridge.state_dir) / "metrics"
    root.mkdir(parents=True)
    (root / "counter_4242.db").write_bytes(b"left by a version with one directory for all")
    attempts, requests = "space_bridge_outbox_job_attempts_total", "space_bridge_http_requests_total"

    serve = Service(settings_file, "serve")
    first = Service(settings_file, "worker")
    assert not (root / "counter_4242.db").exists()
    second = Service(settings_file, "worker")  # beside the first: must not wipe the first's counts
    assert shared_counts(root) == {attempts: 2.0, requests: 1.0}
    assert {p.name for p in (root / "worker").glob("*.db")} == {
        f"counter_{first.proc.pid}.db", f"counter_{second.proc.pid}.db"}

    first.stop()
    second.stop()
    assert shared_counts(root)[attempts] == 2.0  # stopped processes' counts stay until the next start
    restarted = Service(settings_file, "worker")  # no worker runs: its directory starts empty
    assert {p.name for p in (root / "worker").glob("*.db")} == {f"counter_{restarted.proc.pid}.db"}
    assert shared_counts(root) == {attempts: 1.0, requests: 1.0}  # serve's count untouched
    restarted.stop()
    serve.stop()
    Service(settings_file, "serve").stop()
    assert shared_counts(root) == {attempts: 1.0, requests: 1.0}  # the restarted serve's own count


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_one_off_commands_share_no_directory(settings_file):
    """Only the services count (HTTP requests, job attempts); `outbox list` and the like write
    nothing, so they are not given a directory either, and never empty one."""
    code = ("import os, sys; from bridge import cli_support, config; "
            "cli_support.prepare_process(config.load(sys.argv[1])); "
            "print(os.environ.get('PROMETHEUS_MULTIPROC_DIR'))")
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    out = subprocess.run([sys.executable, "-c", code, str(settings_file)], cwd=REPO, env=env,
                         capture_output=True, text=True, check=True).stdout
    assert out == "None\n"
