"""Matrix through Apprise against a real Synapse (tests/doubles/synapse.py, SQLite, 127.0.0.1):
the bridge's bot logs in with its password, joins the room by alias and posts; a member
reads the message back through the client API."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/, for `doubles`
from doubles.synapse import SERVER_NAME, Synapse

from bridge import config, store
from bridge.config import OutboxSettings
from sync.relay.settings import RelayTarget
from bridge.outbox import Outbox, PermanentFailure, RetryLater, Worker
from sync.relay.targets import apprise as target_mod

BOT, BOT_PASSWORD = "spacebot", "bot-Password-0123456789"
READER, READER_PASSWORD = "reader", "reader-Password-0123456789"


@pytest.fixture(scope="module")
def synapse(tmp_path_factory):
    hs = Synapse(tmp_path_factory.mktemp("synapse"))
    hs.start()
    try:
        hs.reader_token = hs.register(READER, READER_PASSWORD)
        hs.register(BOT, BOT_PASSWORD)
        hs.room_id = hs.create_room(hs.reader_token, alias="space")
        hs.news_room_id = hs.create_room(hs.reader_token, alias="space-news")
        yield hs
    finally:
        hs.stop()


def matrix_url(hs, room="space", password=BOT_PASSWORD, query=""):
    return f"matrix://{BOT}:{password}@127.0.0.1:{hs.port}/%23{room}:{SERVER_NAME}{query}"


def build(url, name="matrix-space"):
    return target_mod.build(None, RelayTarget(name=name, kind="apprise", options={"url": url}))


def test_message_reaches_the_room_and_a_member_reads_it(synapse):
    message = SimpleNamespace(text="Alice published a blog post: Hello Matrix https://space.example/p/7",
                              html=None, title="Wikimedia Space")
    build(matrix_url(synapse)).deliver(message, SimpleNamespace(id="ev-matrix-1"))
    found = [e for e in synapse.messages(synapse.reader_token, synapse.room_id)
             if "Hello Matrix" in e["content"].get("body", "")]
    assert len(found) == 1
    event = found[0]
    assert event["sender"] == f"@{BOT}:{SERVER_NAME}"
    assert event["content"]["msgtype"] in ("m.text", "m.notice")
    assert "Alice published a blog post: Hello Matrix https://space.example/p/7" in event["content"]["body"]
    assert "Wikimedia Space" in event["content"]["body"]
    assert f"@{BOT}:{SERVER_NAME}" in synapse.joined_members(synapse.reader_token, synapse.room_id)


def test_html_message_is_sent_as_formatted_body(synapse):
    message = SimpleNamespace(text="Bob started a topic: Tools", html="<p>Bob started a topic: <b>Tools</b></p>",
                              title="Wikimedia Space")
    build(matrix_url(synapse, query="?format=html")).deliver(message, SimpleNamespace(id="ev-matrix-2"))
    [event] = [e for e in synapse.messages(synapse.reader_token, synapse.room_id)
               if "Tools" in e["content"].get("body", "")]
    assert "<b>Tools</b>" in event["content"].get("formatted_body", "")


def test_wrong_bot_password_is_not_delivered_and_not_retried_forever(synapse):
    target = build(matrix_url(synapse, password="not-the-password"))
    with pytest.raises((PermanentFailure, RetryLater)) as info:
        target.deliver(SimpleNamespace(text="never", html=None, title=None), SimpleNamespace(id="x"))
    assert "not-the-password" not in str(info.value)
    assert isinstance(info.value, PermanentFailure), str(info.value)


def test_homeserver_down_is_a_retry():
    target = build(f"matrix://{BOT}:{BOT_PASSWORD}@127.0.0.1:9/%23space:{SERVER_NAME}")
    with pytest.raises(RetryLater):
        target.deliver(SimpleNamespace(text="x", html=None, title=None), SimpleNamespace(id="x"))


@pytest.fixture
def real_apprise_kind():
    from sync.relay.targets import TARGET_KINDS, register

    before = TARGET_KINDS.get("apprise")
    register("apprise", target_mod.build)
    yield
    if before is not None:
        register("apprise", before)


def test_relayed_event_reaches_matrix_through_the_outbox(synapse, tmp_path, monkeypatch, caplog, real_apprise_kind):
    from sync.relay.deliver import relay, relay_handlers
    from sync.relay.events import Event

    caplog.set_level(logging.DEBUG)
    logging.getLogger("apprise").setLevel(logging.DEBUG)
    monkeypatch.setenv("SPACE_TEST_MATRIX_URL", matrix_url(synapse, room="space-news"))
    engine = store.make_engine(f"sqlite:///{tmp_path}/bridge.db")
    store.upgrade(engine)
    try:
        settings = config.parse({
            "bridge": {"public_url": "http://127.0.0.1:8090", "secret_key": "test-secret-key-0123456789abcdef0123",
                       "database_url": str(engine.url), "state_dir": str(tmp_path / "state")},
            "relay": {"targets": [{"name": "matrix-news", "kind": "apprise",
                                   "options": {"url": "env:SPACE_TEST_MATRIX_URL"}}],
                      "rules": [{"events": ["post.published"], "targets": ["matrix-news"]}]},
        })
        outbox = Outbox(engine, OutboxSettings(max_attempts=2))
        event = Event(id="wordpress:blog:post:77", type="post.published", language="en", author="Carol",
                      url="https://space.example/2026/11/matrix-post/", title="Matrix post", site="blog")
        [(_, job_id, _)] = relay(engine, settings, event)
        Worker(outbox, relay_handlers(settings), threads=1, name="t").run_once()
        job = outbox.get(job_id)
        assert job.state == "done", job.last_error
    finally:
        logging.getLogger("apprise").setLevel(logging.WARNING)
        engine.dispose()
    bodies = [e["content"]["body"] for e in synapse.messages(synapse.reader_token, synapse.news_room_id)]
    assert any("Carol" in b and "Matrix post" in b and "https://space.example/2026/11/matrix-post/" in b
               for b in bodies), bodies
    logged = caplog.text + json.dumps([r.getMessage() for r in caplog.records])
    assert BOT_PASSWORD not in logged


def _highlights(hs, room_id):
    """Event ids the reader was pinged by (Synapse's push rules, .m.rule.roomnotif for @room)."""
    data = hs._call("GET", "/notifications", hs.reader_token, params={"only": "highlight", "limit": 100})
    return {n["event"]["event_id"] for n in data["notifications"] if n["room_id"] == room_id}


@pytest.mark.parametrize("query", ["", "?format=html"])
def test_relayed_at_room_pings_nobody_though_the_bot_may_ping_the_room(synapse, query):
    """The bot is given the power to ping the room; a raw "@room" it sends pings the reader,
    the same words in a relayed title and excerpt do not."""
    import time
    import uuid
    from urllib.parse import quote

    from sync.relay.events import Event
    from sync.relay.render import render

    alias = "mentions-" + uuid.uuid4().hex[:6]
    room_id = synapse.create_room(synapse.reader_token, alias=alias)
    target = build(matrix_url(synapse, room=alias, query=query))
    target.deliver(SimpleNamespace(text="hello", html=None, title=None), SimpleNamespace(id="join"))  # joins
    levels = synapse._call("GET", f"/rooms/{quote(room_id)}/state/m.room.power_levels", synapse.reader_token)
    levels.setdefault("users", {})[f"@{BOT}:{SERVER_NAME}"] = 50
    synapse._call("PUT", f"/rooms/{quote(room_id)}/state/m.room.power_levels", synapse.reader_token, json=levels)
    bot_token = synapse._call("POST", "/login", "", json={"type": "m.login.password", "password": BOT_PASSWORD,
                                                          "identifier": {"type": "m.id.user", "user": BOT}})["access_token"]
    control = synapse._call("PUT", f"/rooms/{quote(room_id)}/send/m.room.message/{uuid.uuid4().hex}", bot_token,
                            json={"msgtype": "m.text", "body": "@room control"})["event_id"]

    hostile = "@room <a href='https://evil.example'>@room</a> **@room**"
    event = Event(id=f"discourse:topic:{alias}", type="topic.created", author="@room", title=hostile,
                  excerpt=hostile, url="https://space.example/t/x/5")
    message = render(event, "apprise", "en")
    target.deliver(message, event)
    [relayed] = [e for e in synapse.messages(synapse.reader_token, room_id) if "started a topic" in e["content"]["body"]]
    for _ in range(50):
        if control in _highlights(synapse, room_id):
            break
        time.sleep(0.1)
    assert _highlights(synapse, room_id) == {control}
    assert "@room" not in relayed["content"]["body"] and "@\u200broom" in relayed["content"]["body"]
    if query:
        assert relayed["content"]["formatted_body"].count("<a ") == 1  # the bridge's link only
