"""The platform clients log events with fields an operator can filter on (`event`, `host`,
`status`, ...), never a sentence with values spliced in, and never a secret.

structlog caches a module's logger on first use, so the tests swap the module's `log` for a
recorder instead of capturing structlog's output."""

from __future__ import annotations

import json

import requests
import responses

from bridge.clients.discourse import DiscourseClient, Pacer
from bridge.clients.discourse import transport as discourse_transport
from bridge.clients.mediawiki import client as mediawiki_client
from bridge.clients.mediawiki import site as mediawiki_site
from bridge.clients.mediawiki.client import MediaWikiClient
from bridge.clients.wordpress import meta as wordpress_meta

FORUM = "https://forum.example.test"
KEY = "discourse-api-key-" + "k" * 46
PASSWORD = "bot-password-0123456789abcdefghij"
TOPIC = {"id": 5, "title": "A mirrored topic title", "slug": "a-mirrored-topic-title", "category_id": 1,
         "posts_count": 1, "visible": True, "post_stream": {"posts": [{"id": 9, "post_number": 1}], "stream": [9]}}


class Recorder:
    """Stands in for a module's structlog logger: keeps each call as {"level", "event", **fields}."""

    def __init__(self):
        self.events: list[dict] = []

    def __getattr__(self, level):
        def record(event, *args, **fields):
            assert not args, f"{event}: positional values {args!r} (%-formatting) instead of fields"
            self.events.append({"level": level, "event": event, **fields})
        return record

    def named(self, event: str) -> list[dict]:
        return [e for e in self.events if e["event"] == event]

    def text(self) -> str:
        return json.dumps(self.events, default=repr)


def recorder(monkeypatch, module) -> Recorder:
    rec = Recorder()
    monkeypatch.setattr(module, "log", rec)
    return rec


@responses.activate
def test_discourse_requests_and_rate_limits_are_logged_as_fields(monkeypatch):
    rec = recorder(monkeypatch, discourse_transport)
    responses.get(f"{FORUM}/t/5.json", status=429, headers={"Discourse-Rate-Limit-Error-Code": "ip_10_secs_limit"},
                  json={"errors": ["You've performed this action too many times."], "error_type": "rate_limit",
                        "extras": {"wait_seconds": 3}})
    responses.get(f"{FORUM}/t/5.json", json=TOPIC)
    client = DiscourseClient(FORUM, KEY, "system", pacer=Pacer(100000), sleep=lambda s: None)
    assert client.get_topic(5).id == 5
    [limited] = rec.named("discourse.rate_limited")
    assert limited == {"level": "info", "event": "discourse.rate_limited", "verb": "GET", "path": "/t/5.json",
                       "route": limited["route"], "wait_seconds": 3.0, "limit": "ip_10_secs_limit"}
    assert limited["route"]  # the route table's name for GET /t/{id}.json
    assert [e["status"] for e in rec.named("discourse.request")] == [429, 200]
    assert all(isinstance(e["ms"], int) for e in rec.named("discourse.request"))
    assert KEY not in rec.text()


@responses.activate
def test_discourse_network_failure_is_logged_with_the_error_type_only(monkeypatch):
    rec = recorder(monkeypatch, discourse_transport)
    responses.get(f"{FORUM}/t/5.json", body=requests.ConnectionError(f"refused; headers Api-Key: {KEY}"))
    responses.get(f"{FORUM}/t/5.json", json=TOPIC)
    DiscourseClient(FORUM, KEY, "system", pacer=Pacer(100000), sleep=lambda s: None).get_topic(5)
    [failed] = rec.named("discourse.request_failed")
    assert failed["level"] == "debug" and failed["error"] == "ConnectionError" and failed["path"] == "/t/5.json"
    assert KEY not in rec.text()


def test_mediawiki_lag_retries_and_lost_sessions_are_logged_as_fields(monkeypatch):
    site_log = recorder(monkeypatch, mediawiki_site)
    resp = requests.Response()
    resp.url = f"https://wiki.example.test/w/api.php?action=edit&lgpassword={PASSWORD}"
    resp.headers["X-Database-Lag"] = "7"
    mediawiki_site.response_hook({})(resp)
    assert site_log.events == [{"level": "warning", "event": "mediawiki.lag_wait", "host": "wiki.example.test",
                                "lag": "7", "retry_after": str(mediawiki_site.MIN_RETRY_AFTER)}]

    client_log = recorder(monkeypatch, mediawiki_client)
    client = MediaWikiClient("https://wiki.example.test/w/api.php", "Bot@space", PASSWORD, max_retries=4)
    # mwclient hands the request's data to the wait callback: a login's holds the password.
    client._on_wait(None, 2, {"action": "login", "lgpassword": PASSWORD})
    assert client_log.events == [{"level": "info", "event": "mediawiki.retry", "host": "wiki.example.test",
                                  "retry": 2, "max_retries": 4}]
    assert PASSWORD not in site_log.text() + client_log.text()


def test_malformed_wordpress_meta_is_logged_with_its_key_and_value(monkeypatch):
    rec = recorder(monkeypatch, wordpress_meta)
    assert wordpress_meta.decode_meta("topic_id", "not a number") is None
    assert rec.events == [{"level": "warning", "event": "wordpress.meta_malformed", "key": "_space_bridge_topic_id",
                           "value": "'not a number'", "action": "ignored"}]
