"""The `apprise` relay target: the exact HTTP requests Apprise makes for Telegram, Discord,
Slack (intercepted with `responses`, since those services have fixed hosts) and a generic
JSON endpoint (a real HTTP server on 127.0.0.1); failures become retries or dead letters
through the real outbox; no token ever reaches a log line or a job's last error."""

from __future__ import annotations

import json
import logging
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
import responses

from bridge import store
from bridge.config import OutboxSettings
from sync.relay.settings import RelayTarget
from bridge.outbox import Outbox, PermanentFailure, RetryLater, Worker
from sync.relay.targets import apprise as target_mod

MESSAGE = SimpleNamespace(text="New post on the Space: Hello world https://space.example/p/1",
                          html=None, title="Wikimedia Space")
EVENT = SimpleNamespace(id="ev-1", type="post.published")

TG_TOKEN = "123456789:AAHsecretTelegramTokenXYZ"
DISCORD_ID, DISCORD_TOKEN = "987654321012345678", "DiscordSecretWebhookToken_abcdef"
SLACK_A, SLACK_B, SLACK_C = "T1JJ3T3L2", "A1BRTD4JD", "TIiajkdnlazkcOXrIdevi7FQ"


def build(url: str, name: str = "chat"):
    return target_mod.build(None, RelayTarget(name=name, kind="apprise", options={"url": url}))


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def only_call(rsps):
    assert len(rsps.calls) == 1, [c.request.url for c in rsps.calls]
    return rsps.calls[0].request


def test_telegram_sends_message_to_the_bot_api_with_token_and_chat(mocked):
    mocked.add(responses.POST, f"https://api.telegram.org/bot{TG_TOKEN}/sendMessage",
               json={"ok": True, "result": {}})
    build(f"tgram://{TG_TOKEN}/-1001234567/").deliver(MESSAGE, EVENT)
    req = only_call(mocked)
    assert req.method == "POST"
    assert req.url == f"https://api.telegram.org/bot{TG_TOKEN}/sendMessage"
    body = json.loads(req.body)
    assert body["chat_id"] == -1001234567
    assert "Hello world https://space.example/p/1" in body["text"]
    assert "Wikimedia Space" in body["text"]


def test_discord_posts_to_the_webhook_with_id_and_token(mocked):
    mocked.add(responses.POST, f"https://discord.com/api/webhooks/{DISCORD_ID}/{DISCORD_TOKEN}", status=204)
    build(f"discord://{DISCORD_ID}/{DISCORD_TOKEN}").deliver(MESSAGE, EVENT)
    req = only_call(mocked)
    assert req.method == "POST"
    assert re.fullmatch(rf"https://discord\.com/api/webhooks/{DISCORD_ID}/{DISCORD_TOKEN}(\?.*)?", req.url)
    body = json.loads(req.body)
    assert MESSAGE.text in body["content"] and "Wikimedia Space" in body["content"]


def test_slack_posts_to_the_incoming_webhook_with_its_three_tokens(mocked):
    mocked.add(responses.POST, f"https://hooks.slack.com/services/{SLACK_A}/{SLACK_B}/{SLACK_C}", body="ok")
    build(f"slack://{SLACK_A}/{SLACK_B}/{SLACK_C}/#space").deliver(MESSAGE, EVENT)
    req = only_call(mocked)
    assert req.method == "POST"
    assert req.url == f"https://hooks.slack.com/services/{SLACK_A}/{SLACK_B}/{SLACK_C}"
    body = json.loads(req.body)
    assert body["channel"] == "#space"
    flat = json.dumps(body)
    assert "Hello world" in flat and "space.example/p/1" in flat


# -- a real HTTP server for Apprise's generic json:// ---------------------------------------
class _Recorder(BaseHTTPRequestHandler):
    requests: list = []
    status = 200

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        type(self).requests.append((self.command, self.path, dict(self.headers), self.rfile.read(length)))
        self.send_response(type(self).status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    _Recorder.requests, _Recorder.status = [], 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_json_endpoint_on_localhost_receives_the_rendered_message(http_server):
    port = http_server.server_address[1]
    build(f"json://bot:hunter2secret@127.0.0.1:{port}/hooks/space").deliver(MESSAGE, EVENT)
    [(method, path, headers, raw)] = _Recorder.requests
    assert (method, path) == ("POST", "/hooks/space")
    assert headers["Content-Type"].startswith("application/json")
    assert headers["Authorization"].startswith("Basic ")
    body = json.loads(raw)
    assert body["title"] == "Wikimedia Space"
    assert body["message"] == MESSAGE.text


def test_json_endpoint_answering_503_is_a_retry(http_server):
    _Recorder.status = 503
    port = http_server.server_address[1]
    with pytest.raises(RetryLater, match="503"):
        build(f"json://127.0.0.1:{port}/hooks/space").deliver(MESSAGE, EVENT)


def test_unreachable_service_is_a_retry():
    with pytest.raises(RetryLater):
        build("json://127.0.0.1:9/nothing-listens-here").deliver(MESSAGE, EVENT)


# -- failures through the real outbox -------------------------------------------------------
@pytest.fixture
def outbox(tmp_path):
    eng = store.make_engine(f"sqlite:///{tmp_path}/bridge.db")
    store.upgrade(eng)
    yield Outbox(eng, OutboxSettings(max_attempts=3, backoff_base_seconds=0.01, backoff_max_seconds=0.01))
    eng.dispose()


def run_until_settled(outbox: Outbox, handler, job_id: int, rounds: int = 10):
    worker = Worker(outbox, {"relay.test": handler}, threads=1, name="t")
    for _ in range(rounds):
        with outbox.engine.begin() as conn:  # make the job due now (RetryLater waits 0 s here)
            conn.execute(store.outbox_jobs.update().where(store.outbox_jobs.c.id == job_id)
                         .values(run_after=store.utcnow()))
        worker.run_once()
        job = outbox.get(job_id)
        if job.state in ("done", "dead"):
            return job
    return outbox.get(job_id)


def discord_target():
    return target_mod.build(None, RelayTarget(name="discord-news", kind="apprise", options={
        "url": f"discord://{DISCORD_ID}/{DISCORD_TOKEN}", "retry_seconds": 0}))


def test_service_error_500_is_retried_then_dead_lettered(mocked, outbox, caplog):
    caplog.set_level(logging.DEBUG)
    mocked.add(responses.POST, re.compile(r"https://discord\.com/api/webhooks/.*"), status=500)
    target = discord_target()
    job_id, _ = outbox.enqueue("relay.test", {}, key="relay:test:500")
    job = run_until_settled(outbox, lambda job: target.deliver(MESSAGE, EVENT), job_id)
    assert job.state == "dead"
    assert job.attempts == 3
    assert len(mocked.calls) == 3
    assert job.last_error.startswith("RetryLater:") and "error=500" in job.last_error
    assert DISCORD_TOKEN not in job.last_error


def test_recovered_service_delivers_on_a_later_attempt(mocked, outbox):
    url = re.compile(r"https://discord\.com/api/webhooks/.*")
    mocked.add(responses.POST, url, status=502)
    mocked.add(responses.POST, url, status=204)
    target = discord_target()
    job_id, _ = outbox.enqueue("relay.test", {}, key="relay:test:recover")
    job = run_until_settled(outbox, lambda job: target.deliver(MESSAGE, EVENT), job_id)
    assert (job.state, job.attempts, len(mocked.calls)) == ("done", 2, 2)


def test_rate_limited_429_is_a_retry(mocked):
    mocked.add(responses.POST, f"https://api.telegram.org/bot{TG_TOKEN}/sendMessage", status=429,
               json={"ok": False, "error_code": 429, "description": "Too Many Requests"})
    with pytest.raises(RetryLater):
        build(f"tgram://{TG_TOKEN}/-1001234567/").deliver(MESSAGE, EVENT)


@pytest.mark.parametrize("status", [401, 403, 404])
def test_auth_failure_is_permanent_at_once(mocked, outbox, status):
    mocked.add(responses.POST, re.compile(r"https://discord\.com/api/webhooks/.*"), status=status)
    target = discord_target()
    job_id, _ = outbox.enqueue("relay.test", {}, key=f"relay:test:{status}")
    job = run_until_settled(outbox, lambda job: target.deliver(MESSAGE, EVENT), job_id)
    assert (job.state, job.attempts, len(mocked.calls)) == ("dead", 1, 1)
    assert job.last_error.startswith("PermanentFailure:") and f"error={status}" in job.last_error


def test_telegram_bad_token_is_permanent(mocked):
    mocked.add(responses.POST, f"https://api.telegram.org/bot{TG_TOKEN}/sendMessage", status=401,
               json={"ok": False, "error_code": 401, "description": "Unauthorized"})
    with pytest.raises(PermanentFailure) as info:
        build(f"tgram://{TG_TOKEN}/-1001234567/").deliver(MESSAGE, EVENT)
    assert TG_TOKEN not in str(info.value) and TG_TOKEN.split(":")[1] not in str(info.value)


# -- secrets ----------------------------------------------------------------------------------
def test_url_from_environment_and_no_token_in_any_log(mocked, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)  # Apprise's DEBUG records carry the full webhook URL
    logging.getLogger("apprise").setLevel(logging.DEBUG)
    monkeypatch.setenv("SPACE_TEST_DISCORD_URL", f"discord://{DISCORD_ID}/{DISCORD_TOKEN}")
    try:
        mocked.add(responses.POST, re.compile(r"https://discord\.com/api/webhooks/.*"), status=204)
        mocked.add(responses.POST, re.compile(r"https://discord\.com/api/webhooks/.*"), status=500)
        target = build("env:SPACE_TEST_DISCORD_URL", name="discord-env")
        target.deliver(MESSAGE, EVENT)
        assert DISCORD_TOKEN in mocked.calls[0].request.url  # the real URL was used
        with pytest.raises(RetryLater) as info:
            target.deliver(MESSAGE, EVENT)
        assert DISCORD_TOKEN not in str(info.value)
        assert any("Discord POST URL" in r.getMessage() for r in caplog.records)  # Apprise did log the URL
        assert any("[redacted]" in r.getMessage() for r in caplog.records)
        for record in caplog.records:
            assert DISCORD_TOKEN not in record.getMessage(), record.getMessage()
        assert DISCORD_TOKEN not in caplog.text
    finally:
        logging.getLogger("apprise").setLevel(logging.WARNING)


def test_missing_environment_variable_names_it_not_a_value(monkeypatch):
    monkeypatch.delenv("SPACE_TEST_NO_SUCH_URL", raising=False)
    with pytest.raises(ValueError, match="SPACE_TEST_NO_SUCH_URL"):
        build("env:SPACE_TEST_NO_SUCH_URL")


def test_unusable_url_is_refused_without_echoing_it():
    with pytest.raises(ValueError) as info:
        build("nosuchservice://user:SuperSecretPassw0rd@example.org/")
    assert "SuperSecretPassw0rd" not in str(info.value)


def test_apprise_logger_is_quiet_by_default():
    assert logging.getLogger("apprise").getEffectiveLevel() >= logging.WARNING


# -- end to end: a relayed event through relay.deliver and the registry -----------------------
@pytest.fixture
def real_apprise_kind():
    from sync.relay.targets import TARGET_KINDS, register

    before = TARGET_KINDS.get("apprise")
    register("apprise", target_mod.build)  # other tests may have put a stand-in there
    yield
    if before is not None:
        register("apprise", before)


def test_relayed_topic_reaches_discord_through_the_outbox(mocked, outbox, monkeypatch, real_apprise_kind):
    from bridge import config
    from sync.relay.deliver import relay, relay_handlers
    from sync.relay.events import Event

    monkeypatch.setenv("SPACE_TEST_DISCORD_URL", f"discord://{DISCORD_ID}/{DISCORD_TOKEN}")
    settings = config.parse({
        "bridge": {"public_url": "http://127.0.0.1:8090", "secret_key": "test-secret-key-0123456789abcdef0123",
                   "database_url": str(outbox.engine.url), "state_dir": "/tmp/space-bridge-relay-tests"},
        "relay": {"targets": [{"name": "discord-news", "kind": "apprise",
                               "options": {"url": "env:SPACE_TEST_DISCORD_URL"}}],
                  "rules": [{"events": ["topic.created"], "targets": ["discord-news"]}]},
    })
    mocked.add(responses.POST, f"https://discord.com/api/webhooks/{DISCORD_ID}/{DISCORD_TOKEN}", status=204)
    event = Event(id="discourse:topic:42", type="topic.created", language="en", author="Alice",
                  url="https://space.example/t/hello/42", title="Hello Discord")
    [(target, job_id, created)] = relay(outbox.engine, settings, event)
    assert (target, created) == ("discord-news", True)
    Worker(outbox, relay_handlers(settings), threads=1, name="t").run_once()
    assert outbox.get(job_id).state == "done", outbox.get(job_id).last_error
    req = only_call(mocked)
    assert req.method == "POST"
    content = json.loads(req.body)["content"]
    assert "Alice" in content and "Hello Discord" in content and "https://space.example/t/hello/42" in content
