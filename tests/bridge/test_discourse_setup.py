"""`space-bridge discourse setup` against the Discourse double (a real HTTP server): the first run
configures DiscourseConnect, the bridge's web hook and the categories; a second run writes
nothing and says so; the forum then sends its logins and web hooks to the bridge. Also the
configuration's cross-check of category slugs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import sys
import types
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import yaml
from click.testing import CliRunner

from bridge import config
from bridge.cli import main
from bridge.clients.discourse import DiscourseValidationError, SiteSetting, WebHook, WebHookEventType, WebHooks
from bridge.discourse_setup import Report, _site_settings, _web_hook, run_setup
from sync.webhooks import verify_request

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for `doubles`
from doubles.discourse import DiscourseDouble  # noqa: E402
from doubles.webhook_receiver import WebhookReceiver  # noqa: E402

CONNECT_SECRET = "setup-connect-secret-0123456789abcdefghij"
HOOK_SECRET = "setup-web-hook-secret-0123456789abcdefghij"
BODY = "A first post that is long enough for Discourse."


@pytest.fixture
def bridge_endpoint():
    """Stands where the bridge would listen (at /bridge): records the web hooks Discourse sends it."""
    with WebhookReceiver() as receiver:
        yield types.SimpleNamespace(url=receiver.url + "/bridge", receiver=receiver)


@pytest.fixture(params=["stable-2025", "main-2026"])
def forum(request):
    """Each Discourse release the double plays (main-2026 has no flag_* web hook event types)."""
    with DiscourseDouble(config={"webhook_retry_unit_seconds": 0.05}, profile=request.param) as f:
        f.set_rate_limit(100000, 60)
        yield f


def write_config(tmp_path, forum, bridge_url, **discourse) -> Path:
    data = {
        "bridge": {"public_url": bridge_url, "secret_key": "setup-test-secret-key-0123456789abcdef",
                   "database_url": f"sqlite:///{tmp_path}/bridge.db", "state_dir": str(tmp_path / "state"),
                   "log_format": "console", "log_level": "warning"},
        "discourse": {"url": forum.url, "api_key": forum.api_key, "api_username": "system",
                      "connect_secret": CONNECT_SECRET, "webhook_secret": HOOK_SECRET, "requests_per_minute": 60000,
                      "categories": [
                          {"slug": "blog", "name": "Blog", "color": "0088CC", "text_color": "FFFFFF", "language": "en"},
                          {"slug": "noticias", "name": "Noticias", "color": "652D90", "language": "es"},
                      ],
                      "preexisting_categories": ["uncategorized"], **discourse},
        "wordpress": {"sites": [{"name": "news", "url": "https://space.example.org", "username": "bridge",
                                 "password": "abcd EFGH 1234 ijkl MNOP 5678", "webhook_secret": "wp-hook-secret-0123456789abcdefghijkl",
                                 "default_category": "blog", "languages": {"es": "noticias"},
                                 "categories": {"general": "uncategorized"}}]},
    }
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


class Writes:
    """The requests the CLI sends to the forum that are not reads."""

    def __init__(self, monkeypatch):
        self.sent: list[tuple[str, str]] = []
        real = requests.Session.request

        def request(session, method, url, *a, **kw):
            path = urlsplit(url).path
            if not path.startswith("/__double__/"):
                self.sent.append((method.upper(), path))
            return real(session, method, url, *a, **kw)

        monkeypatch.setattr(requests.Session, "request", request)

    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p in self.sent if m != "GET"]


def setup_cli(path, *args) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--config", str(path), "discourse", "setup", *args])
    return result.exit_code, result.output


def lines(output: str) -> dict[str, str]:
    """'<kind> <name>' -> status, from the setup's report lines."""
    out = {}
    for line in output.splitlines():
        for kind in ("setting", "web hook", "category", "group"):
            marker = f" {kind} "
            if marker in line:
                status, rest = line.split(marker, 1)
                out[f"{kind} {rest.split(': ', 1)[0].strip()}"] = status.strip()
    return out


def configured(forum) -> dict:
    state = forum.state()
    return {"settings": state["site_settings"], "hooks": state["web_hooks"],
            "categories": {c["slug"]: c for c in state["categories"].values()}}


def test_setup_configures_the_forum_once_and_then_changes_nothing(tmp_path, forum, bridge_endpoint, monkeypatch):
    path = write_config(tmp_path, forum, bridge_endpoint.url)
    hook_url = f"{bridge_endpoint.url}/webhooks/discourse"
    connect_url = f"{bridge_endpoint.url}/sso/discourse"
    writes = Writes(monkeypatch)

    # a dry run reads and says what it would do
    code, out = setup_cli(path, "--dry-run")
    assert code == 0, out
    report = lines(out)
    assert report["setting discourse_connect_url"] == "would update"
    assert report["setting discourse_connect_secret"] == "would update"
    assert report["setting enable_discourse_connect"] == "would update"
    assert report["setting unicode_usernames"] == "would update"
    assert report[f"web hook {hook_url}"] == "would create"
    assert report["category blog"] == report["category noticias"] == "would create"
    assert report["category uncategorized"] == "exists"
    assert "3 change(s)" not in out and "7 change(s) would be made (dry run)" in out
    assert writes.writes() == []
    assert configured(forum)["hooks"] == {}

    # the first run does it
    code, out = setup_cli(path)
    assert code == 0, out
    report = lines(out)
    assert {report[k] for k in ("setting discourse_connect_url", "setting discourse_connect_secret",
                                "setting enable_discourse_connect", "setting unicode_usernames")} == {"updated"}
    assert report[f"web hook {hook_url}"] == "created"
    assert report["category blog"] == report["category noticias"] == "created"
    assert "7 change(s) made" in out
    assert CONNECT_SECRET not in out and HOOK_SECRET not in out and forum.api_key not in out
    assert len(writes.writes()) == 7
    state = configured(forum)
    assert state["settings"]["discourse_connect_url"] == connect_url
    assert state["settings"]["discourse_connect_secret"] == CONNECT_SECRET
    assert state["settings"]["enable_discourse_connect"] is True
    assert state["settings"]["unicode_usernames"] is True  # sso.unicode_usernames' default
    [hook] = state["hooks"].values()
    assert (hook["payload_url"], hook["secret"], hook["active"], hook["content_type"]) == (hook_url, HOOK_SECRET, True, 1)
    names = {e["id"]: e["name"] for e in forum.request("GET", "/admin/api/web_hooks.json").json()["extras"]["event_types"]}
    subscribed = {names[i] for i in hook["web_hook_event_type_ids"]}
    assert {"topic_created", "post_created", "post_edited", "user_created", "reviewable_created",
            "category_updated"} <= subscribed  # category: a category made private leaves the search index
    assert ("flag_created" in subscribed) == ("flag_created" in names.values())  # where the forum has it
    assert "warning" not in out
    assert not any(n.startswith(("group_", "tag_")) for n in subscribed)
    assert (state["categories"]["blog"]["name"], state["categories"]["noticias"]["color"]) == ("Blog", "652D90")

    # the second run changes nothing, and says so (the categories it made were announced to the
    # hook, category events included: let those deliveries end first, they change its last status)
    assert forum.wait_for_web_hooks(20)
    before = configured(forum)
    writes.sent.clear()
    code, out = setup_cli(path)
    assert code == 0, out
    report = lines(out)
    assert set(report.values()) == {"unchanged", "exists"}, out
    assert "nothing to change" in out
    assert writes.writes() == [] and writes.sent  # it did read
    assert configured(forum) == before
    assert forum.violations() == []

    # Discourse now sends its logins to the bridge ...
    r = requests.get(f"{forum.url}/session/sso", allow_redirects=False, timeout=10)
    assert r.status_code == 302
    location = r.headers["Location"]
    assert location.startswith(connect_url + "?")
    q = parse_qs(urlsplit(location).query)
    sso, sig = q["sso"][0], q["sig"][0]
    assert hmac.compare_digest(hmac.new(CONNECT_SECRET.encode(), sso.encode(), hashlib.sha256).hexdigest(), sig)
    payload = parse_qs(base64.b64decode(sso).decode())
    assert payload["return_sso_url"] == [f"{forum.url}/session/sso_login"] and payload["nonce"][0]

    # ... and its web hooks, signed with the shared secret
    forum.request("POST", "/posts.json", data={"title": "A topic after the setup", "raw": BODY})
    received = bridge_endpoint.receiver.wait_for(lambda got: len(got) >= 2)
    assert len(received) >= 2
    assert {r["path"] for r in received} == {"/bridge/webhooks/discourse"}
    for r in received:
        verify_request(r["headers"], r["body"], HOOK_SECRET)


def test_setup_repairs_what_changed_in_the_forum(tmp_path, forum, bridge_endpoint):
    path = write_config(tmp_path, forum, bridge_endpoint.url)
    assert setup_cli(path)[0] == 0
    [hook] = forum.state()["web_hooks"].values()
    r = forum.request("PUT", f"/admin/api/web_hooks/{hook['id']}.json",
                      data={"web_hook[active]": "false", "web_hook[secret]": "someone-else-s-secret"})
    assert r.status_code == 200, r.text
    forum.set_site_settings(discourse_connect_secret="another-connect-secret", enable_discourse_connect=False)
    code, out = setup_cli(path)
    assert code == 0, out
    report = lines(out)
    assert report["setting discourse_connect_secret"] == "updated"
    assert report["setting enable_discourse_connect"] == "updated"
    assert report["setting discourse_connect_url"] == "unchanged"
    assert report[f"web hook {bridge_endpoint.url}/webhooks/discourse"] == "updated"
    assert "inactive, secret" in out
    assert "another-connect-secret" not in out and "someone-else-s-secret" not in out and CONNECT_SECRET not in out
    [hook] = forum.state()["web_hooks"].values()
    assert (hook["active"], hook["secret"]) == (True, HOOK_SECRET)
    assert set(lines(setup_cli(path)[1]).values()) == {"unchanged", "exists"}


def test_missing_preexisting_category_is_an_error(tmp_path, forum, bridge_endpoint):
    path = write_config(tmp_path, forum, bridge_endpoint.url, preexisting_categories=["uncategorized", "staff"])
    code, out = setup_cli(path)
    assert code == 1
    assert lines(out)["category staff"] == "error"
    assert "1 problem(s)" in out


def test_wrong_api_key_is_reported_without_the_key(tmp_path, forum, bridge_endpoint):
    path = write_config(tmp_path, forum, bridge_endpoint.url, api_key="not-the-forum-s-key-0123456789abcdefghijkl")
    code, out = setup_cli(path)
    assert code == 1
    assert "The API username or key is invalid" in out and "not-the-forum-s-key" not in out


# -- what a forum may answer that the double does not -------------------------------------------------
class StubForum:
    """Stands for DiscourseClient where real Discourse differs from the double."""

    def __init__(self, settings: dict[str, SiteSetting], hooks=()):
        self.settings = settings
        self.hooks = hooks
        self.written: list[str] = []

    def site_settings(self):
        return dict(self.settings)

    def set_site_setting(self, name, value):
        self.written.append(name)

    def web_hooks(self):
        return WebHooks(tuple(self.hooks), (WebHookEventType(101, "topic_created", 1),
                                            WebHookEventType(201, "post_created", 2)))

    def update_web_hook(self, hook_id, **fields):
        self.written.append(f"web hook {hook_id}")


def stub_settings(tmp_path, forum_url="http://127.0.0.1:9"):
    class F:
        url = forum_url
        api_key = "stub-key-0123456789abcdefghijklmnopqrstuv"

    return config.load(write_config(tmp_path, F, "https://space.example.org/bridge"))


def forum_settings(**more: SiteSetting) -> dict[str, SiteSetting]:
    """A forum already set up for the bridge but for its connect secret (unless given in `more`)."""
    found = {"discourse_connect_url": SiteSetting("discourse_connect_url", "https://space.example.org/bridge/sso/discourse"),
             "enable_discourse_connect": SiteSetting("enable_discourse_connect", "true"),
             "unicode_usernames": SiteSetting("unicode_usernames", "true"),
             "allowed_unicode_username_characters": SiteSetting("allowed_unicode_username_characters", ""),
             "embed_unlisted": SiteSetting("embed_unlisted", "false")}
    return {**found, **more}


def test_hidden_setting_is_reported_not_guessed(tmp_path):
    settings = stub_settings(tmp_path)
    stub = StubForum(forum_settings())
    report = Report(dry_run=False)
    _site_settings(stub, settings, report)
    [item] = [i for i in report.items if i.name == "discourse_connect_secret"]
    assert item.status == "error" and "SiteSetting.discourse_connect_secret" in item.detail
    assert stub.written == [] and report.errors == [item]


def test_a_refused_secret_is_not_shown_in_the_report(tmp_path):
    """A forum that refuses the connect secret (a length validator, say): the report names the
    setting and Discourse's reason, never the value (`discourse setup` prints the report)."""
    class Refusing(StubForum):
        def set_site_setting(self, name, value):
            raise DiscourseValidationError("Discourse PUT /admin/site_settings: value is too short", status=422)

    settings = stub_settings(tmp_path)
    stub = Refusing(forum_settings(
        discourse_connect_secret=SiteSetting("discourse_connect_secret", "another-one", secret=True)))
    report = Report(dry_run=False)
    _site_settings(stub, settings, report)
    [item] = [i for i in report.items if i.name == "discourse_connect_secret"]
    assert item.status == "error" and "value is too short" in item.detail
    assert CONNECT_SECRET not in item.detail


def test_secret_that_cannot_be_read_back_is_said_so(tmp_path):
    settings = stub_settings(tmp_path)
    masked = SiteSetting("discourse_connect_secret", "", secret=True)
    stub = StubForum(forum_settings(discourse_connect_secret=masked))
    report = Report(dry_run=False)
    _site_settings(stub, settings, report)
    [item] = [i for i in report.items if i.name == "discourse_connect_secret"]
    assert item.status == "set (cannot be read back)"
    assert stub.written == ["discourse_connect_secret"] and report.changes == [item]

    hook = WebHook(id=4, payload_url="https://space.example.org/bridge/webhooks/discourse", content_type=1,
                   secret=None, active=True, wildcard_web_hook=False, verify_certificate=True,
                   event_type_ids=frozenset({101, 201}), event_type_names=("post_created", "topic_created"))
    report = Report(dry_run=False)
    _web_hook(StubForum({}, [hook]), settings, report)
    [item] = [i for i in report.items if i.kind == "web hook" and i.status != "warning"]
    assert item.status == "updated" and "secret (cannot be read back)" in item.detail


def test_no_discourse_section(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump({"bridge": {"public_url": "http://127.0.0.1:8090",
                                               "secret_key": "setup-test-secret-key-0123456789abcdef",
                                               "state_dir": str(tmp_path / "state")}}))
    code, out = setup_cli(path)
    assert code == 1 and "no discourse section" in out
    with pytest.raises(LookupError):
        run_setup(config.load(path), None)


# -- the configuration's cross-check ------------------------------------------------------------------
def test_every_category_slug_a_site_uses_must_be_configured(tmp_path, forum):
    path = write_config(tmp_path, forum, "http://127.0.0.1:8090", preexisting_categories=[])
    result = CliRunner().invoke(main, ["config", "check", str(path)])
    assert result.exit_code == 1
    assert (f"{path}: wordpress.sites[0].categories.general: Discourse category 'uncategorized' is in neither "
            "discourse.categories nor discourse.preexisting_categories") in result.output
    data = yaml.safe_load(path.read_text())
    data["wordpress"]["sites"][0]["default_category"] = "bolg"
    data["discourse"]["categories"].append({"slug": "noticias", "name": "Again"})
    path.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(main, ["config", "check", str(path)])
    assert "discourse.categories: category slugs must be unique; repeated: noticias" in result.output
    data["discourse"]["categories"].pop()
    data["discourse"]["webhook_secret"] = "short"
    path.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(main, ["config", "check", str(path)])
    assert "discourse.webhook_secret: must be at least 12 characters" in result.output
    data["discourse"]["webhook_secret"] = HOOK_SECRET
    path.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(main, ["config", "check", str(path)])
    assert "wordpress.sites[0].default_category: Discourse category 'bolg'" in result.output
    assert "wordpress.sites[0].categories.general: Discourse category 'uncategorized'" in result.output
    assert "2 problem(s) found" in result.output


def test_setup_creates_the_groups_logins_put_members_in(tmp_path, forum, bridge_endpoint, monkeypatch):
    path = write_config(tmp_path, forum, bridge_endpoint.url)
    data = yaml.safe_load(path.read_text())
    data["sso"] = {"discourse_groups": {"sysop": "wiki-admins", "steward": "wiki-admins", "bureaucrat": "crats"}}
    path.write_text(yaml.safe_dump(data))
    writes = Writes(monkeypatch)

    code, out = setup_cli(path, "--dry-run")
    assert code == 0, out
    assert lines(out)["group wiki-admins"] == lines(out)["group crats"] == "would create"
    assert writes.writes() == []

    code, out = setup_cli(path)
    assert code == 0, out
    assert lines(out)["group wiki-admins"] == lines(out)["group crats"] == "created"
    assert sorted(g["name"] for g in forum.state()["groups"].values()) == ["crats", "wiki-admins"]
    assert writes.writes().count(("POST", "/admin/groups.json")) == 2  # one per group, not per wiki group

    writes.sent.clear()
    code, out = setup_cli(path)
    assert code == 0, out
    assert lines(out)["group wiki-admins"] == "unchanged" and "nothing to change" in out
    assert writes.writes() == []
    assert forum.violations() == []

    # a member of a mapped wiki group now lands in the forum group at login (sync_sso add_groups)
    from bridge.clients.discourse import DiscourseClient
    with DiscourseClient(forum.url, forum.api_key, "system", connect_secret=CONNECT_SECRET) as client:
        user = client.sync_sso("wiki-user-1", "one@example.org", username="WikiOne", add_groups="wiki-admins")
    members = [g for g in forum.state()["groups"].values() if g["name"] == "wiki-admins"][0]["user_ids"]
    assert user.id in members


def test_setup_refuses_a_group_discourse_refuses(tmp_path, forum, bridge_endpoint):
    path = write_config(tmp_path, forum, bridge_endpoint.url)
    data = yaml.safe_load(path.read_text())
    data["sso"] = {"discourse_groups": {"sysop": "moderators"}}  # Discourse's own (automatic) group
    path.write_text(yaml.safe_dump(data))
    code, out = setup_cli(path)
    assert code != 0
    assert lines(out)["group moderators"] == "error", out
    assert "moderators" not in [g["name"] for g in forum.state()["groups"].values()]


# -- unicode_usernames follows sso.unicode_usernames -------------------------------------------------
def with_sso(path: Path, **sso) -> Path:
    data = yaml.safe_load(path.read_text())
    data["sso"] = sso
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def test_setup_sets_unicode_usernames_as_configured(tmp_path, forum, bridge_endpoint):
    path = write_config(tmp_path, forum, bridge_endpoint.url)
    assert lines(setup_cli(path)[1])["setting unicode_usernames"] == "updated"
    assert forum.state()["site_settings"]["unicode_usernames"] is True
    # the operator keeps the forum ASCII: setup turns it back off, and then leaves it
    with_sso(path, unicode_usernames=False)
    code, out = setup_cli(path)
    assert code == 0 and lines(out)["setting unicode_usernames"] == "updated" and "true -> false" in out
    assert forum.state()["site_settings"]["unicode_usernames"] is False
    assert lines(setup_cli(path)[1])["setting unicode_usernames"] == "unchanged"


def test_a_forum_that_refuses_unicode_usernames_is_an_error(tmp_path, forum, bridge_endpoint):
    # lib/validators/unicode_username_validator.rb: not with the internal letter avatars
    forum.set_site_settings(external_system_avatars_url="")
    code, out = setup_cli(write_config(tmp_path, forum, bridge_endpoint.url))
    assert code == 1
    assert lines(out)["setting unicode_usernames"] == "error"
    assert "do not support Unicode usernames" in out
    assert forum.state()["site_settings"].get("unicode_usernames") in (None, False)
    assert lines(out)["setting enable_discourse_connect"] == "updated"  # the rest is still done


def test_setup_clears_an_allowlist_the_forum_locale_filled_in(tmp_path, forum, bridge_endpoint):
    """A forum installed in German has allowed_unicode_username_characters "[äöüßÄÖÜẞ]"
    (config/site_settings.yml locale_default); the bridge's names are made for the configured one."""
    forum.set_site_settings(allowed_unicode_username_characters="[äöüßÄÖÜẞ]")
    path = write_config(tmp_path, forum, bridge_endpoint.url)
    code, out = setup_cli(path)
    assert code == 0, out
    assert lines(out)["setting allowed_unicode_username_characters"] == "updated"
    assert forum.state()["site_settings"]["allowed_unicode_username_characters"] == ""
    with_sso(path, allowed_unicode_username_characters=r"[\p{Han}\p{Hiragana}]")
    assert lines(setup_cli(path)[1])["setting allowed_unicode_username_characters"] == "updated"
    assert forum.state()["site_settings"]["allowed_unicode_username_characters"] == r"[\p{Han}\p{Hiragana}]"
    assert lines(setup_cli(path)[1])["setting allowed_unicode_username_characters"] == "unchanged"
