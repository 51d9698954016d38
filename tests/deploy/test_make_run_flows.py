"""`make run` shows every flow: on the configuration deploy/dev/devconfig.py writes for the
running stack, a post published on the real WordPress gets its topic on the forum (the Discourse
double, as `make run` runs it), then an entry on the feed page of the real MediaWiki and a line in
the channel of the real ngircd; a new forum topic gets the same, and the blog post's own topic is
not announced a second time.

The bridge runs in this process as `make run` runs it in two: the web app served over HTTP (so
the mu-plugin's and the forum's web hooks reach it) and a worker over every job handler. The
forum is configured with `space-bridge discourse setup`, as run.sh does.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import threading
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
import yaml
from click.testing import CliRunner
from werkzeug.serving import make_server

from bridge import config, jobs, store
from bridge.app import create_app
from bridge.cli import main
from bridge.clients.wordpress import WordPressClient
from bridge.outbox import Outbox, Worker
from sync.relay.deliver import DELIVER
from sync.relay.targets import irc as irc_target

REPO = Path(__file__).resolve().parents[2]
#: The mu-plugin's override of its constants for tests (deploy/wordpress/space-bridge-mirror.php
#: reads it on every request and prefers it to the PHP file `make run` writes).
WP_TEST_SETTINGS = Path("/etc/wordpress/space-bridge-mirror-test.json")
LONG = "enough words here for the forum to take this post as it is"



def load_devconfig():
    spec = importlib.util.spec_from_file_location("devconfig", REPO / "deploy" / "dev" / "devconfig.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ChannelListener:
    """A plain-socket IRC client sitting in a channel; a thread collects its PRIVMSG texts."""

    def __init__(self, host: str, port: int, channel: str):
        self.channel, self.nick = channel, "l" + uuid.uuid4().hex[:8]
        self.messages: list[str] = []
        self.sock = socket.create_connection((host, port), timeout=15)
        self.buf = b""
        self.sock.sendall(f"NICK {self.nick}\r\nUSER {self.nick} 0 * :listener\r\n".encode())
        self._until(" 001 ")
        self.sock.sendall(f"JOIN {channel}\r\n".encode())
        self._until(" 366 ")  # end of NAMES: joined
        self.sock.settimeout(None)
        threading.Thread(target=self._collect, daemon=True).start()

    def _lines(self):
        while True:
            while b"\r\n" in self.buf:
                line, self.buf = self.buf.split(b"\r\n", 1)
                text = line.decode("utf-8", "replace")
                if text.startswith("PING"):
                    self.sock.sendall(("PONG" + text[4:] + "\r\n").encode())
                yield text
            data = self.sock.recv(4096)
            if not data:
                return
            self.buf += data

    def _until(self, needle: str) -> None:
        for line in self._lines():
            if needle in line:
                return
        raise AssertionError(f"the IRC server closed the connection before {needle!r}")

    def _collect(self) -> None:
        marker = f" PRIVMSG {self.channel} :"
        try:
            for line in self._lines():
                if marker in line:
                    self.messages.append(line.split(marker, 1)[1])
        except OSError:
            pass  # closed by the test

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def bridge(stack, forum, tmp_path):
    """The bridge on `make run`'s configuration for this stack, its forum set up as run.sh does."""
    devconfig = load_devconfig()
    state = tmp_path / "dev"
    # run.sh starts the double with the kept secret discourse_api_key; this double came first,
    # so its key becomes the kept secret, and devconfig puts it in the configuration as ever.
    (state / "secrets").mkdir(parents=True)
    (state / "secrets" / "discourse_api_key").write_text(forum.api_key)
    (state / "bridge").mkdir()
    listen = f"127.0.0.1:{free_port()}"
    # A page of its own: the wiki writes each event once per page (by its id), and this test's
    # double numbers its topics from 1 on every run.
    data = devconfig.dev_config(stack, state, listen, forum.url,
                                feed_page=f"{devconfig.FEED_PAGE}/test {uuid.uuid4().hex[:10]}")
    path = state / "space.yaml"
    path.write_text(yaml.safe_dump(data))
    settings = config.load(path)
    engine = store.make_engine(data["bridge"]["database_url"])
    store.upgrade(engine)
    result = CliRunner().invoke(main, ["--config", str(path), "discourse", "setup"])
    assert result.exit_code == 0, result.output

    host, port = listen.split(":")
    server = make_server(host, int(port), create_app(settings, engine), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    site = data["wordpress"]["sites"][0]
    tmp = WP_TEST_SETTINGS.with_suffix(".tmp")
    tmp.write_text(json.dumps({"url": f"http://{listen}/webhooks/wordpress/{site['name']}",
                               "secret": site["webhook_secret"], "timeout": 0.5}))
    os.chmod(tmp, 0o644)
    os.replace(tmp, WP_TEST_SETTINGS)

    outbox = Outbox(engine, settings.outbox)
    flows = devconfig.flows(data, stack)
    listener = ChannelListener(*flows["irc_server"].split(":"), flows["irc_channel"])
    try:
        yield SimpleNamespace(data=data, flows=flows, outbox=outbox, listener=listener,
                              worker=Worker(outbox, jobs.handlers(settings, engine), threads=1))
    finally:
        WP_TEST_SETTINGS.unlink(missing_ok=True)
        listener.close()
        server.shutdown()
        server.server_close()
        irc_target.close_all()
        engine.dispose()


def feed_page(flows) -> str:
    """The feed page's wikitext, read at the URL `make run` prints."""
    r = requests.get(flows["feed_url"], params={"action": "raw"}, timeout=30)
    return r.text if r.status_code == 200 else ""


def run_jobs_until(b, seen, what: str, timeout: float = 120.0) -> None:
    """Run the bridge's jobs until `seen()` holds; the timeout only bounds a failure."""
    deadline = time.monotonic() + timeout
    while not seen():
        if time.monotonic() > deadline:
            jobs_now = [(j.kind, j.state, j.last_error) for j in b.outbox.list(limit=20)]
            raise AssertionError(f"{what} did not happen; jobs: {jobs_now}; IRC: {b.listener.messages}")
        if not b.worker.run_once():
            time.sleep(0.1)
    assert not b.outbox.counts().get("dead"), b.outbox.list(state="dead")


def relayed(b) -> list[tuple[str, str, str]]:
    """(event type, event title, target) of every relay delivery queued so far."""
    return [(j.payload["event"]["type"], j.payload["event"]["title"], j.payload["target"])
            for j in b.outbox.list(kind=DELIVER, limit=1000)]


FAKE_STACK = {"wordpress": {"url": "http://127.0.0.1:8081", "admin_user": "admin", "app_password": "x" * 24},
              "mediawiki": {"url": "http://127.0.0.1:8082", "api_url": "http://127.0.0.1:8082/api.php",
                            "index_url": "http://127.0.0.1:8082/index.php", "bot_user": "Admin@bridge",
                            "bot_password": "0" * 32},
              "irc": {"host": "127.0.0.1", "port": 6667}}


def test_the_printed_flows_are_read_from_the_relay_the_config_sets_up(tmp_path):
    devconfig = load_devconfig()
    data = devconfig.dev_config(FAKE_STACK, tmp_path, "127.0.0.1:8090", "http://127.0.0.1:8070")
    settings = config.parse(data, "devconfig")
    [wiki] = [t for t in settings.relay.targets if t.kind == "wiki"]
    [irc] = [t for t in settings.relay.targets if t.kind == "irc"]
    assert devconfig.flows(data, FAKE_STACK) == {
        "feed_url": "http://127.0.0.1:8082/index.php?title=" + wiki.options.page.replace(" ", "_"),
        "irc_server": f"127.0.0.1:{irc.options.port}", "irc_channel": irc.options.channel,
        "console_url": "http://127.0.0.1:8090/admin"}
    # A blog post's own forum topic is muted; without a forum there is no such topic to mute.
    assert [r.mute for r in settings.relay.rules] == [False, True]
    assert settings.wordpress.sites[0].default_category == settings.discourse.categories[0].slug
    bare = config.parse(devconfig.dev_config(FAKE_STACK, tmp_path, "127.0.0.1:8090"), "devconfig")
    assert [r.mute for r in bare.relay.rules] == [False]


@pytest.mark.stack
def test_a_post_and_a_topic_reach_the_feed_page_and_the_channel(bridge, stack, forum):
    b = bridge
    targets = {t["kind"]: t for t in b.data["relay"]["targets"]}
    assert b.flows["feed_url"] == (f"{stack['mediawiki']['url']}/index.php?title="
                                   f"{targets['wiki']['options']['page'].replace(' ', '_')}")
    assert targets["wiki"]["options"]["page"].startswith("Space/News/test ")
    assert b.flows["irc_server"] == f"{stack['irc']['host']}:{stack['irc']['port']}"
    assert b.flows["irc_channel"] == targets["irc"]["options"]["channel"]
    assert b.flows["console_url"] == b.data["bridge"]["public_url"] + "/admin"

    key = uuid.uuid4().hex[:10]
    title = f"Make run flows {key}"
    wp = stack["wordpress"]
    with WordPressClient(wp["url"], wp["admin_user"], wp["app_password"]) as blog:
        post = blog.create_post(title, f"<p>{LONG}.</p>", status="publish")
        try:
            run_jobs_until(b, lambda: key in feed_page(b.flows) and any(title in m for m in b.listener.messages),
                           "the post's entry on the feed page and its line in the channel")
        finally:
            blog.trash_post(post.id)
    # The forum told the bridge of the blog post's topic too (the web hook queues relay jobs
    # while it is answered); that topic.created was muted, so the post is announced once.
    assert forum.wait_for_web_hooks(30)
    assert [e for e in forum.web_hook_events() if e["event_name"] == "topic_created"
            and title in json.dumps(e["payload"]) and 200 <= e["status"] < 300]
    assert sorted(r for r in relayed(b) if r[1] == title) == [
        ("post.published", title, "irc"), ("post.published", title, "wiki-feed")]
    [entry] = [line for line in feed_page(b.flows).splitlines() if key in line]
    assert entry.endswith(f"<!-- space-bridge:wp:local:{post.id}:published -->") and post.permalink in entry
    [line] = [m for m in b.listener.messages if title in m]
    assert line.endswith(f" {post.permalink}")

    topic_key = uuid.uuid4().hex[:10]
    topic_title = f"Forum topic flows {topic_key}"
    r = forum.request("POST", "/posts.json", json={"title": topic_title, "raw": LONG})
    assert r.status_code == 200, r.text
    run_jobs_until(b, lambda: topic_key in feed_page(b.flows) and any(topic_title in m for m in b.listener.messages),
                   "the forum topic's entry on the feed page and its line in the channel")
    assert sorted(r for r in relayed(b) if r[1] == topic_title) == [
        ("topic.created", topic_title, "irc"), ("topic.created", topic_title, "wiki-feed")]
