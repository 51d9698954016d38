"""The `space-bridge` command as an operator runs it: real processes, real database."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from bridge import config, store
from bridge.cli import main
from bridge.outbox import Outbox, PermanentFailure

BIN = Path(sys.executable).parent / "space-bridge"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(settings_file, *args):
    return CliRunner().invoke(main, ["--config", str(settings_file), *args])


def test_db_upgrade_is_repeatable(settings_file):
    first = cli(settings_file, "db", "upgrade")
    head = store.head_revision(store.make_engine(config.load(settings_file).bridge.database_url))
    assert first.exit_code == 0 and f"schema at {head}" in first.output
    second = cli(settings_file, "db", "upgrade")
    assert "already current" in second.output
    assert cli(settings_file, "db", "current").exit_code == 0


def test_outbox_list_shows_dead_jobs_with_their_error_and_retry_revives_them(settings_file):
    assert cli(settings_file, "db", "upgrade").exit_code == 0
    settings = config.load(settings_file)
    outbox = Outbox(store.make_engine(settings.bridge.database_url), settings.outbox)
    dead_id, _ = outbox.enqueue("mirror.post", {"site": "news", "post": 7}, key="news:7")
    outbox.enqueue("mirror.post", {"site": "news", "post": 8}, key="news:8")
    [job, _] = outbox.claim("w", 1) + [None]
    outbox.fail(job, "w", PermanentFailure("Title is too short (minimum is 15 characters)"))
    pending = outbox.get(outbox.list(state="pending")[0].id)
    outbox.note(pending, ["title padded with the site name"])

    listed = cli(settings_file, "outbox", "list", "--state", "dead")
    assert listed.exit_code == 0
    assert "pending: 1  running: 0  done: 0  dead: 1" in listed.output
    assert "news:7" in listed.output and "news:8" not in listed.output
    assert "note: title padded with the site name" in cli(settings_file, "outbox", "list").output
    assert "Title is too short (minimum is 15 characters)" in listed.output

    as_json = [json.loads(line) for line in cli(settings_file, "outbox", "list", "--json").output.splitlines()]
    assert {j["key"]: j["state"] for j in as_json} == {"news:7": "dead", "news:8": "pending"}

    assert cli(settings_file, "outbox", "retry").exit_code != 0  # neither ids nor --all-dead
    retried = cli(settings_file, "outbox", "retry", str(dead_id))
    assert retried.exit_code == 0 and f"queued again: {dead_id}" in retried.output
    assert outbox.get(dead_id).state == "pending"
    missing = cli(settings_file, "outbox", "retry", "424242")
    assert missing.exit_code == 1 and "424242" in missing.output


def test_commands_refuse_a_bad_config_naming_the_problem(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("bridge:\n  public_url: http://x\n")
    result = CliRunner().invoke(main, ["--config", str(bad), "outbox", "list"])
    assert result.exit_code == 1
    assert f"{bad}: bridge.secret_key: required key is missing" in result.output


def wait_http(url: str, timeout: float = 30) -> requests.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return requests.get(url, timeout=10)  # a worker's first request imports the app
        except (requests.ConnectionError, requests.Timeout):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture
def running(settings_file, tmp_path):
    """`space-bridge serve` (gunicorn) and `space-bridge worker` as real processes."""
    port = free_port()
    text = settings_file.read_text().replace("http://127.0.0.1:8090", f"http://127.0.0.1:{port}")
    settings_file.write_text(text.replace("  log_format: json\n", f"  log_format: json\n  listen: 127.0.0.1:{port}\n"))
    assert cli(settings_file, "db", "upgrade").exit_code == 0
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = {}
    for name, args in {"serve": ["serve"], "worker": ["worker", "--threads", "2"]}.items():
        procs[name] = subprocess.Popen([str(BIN), "--config", str(settings_file), *args],
                                       stdout=open(logs / f"{name}.out", "w"), stderr=open(logs / f"{name}.err", "w"))
    yield f"http://127.0.0.1:{port}", procs, logs
    for p in procs.values():
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs.values():
        p.wait(timeout=30)


def test_serve_and_worker_processes(settings_file, running):
    base, procs, logs = running
    assert wait_http(f"{base}/healthz").status_code == 200
    probe = cli(settings_file, "outbox", "probe")
    assert probe.exit_code == 0
    job_id = int(probe.output.split()[-1])
    settings = config.load(settings_file)
    outbox = Outbox(store.make_engine(settings.bridge.database_url), settings.outbox)
    deadline = time.monotonic() + 30
    while outbox.get(job_id).state != "done" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert outbox.get(job_id).state == "done"
    # The worker's outcome counters reach the web process's /metrics (shared metrics directory).
    # (the counter is bumped just after the job is recorded done, so give it a moment)
    counted = 'space_bridge_outbox_job_attempts_total{kind="bridge.probe",outcome="done"} 1.0'
    deadline = time.monotonic() + 10
    while counted not in (metrics := requests.get(f"{base}/metrics", timeout=5).text):
        assert time.monotonic() < deadline, metrics
        time.sleep(0.1)
    assert 'space_bridge_outbox_jobs_stored{state="done"} 1.0' in metrics
    # Production logs are one JSON object per line.
    for p in procs.values():
        p.send_signal(signal.SIGTERM)
    assert procs["worker"].wait(timeout=30) == 0
    assert procs["serve"].wait(timeout=30) == 0
    lines = [json.loads(line) for line in (logs / "worker.err").read_text().splitlines() if line.strip()]
    assert any(line["event"] == "outbox.probe" and line["job_id"] == job_id for line in lines)
    served = [json.loads(line) for line in (logs / "serve.err").read_text().splitlines() if line.strip()]
    assert any(line["logger"] == "gunicorn.error" and "Listening at" in line["event"] for line in served)
    assert "test-secret-key" not in (logs / "worker.err").read_text() + (logs / "serve.err").read_text()


EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "space.example.yaml"


@pytest.mark.parametrize("command", [["serve"], ["worker"], ["db", "upgrade"]])
def test_the_bridge_does_not_start_with_the_examples_secrets(command):
    result = CliRunner().invoke(main, ["--config", str(EXAMPLE), *command])
    assert result.exit_code == 1
    assert f"{EXAMPLE}: bridge.secret_key: is a published example value" in result.output
    assert f"{EXAMPLE}: discourse.webhook_secret: is a published example value" in result.output


def test_serve_refuses_a_short_secret_key(settings_file):
    text = settings_file.read_text().replace("test-secret-key-0123456789abcdef0123", "a" * 40)
    settings_file.write_text(text)
    result = cli(settings_file, "serve")
    assert result.exit_code == 1 and "bridge.secret_key: uses fewer than 5 different characters" in result.output


METRICS_TOKEN = "serve-test-metrics-token-4e2c9a7b5d3f1e0c"


@pytest.fixture
def metrics_token(settings_file):
    text = settings_file.read_text().replace("  log_format: json\n",
                                             f"  log_format: json\n  metrics:\n    token: {METRICS_TOKEN}\n")
    settings_file.write_text(text)
    return METRICS_TOKEN


def post_raw(base: str, path: str, headers: dict, chunks=None) -> tuple[int, bytes]:
    """POST with exactly these headers: a declared Content-Length without sending the body, or a
    chunked body. The connection is kept open, so the server never resets it for unread bytes."""
    conn = http.client.HTTPConnection(base.removeprefix("http://"), timeout=10)
    try:
        conn.putrequest("POST", path)
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders()
        for chunk in chunks or []:
            conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        if chunks:
            conn.send(b"0\r\n\r\n")
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_gunicorn_refuses_big_bodies_and_guards_metrics(metrics_token, settings_file, running):
    """Through the real server, as nginx on the same host would reach it."""
    base, _, _ = running
    assert wait_http(f"{base}/healthz").status_code == 200
    # A declared 65 KB body: answered at once, without waiting for (or reading) the body.
    status, body = post_raw(base, "/webhooks/discourse", {"Content-Length": str(65 * 1024)})
    assert status == 413 and b"bridge.max_body_bytes" in body
    # The same size sent chunked; 60 KB passes the size check (and meets "no forum configured").
    status, _ = post_raw(base, "/webhooks/discourse", {"Transfer-Encoding": "chunked"}, [b"x" * 5 * 1024] * 13)
    assert status == 413
    status, body = post_raw(base, "/webhooks/discourse", {"Transfer-Encoding": "chunked"}, [b"x" * 5 * 1024] * 12)
    assert status == 404 and b"no forum configured" in body
    # A broken chunked encoding is the client's fault: 400, not a 5xx.
    conn = http.client.HTTPConnection(base.removeprefix("http://"), timeout=10)
    conn.putrequest("POST", "/webhooks/discourse")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    conn.send(b"zz\r\nnot a chunk\r\n0\r\n\r\n")
    assert conn.getresponse().status == 400
    conn.close()
    # /metrics: the peer is nginx's loopback, the client the address nginx appended.
    forwarded = {"X-Forwarded-For": "127.0.0.1, 198.51.100.4"}
    assert requests.get(f"{base}/metrics", headers=forwarded, timeout=5).status_code == 401
    with_token = requests.get(f"{base}/metrics", timeout=5,
                              headers={**forwarded, "Authorization": f"Bearer {metrics_token}"})
    assert with_token.status_code == 200 and "space_bridge_outbox_jobs" in with_token.text
    assert requests.get(f"{base}/metrics", timeout=5).status_code == 200  # loopback itself
