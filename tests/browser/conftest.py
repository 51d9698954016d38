"""Browser tests: real headless Chromium (Debian's /usr/bin/chromium driven by Python playwright,
never `playwright install`) on the bridge served over HTTP, the Wikimedia and Discourse doubles
and the local stack's real WordPress.

- `chromium` (session): runs deploy/dev/browser.sh (installs chromium and playwright when
  missing) and launches the browser; a browser that cannot start fails the tests.
- `space` (module): the bridge (werkzeug server in a thread, SQLite), the Wikimedia double,
  the Discourse double with DiscourseConnect pointed at the bridge, and WordPress's SPACE_BRIDGE_*
  constants pointed at this bridge (through /etc/wordpress/space-bridge-sso.php, removed after).
- `shots`: saves numbered screenshots to test-artifacts/browser/<test>/ (git-ignored).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import types
from pathlib import Path

import pytest
from werkzeug.serving import make_server

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
sys.path.insert(0, str(TESTS))  # `doubles`
sys.path.insert(0, str(TESTS / "sso"))  # `wp_helpers`

CHROMIUM = os.environ.get("SPACE_DEV_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(os.environ.get("SPACE_TEST_ARTIFACTS", REPO / "test-artifacts")) / "browser"

WP_SECRET = "browser-wp-connect-secret-0123456789"
FORUM_SECRET = "browser-forum-connect-secret-0123"
FORUM_API_KEY = "browser-forum-api-key-0123456789"


@pytest.fixture(scope="session")
def chromium():
    subprocess.run(["bash", str(REPO / "deploy" / "dev" / "browser.sh")], check=True)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


class Shots:
    def __init__(self, page, directory: Path):
        self.page, self.dir, self.n = page, directory, 0
        self.dir.mkdir(parents=True, exist_ok=True)
        for old in self.dir.glob("*.png"):
            old.unlink()
        self.taken: list[Path] = []

    def __call__(self, name: str) -> Path:
        self.n += 1
        path = self.dir / f"{self.n:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)
        return path


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1100, "height": 800})
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    yield pg
    context.close()


@pytest.fixture
def shots(page, request):
    return Shots(page, ARTIFACTS / re.sub(r"[^\w.-]+", "_", request.node.name))




@pytest.fixture(scope="module")
def space(stack, tmp_path_factory):
    from doubles.discourse import DiscourseDouble
    from doubles.wikimedia import WikimediaDouble
    from wp_helpers import WpAdmin, sso_override

    from bridge import config, store
    from bridge.app import create_app

    tmp = tmp_path_factory.mktemp("space")
    holder = types.SimpleNamespace(app=None)

    def wsgi(environ, start_response):
        return holder.app(environ, start_response)

    server = make_server("127.0.0.1", 0, wsgi, threaded=True)
    bridge_url = f"http://127.0.0.1:{server.server_port}"
    wp = stack["wordpress"]
    with WikimediaDouble(redirect_uri=bridge_url + "/oauth/callback") as wm, \
            DiscourseDouble(api_key=FORUM_API_KEY, state_dir=tmp / "forum") as forum:
        forum.enable_discourse_connect(bridge_url + "/sso/discourse", FORUM_SECRET)
        data = {
            "bridge": {"public_url": bridge_url, "secret_key": "browser-test-secret-key-0123456789abcdef",
                       "database_url": f"sqlite:///{tmp}/bridge.db", "state_dir": str(tmp / "state"),
                       "log_format": "console"},
            "wikimedia": {"oauth_base_url": wm.url, "client_id": wm.client_id, "client_secret": wm.client_secret,
                          "timeout_seconds": 10},
            "discourse": {"url": forum.url, "api_key": FORUM_API_KEY, "api_username": "system",
                          "connect_secret": FORUM_SECRET, "webhook_secret": "browser-forum-webhook-secret"},
            "wordpress": {"sites": [{"name": "blog", "url": wp["url"], "username": wp["admin_user"],
                                     "password": wp["app_password"], "webhook_secret": "browser-wp-webhook-secret",
                                     "connect_secret": WP_SECRET, "roles": {"sysop": "editor"}}]},
        }
        settings = config.parse(data, "<browser test>")
        engine = store.make_engine(settings.bridge.database_url)
        store.upgrade(engine)
        holder.app = create_app(settings, engine)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        admin = WpAdmin(stack)
        try:
            with sso_override({"SPACE_BRIDGE_SSO_URL": bridge_url + "/sso/wordpress/blog",
                               "SPACE_BRIDGE_SSO_SECRET": WP_SECRET,
                               "SPACE_BRIDGE_LOGOUT_URL": bridge_url + "/logout"}):
                yield types.SimpleNamespace(bridge_url=bridge_url, wm=wm, forum=forum, wp_url=wp["url"],
                                            settings=settings, engine=engine, wp_admin=admin)
        finally:
            server.shutdown()
            server.server_close()
            engine.dispose()
