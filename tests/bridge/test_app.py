"""The HTTP shell: health and metrics as an operator's monitoring sees them."""

from __future__ import annotations

import pytest

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
    assert 'space_bridge_outbox_jobs{state="pending"} 2.0' in text
    assert 'space_bridge_outbox_jobs{state="done"} 3.0' in text
    assert 'space_bridge_outbox_jobs_total{kind="t.metrics",outcome="done"}' in text
    assert 'space_bridge_outbox_jobs_total{kind="t.metrics-fails",outcome="retry"}' in text
    assert 'space_bridge_outbox_job_latency_seconds_count{kind="t.metrics"}' in text
    assert "space_bridge_outbox_oldest_pending_seconds" in text
