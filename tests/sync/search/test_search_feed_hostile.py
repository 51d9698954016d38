"""Signed forum deliveries of any shape reach the search feed's subscriber: whatever they hold,
the web hook answers without a 5xx and the feed queues a job only for a real id."""

from __future__ import annotations

import json

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge import config
from bridge.app import create_app
from bridge.outbox import Outbox
from sync import webhooks

SECRET = "search-hostile-webhook-secret-0123456789"
EVENTS = st.sampled_from(["post_created", "post_edited", "post_destroyed", "topic_created", "topic_edited",
                          "topic_visible_status_updated", "category_updated", "category_destroyed", "user_created", ""])
IDS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=True),
                st.text(max_size=20), st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))
OBJECT = st.fixed_dictionaries({}, optional={"id": IDS, "topic_id": IDS, "updated_at": st.text(max_size=30)})
BODY = st.one_of(
    st.fixed_dictionaries({}, optional={"post": st.one_of(OBJECT, IDS), "topic": st.one_of(OBJECT, IDS),
                                        "category": st.one_of(OBJECT, IDS)}),
    st.dictionaries(st.text(max_size=10), IDS, max_size=3),
)


def test_any_signed_delivery_is_answered_and_queues_only_for_real_ids(settings_file, engine):
    data = yaml.safe_load(settings_file.read_text())
    data["discourse"] = {"url": "http://127.0.0.1:9", "api_key": "discourse-api-key-3c5e7a9b1d2f4e6a8c0b",
                         "connect_secret": "discourse-connect-secret-9e8d7c6b5a4f3e2d", "webhook_secret": SECRET}
    data["search"] = {"enabled": True}
    settings_file.write_text(yaml.safe_dump(data))
    client = create_app(config.load(settings_file), engine).test_client()
    outbox = Outbox(engine)

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(event=EVENTS, body=BODY)
    def check(event, body):
        raw = json.dumps(body).encode()
        resp = client.post("/webhooks/discourse", data=raw, headers={
            "X-Discourse-Event": event, "X-Discourse-Event-Type": event.split("_")[0] or "ping",
            webhooks.SIGNATURE_HEADER: webhooks.sign(raw, SECRET), "Content-Type": "application/json"})
        assert resp.status_code < 500, resp.get_data(as_text=True)
        for job in outbox.list(limit=1000):
            if job.kind.startswith("search."):
                key = "category_id" if job.kind == "search.category" else "topic_id"
                value = job.payload[key]
                assert isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63

    check()
