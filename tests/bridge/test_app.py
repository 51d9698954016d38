"""The HTTP shell: health and metrics as an operator's monitoring sees them."""

from __future__ import annotations

import io

import pytest
import yaml

from bridge import config, store
from bridge.app import create_app
from bridge.outbox import Outbox, Worker


@pytest.fixture
def settings(settings_file):
    return config.load(settings_file)


def test_healthz_is_ok_on_a_migrated_database(settings, engine):
    client = create_app(settings, engine).test_client()
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.json["status"] == "ok" and resp.json["schema"] == store.head_revision(engine)


def test_healthz_says_when_the_schema_is_not_migrated(settings, db_url):
    engine = store.make_engine(db_url)
    resp = create_app(settings, engine).test_client().get("/healthz")
    assert resp.status_code == 503
    assert resp.json["database"] == "schema not migrated"
    assert "space-bridge db upgrade" in resp.json["hint"]


def test_healthz_fails_when_the_database_is_unreachable(settings):
    engine = store.make_engine("postgresql://nobody@127.0.0.1:1/none")
    resp = create_app(settings, engine).test_client().get("/healthz")
    assert resp.status_code == 503 and resp.json["database"] == "unreachable"


def test_metrics_show_queue_depth_and_job_outcomes(settings, engine):
    outbox = Outbox(engine, settings.outbox)
    for n in range(3):
        outbox.enqueue("t.metrics", {}, key=f"m{n}")
    outbox.enqueue("t.metrics-fails", {}, key="bad")
    Worker(outbox, {"t.metrics": lambda job: None}).run_once()
    outbox.enqueue("t.metrics", {}, key="waiting")
    resp = create_app(settings, engine).test_client().get("/metrics")
    assert resp.status_code == 200
    assert resp.content_type.startswith("text/plain")
    text = resp.get_data(as_text=True)
    assert 'space_bridge_outbox_jobs_stored{state="pending"} 2.0' in text
    assert 'space_bridge_outbox_jobs_stored{state="done"} 3.0' in text
    assert 'space_bridge_outbox_job_attempts_total{kind="t.metrics",outcome="done"}' in text
    assert 'space_bridge_outbox_job_attempts_total{kind="t.metrics-fails",outcome="retry"}' in text
    assert 'space_bridge_outbox_job_latency_seconds_count{kind="t.metrics"}' in text
    assert "space_bridge_outbox_oldest_pending_seconds" in text


# -- request bodies: bridge.max_body_bytes, refused before they are read -------------------
TOKEN = "metrics-token-5b1f0c9e7a3d2c4e6f8a0b1d3e5f7a9c"
HOOKS = ["/webhooks/discourse", "/webhooks/wordpress/news"]
EVERY_ROUTE = HOOKS + ["/healthz", "/metrics", "/login", "/oauth/callback", "/whoami", "/logout",
                       "/sso/discourse", "/sso/wordpress/news", "/no/such/route"]


@pytest.fixture
def full_settings(settings_file):
    """The test configuration with a forum, a blog and the Wikimedia login: every route is there."""
    data = yaml.safe_load(settings_file.read_text())
    data["wikimedia"] = {"oauth_base_url": "http://127.0.0.1:9", "client_id": "bridge-test",
                         "client_secret": "wikimedia-client-secret-7d1e9b3c5a2f4e6d"}
    data["discourse"] = {"url": "http://127.0.0.1:9", "api_key": "discourse-api-key-3c5e7a9b1d2f4e6a8c0b",
                         "connect_secret": "discourse-connect-secret-9e8d7c6b5a4f3e2d",
                         "webhook_secret": "discourse-webhook-secret-1a2b3c4d5e6f7a8b"}
    data["wordpress"] = {"sites": [{"name": "news", "url": "http://127.0.0.1:9", "username": "bridge",
                                    "password": "Xk3p Qz7m Lr2v Nw8t Hy5c Bd4f",
                                    "webhook_secret": "wordpress-webhook-secret-6f5e4d3c2b1a0f9e",
                                    "connect_secret": "wordpress-connect-secret-0a9b8c7d6e5f4a3b"}]}
    data["bridge"]["metrics"] = {"token": TOKEN, "allow": ["127.0.0.1/32", "10.20.0.0/16"]}
    settings_file.write_text(yaml.safe_dump(data))
    return config.load(settings_file)  # strong secrets: the bridge would start with these


class Unreadable(io.RawIOBase):
    """A request body that fails the test if anything reads it."""

    def readable(self):
        return True

    def readinto(self, buffer):
        raise AssertionError("the body was read")


def post(client, path, *, body=None, length=None, chunked=False, **kw):
    headers = {"Content-Type": "application/json", **kw.pop("headers", {})}
    environ = {}
    if chunked:  # what gunicorn hands over for Transfer-Encoding: chunked: no length, a terminated stream
        headers["Transfer-Encoding"] = "chunked"
        environ["wsgi.input_terminated"] = True
    if body is None:  # only a declared length
        environ.update({"wsgi.input": Unreadable(), "CONTENT_LENGTH": str(length)})
    return client.open(path, method=kw.pop("method", "POST"), data=body, headers=headers,
                       environ_overrides=environ, **kw)


@pytest.mark.parametrize("path", HOOKS)
def test_a_65_kb_web_hook_is_refused_with_413_saying_the_limit(full_settings, engine, path):
    client = create_app(full_settings, engine).test_client()
    resp = post(client, path, body=b"{" + b" " * (65 * 1024) + b"}")
    assert resp.status_code == 413
    assert resp.json["max_bytes"] == 65536
    assert "at most 65536 bytes (bridge.max_body_bytes)" in resp.json["detail"]


@pytest.mark.parametrize("path", HOOKS)
def test_a_60_kb_web_hook_passes_the_size_check(full_settings, engine, path):
    client = create_app(full_settings, engine).test_client()
    resp = post(client, path, body=b'{"padding": "' + b"x" * (60 * 1024) + b'"}')
    # read whole and judged on its signature, which this one lacks
    assert resp.status_code == 401 and resp.json["error"] == "invalid signature"


@pytest.mark.parametrize("path", EVERY_ROUTE)
def test_every_route_refuses_a_declared_big_body_without_reading_it(full_settings, engine, path):
    client = create_app(full_settings, engine).test_client()
    resp = post(client, path, length=65 * 1024)
    assert resp.status_code == 413, resp.data[:300]
    assert post(client, path, length=10 ** 12, method="GET").status_code == 413


@pytest.mark.parametrize("path", HOOKS)
def test_a_chunked_body_over_the_limit_is_refused(full_settings, engine, path):
    client = create_app(full_settings, engine).test_client()
    assert post(client, path, body=b"x" * (65 * 1024), chunked=True).status_code == 413
    small = post(client, path, body=b"x" * (60 * 1024), chunked=True)
    assert small.status_code == 401


def test_the_limit_is_configurable(settings_file, engine):
    data = yaml.safe_load(settings_file.read_text())
    data["bridge"]["max_body_bytes"] = 2048
    settings_file.write_text(yaml.safe_dump(data))
    client = create_app(config.load(settings_file), engine).test_client()
    assert post(client, "/healthz", length=2049).status_code == 413
    assert client.get("/healthz", data=b"x" * 2048).status_code == 200


# -- /metrics: the token, or an allowed address ------------------------------------------
def metrics(client, addr, **headers):
    return client.get("/metrics", headers=headers, environ_base={"REMOTE_ADDR": addr})


def test_metrics_refuse_an_address_outside_the_allow_list_without_the_token(full_settings, engine):
    client = create_app(full_settings, engine).test_client()
    resp = metrics(client, "203.0.113.7")
    assert resp.status_code == 401 and resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert "space_bridge" not in resp.get_data(as_text=True)
    wrong = metrics(client, "203.0.113.7", Authorization="Bearer " + TOKEN[:-1] + "x")
    assert wrong.status_code == 401 and "invalid_token" in wrong.headers["WWW-Authenticate"]


def test_metrics_answer_the_token_from_anywhere(full_settings, engine):
    client = create_app(full_settings, engine).test_client()
    resp = metrics(client, "203.0.113.7", Authorization=f"Bearer {TOKEN}")
    assert resp.status_code == 200 and "space_bridge_outbox_jobs" in resp.get_data(as_text=True)


def test_metrics_answer_allowed_addresses_without_a_token(full_settings, engine):
    client = create_app(full_settings, engine).test_client()
    for addr in ("127.0.0.1", "10.20.3.4"):
        assert metrics(client, addr).status_code == 200, addr
    assert metrics(client, "10.21.0.1").status_code == 401


def test_behind_nginx_the_client_is_the_address_nginx_appended(full_settings, engine):
    """nginx (a trusted proxy on loopback) appends the peer it saw to X-Forwarded-For; what a
    client wrote there itself, on the left, is never believed."""
    client = create_app(full_settings, engine).test_client()
    forged = metrics(client, "127.0.0.1", **{"X-Forwarded-For": "127.0.0.1, 203.0.113.7"})
    assert forged.status_code == 401
    assert metrics(client, "127.0.0.1", **{"X-Forwarded-For": "203.0.113.7, 10.20.0.5"}).status_code == 200
    assert metrics(client, "127.0.0.1", **{"X-Forwarded-For": "not an address"}).status_code == 401
    # a peer that is no trusted proxy is the client, whatever it says
    assert metrics(client, "203.0.113.7", **{"X-Forwarded-For": "127.0.0.1"}).status_code == 401


def test_without_a_token_other_addresses_get_403(settings, engine):
    resp = metrics(create_app(settings, engine).test_client(), "203.0.113.7")
    assert resp.status_code == 403 and "bridge.metrics.allow" in resp.json["error"]
