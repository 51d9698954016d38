""""Sync now" in the editor panel sends the mirror plugin's ordinary web hook with the event
"sync:<unix time>><status>" (deploy/wordpress/space-bridge-discussion.php `sync_now`). The
receiver (sync/wordpress_hooks.py) must take that event and queue a new mirror job for each press,
even when a job of the same post version already ran or died; a press repeated within the same
second is one job."""

from __future__ import annotations

import json

import pytest
import yaml

from bridge import config, store
from bridge.app import create_app
from bridge.outbox import Outbox
from sync.wordpress_hooks import SIGNATURE_HEADER, sign

SECRET = "sync-now-webhook-secret-0123456789abcdef0"


@pytest.fixture
def client(tmp_path):
    db_url = f"sqlite:///{tmp_path}/bridge.db"
    data = {"bridge": {"public_url": "http://127.0.0.1:8090", "secret_key": "sync-now-test-secret-key-0123456789abcdef",
                       "database_url": db_url, "state_dir": str(tmp_path)},
            "wordpress": {"sites": [{"name": "news", "url": "http://wp.test", "username": "bridge",
                                     "password": "Xk3pQz7mLr2vNw8tHy5cBd4f", "webhook_secret": SECRET}]}}
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(data))
    settings = config.load(path)
    engine = store.make_engine(db_url)
    store.upgrade(engine)
    yield create_app(settings, engine).test_client(), Outbox(engine, settings.outbox)
    engine.dispose()


def _hook(http, event: str):
    raw = json.dumps({"post_id": 42, "modified_gmt": "2026-11-25 10:00:00", "status": "publish",
                      "event": event, "site": "http://wp.test"}).encode()
    return http.post("/webhooks/wordpress/news", data=raw,
                     headers={SIGNATURE_HEADER: sign(raw, SECRET), "Content-Type": "application/json"})


def _mirror_jobs(outbox):
    return [j for j in outbox.list(kind="mirror.post")]


def test_each_sync_now_press_is_a_new_mirror_job_of_the_same_post_version(client):
    http, outbox = client
    assert _hook(http, "edit").status_code == 202  # the post's last save
    first = _hook(http, "sync:1764669600>publish")
    assert first.status_code == 202 and first.json["queued"] is True
    twice = _hook(http, "sync:1764669600>publish")  # a double click within the second
    assert twice.status_code == 200 and twice.json["queued"] is False
    later = _hook(http, "sync:1764669660>publish")  # pressed again a minute later
    assert later.status_code == 202 and later.json["queued"] is True
    jobs = _mirror_jobs(outbox)
    assert len(jobs) == 3
    assert {j.payload["post_id"] for j in jobs} == {42}
    assert sorted(j.payload["hint"]["event"] for j in jobs) == ["edit", "sync:1764669600>publish",
                                                                 "sync:1764669660>publish"]
