"""The periodic re-check of accounts (sso/recheck.py): against a scripted wiki, the Discourse double,
and the real MediaWiki of the local stack (a user blocked there through the API)."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import sys
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for `doubles`

from doubles.discourse import DiscourseDouble  # noqa: E402

from bridge import config  # noqa: E402
from bridge import jobs as bridge_jobs  # noqa: E402
from bridge.clients.discourse import DiscourseClient  # noqa: E402
from bridge.clients.mediawiki import MediaWikiClient  # noqa: E402
from bridge.outbox import Job, Outbox, PermanentFailure  # noqa: E402
from sso import accounts, recheck  # noqa: E402
from sso.consumers.discourse import SUSPEND_DISCOURSE, SUSPEND_REASON, suspend_discourse_handler  # noqa: E402
from sso.consumers.wordpress import DEMOTE_WORDPRESS  # noqa: E402

CONNECT_SECRET = "connect-secret-123"
PROFILES = ("stable-2025", "main-2026")  # the Discourse releases the double plays (tests/sso/conftest.py)


def settings_for(*, discourse_url="http://forum.test", api_key="k", mediawiki: dict | None = None, hours=24):
    data = {
        "bridge": {"public_url": "http://bridge.test", "secret_key": "test-secret-key-0123456789abcdef0123",
                   "log_format": "console"},
        "wikimedia": {"oauth_base_url": "http://wm.test", "client_id": "c", "client_secret": "s"},
        "discourse": {"url": discourse_url, "api_key": api_key, "connect_secret": CONNECT_SECRET,
                      "webhook_secret": "webhook-secret-123", "requests_per_minute": 100000},
        "wordpress": {"sites": [{"name": "blog", "url": "http://blog.test", "username": "u", "password": "p",
                                 "webhook_secret": "w", "connect_secret": "wp-connect-secret"}]},
        "sso": {"recheck_interval_hours": hours, "suspend_days": 30},
    }
    if mediawiki:
        data["mediawiki"] = mediawiki
    return config.parse(data, "<test>")


def add_account(engine, sub, username, platforms=()):
    accounts.upsert_from_profile(engine, {"sub": sub, "username": username, "email": f"{sub}@example.org",
                                          "confirmed_email": True, "blocked": False, "groups": ["*", "user"]})
    for p in platforms:
        accounts.mark_platform(engine, sub, p)


class ScriptedWiki:
    def __init__(self, statuses):
        self.statuses = statuses
        self.asked = []

    def user_status(self, username):
        self.asked.append(username)
        status = self.statuses.get(username, {})
        if isinstance(status, Exception):
            raise status
        return {"missing": False, "blocked": False, "locked": None, **status}


def queued(engine):
    return sorted((j.kind, tuple(sorted(j.payload.items()))) for j in Outbox(engine).list())


def test_locked_and_blocked_members_are_marked_and_queued(engine):
    settings = settings_for()
    add_account(engine, "1", "Locked Lou", ["discourse", "wordpress:blog"])
    add_account(engine, "2", "Blocked Bea", ["discourse"])
    add_account(engine, "3", "Fine Fay", ["discourse"])
    add_account(engine, "4", "Unreachable Uli", ["discourse"])
    add_account(engine, "5", "Blog Only Bo", ["wordpress:blog"])
    wiki = ScriptedWiki({"Locked Lou": {"locked": True}, "Blocked Bea": {"blocked": True},
                         "Unreachable Uli": RuntimeError("timed out"), "Blog Only Bo": {"blocked": True}})
    kinds = {SUSPEND_DISCOURSE, DEMOTE_WORDPRESS}
    counts = recheck.recheck(settings, engine, Outbox(engine), wiki, job_kinds=kinds)
    assert counts == {"checked": 4, "blocked": 3, "failed": 1, "queued": 4}
    assert [accounts.get(engine, s).blocked for s in "12345"] == [True, True, False, False, True]
    assert queued(engine) == [
        ("sso.demote_wordpress", (("site", "blog"), ("sub", "1"))),
        ("sso.demote_wordpress", (("site", "blog"), ("sub", "5"))),
        ("sso.suspend_discourse", (("sub", "1"),)),
        ("sso.suspend_discourse", (("sub", "2"),)),
    ]
    # the next pass asks only about the members not marked yet
    wiki.asked.clear()
    recheck.recheck(settings, engine, Outbox(engine), wiki, job_kinds=kinds)
    assert sorted(wiki.asked) == ["Fine Fay", "Unreachable Uli"]


def test_no_wordpress_job_without_a_handler_for_it(engine):
    add_account(engine, "1", "Locked Lou", ["discourse", "wordpress:blog"])
    counts = recheck.recheck(settings_for(), engine, Outbox(engine), ScriptedWiki({"Locked Lou": {"locked": True}}),
                             job_kinds={SUSPEND_DISCOURSE})
    assert counts["queued"] == 1
    assert [k for k, _ in queued(engine)] == ["sso.suspend_discourse"]


def test_the_worker_handles_what_the_recheck_queues(engine):
    kinds = set(bridge_jobs.handlers(settings_for(), engine))
    assert SUSPEND_DISCOURSE in kinds and "sso.sync_discourse" in kinds


def test_schedule_registers_the_recheck_at_the_configured_interval(engine):
    class Scheduler:
        def __init__(self):
            self.jobs = {}

        def every(self, seconds, func, name):
            self.jobs[name] = seconds

    mw = {"api_url": "http://wiki.test/w/api.php", "username": "Bot@x", "password": "pw"}
    s = Scheduler()
    bridge_jobs.schedule(s, settings_for(mediawiki=mw, hours=6), engine)
    assert s.jobs["sso-recheck"] == 6 * 3600 and s.jobs["sso-nonce-purge"] == 3600
    s = Scheduler()
    bridge_jobs.schedule(s, settings_for(mediawiki=mw, hours=0), engine)
    assert "sso-recheck" not in s.jobs
    s = Scheduler()
    bridge_jobs.schedule(s, settings_for(), engine)  # no wiki to ask
    assert "sso-recheck" not in s.jobs


@pytest.fixture(scope="module", params=PROFILES)
def forum(request):
    """The Discourse double, as each release it plays (the re-check must work with every one)."""
    with DiscourseDouble(profile=request.param) as double:
        double.enable_discourse_connect("http://bridge.test/sso/discourse", CONNECT_SECRET)
        yield double


def forum_user(forum, external_id):
    return next(u for u in forum.state()["users"].values() if u.get("external_id") == external_id)


def test_suspend_handler_suspends_the_forum_user(engine, forum):
    settings = settings_for(discourse_url=forum.url, api_key=forum.api_key)
    with DiscourseClient(forum.url, forum.api_key, connect_secret=CONNECT_SECRET, requests_per_minute=100000) as client:
        client.sync_sso("1", "1@example.org", username="Locked_Lou", name="Lou")
    handle = suspend_discourse_handler(settings)
    handle(Job(id=1, kind=SUSPEND_DISCOURSE, key="k", payload={"sub": "1"}, state="running",
               attempts=1, run_after=None, created_at=None))
    user = forum_user(forum, "1")
    assert user["suspended_till"] > user["suspended_at"] and user["suspend_reason"] == SUSPEND_REASON
    # a member without a forum account: nothing to do
    handle(Job(id=2, kind=SUSPEND_DISCOURSE, key="k2", payload={"sub": "999"}, state="running",
               attempts=1, run_after=None, created_at=None))


def test_a_member_suspended_already_is_done_and_logged_out(engine, forum):
    """Discourse answers 409 to a second suspension (app/services/user/suspend.rb,
    not_suspended_already): the job is done all the same, and the member's forum sessions end."""
    settings = settings_for(discourse_url=forum.url, api_key=forum.api_key)
    with DiscourseClient(forum.url, forum.api_key, connect_secret=CONNECT_SECRET, requests_per_minute=100000) as client:
        user = client.sync_sso("2", "2@example.org", username="Twice_Tom", name="Tom")
        client.suspend_user(user.id, dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3), "a moderator's call")
    before = forum_user(forum, "2")
    handle = suspend_discourse_handler(settings)
    handle(Job(id=3, kind=SUSPEND_DISCOURSE, key="k3", payload={"sub": "2"}, state="running",
               attempts=1, run_after=None, created_at=None))
    after = forum_user(forum, "2")
    assert after["suspend_reason"] == "a moderator's call"  # the first suspension stands
    assert after["suspended_till"] == before["suspended_till"]


def test_a_forum_moderator_who_cannot_be_suspended_is_logged_out_and_the_job_says_why(engine, forum, monkeypatch):
    """Discourse suspends no staff (Guardian#can_suspend?: 403): a retry would change nothing, so
    the job fails for good with the reason, after the member's forum sessions have ended."""
    settings = settings_for(discourse_url=forum.url, api_key=forum.api_key)
    with DiscourseClient(forum.url, forum.api_key, connect_secret=CONNECT_SECRET, requests_per_minute=100000) as client:
        user = client.sync_sso("3", "3@example.org", username="Mod_Mia", name="Mia", moderator=True)
    logged_out = []
    original = DiscourseClient.log_out_user

    def log_out_user(self, user_id):
        logged_out.append(user_id)
        return original(self, user_id)

    monkeypatch.setattr(DiscourseClient, "log_out_user", log_out_user)
    handle = suspend_discourse_handler(settings)
    with pytest.raises(PermanentFailure, match="refused to suspend Mod_Mia"):
        handle(Job(id=4, kind=SUSPEND_DISCOURSE, key="k4", payload={"sub": "3"}, state="running",
                   attempts=1, run_after=None, created_at=None))
    assert logged_out == [user.id]
    assert forum_user(forum, "3")["suspended_at"] is None


# -- the real MediaWiki of the local stack ------------------------------------------------------------
class WikiAdmin:
    def __init__(self, mw: dict):
        self.api = mw["api_url"]
        self.s = requests.Session()
        token = self._get(meta="tokens", type="login")["query"]["tokens"]["logintoken"]
        r = self._post(action="clientlogin", username=mw["admin_user"], password=mw["admin_password"],
                       logintoken=token, loginreturnurl="http://127.0.0.1/")
        assert r["clientlogin"]["status"] == "PASS", r

    def _get(self, **params):
        return self.s.get(self.api, params={"action": "query", "format": "json", **params}, timeout=30).json()

    def _post(self, **data):
        return self.s.post(self.api, data={"format": "json", **data}, timeout=30).json()

    def create(self, username):
        token = self._get(meta="tokens", type="createaccount")["query"]["tokens"]["createaccounttoken"]
        password = secrets.token_hex(12)
        r = self._post(action="createaccount", username=username, password=password, retype=password,
                       createtoken=token, createreturnurl="http://127.0.0.1/")
        assert r["createaccount"]["status"] == "PASS", r

    def csrf(self):
        return self._get(meta="tokens")["query"]["tokens"]["csrftoken"]

    def block(self, username):
        r = self._post(action="block", user=username, expiry="1 hour", reason="space-bridge re-check test",
                       token=self.csrf())
        assert "block" in r, r

    def unblock(self, username):
        self._post(action="unblock", user=username, reason="space-bridge re-check test", token=self.csrf())


@pytest.mark.stack
def test_recheck_against_the_real_mediawiki(stack, engine):
    mw = stack["mediawiki"]
    admin = WikiAdmin(mw)
    blocked_name = f"Recheck Blocked {secrets.token_hex(3)}"
    fine_name = f"Recheck Fine {secrets.token_hex(3)}"
    admin.create(blocked_name)
    admin.create(fine_name)
    admin.block(blocked_name)
    try:
        settings = settings_for(mediawiki={"api_url": mw["api_url"], "username": mw["bot_user"],
                                           "password": mw["bot_password"]})
        add_account(engine, "11", blocked_name, ["discourse"])
        add_account(engine, "12", fine_name, ["discourse"])
        with MediaWikiClient(mw["api_url"], mw["bot_user"], mw["bot_password"]) as client:
            status = client.user_status(blocked_name)
            assert status["blocked"] is True and status["missing"] is False
            assert status["locked"] is None  # no CentralAuth on the local wiki
            assert client.user_status(fine_name)["blocked"] is False
            counts = recheck.recheck(settings, engine, Outbox(engine), client,
                                     job_kinds={SUSPEND_DISCOURSE})
        assert counts == {"checked": 2, "blocked": 1, "failed": 0, "queued": 1}
        assert accounts.get(engine, "11").blocked and not accounts.get(engine, "12").blocked
        assert queued(engine) == [("sso.suspend_discourse", (("sub", "11"),))]
    finally:
        admin.unblock(blocked_name)
