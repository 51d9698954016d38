"""The mirror's integration harness: the real WordPress of the local stack, the Discourse
double, and the bridge app served over HTTP in a thread, so the mu-plugin's web hooks and the
double's web hooks really reach it. Used by tests/sync and bench/mirror.py."""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import threading
import time
import uuid
from pathlib import Path

import requests
import yaml
from werkzeug.serving import make_server

from bridge import config, store
from bridge.clients.discourse import DiscourseClient
from bridge.clients.wordpress import WordPressClient
from bridge.outbox import Outbox, Worker

REPO = Path(__file__).resolve().parents[2]
WP_TEST_SETTINGS = Path("/etc/wordpress/space-bridge-mirror-test.json")
CATEGORIES = [("blog", "Blog"), ("events", "Events"), ("noticias", "Noticias")]

#: The Discourse releases the double can play (deploy/dev/discourse_double/profiles.py): the
#: bridge's mirror, login, log-out and re-check must work with each.
PROFILES = ("stable-2025", "main-2026")


def on_every_profile(test):
    """Run this test against each Discourse release the double plays (tests/sync/conftest.py)."""
    test.forum_profiles = PROFILES
    return test


def forum_profiles(function, module) -> tuple[str, ...] | None:
    """The profiles a test asks for: its own (`on_every_profile`), else its module's
    ``FORUM_PROFILES``; None: the double's default only."""
    return getattr(function, "forum_profiles", None) or getattr(module, "FORUM_PROFILES", None)


class BridgeServer:
    """The bridge's Flask app on a real port, in a daemon thread."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0):
        self.server = make_server(host, port, app, threaded=True)
        self.port = self.server.server_port
        self.url = f"http://{host}:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "BridgeServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def write_wp_constants(url: str | None, secret: str | None, timeout: float = 0.5) -> None:
    """Point the mu-plugin at the bridge (None: remove, the plugin then sends nothing). JSON, read
    by the plugin on every request (a PHP file would be cached by OPcache for 2 s)."""
    if url is None:
        WP_TEST_SETTINGS.unlink(missing_ok=True)
        return
    WP_TEST_SETTINGS.parent.mkdir(parents=True, exist_ok=True)
    tmp = WP_TEST_SETTINGS.with_suffix(".tmp")
    tmp.write_text(json.dumps({"url": url, "secret": secret, "timeout": float(timeout)}))
    os.chmod(tmp, 0o644)
    os.replace(tmp, WP_TEST_SETTINGS)


def unit_settings(tmp_path: Path, db_url: str, **sections) -> config.Settings:
    """The configuration of a mirror with one blog (`news`) and no real platform behind it, for
    tests that give the mirror fakes of the forum and the blog; `sections` are added as given."""
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump({
        "bridge": {"public_url": "http://127.0.0.1:8090", "secret_key": secrets.token_hex(32), "database_url": db_url,
                   "state_dir": str(tmp_path / "state")},
        "wordpress": {"sites": [{"name": "news", "url": "https://news.example", "username": "bridge",
                                 "password": secrets.token_hex(16), "webhook_secret": secrets.token_hex(32)}]},
        **sections,
    }))
    return config.load(path)


class MirrorEnv:
    """Settings, database, bridge server and worker for one test (or bench run)."""

    def __init__(self, stack: dict, forum, tmp_path: Path, *, site_name: str | None = None,
                 bridge_port: int = 0, mirror: dict | None = None, requests_per_minute: int = 6000,
                 transport: str = "rest", forum_url: str | None = None, outbox: dict | None = None,
                 db_url: str | None = None, sections: dict | None = None):
        wp = stack["wordpress"]
        self.stack = stack
        self.forum = forum
        self.site_name = site_name or f"t{uuid.uuid4().hex[:6]}"
        self.webhook_secret = secrets.token_hex(16)
        self.discourse_webhook_secret = secrets.token_hex(16)
        self.db_url = db_url or f"sqlite:///{tmp_path}/bridge.db"
        port = bridge_port
        data = {
            "bridge": {"public_url": "http://127.0.0.1:8090", "secret_key": secrets.token_hex(32),
                       "database_url": self.db_url, "state_dir": str(tmp_path / "state"), "log_format": "console",
                       "log_level": "warning"},
            "outbox": {"poll_interval_seconds": 0.05, "lease_seconds": 3, "backoff_base_seconds": 0.05,
                       "backoff_max_seconds": 0.3, "max_attempts": 30, **(outbox or {})},
            # A global key ("All users"), as the configuration asks: topics are posted as their authors.
            "discourse": {"url": forum_url or forum.url, "api_key": forum.create_api_key(all_users=True), "api_username": "system",
                          "connect_secret": "mirror-harness-connect-secret-0123456789abcdef", "webhook_secret": self.discourse_webhook_secret,
                          "requests_per_minute": requests_per_minute,
                          "categories": [{"slug": s, "name": n} for s, n in CATEGORIES],
                          "preexisting_categories": ["uncategorized"]},
            "wordpress": {"sites": [{
                "name": self.site_name, "url": wp["url"], "transport": transport, "username": wp["admin_user"],
                "password": wp["app_password"] if transport == "rest" else wp["admin_password"],
                "webhook_secret": self.webhook_secret, "default_category": "blog",
                "categories": {"events": "events"}, "languages": {"es": "noticias"}, "title": "Space news"}]},
            "mirror": {"reconcile_interval_seconds": 5, "reconcile_overlap_seconds": 0, **(mirror or {})},
            **(sections or {}),
        }
        self.config_path = tmp_path / "space.yaml"
        self.config_path.write_text(yaml.safe_dump(data))
        self.settings = config.load(self.config_path)
        self.site = self.settings.site(self.site_name)
        self.engine = store.make_engine(self.db_url)
        store.upgrade(self.engine)
        self.outbox = Outbox(self.engine, self.settings.outbox)
        # Reconcile looks at this test's posts only, not at everything the shared WordPress holds.
        from sync.reconcile import set_checkpoint

        set_checkpoint(self.engine, f"reconcile:{self.site_name}", dt.datetime.now(dt.timezone.utc))
        from bridge import jobs
        from bridge.app import create_app

        self.handlers = jobs.handlers(self.settings, self.engine)
        self.worker = Worker(self.outbox, self.handlers, threads=1)
        self.app = create_app(self.settings, self.engine)
        self.server = BridgeServer(self.app, port=port).start()
        self.hook_url = f"{self.server.url}/webhooks/wordpress/{self.site_name}"
        self._threads = None

    # -- clients --------------------------------------------------------------------------------
    def wp(self, transport: str = "rest") -> WordPressClient:
        wp = self.stack["wordpress"]
        password = wp["app_password"] if transport == "rest" else wp["admin_password"]
        return WordPressClient(wp["url"], wp["admin_user"], password, transport=transport)

    def discourse(self) -> DiscourseClient:
        return DiscourseClient(self.forum.url, self.forum.api_key, requests_per_minute=100000)

    def point_wordpress_here(self, timeout: float = 0.5) -> None:
        write_wp_constants(self.hook_url, self.webhook_secret, timeout)

    def listen_to_forum(self) -> None:
        self.forum.add_webhook(f"{self.server.url}/webhooks/discourse", self.discourse_webhook_secret,
                               ["post_created", "post_edited", "post_destroyed"])

    # -- running jobs ---------------------------------------------------------------------------
    def drain(self, timeout: float = 30.0, until=None) -> None:
        """Run due jobs until none is pending (and `until()` holds, if given)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ran = self.worker.run_once()
            counts = self.outbox.counts()
            if not ran and not counts.get("pending") and not counts.get("running") and (until is None or until()):
                return
            if not ran:
                time.sleep(0.05)
        raise AssertionError(f"jobs did not settle in {timeout} s: {self.outbox.counts()} "
                             f"{[ (j.kind, j.state, j.last_error) for j in self.outbox.list(limit=10)]}")

    def wait_for_jobs(self, n: int = 1, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sum(self.outbox.counts().values()) >= n:
                return
            time.sleep(0.05)
        raise AssertionError(f"no web hook reached the bridge in {timeout} s")

    def start_worker(self):
        self._threads = self.worker.start()

    def close(self) -> None:
        if self._threads:
            self.worker.stop(self._threads, timeout=5)
        self.server.stop()
        self.engine.dispose()

    # -- the forum's side -----------------------------------------------------------------------
    def topics_for(self, post_id: int) -> list[dict]:
        from sync.render import external_id

        eid = external_id(self.site_name, post_id).lower()
        topics = self.forum.state()["topics"]
        return [t for t in (topics.values() if isinstance(topics, dict) else topics)
                if (t.get("external_id") or "").lower() == eid and not t.get("deleted_at")]


def ensure_categories(forum) -> None:
    client = DiscourseClient(forum.url, forum.api_key, requests_per_minute=100000)
    forum.set_rate_limit(100000, 60)
    for slug, name in CATEGORIES:
        if client.category_by_slug(slug) is None:
            client.create_category(name, slug=slug)
    client.close()


class ForumRequests:
    """The requests this process sends to the forum (the bridge's Discourse client uses
    `requests`), recorded by a wrapper on requests.Session.request until `close()`: method, path
    and status of each; the double's own control routes (/__double__/) are left out."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.sent: list[tuple[str, str, int]] = []
        self._lock = threading.Lock()
        self._original = original = requests.Session.request
        recorder = self

        def request(session, method, url, *args, **kwargs):
            resp = original(session, method, url, *args, **kwargs)
            if str(url).startswith(recorder.prefix) and "/__double__/" not in str(url):
                path = str(url)[len(recorder.prefix):].split("?", 1)[0]
                with recorder._lock:
                    recorder.sent.append((str(method).upper(), path, resp.status_code))
            return resp

        requests.Session.request = request

    @property
    def n(self) -> int:
        return len(self.sent)

    def calls(self) -> list[tuple[str, str]]:
        """(method, path) of each request, in order."""
        with self._lock:
            return [(m, p) for m, p, _ in self.sent]

    def statuses(self) -> dict[int, int]:
        out: dict[int, int] = {}
        with self._lock:
            for _, _, status in self.sent:
                out[status] = out.get(status, 0) + 1
        return out

    def close(self) -> None:
        requests.Session.request = self._original
