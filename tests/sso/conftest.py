"""Fixtures for the login tests: the bridge served over real HTTP beside the Wikimedia double.

- `bridge_server` (per module): a werkzeug server on a free port whose app each test swaps in;
- `wikimedia` (per module): the Wikimedia double process, its callback the bridge's /oauth/callback;
- `wm`: the same double, reset (users, codes, tokens, approvals) for each test;
- `bridge`: the bridge app on the `engine` fixture's database (SQLite and PostgreSQL), configured
  for the double; `bridge.configure(policy={...}, discourse_url=...)` rebuilds it with changes;
- `browser`: a requests.Session that follows redirects, as a browser would;
- `forum_profile` (per module): the Discourse release a module's Discourse double plays
  (deploy/dev/discourse_double/profiles.py): each of PROFILES in a module that sets
  ``FORUM_PROFILES = PROFILES`` (the login, log-out and re-check suites), else None (the
  double's default), so only those suites pay twice.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest
import requests
from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for `doubles`

from doubles.wikimedia import WikimediaDouble  # noqa: E402

from bridge import config  # noqa: E402
from bridge.app import create_app  # noqa: E402

SECRET_KEY = "test-secret-key-0123456789abcdef0123"

#: The Discourse releases the double can play; the bridge must work with each.
PROFILES = ("stable-2025", "main-2026")


def pytest_generate_tests(metafunc):
    profiles = getattr(metafunc.module, "FORUM_PROFILES", None)
    if profiles and "forum_profile" in metafunc.fixturenames:
        metafunc.parametrize("forum_profile", profiles, indirect=True, scope="module")


@pytest.fixture(scope="module")
def forum_profile(request):
    """The Discourse release the module's double plays (None: the double's default)."""
    return getattr(request, "param", None)


class _Swappable:
    """A WSGI app that forwards to whichever app the current test installed."""

    def __init__(self):
        self.app = None

    def __call__(self, environ, start_response):
        if self.app is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"no app installed"]
        return self.app(environ, start_response)


class BridgeServer:
    def __init__(self):
        self.target = _Swappable()
        self.server = make_server("127.0.0.1", 0, self.target, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def bridge_server():
    server = BridgeServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def wikimedia(bridge_server):
    with WikimediaDouble(redirect_uri=bridge_server.url + "/oauth/callback") as double:
        yield double


@pytest.fixture
def wm(wikimedia):
    wikimedia.reset()
    return wikimedia


def settings_data(bridge_url: str, double: WikimediaDouble, *, policy: dict | None = None,
                  discourse_url: str | None = None, wordpress_urls: tuple[str, ...] = (), **wikimedia) -> dict:
    data = {
        "bridge": {"public_url": bridge_url, "secret_key": SECRET_KEY, "log_format": "console"},
        "wikimedia": {"oauth_base_url": double.url, "client_id": double.client_id,
                      "client_secret": double.client_secret, "timeout_seconds": 10,
                      "policy": policy or {}, **wikimedia},
    }
    if discourse_url:
        data["discourse"] = {"url": discourse_url, "api_key": "test-api-key", "connect_secret": "connect-secret-123",
                             "webhook_secret": "webhook-secret-123"}
    if wordpress_urls:
        data["wordpress"] = {"sites": [{"name": f"site{n}", "url": url, "username": "bridge", "password": "pw",
                                        "webhook_secret": "wp-webhook-secret"} for n, url in enumerate(wordpress_urls)]}
    return data


class Bridge:
    def __init__(self, server: BridgeServer, double: WikimediaDouble, engine):
        self.server = server
        self.double = double
        self.engine = engine
        self.url = server.url
        self.settings = None
        self.app = None

    def configure(self, **changes) -> "Bridge":
        self.settings = config.parse(settings_data(self.url, self.double, **changes), "<test>")
        self.app = create_app(self.settings, self.engine)
        self.server.target.app = self.app
        return self


@pytest.fixture
def bridge(bridge_server, wm, engine):
    b = Bridge(bridge_server, wm, engine).configure()
    yield b
    bridge_server.target.app = None


@pytest.fixture
def browser():
    with requests.Session() as s:
        s.headers["User-Agent"] = "space-bridge-tests (browser)"
        yield s
