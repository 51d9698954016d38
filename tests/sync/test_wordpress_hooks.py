"""POST /webhooks/wordpress/<site>: signature, replay window, idempotent enqueue (no stack needed)."""

from __future__ import annotations

import json
import time

import pytest
import yaml

from bridge import config, store
from bridge.app import create_app
from bridge.outbox import Outbox
from sync.wordpress_hooks import SIGNATURE_HEADER, sign

SECRET = "site-webhook-secret-0123456789abcdef01"  # >= 32: bridge/secret_policy.py


@pytest.fixture
def client(tmp_path, db_url):
    data = {"bridge": {"public_url": "http://127.0.0.1:8090", "secret_key": "wordpress-hooks-test-secret-key-0123456789", "database_url": db_url,
                       "state_dir": str(tmp_path)},
            "wordpress": {"sites": [{"name": "news", "url": "http://wp.test", "username": "bridge",
                                     "password": "Xk3pQz7mLr2vNw8tHy5cBd4f", "webhook_secret": SECRET}]}}
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(data))
    settings = config.load(path)
    engine = store.make_engine(db_url)
    store.upgrade(engine)
    app = create_app(settings, engine)
    yield app.test_client(), Outbox(engine, settings.outbox)
    engine.dispose()


def _post(client, body: dict, *, secret=SECRET, t=None, site="news", header=None):
    raw = json.dumps(body).encode()
    headers = {SIGNATURE_HEADER: header if header is not None else sign(raw, secret, t),
               "Content-Type": "application/json"}
    return client.post(f"/webhooks/wordpress/{site}", data=raw, headers=headers)


BODY = {"post_id": 42, "modified_gmt": "2026-11-25 10:00:00", "status": "publish", "event": "status:draft>publish"}


def test_signed_web_hook_queues_one_job_and_a_replay_nothing(client):
    http, outbox = client
    r = _post(http, BODY)
    assert r.status_code == 202 and r.json["queued"] is True
    again = _post(http, BODY)  # replayed (or re-sent) within the window
    assert again.status_code == 200 and again.json["queued"] is False
    jobs = outbox.list()
    # no forum in this configuration: the search index queues its own read of the post
    assert sorted((j.kind, j.payload["site"], j.payload["post_id"]) for j in jobs) == [
        ("mirror.post", "news", 42), ("search.blog", "news", 42)]


@pytest.mark.parametrize("how", ["forged", "unsigned", "malformed", "stale", "future", "other-site-secret"])
def test_refused_web_hooks_queue_nothing(client, how):
    http, outbox = client
    kw = {}
    if how == "forged":
        kw["secret"] = "not-the-secret-at-all"
    elif how == "unsigned":
        kw["header"] = ""
    elif how == "malformed":
        kw["header"] = "t=abc,v1=zz"
    elif how == "stale":
        kw["t"] = int(time.time()) - 301
    elif how == "future":
        # well past the window: the request is checked a moment later, which brings t nearer
        kw["t"] = int(time.time()) + 360
    elif how == "other-site-secret":
        kw["secret"] = SECRET + "x"
    r = _post(http, BODY, **kw)
    assert r.status_code == 401
    assert outbox.list() == []


def test_body_tampered_after_signing_is_refused(client):
    http, outbox = client
    raw = json.dumps(BODY).encode()
    header = sign(raw, SECRET)
    r = http.post("/webhooks/wordpress/news", data=raw.replace(b"42", b"43"), headers={SIGNATURE_HEADER: header})
    assert r.status_code == 401 and outbox.list() == []


def test_unknown_site_and_bad_body(client):
    http, outbox = client
    assert _post(http, BODY, site="nosuch").status_code == 404
    assert _post(http, {"post": "x"}).status_code == 400
    assert outbox.list() == []


@pytest.mark.parametrize("field, value", [
    ("status", "\u0000"), ("status", "pub\nlish"), ("status", "<b>publish</b>"), ("status", "x" * 21),
    ("status", ["publish"]), ("modified_gmt", "2026-11-25 10:00:00\u0000"), ("modified_gmt", "yesterday"),
    ("event", "status:draft>publish\r\nX-Injected: 1"), ("event", {"a": 1}),
])
def test_a_hint_outside_its_alphabet_is_refused_naming_the_field(client, field, value):
    # Signed, so only the body's own checks stand between it and a job key (PostgreSQL refuses a NUL).
    http, outbox = client
    r = _post(http, {**BODY, field: value})
    assert r.status_code == 400 and field in r.json["detail"]
    assert outbox.list() == []


def test_a_utf16_body_is_read_like_any_json(client):
    # json.loads detects UTF-16 by its BOM; the fuzz test found a NUL status arriving this way
    http, outbox = client
    raw = b"\xff\xfe" + json.dumps({**BODY, "status": "\u0000"}).encode("utf-16-le")
    r = http.post("/webhooks/wordpress/news", data=raw, headers={SIGNATURE_HEADER: sign(raw, SECRET)})
    assert r.status_code == 400 and "status" in r.json["detail"]
    raw = b"\xff\xfe" + json.dumps(BODY).encode("utf-16-le")
    assert http.post("/webhooks/wordpress/news", data=raw, headers={SIGNATURE_HEADER: sign(raw, SECRET)}).status_code == 202


# -- the doctor's test hook (space-bridge-mirror.php rest_test_hook) ----------------------------------
TEST_BODY = {"event": "test", "nonce": "0123456789abcdef0123456789abcdef", "site": "http://wp.test", "post_id": 0}


@pytest.fixture
def published(monkeypatch):
    from sync import wordpress_hooks

    calls = []
    monkeypatch.setattr(wordpress_hooks.events, "publish", lambda *a, **kw: calls.append((a, kw)))
    return calls


def test_a_test_hook_is_answered_with_its_nonce_and_queues_nothing(client, published):
    http, outbox = client
    r = _post(http, TEST_BODY)
    assert r.status_code == 200 and r.json == {"nonce": TEST_BODY["nonce"]}
    # the doctor's next run: a new nonce, answered too
    r = _post(http, {**TEST_BODY, "nonce": "f" * 32})
    assert r.status_code == 200 and r.json == {"nonce": "f" * 32}
    assert outbox.list() == [] and published == []
    # a real hook still queues its job and is published (the fixture sees it)
    assert _post(http, BODY).status_code == 202 and len(published) == 1


@pytest.mark.parametrize("nonce", [None, "", "0123456789ABCDEF0123456789ABCDEF", "0" * 31, "0" * 33, "g" * 32,
                                   "0" * 31 + "\n", 12345, ["0" * 32]])
def test_a_test_hook_with_a_bad_nonce_is_refused(client, published, nonce):
    http, outbox = client
    body = {**TEST_BODY, "nonce": nonce} if nonce is not None else {k: v for k, v in TEST_BODY.items() if k != "nonce"}
    r = _post(http, body)
    assert r.status_code == 400 and "nonce" not in (r.json or {})
    assert outbox.list() == [] and published == []


@pytest.mark.parametrize("how", ["unsigned", "forged", "stale"])
def test_an_unsigned_or_forged_test_hook_gets_no_echo(client, published, how):
    http, outbox = client
    kw = {"unsigned": {"header": ""}, "forged": {"secret": "not-the-secret-at-all"},
          "stale": {"t": int(time.time()) - 301}}[how]
    r = _post(http, TEST_BODY, **kw)
    assert r.status_code == 401 and "nonce" not in r.json
    assert outbox.list() == [] and published == []
