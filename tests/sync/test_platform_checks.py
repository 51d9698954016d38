"""`space-bridge doctor` against real platforms: the Discourse contract double (a process of its own),
and, marked `stack`, the local stack's real WordPress, MediaWiki and ngircd with an aiosmtpd mail
server. First everything passes; then each fault of the issue's acceptance list is made and the
check that names it fails with its hint, and the command exits 1."""

from __future__ import annotations

import http.server
import json
import os
import re
import secrets
import socket
import sys
import threading
import time
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from werkzeug.serving import WSGIRequestHandler

from bridge import doctor
from bridge.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for `doubles`
from doubles.discourse import DiscourseDouble  # noqa: E402
from doubles.webhook_receiver import WebhookReceiver  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/sync, for `mirror_harness`
from mirror_harness import BridgeServer, write_wp_constants  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CONNECT_SECRET = "doctor-connect-secret-0123456789abcdefghij"
HOOK_SECRET = "doctor-web-hook-secret-0123456789abcdefghij"
WP_HOOK_SECRET = "doctor-wp-hook-secret-0123456789abcdefghij"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def doctor_cli(path, *args):
    result = CliRunner().invoke(main, ["--config", str(path), "doctor", "--json", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    checks = {c["name"]: c for c in json.loads(result.output)}
    return result.exit_code, checks, result.output


def failed(checks) -> dict:
    return {name: c for name, c in checks.items() if c["status"] == "fail"}


# -- the mu-plugin's version is the bridge's -----------------------------------------------------------
def test_the_mu_plugin_version_is_the_bridge_version():
    """The doctor expects the bridge's own version of the mu-plugin (sync/checks.py bridge_version):
    both are released together, so the PHP constant and the package version must move together."""
    php = (REPO / "deploy" / "wordpress" / "space-bridge.php").read_text()
    [version] = re.findall(r"^const VERSION = '([^']+)';", php, flags=re.M)
    assert version == metadata.version("space-bridge")


# -- clock skew, with the clock injected ---------------------------------------------------------------
@pytest.fixture(scope="module")
def dated_server():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)  # BaseHTTPRequestHandler sends the real Date header
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


@pytest.mark.parametrize("skew, status", [(0, "ok"), (-120, "warn"), (3600, "fail"), (-3600, "fail")])
def test_clock_skew_against_the_date_header(dated_server, monkeypatch, skew, status):
    monkeypatch.setattr(doctor, "clock", lambda: time.time() + skew)
    check = doctor.clock_check("x.clock", dated_server)
    assert check.status == status, check
    if status != "ok":
        assert ("behind" if skew > 0 else "ahead of") in check.detail and "NTP" in check.hint


def test_clock_of_a_platform_that_does_not_answer_is_not_judged():
    check = doctor.clock_check("x.clock", f"http://127.0.0.1:{free_port()}/")
    assert check.status == "warn" and "not checked" in check.detail


# -- configuration -------------------------------------------------------------------------------------
def write_config(tmp_path, *, bridge_url="http://127.0.0.1:8090", forum=None, wp=None, mw=None, irc_port=None,
                 irc_host="127.0.0.1", smtp_port=None, transport="rest", bot_password=None,
                 wp_connect_secret=None, wp_hook_secret=WP_HOOK_SECRET) -> Path:
    data: dict = {"bridge": {"public_url": bridge_url, "secret_key": "doctor-test-secret-key-0123456789abcdef",
                             "database_url": f"sqlite:///{tmp_path}/bridge.db", "state_dir": str(tmp_path / "state"),
                             "log_format": "console", "log_level": "warning"}}
    if forum is not None:
        data["discourse"] = {"url": forum.url, "api_key": forum.api_key, "api_username": "system",
                             "connect_secret": CONNECT_SECRET, "webhook_secret": HOOK_SECRET,
                             "requests_per_minute": 60000,
                             "categories": [{"slug": "blog", "name": "Blog"}]}
        data["sso"] = {"unicode_usernames": False}
    if wp is not None:
        data["wordpress"] = {"sites": [{
            "name": "news", "url": wp["url"], "transport": transport, "username": wp["admin_user"],
            "password": wp["app_password"] if transport == "rest" else wp["admin_password"],
            "webhook_secret": wp_hook_secret,
            **({"connect_secret": wp_connect_secret} if wp_connect_secret else {})}]}
        if wp_connect_secret:  # blogs log members in: the login feature is on
            data["wikimedia"] = {"client_id": "doctor-test-client", "client_secret": "doctor-oauth-Zq8vN3xW5tR1yK7m-0123456789abcdef"}
    if mw is not None:
        data["mediawiki"] = {"api_url": mw["api_url"], "username": mw["bot_user"],
                             "password": bot_password or mw["bot_password"]}
    targets = []
    if irc_port is not None:
        targets.append({"name": "irc", "kind": "irc", "options": {
            "server": irc_host, "port": irc_port, "nick": "doctorbot", "channel": "#space-doctor"}})
    if smtp_port is not None:
        targets.append({"name": "list", "kind": "email", "options": {
            "to": "space@lists.example.org", "sender": "bridge@example.org",
            "smtp": {"host": "127.0.0.1", "port": smtp_port, "starttls": False}}})
    if targets:
        data["relay"] = {"targets": targets,
                         "rules": [{"events": ["blog.post_published"], "targets": [t["name"] for t in targets]}]}
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(data))
    assert CliRunner().invoke(main, ["--config", str(path), "db", "upgrade"]).exit_code == 0
    return path


# -- Discourse (the contract double) --------------------------------------------------------------------
@pytest.fixture
def bridge_endpoint():
    """Stands where the bridge listens: answers the forum's web hooks (200 unless told otherwise)."""
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def forum():
    with DiscourseDouble(config={"webhook_retry_unit_seconds": 0.05}) as f:
        f.set_rate_limit(100000, 60)
        yield f


@pytest.fixture
def set_up_forum(tmp_path, forum, bridge_endpoint):
    path = write_config(tmp_path, bridge_url=bridge_endpoint.url + "/bridge", forum=forum)
    setup = CliRunner().invoke(main, ["--config", str(path), "discourse", "setup"])
    assert setup.exit_code == 0, setup.output
    return path


def my_hook(forum, bridge_endpoint) -> dict:
    hooks = forum.request("GET", "/admin/api/web_hooks.json").json()["web_hooks"]
    [hook] = [h for h in hooks if h["payload_url"].startswith(bridge_endpoint.url)]
    return hook


def test_a_forum_set_up_by_discourse_setup_passes(set_up_forum):
    code, checks, output = doctor_cli(set_up_forum)
    assert code == 0, output
    for name in ("discourse.api_key", "discourse.connect", "discourse.settings", "discourse.web_hook",
                 "discourse.web_hook_deliveries", "discourse.categories", "discourse.clock"):
        assert checks[name]["status"] == "ok", checks[name]
    assert "(admin)" in checks["discourse.api_key"]["detail"]
    assert "enable_discourse_connect=true" in checks["discourse.connect"]["detail"]
    for secret in (CONNECT_SECRET, HOOK_SECRET):
        assert secret not in output


def test_a_web_hook_secret_changed_on_the_forum_fails_with_the_hint(set_up_forum, forum, bridge_endpoint):
    hook = my_hook(forum, bridge_endpoint)
    changed = forum.request("PUT", f"/admin/api/web_hooks/{hook['id']}.json",
                            data={"web_hook[secret]": "someone-else-changed-it-0123456789"})
    assert changed.status_code == 200, changed.text
    code, checks, output = doctor_cli(set_up_forum)
    assert code == 1
    assert failed(checks).keys() == {"discourse.web_hook"}
    assert "secret" in checks["discourse.web_hook"]["detail"]
    assert checks["discourse.web_hook"]["hint"].startswith("run `space-bridge discourse setup`")
    assert "someone-else-changed-it" not in output and HOOK_SECRET not in output


def test_discourse_connect_pointing_elsewhere_fails(set_up_forum, forum):
    forum.set_site_settings(discourse_connect_url="https://elsewhere.example.org/sso")
    code, checks, _ = doctor_cli(set_up_forum)
    assert code == 1 and failed(checks).keys() == {"discourse.connect"}
    assert "discourse_connect_url" in checks["discourse.connect"]["detail"]


def test_embed_settings_changed_on_the_forum_fail(set_up_forum, forum):
    forum.set_site_settings(embed_unlisted=True)
    code, checks, _ = doctor_cli(set_up_forum)
    assert code == 1 and failed(checks).keys() == {"discourse.settings"}
    assert "embed_unlisted" in checks["discourse.settings"]["detail"]


def test_failed_deliveries_of_the_web_hook_fail(set_up_forum, forum, bridge_endpoint):
    bridge_endpoint.statuses = [500] * 20
    made = forum.request("POST", "/posts.json", data={"title": "A topic that makes the forum call the bridge",
                                                      "raw": "Long enough for Discourse to take it as a post."})
    assert made.status_code == 200, made.text
    assert forum.wait_for_web_hooks(timeout=30)
    code, checks, _ = doctor_cli(set_up_forum)
    assert code == 1
    assert checks["discourse.web_hook_deliveries"]["status"] == "fail"
    assert "last delivery failed" in checks["discourse.web_hook_deliveries"]["detail"]


def test_a_forum_never_set_up_fails_with_the_setup_hint(tmp_path, forum, bridge_endpoint):
    path = write_config(tmp_path, bridge_url=bridge_endpoint.url + "/bridge", forum=forum)
    code, checks, _ = doctor_cli(path)
    assert code == 1
    assert checks["discourse.api_key"]["status"] == "ok"
    assert {"discourse.connect", "discourse.web_hook"} <= failed(checks).keys()
    assert checks["discourse.web_hook"]["hint"] == "run `space-bridge discourse setup`"


def test_a_refused_api_key_fails_with_its_hint(tmp_path, forum, bridge_endpoint):
    path = write_config(tmp_path, bridge_url=bridge_endpoint.url + "/bridge", forum=forum)
    data = yaml.safe_load(path.read_text())
    data["discourse"]["api_key"] = secrets.token_hex(32)
    path.write_text(yaml.safe_dump(data))
    code, checks, output = doctor_cli(path)
    assert code == 1 and checks["discourse.api_key"]["status"] == "fail"
    assert "admin API key" in checks["discourse.api_key"]["hint"]


# -- the local stack ------------------------------------------------------------------------------------
class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.content)
        return "250 OK"


@pytest.fixture
def mail_server():
    inbox = Inbox()
    inbox.port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    yield inbox
    controller.stop()


def dev_connect_secret() -> str:
    """The DiscourseConnect secret the stack gave the blog's mu-plugin (tests/sso/wp_helpers.py reads it so)."""
    state = Path(os.environ.get("SPACE_DEV_STATE", REPO / ".dev"))
    return (state / "secrets" / "wordpress_connect_secret").read_text().strip()


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


@pytest.fixture
def blog_hooks():
    """Serves a configuration's bridge app on a local port and points the stack's WordPress (its
    mirror mu-plugin) at it, so the doctor's test hook has a real receiver; or points WordPress at
    any URL. WordPress is pointed nowhere again afterwards."""
    from bridge import config, store
    from bridge.app import create_app

    served = []

    def serve(path) -> str:
        settings = config.load(path)
        engine = store.make_engine(settings.bridge.database_url)
        server = BridgeServer(create_app(settings, engine))
        server.server.RequestHandlerClass = QuietHandler  # no access lines amid the doctor's --json
        server.start()
        served.append((server, engine))
        return f"{server.url}/webhooks/wordpress/news"

    def point(url, secret=WP_HOOK_SECRET):
        write_wp_constants(url, secret)

    serve.point = point
    yield serve
    write_wp_constants(None, None)
    for server, engine in served:
        server.stop()
        engine.dispose()


@pytest.fixture
def everything(stack, tmp_path, forum, bridge_endpoint, mail_server, blog_hooks):
    """A configuration naming every platform of the stack, the forum set up, and the blog's web
    hook pointed at a bridge serving that configuration."""
    def make(**changes):
        values = dict(bridge_url=bridge_endpoint.url + "/bridge", forum=forum, wp=stack["wordpress"],
                      mw=stack["mediawiki"], irc_host=stack["irc"]["host"], irc_port=stack["irc"]["port"],
                      smtp_port=mail_server.port, wp_connect_secret=dev_connect_secret())
        values.update(changes)
        folder = tmp_path / f"config{len(list(tmp_path.iterdir()))}"
        folder.mkdir()
        return write_config(folder, **values)

    path = make()
    setup = CliRunner().invoke(main, ["--config", str(path), "discourse", "setup"])
    assert setup.exit_code == 0, setup.output
    make.first = path
    make.hook_url = blog_hooks(path)
    blog_hooks.point(make.hook_url)
    return make


STACK_CHECKS = ("database", "database.schema", "wordpress.news.login", "wordpress.news.mu_plugin",
                "wordpress.news.sso", "wordpress.news.meta", "wordpress.news.web_hook", "wordpress.news.clock",
                "discourse.api_key",
                "discourse.web_hook",
                "mediawiki.login", "mediawiki.edit", "mediawiki.maxlag", "mediawiki.clock", "relay.irc", "relay.list")


@pytest.mark.stack
@pytest.mark.parametrize("transport", ["rest", "xmlrpc"])
def test_everything_passes_against_the_stack(everything, stack, mail_server, transport):
    path = everything(transport=transport)
    code, checks, output = doctor_cli(path)
    assert code == 0, output
    assert not failed(checks)
    for name in STACK_CHECKS:
        assert checks[name]["status"] == "ok", checks[name]
    assert everything.hook_url in checks["wordpress.news.web_hook"]["detail"]
    assert f"version {metadata.version('space-bridge')}" in checks["wordpress.news.mu_plugin"]["detail"]
    assert mail_server.messages == []
    wp, mw = stack["wordpress"], stack["mediawiki"]
    for secret in (wp["app_password"], wp["admin_password"], mw["bot_password"], CONNECT_SECRET, HOOK_SECRET,
                   WP_HOOK_SECRET, dev_connect_secret()):
        assert secret not in output
    human = CliRunner().invoke(main, ["--config", str(path), "doctor"])
    assert human.exit_code == 0 and human.output.splitlines()[0].startswith("ok    database")


@pytest.mark.stack
def test_a_wrong_bot_password_fails_with_its_hint(everything):
    wrong = secrets.token_hex(16)
    code, checks, output = doctor_cli(everything(bot_password=wrong))
    assert code == 1 and failed(checks).keys() == {"mediawiki.login"}
    assert "Special:BotPasswords" in checks["mediawiki.login"]["hint"]
    assert wrong not in output


@pytest.mark.stack
@pytest.mark.parametrize("transport", ["rest", "xmlrpc"])
def test_a_removed_mu_plugin_fails_with_its_hint(everything, stack, transport):
    path = everything(transport=transport)
    link = Path(stack["wordpress"]["mu_plugins_dir"]) / "space-bridge.php"
    aside = link.with_name("space-bridge.php.doctor-test")
    os.rename(link, aside)
    try:
        code, checks, _ = doctor_cli(path)
    finally:
        os.rename(aside, link)
    assert code == 1
    assert checks["wordpress.news.mu_plugin"]["status"] == "fail"
    assert "wp-content/mu-plugins" in checks["wordpress.news.mu_plugin"]["hint"]
    assert checks["wordpress.news.login"]["status"] == "ok"


@pytest.mark.stack
def test_a_blog_login_secret_that_differs_fails_with_its_hint(everything):
    code, checks, output = doctor_cli(everything(wp_connect_secret="not-the-blogs-secret-0123456789abcdef"))
    assert code == 1 and failed(checks).keys() == {"wordpress.news.sso"}
    assert "SPACE_BRIDGE_SSO_SECRET" in checks["wordpress.news.sso"]["hint"]
    assert "not-the-blogs-secret" not in output


@pytest.mark.stack
def test_a_stopped_irc_server_fails_with_its_hint(everything):
    code, checks, _ = doctor_cli(everything(irc_port=free_port()))
    assert code == 1 and failed(checks).keys() == {"relay.irc"}
    assert "that the IRC server runs" in checks["relay.irc"]["hint"]


@pytest.mark.stack
def test_a_skewed_clock_fails_with_its_hint(everything, monkeypatch):
    monkeypatch.setattr(doctor, "clock", lambda: time.time() - 3600)
    code, checks, _ = doctor_cli(everything.first)
    assert code == 1
    assert {"wordpress.news.clock", "discourse.clock", "mediawiki.clock"} <= failed(checks).keys()
    assert "ahead of this host" in checks["mediawiki.clock"]["detail"]
    assert "NTP" in checks["mediawiki.clock"]["hint"]



# -- the blog's web hook reaches the bridge (the mirror mu-plugin's test hook) ----------------------------
@pytest.mark.stack
def test_a_blog_web_hook_secret_that_differs_fails_with_its_hint(everything):
    """The bridge's webhook_secret is not the blog's: the blog refuses the bridge's request."""
    other = "not-the-blogs-hook-secret-0123456789abcdef"
    code, checks, output = doctor_cli(everything(wp_hook_secret=other))
    assert code == 1 and failed(checks).keys() == {"wordpress.news.web_hook"}
    assert "SPACE_BRIDGE_MIRROR_SECRET" in checks["wordpress.news.web_hook"]["hint"]
    assert "webhook_secret" in checks["wordpress.news.web_hook"]["hint"]
    assert other not in output


@pytest.mark.stack
def test_a_blog_sending_to_a_bridge_with_another_secret_fails_with_its_hint(everything, blog_hooks, monkeypatch):
    """The blog and this configuration share a secret, but the bridge the blog's URL reaches holds
    another one for the site: the blog's request is accepted, its hook refused by that bridge."""
    from sync import wordpress_hooks

    class BridgeLog:  # the served bridge runs in this process: its log lines would mix with --json
        def __init__(self):
            self.events = []

        def __getattr__(self, level):
            return lambda event, **fields: self.events.append((level, event, fields.get("reason")))

    bridge_log = BridgeLog()
    monkeypatch.setattr(wordpress_hooks, "log", bridge_log)
    other = "a-secret-the-bridge-does-not-know-0123456789"
    blog_hooks.point(everything.hook_url, other)
    code, checks, output = doctor_cli(everything(wp_hook_secret=other))
    assert code == 1 and failed(checks).keys() == {"wordpress.news.web_hook"}
    check = checks["wordpress.news.web_hook"]
    assert "refused the blog's signature (HTTP 401)" in check["detail"] and everything.hook_url in check["detail"]
    assert "differs from wordpress.sites[news].webhook_secret" in check["hint"]
    assert other not in output
    assert bridge_log.events == [("warning", "mirror.webhook_refused", "mismatch")]


@pytest.mark.stack
def test_a_bridge_the_blog_cannot_reach_fails_with_its_hint(everything, blog_hooks):
    closed = f"http://127.0.0.1:{free_port()}/webhooks/wordpress/news"
    blog_hooks.point(closed)
    code, checks, _ = doctor_cli(everything.first)
    assert code == 1 and failed(checks).keys() == {"wordpress.news.web_hook"}
    assert checks["wordpress.news.web_hook"]["detail"].startswith(f"WordPress cannot reach {closed}: ")
    assert "SPACE_BRIDGE_MIRROR_URL" in checks["wordpress.news.web_hook"]["hint"]


@pytest.mark.stack
def test_a_url_that_is_not_a_bridge_fails_with_its_hint(everything, blog_hooks, bridge_endpoint):
    """Something answers 200 there (the forum's stand-in receiver), but knows no nonce."""
    blog_hooks.point(bridge_endpoint.url + "/not-the-bridge")
    code, checks, _ = doctor_cli(everything.first)
    assert code == 1 and failed(checks).keys() == {"wordpress.news.web_hook"}
    assert "without the test hook's nonce" in checks["wordpress.news.web_hook"]["detail"]


@pytest.mark.stack
def test_a_blog_whose_web_hook_is_not_configured_fails_with_its_hint(everything, blog_hooks):
    blog_hooks.point("", "")  # the test settings file, present, wins over any constants
    code, checks, _ = doctor_cli(everything.first)
    assert code == 1 and failed(checks).keys() == {"wordpress.news.web_hook"}
    assert "not configured" in checks["wordpress.news.web_hook"]["detail"]
    assert "SPACE_BRIDGE_MIRROR_URL" in checks["wordpress.news.web_hook"]["hint"]


@pytest.mark.stack
def test_a_blog_without_the_mirror_mu_plugin_fails_with_the_update_hint(everything, stack):
    link = Path(stack["wordpress"]["mu_plugins_dir"]) / "space-bridge-mirror.php"
    aside = link.with_name("space-bridge-mirror.php.doctor-test")
    os.rename(link, aside)
    try:
        code, checks, _ = doctor_cli(everything.first)
    finally:
        os.rename(aside, link)
    assert code == 1 and failed(checks).keys() == {"wordpress.news.web_hook"}
    assert "no route /space-bridge/v1/test-hook" in checks["wordpress.news.web_hook"]["detail"]
    assert checks["wordpress.news.web_hook"]["hint"].startswith("update the mu-plugins")
