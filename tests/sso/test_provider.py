"""The bridge as DiscourseConnect provider, over real HTTP: the Discourse double starts the login,
the bridge (a werkzeug server in a thread) answers it after a login on the Wikimedia double.

Each test runs on SQLite and on PostgreSQL (the `engine` fixture).
"""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for `doubles`

from doubles.discourse import DiscourseDouble  # noqa: E402

from bridge import config  # noqa: E402
from bridge.app import create_app  # noqa: E402
from bridge.outbox import Job, Outbox  # noqa: E402
from bridge.store import accounts as accounts_table  # noqa: E402
from bridge.store import outbox_jobs, sso_nonces  # noqa: E402
from sso import accounts, discourse_connect, provider, usernames  # noqa: E402
from sso.consumers import discourse as forum_consumer  # noqa: E402
from tests.sso.conftest import PROFILES, settings_data  # noqa: E402

SECRET = "connect-secret-123"  # conftest.settings_data's discourse.connect_secret
WP_SECRET = "wp-connect-secret-456"


FORUM_PROFILES = PROFILES  # every Discourse release the double plays


@pytest.fixture(scope="module")
def forum_process(forum_profile):
    with DiscourseDouble(profile=forum_profile) as double:
        yield double


@pytest.fixture
def forum(forum_process, bridge_server):
    forum_process.reset()
    forum_process.enable_discourse_connect(bridge_server.url + "/sso/discourse", SECRET)
    forum_process.set_site_settings(unicode_usernames=True)  # as `discourse setup` leaves it
    for name in ("wiki-admins", "wiki-bureaucrats"):
        r = forum_process.request("POST", "/admin/groups.json", json={"group": {"name": name}})
        assert r.status_code == 200, r.text
    return forum_process


class ProviderBridge:
    def __init__(self, server, wm, engine, forum):
        self.server, self.wm, self.engine, self.forum = server, wm, engine, forum
        self.forum_url = forum.url
        self.url = server.url

    def configure(self, *, sso: dict | None = None, policy: dict | None = None, wordpress: bool = False):
        data = settings_data(self.url, self.wm, discourse_url=self.forum_url, policy=policy)
        data["discourse"]["api_key"] = self.forum.api_key
        data["sso"] = {"discourse_groups": {"sysop": "wiki-admins", "bureaucrat": "wiki-bureaucrats"},
                       "discourse_admins": {"groups": ["bureaucrat"]},
                       "discourse_moderators": {"users": ["Ziko van Dijk"]}, **(sso or {})}
        if wordpress:
            data["wordpress"] = {"sites": [{"name": "blog", "url": "http://127.0.0.1:8081", "username": "bridge",
                                            "password": "pw", "webhook_secret": "wp-webhook-secret",
                                            "connect_secret": WP_SECRET, "roles": {"sysop": "editor"}}]}
        self.settings = config.parse(data, "<test>")
        self.app = create_app(self.settings, self.engine)
        self.server.target.app = self.app
        return self


@pytest.fixture
def bridge(bridge_server, wm, engine, forum):
    b = ProviderBridge(bridge_server, wm, engine, forum).configure()
    yield b
    bridge_server.target.app = None


# -- helpers ----------------------------------------------------------------------------------------
def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()


def start_at_forum(browser, forum, return_path="/"):
    return browser.get(forum.url + "/session/sso", params={"return_path": return_path}, timeout=30)


def forum_login(browser, forum, wm, username):
    resp = start_at_forum(browser, forum)
    return wm.complete_login(browser, resp, username)


def current_user(browser, forum):
    r = browser.get(forum.url + "/session/current.json", headers={"Accept": "application/json"}, timeout=30)
    return r.json()["current_user"] if r.status_code == 200 else None


def signed_request(bridge, nonce="n0nce-123", return_sso_url=None, secret=SECRET, path="/sso/discourse", **extra):
    fields = {"nonce": nonce, "return_sso_url": return_sso_url or bridge.forum_url + "/session/sso_login", **extra}
    sso, sig = discourse_connect.build_payload(fields, secret)
    return f"{bridge.url}{path}?" + urlencode({"sso": sso, "sig": sig})


def assert_refusal(resp, reason, status=400):
    assert resp.status_code == status, resp.text[:300]
    assert f'data-reason="{reason}"' in resp.text
    assert "Traceback" not in resp.text


def redirect_chain(resp):
    return [r.headers.get("Location", "") for r in resp.history]


# -- the happy path ---------------------------------------------------------------------------------
def test_round_trip_logs_the_member_in_on_the_forum(bridge, forum, wm, browser):
    resp = start_at_forum(browser, forum)
    # the forum sent the browser to the bridge, which sent it to the Wikimedia login
    assert any(loc.startswith(bridge.url + "/sso/discourse?sso=") for loc in redirect_chain(resp))
    assert wm.is_login_page(resp)
    resp = wm.complete_login(browser, resp, "Sysop Sam")
    assert resp.status_code == 200 and resp.url == forum.url + "/", resp.url
    me = current_user(browser, forum)
    assert me is not None
    assert me["username"] == "Sysop_Sam" and me["name"] == "Sam Admin" and me["email"] == "sam@example.org"
    assert me["admin"] is True  # bureaucrat -> discourse_admins.groups
    assert me["moderator"] is False
    assert {g["name"] for g in me["groups"]} >= {"wiki-admins", "wiki-bureaucrats"}
    account = accounts.get(bridge.engine, "1005")
    assert account.platforms == ("discourse",)
    assert usernames.stored(bridge.engine, "1005") == "Sysop_Sam"
    assert count(bridge.engine, sso_nonces) == 1


def test_the_answer_is_what_discourse_connect_base_parses(bridge, forum, wm, browser):
    """Stop at the bridge's answer and read it with the double's own parser."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "deploy" / "dev"))
    from discourse_double import connect as double_connect

    forum_login(browser, forum, wm, "Ziko van Dijk")  # logged in at the bridge now
    resp = browser.get(signed_request(bridge), allow_redirects=False, timeout=30)
    assert resp.status_code == 302
    location = resp.headers["Location"]
    assert location.startswith(bridge.forum_url + "/session/sso_login?sso=")
    q = parse_qs(urlsplit(location).query)
    fields = double_connect.parse(q["sso"][0], q["sig"][0], SECRET)
    assert fields["nonce"] == "n0nce-123" and fields["external_id"] == "1006"
    assert fields["username"] == "Ziko_van_Dijk" and fields["name"] == "Ziko van Dijk"
    assert fields["moderator"] is True and fields["admin"] is False  # discourse_moderators.users
    assert fields["add_groups"] is None and fields["remove_groups"] == "wiki-admins,wiki-bureaucrats"
    assert fields["require_activation"] is None
    assert resp.headers["Cache-Control"] == "no-store"


def test_cyrillic_username_is_kept_in_its_script(bridge, forum, wm, browser):
    resp = forum_login(browser, forum, wm, "Женя")
    assert resp.url == forum.url + "/"
    assert current_user(browser, forum)["username"] == "Женя"
    wm.set_user("Женя", username="Евгения")  # renamed on the wiki: the forum name stays
    browser.cookies.clear()
    forum_login(browser, forum, wm, "Евгения")
    assert current_user(browser, forum)["username"] == "Женя"


def test_unconfirmed_email_asks_the_forum_to_activate(bridge, forum, wm, browser):
    bridge.configure(policy={"require_confirmed_email": False})
    resp = forum_login(browser, forum, wm, "Unconfirmed Uma")
    assert resp.url == forum.url + "/u/account-created"  # Discourse keeps the account inactive
    assert current_user(browser, forum) is None


def test_silent_login_attempt_is_answered_failed(bridge, forum, wm, browser):
    resp = browser.get(signed_request(bridge, prompt="none"), allow_redirects=False, timeout=30)
    q = parse_qs(urlsplit(resp.headers["Location"]).query)
    assert discourse_connect.read_payload(q["sso"][0])["failed"] is True
    assert count(bridge.engine, accounts_table) == 0


def test_wordpress_site_gets_its_own_signed_answer(bridge, forum, wm, browser):
    bridge.configure(wordpress=True)
    forum_login(browser, forum, wm, "Sysop Sam")
    url = signed_request(bridge, return_sso_url="http://127.0.0.1:8081/wp-login.php?action=space-bridge-sso",
                         secret=WP_SECRET, path="/sso/wordpress/blog")
    resp = browser.get(url, allow_redirects=False, timeout=30)
    assert resp.status_code == 302
    location = resp.headers["Location"]
    assert location.startswith("http://127.0.0.1:8081/wp-login.php?action=space-bridge-sso&sso=")
    q = parse_qs(urlsplit(location).query)
    assert discourse_connect.verify(q["sso"][0], q["sig"][0], WP_SECRET)
    fields = discourse_connect.read_payload(q["sso"][0])
    assert fields["custom.role"] == "editor" and "sysop" in fields["groups"].split(",")
    assert fields["username"] == "Sysop_Sam"
    assert set(accounts.get(bridge.engine, "1005").platforms) == {"discourse", "wordpress:blog"}
    # the forum's secret does not open the blog's door, nor the blog's host the forum's
    assert_refusal(browser.get(signed_request(bridge, path="/sso/wordpress/blog",
                                              return_sso_url="http://127.0.0.1:8081/x"), timeout=30), "sso_invalid")
    assert browser.get(bridge.url + "/sso/wordpress/nope?sso=x&sig=y", timeout=30).status_code == 404


def test_the_blog_gets_the_forum_name_in_latin_letters(bridge, forum, wm, browser):
    """WordPress keeps user_login ASCII (sanitize_user, strict): it would make "Женя" an empty name."""
    bridge.configure(wordpress=True)
    forum_login(browser, forum, wm, "Женя")
    assert current_user(browser, forum)["username"] == "Женя"
    url = signed_request(bridge, return_sso_url="http://127.0.0.1:8081/wp-login.php?action=space-bridge-sso",
                         secret=WP_SECRET, path="/sso/wordpress/blog")
    location = browser.get(url, allow_redirects=False, timeout=30).headers["Location"]
    fields = discourse_connect.read_payload(parse_qs(urlsplit(location).query)["sso"][0])
    assert fields["username"] == "Zhenya"
    assert fields["name"] == fields["custom.wiki_username"] == "Женя"


# -- refusals: a clear page, nothing created ----------------------------------------------------------
def test_forged_signature_is_refused(bridge, forum, wm, browser):
    url = signed_request(bridge)
    forged = url[:-1] + ("0" if url[-1] != "0" else "1")
    resp = browser.get(forged, timeout=30)
    assert_refusal(resp, "sso_invalid")
    assert "could not be verified" in resp.text
    assert count(bridge.engine, accounts_table) == 0 and count(bridge.engine, sso_nonces) == 0


def test_return_url_on_another_host_is_refused(bridge, forum, wm, browser):
    forum_login(browser, forum, wm, "Alice Member")
    before = count(bridge.engine, sso_nonces)
    for other in ("https://evil.example/session/sso_login", "http://127.0.0.1:1/session/sso_login",
                  "javascript:alert(1)", "//evil.example/x", "http://user@" + urlsplit(bridge.forum_url).netloc + "/x"):
        resp = browser.get(signed_request(bridge, return_sso_url=other), allow_redirects=False, timeout=30)
        assert_refusal(resp, "sso_return_url")
    assert count(bridge.engine, sso_nonces) == before


def test_replayed_request_is_refused_after_a_completed_login(bridge, forum, wm, browser):
    forum_login(browser, forum, wm, "Alice Member")
    url = signed_request(bridge, nonce="once-only")
    assert browser.get(url, allow_redirects=False, timeout=30).status_code == 302
    resp = browser.get(url, allow_redirects=False, timeout=30)
    assert_refusal(resp, "sso_replayed")
    assert "already used" in resp.text


def test_forum_refuses_an_expired_nonce(bridge, forum, wm, browser):
    resp = start_at_forum(browser, forum)
    forum.expire_nonces()
    resp = wm.complete_login(browser, resp, "Alice Member")
    assert resp.status_code == 419  # Discourse: timeout_expired
    assert current_user(browser, forum) is None


def test_provider_refuses_a_request_older_than_its_limit(bridge, forum, wm, browser, monkeypatch):
    bridge.configure(sso={"nonce_max_age_seconds": 30})
    resp = start_at_forum(browser, forum)
    assert wm.is_login_page(resp)
    real_now = provider._now
    monkeypatch.setattr(provider, "_now", lambda: real_now() + 31)
    resp = wm.complete_login(browser, resp, "Alice Member")
    assert_refusal(resp, "sso_expired")
    assert count(bridge.engine, sso_nonces) == 0
    assert current_user(browser, forum) is None


def test_blocked_member_is_refused_and_nothing_is_created(bridge, forum, wm, browser):
    resp = forum_login(browser, forum, wm, "Blocked Bob")
    assert resp.status_code == 403 and 'data-reason="blocked"' in resp.text
    assert count(bridge.engine, accounts_table) == 0 and count(bridge.engine, sso_nonces) == 0
    assert forum.request("GET", "/u/by-external/1002.json").status_code == 404


def test_member_marked_blocked_later_gets_no_answer(bridge, forum, wm, browser):
    forum_login(browser, forum, wm, "Alice Member")
    with bridge.engine.begin() as conn:
        conn.execute(sa.update(accounts_table).where(accounts_table.c.sub == "1001").values(blocked=True))
    wm.block("Alice Member")
    resp = browser.get(signed_request(bridge, nonce="after-block"), timeout=30)
    resp = wm.complete_login(browser, resp, "Alice Member")
    assert resp.status_code == 403 and 'data-reason="blocked"' in resp.text
    assert count(bridge.engine, sso_nonces) == 1  # only the first login's


# -- later changes reach the forum ----------------------------------------------------------------
def test_changed_groups_queue_a_sync_that_reaches_the_forum(bridge, forum, wm, browser):
    forum_login(browser, forum, wm, "Alice Member")
    assert current_user(browser, forum)["admin"] is False
    wm.set_user("Alice Member", groups=["*", "user", "autoconfirmed", "bureaucrat"])
    # a login elsewhere (here: /login straight at the bridge) shows the change
    browser.cookies.clear()
    resp = wm.complete_login(browser, browser.get(bridge.url + "/login?next=/whoami", timeout=30), "Alice Member")
    assert resp.json()["account"]["groups"][-1] == "bureaucrat"
    outbox = Outbox(bridge.engine)
    jobs = outbox.list(kind=forum_consumer.SYNC_DISCOURSE)
    assert len(jobs) == 1 and jobs[0].payload == {"sub": "1001"}
    # the same login again queues nothing new (same key)
    browser.cookies.clear()
    wm.complete_login(browser, browser.get(bridge.url + "/login?next=/whoami", timeout=30), "Alice Member")
    assert len(outbox.list(kind=forum_consumer.SYNC_DISCOURSE)) == 1

    from bridge import jobs as bridge_jobs

    handler = bridge_jobs.handlers(bridge.settings, bridge.engine)[forum_consumer.SYNC_DISCOURSE]
    handler(jobs[0])
    user = forum.request("GET", "/u/by-external/1001.json").json()["user"]
    assert user["admin"] is True and user["username"] == "Alice_Member"
    # done: running it again changes nothing and calls nobody
    handler(jobs[0])


def test_a_sync_with_a_tilde_reaches_every_release(bridge, forum, wm, browser):
    """A `~` in a field put a `+` in the Base64 of the payload when the bridge encoded it like
    Python's urlencode; releases before Discourse PR #42024 read it as a space and answered 422
    (stable-2025 profile). Encoded like Rack, no payload has one."""
    forum_login(browser, forum, wm, "Alice Member")
    wm.set_user("Alice Member", realname="Alice ~~~ Member", groups=["*", "user", "bureaucrat"])
    browser.cookies.clear()
    wm.complete_login(browser, browser.get(bridge.url + "/login?next=/whoami", timeout=30), "Alice Member")
    [job] = Outbox(bridge.engine).list(kind=forum_consumer.SYNC_DISCOURSE)
    from bridge import jobs as bridge_jobs

    bridge_jobs.handlers(bridge.settings, bridge.engine)[forum_consumer.SYNC_DISCOURSE](job)
    assert forum.request("GET", "/u/by-external/1001.json").json()["user"]["admin"] is True


def test_an_address_another_forum_account_has_is_a_note_on_the_member(bridge, forum, wm, browser):
    """With require_activation (an unconfirmed address) Discourse does not link the member to the
    account that has the address, and the new account is invalid (app/models/discourse_connect.rb
    match_email_or_create_user): the login shows the forum's error, the later sync gets 403. The
    sync job ends with a note saying so, not as a dead job."""
    from bridge.clients.discourse import DiscourseClient

    bridge.configure(policy={"require_confirmed_email": False})  # the forum is to confirm it
    with DiscourseClient(forum.url, forum.api_key, connect_secret=SECRET, requests_per_minute=100000) as client:
        client.sync_sso("local-9", "shared@example.org", username="Earlier_Owner")
    wm.set_user("Alice Member", email="shared@example.org", confirmed_email=False)
    forum_login(browser, forum, wm, "Alice Member")
    assert current_user(browser, forum) is None
    wm.set_user("Alice Member", realname="Alice Renamed")
    browser.cookies.clear()
    wm.complete_login(browser, browser.get(bridge.url + "/login?next=/whoami", timeout=30), "Alice Member")
    outbox = Outbox(bridge.engine)
    [job] = outbox.list(kind=forum_consumer.SYNC_DISCOURSE)
    from bridge import jobs as bridge_jobs

    bridge_jobs.handlers(bridge.settings, bridge.engine)[forum_consumer.SYNC_DISCOURSE](job)
    [note] = outbox.get(job.id).payload["notes"]
    assert "member 1001" in note and "e-mail address" in note and "require_activation" in note
    assert forum.request("GET", "/u/by-external/1001.json").status_code == 404


def test_the_bridge_learns_the_name_the_forum_gave(bridge, forum, wm, browser):
    """A forum whose reserved_usernames holds the name the bridge proposes gives the member
    another (app/models/user.rb reserved_username?, lib/user_name_suggester.rb: Alice_Member1);
    the next sync's answer says so, and the bridge keeps the forum's name from then on."""
    reserved = forum.request("GET", "/admin/site_settings.json").json()["site_settings"]
    current = next(s["value"] for s in reserved if s["setting"] == "reserved_usernames")
    forum.set_site_settings(reserved_usernames=current + "|alice_member")
    forum_login(browser, forum, wm, "Alice Member")
    given = current_user(browser, forum)["username"]
    assert given.lower() != "alice_member" and usernames.stored(bridge.engine, "1001") == "Alice_Member"
    wm.set_user("Alice Member", realname="Alice Renamed")
    browser.cookies.clear()
    wm.complete_login(browser, browser.get(bridge.url + "/login?next=/whoami", timeout=30), "Alice Member")
    [job] = Outbox(bridge.engine).list(kind=forum_consumer.SYNC_DISCOURSE)
    from bridge import jobs as bridge_jobs

    bridge_jobs.handlers(bridge.settings, bridge.engine)[forum_consumer.SYNC_DISCOURSE](job)
    assert usernames.stored(bridge.engine, "1001") == given


def test_sync_handler_turns_forum_errors_into_outbox_failures(bridge, forum, wm, browser):
    from bridge.clients.discourse import DiscourseUnavailable, DiscourseValidationError
    from bridge.outbox import PermanentFailure

    forum_login(browser, forum, wm, "Alice Member")
    usernames.set_fields_hash(bridge.engine, "1001", "stale")

    class Failing:
        def __init__(self, exc):
            self.exc = exc

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

        def sync_sso(self, *a, **k):
            raise self.exc

    job = Job(id=1, kind=forum_consumer.SYNC_DISCOURSE, key="k", payload={"sub": "1001"}, state="running", attempts=1,
              run_after=None, created_at=None)
    h = forum_consumer.sync_discourse_handler(bridge.settings, bridge.engine,
                                        lambda: Failing(DiscourseValidationError("Username is invalid", status=422)))
    with pytest.raises(PermanentFailure):
        h(job)
    h = forum_consumer.sync_discourse_handler(bridge.settings, bridge.engine,
                                        lambda: Failing(DiscourseUnavailable("502", status=502)))
    with pytest.raises(DiscourseUnavailable):
        h(job)
    assert usernames.fields_hash(bridge.engine, "1001") == "stale"


def test_no_sync_for_members_who_never_used_the_forum(bridge, forum, wm, browser):
    wm.complete_login(browser, browser.get(bridge.url + "/login?next=/whoami", timeout=30), "Alice Member")
    wm.set_user("Alice Member", realname="Alice Renamed")
    browser.cookies.clear()
    wm.complete_login(browser, browser.get(bridge.url + "/login?next=/whoami", timeout=30), "Alice Member")
    assert count(bridge.engine, outbox_jobs) == 0
