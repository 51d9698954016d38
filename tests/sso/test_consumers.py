"""The DiscourseConnect consumers (sso/consumers/): which ones the configuration has, which job kinds
they bring, and a third kind, written here, that plugs into the provider, the log-out and the
re-check through `consumers.KINDS` alone."""

from __future__ import annotations

import dataclasses
import time
from typing import ClassVar
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from bridge import config
from bridge.app import create_app
from bridge.outbox import Outbox
from sso import accounts, consumers, discourse_connect, logout, recheck, redirects, sessions, wikimedia
from sso.consumers import Consumer
from sso.consumers.base import LOGGED_OUT, member_fields
from sso.consumers.discourse import Discourse
from sso.consumers.wordpress import WordPress

FORUM_SECRET = "connect-secret-123"
WP_SECRET = "wp-connect-secret-456"
CHAT_SECRET = "chat-connect-secret-789"


def settings_for(*, discourse=True, sites=(("blog", WP_SECRET), ("news", None))):
    data = {
        "bridge": {"public_url": "http://bridge.test", "secret_key": "test-secret-key-0123456789abcdef0123",
                   "log_format": "console"},
        "wikimedia": {"oauth_base_url": "http://wm.test", "client_id": "c", "client_secret": "s"},
        "wordpress": {"sites": [{"name": name, "url": f"http://{name}.test", "username": "u", "password": "p",
                                 "webhook_secret": "w", **({"connect_secret": secret} if secret else {})}
                                for name, secret in sites]},
    }
    if discourse:
        data["discourse"] = {"url": "http://forum.test", "api_key": "k", "connect_secret": FORUM_SECRET,
                             "webhook_secret": "webhook-secret-123"}
    return config.parse(data, "<test>")


def test_the_forum_then_each_blog_with_a_connect_secret():
    found = consumers.consumers(settings_for())
    assert [(type(c), c.name, c.platform, c.secret) for c in found] == [
        (Discourse, "discourse", "discourse", FORUM_SECRET), (WordPress, "wordpress:blog", "wordpress:blog", WP_SECRET)]
    assert [c.name for c in consumers.consumers(settings_for(discourse=False))] == ["wordpress:blog"]
    assert consumers.consumers(settings_for(discourse=False, sites=())) == []
    assert list(consumers.by_name(settings_for())) == ["discourse", "wordpress:blog"]


def test_the_job_kinds_are_the_ones_the_worker_always_had(engine):
    assert set(consumers.handlers(settings_for(), engine)) == {
        "sso.sync_discourse", "sso.suspend_discourse", "sso.logout_discourse",
        "sso.demote_wordpress", "sso.logout_wordpress"}
    # without a forum only its log-out retry stays (it fails the jobs a former forum left)
    assert set(consumers.handlers(settings_for(discourse=False), engine)) == {
        "sso.logout_discourse", "sso.demote_wordpress", "sso.logout_wordpress"}


@pytest.mark.parametrize("url, ok", [
    ("http://forum.test/session/sso_login", True),
    ("http://FORUM.test:80/x", True),
    ("https://forum.test/x", False),            # another scheme is another origin
    ("http://forum.test:8080/x", False),
    ("http://evil.test/x", False),
    ("http://user:pw@forum.test/x", False),
    ("http://forum.test\\@evil.test/", False),
    ("http://forum.test/\x00", False),
    ("javascript:alert(1)", False),
    ("http://[/x", False),
    ("/session/sso_login", False),              # a signed answer never goes to a relative URL
])
def test_a_signed_answer_goes_only_to_the_consumers_own_origin(url, ok):
    forum = consumers.by_name(settings_for())["discourse"]
    assert forum.return_url_ok(url) is ok
    assert redirects.same_origin(url, "http://forum.test") is ok


def test_the_common_fields_come_first_in_the_same_order_for_every_consumer(engine):
    settings = settings_for()
    account = accounts.upsert_from_profile(engine, {"sub": 5, "username": "Żaneta Example", "email": "z@example.org",
                                                    "confirmed_email": True, "blocked": False, "groups": ["*", "user"]})
    forum, blog = consumers.consumers(settings)
    forum_fields = forum.answer_fields(engine, account, "Żaneta_Example", settings.sso)
    blog_fields = blog.answer_fields(engine, account, "Żaneta_Example", settings.sso)
    common = ["external_id", "email", "username", "name", "avatar_url"]
    assert list(forum_fields)[:5] == list(blog_fields)[:5] == common
    assert forum_fields["username"] == "Żaneta_Example"
    assert blog_fields["username"] == "Zaneta_Example"  # WordPress keeps logins ASCII
    assert blog_fields["custom.wiki_username"] == "Żaneta Example"


# -- a third kind of consumer, from this file alone ------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Chat(Consumer):
    """A chat server that logs members in through the bridge."""

    route = "/sso/chat"
    endpoint = "chat"
    calls: ClassVar[list] = []

    @classmethod
    def configured(cls, settings):
        return [cls("chat", CHAT_SECRET, "http://chat.test")]

    @classmethod
    def name_for(cls, **view_args):
        return "chat"

    @classmethod
    def handlers(cls, settings, engine):
        return {"sso.suspend_chat": lambda job: None}

    def answer_fields(self, engine, account, username, sso):
        return {**member_fields(account, username, sso), "custom.room": "lobby"}

    def after_login(self, settings, engine, outbox, account):
        self.calls.append(("after_login", account.sub))

    def log_out(self, settings, outbox, sub, stamp):
        self.calls.append(("log_out", sub))
        return LOGGED_OUT

    def queue_suspend(self, outbox, sub, stamp, job_kinds):
        if "sso.suspend_chat" not in job_kinds:
            return False
        outbox.enqueue("sso.suspend_chat", {"sub": sub}, key=f"sso.suspend_chat:{sub}:{stamp}")
        return True


class BlockedWiki:
    def user_status(self, username):
        return {"missing": False, "blocked": True, "locked": None}


def test_a_third_kind_of_consumer_is_one_class_and_one_registry_entry(engine, monkeypatch):
    monkeypatch.setattr(consumers, "KINDS", (*consumers.KINDS, Chat))
    Chat.calls.clear()
    settings = settings_for(discourse=False, sites=())
    assert [c.name for c in consumers.consumers(settings)] == ["chat"]
    assert "sso.suspend_chat" in consumers.handlers(settings, engine)

    app = create_app(settings, engine)
    accounts.upsert_from_profile(engine, {"sub": 7, "username": "Chat Member", "email": "c@example.org",
                                          "confirmed_email": True, "blocked": False, "groups": ["*", "user"]})
    client = app.test_client()
    with client.session_transaction() as sess:
        sess.update({wikimedia.SESSION_KEY: "7", wikimedia.SESSION_LOGIN_AT: time.time(),
                     wikimedia.SESSION_GENERATION: sessions.generation(engine, "7"), sessions.CSRF_KEY: "t" * 40})

    # the provider: its route, its fields, its platform on the account
    sso, sig = discourse_connect.build_payload({"nonce": "n0nce", "return_sso_url": "http://chat.test/auth"},
                                               CHAT_SECRET)
    r = client.get("/sso/chat?" + urlencode({"sso": sso, "sig": sig}))
    assert r.status_code == 302
    location = urlsplit(r.headers["Location"])
    assert (location.scheme, location.netloc, location.path) == ("http", "chat.test", "/auth")
    answer = parse_qs(location.query)
    assert discourse_connect.verify(answer["sso"][0], answer["sig"][0], CHAT_SECRET)
    fields = discourse_connect.read_payload(answer["sso"][0])
    assert fields["external_id"] == "7" and fields["custom.room"] == "lobby" and fields["nonce"] == "n0nce"
    assert accounts.get(engine, "7").platforms == ("chat",)
    evil, evil_sig = discourse_connect.build_payload({"nonce": "n2", "return_sso_url": "http://evil.test/"},
                                                     CHAT_SECRET)
    assert client.get("/sso/chat?" + urlencode({"sso": evil, "sig": evil_sig})).status_code == 400
    assert client.get("/sso/discourse?" + urlencode({"sso": sso, "sig": sig})).status_code == 404  # not configured

    # the re-check: a blocked member's suspension is queued by the consumer they used
    counts = recheck.recheck(settings, engine, Outbox(engine), BlockedWiki(),
                             job_kinds=set(consumers.handlers(settings, engine)))
    assert counts["queued"] == 1
    assert [(j.kind, j.payload) for j in Outbox(engine).list()] == [("sso.suspend_chat", {"sub": "7"})]

    # the single log-out
    r = client.post("/logout", data={"csrf_token": "t" * 40})
    assert r.status_code == 303
    assert ("log_out", "7") in Chat.calls
