"""The mailing-list digest: scheduled per (list, ISO week), built from the mirror's topics and
the forum's reply counts, sent through a real SMTP server (aiosmtpd on 127.0.0.1) and read
back as a multipart/alternative email."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import email.utils
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from aiosmtpd.controller import Controller

from relay_helpers import Inbox, free_port, smtp_authenticator

from bridge import config, store
from bridge.config import OutboxSettings
from sync.relay.settings import DigestSettings, RelayTarget, SmtpSettings
from bridge.outbox import Outbox, PermanentFailure, RetryLater, Worker
from sync.relay.targets import email as digest_mod

EXAMPLE = Path(__file__).resolve().parents[3] / "config" / "space.example.yaml"
LIST = "space-digest@lists.example.org"


@pytest.fixture
def smtp_server():
    inbox = Inbox(refuse={"nobody@lists.example.org": "550 5.1.1 No such list"})
    inbox.port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port, authenticator=smtp_authenticator,
                            auth_require_tls=False, auth_exclude_mechanism=["LOGIN"])
    controller.start()
    yield inbox
    controller.stop()


@pytest.fixture
def engine(tmp_path):
    eng = store.make_engine(f"sqlite:///{tmp_path}/bridge.db")
    store.upgrade(eng)
    yield eng
    eng.dispose()


def digest_settings(port: int, **kw) -> DigestSettings:
    smtp = dict(host="127.0.0.1", port=port, starttls=False, timeout_seconds=5)
    smtp.update(kw.pop("smtp", {}))
    values = dict(lists=[LIST], sender="Wikimedia Space <space-bridge@space.example.org>", smtp=smtp,
                  day="monday", hour=8)
    values.update(kw)
    return DigestSettings.model_validate(values)


def settings_with(digest: DigestSettings):
    return SimpleNamespace(relay=SimpleNamespace(digest=digest), outbox=OutboxSettings(), discourse=None)


def add_topic(engine, post_id: int, title: str, created: dt.datetime, listed: bool = True):
    with engine.begin() as conn:
        conn.execute(store.mirror_topics.insert().values(
            site="blog", post_id=post_id, external_id=f"wp-blog-{post_id}", topic_id=1000 + post_id,
            topic_url=f"https://forum.example.org/t/t-{post_id}/{1000 + post_id}", title=title,
            fingerprint="x" * 64, listed=listed, wp_modified=None, note=None, created_at=created,
            updated_at=created))


MONDAY = dt.datetime(2026, 11, 23, 8, 0)  # ISO week 2026-W48


# -- configuration -----------------------------------------------------------------------------
def test_example_configuration_shows_every_digest_option():
    data = yaml.safe_load(EXAMPLE.read_text())
    digest = data["relay"]["digest"]
    assert set(DigestSettings.model_fields) <= set(digest)
    assert set(SmtpSettings.model_fields) <= set(digest["smtp"])
    parsed = DigestSettings.model_validate(digest)
    assert (parsed.day, parsed.hour, parsed.interval_days) == ("monday", 8, 7)
    assert "example-only-smtp-password" not in repr(parsed)


def test_digest_password_may_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("SPACE_TEST_SMTP_PASSWORD", "from-env-pass")
    s = SmtpSettings.model_validate({"host": "smtp.example.org", "username": "u",
                                     "password": "env:SPACE_TEST_SMTP_PASSWORD"})
    assert s.password.get_secret_value() == "from-env-pass"


# -- scheduling ----------------------------------------------------------------------------------
@pytest.mark.parametrize("now, slot", [
    (dt.datetime(2026, 11, 23, 8, 0), dt.datetime(2026, 11, 23, 8, 0)),
    (dt.datetime(2026, 11, 23, 7, 59), dt.datetime(2026, 11, 16, 8, 0)),
    (dt.datetime(2026, 11, 29, 23, 0), dt.datetime(2026, 11, 23, 8, 0)),
    (dt.datetime(2026, 11, 30, 9, 0), dt.datetime(2026, 11, 30, 8, 0)),
])
def test_latest_slot_is_the_last_configured_day_and_hour(now, slot):
    assert digest_mod.latest_slot(digest_settings(25), now) == slot


def test_one_job_per_list_and_iso_week_whatever_how_often_the_scheduler_runs(engine):
    digest = digest_settings(25, lists=[LIST, "other@lists.example.org"])
    outbox = Outbox(engine)
    first = digest_mod.enqueue_due(settings_with(digest), outbox, now=MONDAY + dt.timedelta(minutes=5))
    again = digest_mod.enqueue_due(settings_with(digest), outbox, now=MONDAY + dt.timedelta(days=3))
    assert [c for _, c in first] == [True, True] and [c for _, c in again] == [False, False]
    assert [i for i, _ in first] == [i for i, _ in again]
    jobs = outbox.list(kind=digest_mod.DIGEST_KIND)
    assert sorted(j.key for j in jobs) == sorted([f"digest:{LIST}:2026-W48", "digest:other@lists.example.org:2026-W48"])
    job = next(j for j in jobs if j.payload["list"] == LIST)
    assert job.payload["since"] == "2026-11-16T08:00:00" and job.payload["until"] == "2026-11-23T08:00:00"
    later = digest_mod.enqueue_due(settings_with(digest), outbox, now=MONDAY + dt.timedelta(days=7))
    assert all(created for _, created in later)  # next week: new jobs


def test_reply_counts_come_from_discourse_posts_count():
    topics = {7: {"id": 7, "posts_count": 5}, 8: {"id": 8, "posts_count": 1}}
    count = digest_mod.discourse_reply_counts(SimpleNamespace(topic_data=topics.get))
    assert (count(7), count(8), count(9)) == (4, 0, None)


# -- the digest through a real SMTP server -------------------------------------------------------
def run_digest(engine, digest, counts, now=MONDAY):
    outbox = Outbox(engine, OutboxSettings(max_attempts=2, backoff_base_seconds=0.01, backoff_max_seconds=0.01))
    settings = settings_with(digest)
    [(job_id, _)] = digest_mod.enqueue_due(settings, outbox, now=now)[:1]
    handler = digest_mod.digest_handler(settings, engine, reply_counts_factory=lambda: counts.get)
    Worker(outbox, {digest_mod.DIGEST_KIND: handler}, threads=1, name="t").run_once()
    return outbox.get(job_id)


def parts(raw: bytes):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return msg, text.get_content().replace("\r\n", "\n"), html.get_content().replace("\r\n", "\n")


def test_weekly_digest_arrives_as_multipart_text_and_html(engine, smtp_server):
    add_topic(engine, 1, "Wikimania 2027 call for sessions", dt.datetime(2026, 11, 17, 10))
    add_topic(engine, 2, "Tools <&> bots roundup", dt.datetime(2026, 11, 22, 20))
    add_topic(engine, 3, "Older post, still busy", dt.datetime(2026, 11, 2, 9))
    add_topic(engine, 4, "Next week's post", dt.datetime(2026, 11, 23, 9))  # after the period
    add_topic(engine, 5, "Unlisted post", dt.datetime(2026, 11, 18, 9), listed=False)
    counts = {1001: 3, 1002: 0, 1003: 12, 1004: 50}
    job = run_digest(engine, digest_settings(smtp_server.port), counts)
    assert job.state == "done", job.last_error

    [(mail_from, rcpt, raw)] = smtp_server.messages
    assert mail_from == "space-bridge@space.example.org" and rcpt == [LIST]
    msg, text, html = parts(raw)
    assert msg["From"] == "Wikimedia Space <space-bridge@space.example.org>"
    assert msg["To"] == LIST
    assert msg["Subject"] == "Wikimedia Space digest, 2026-11-16 – 2026-11-23"
    assert email.utils.parsedate_to_datetime(msg["Date"]) == MONDAY.replace(tzinfo=dt.UTC)
    assert msg["Message-ID"].startswith("<") and msg["Message-ID"].endswith("@space.example.org>")
    assert msg["List-Id"] == "<space-digest.lists.example.org>"

    assert "2 new posts" in text
    assert "* Wikimania 2027 call for sessions\n  https://forum.example.org/t/t-1/1001" in text
    assert "Tools <&> bots roundup" in text
    assert "Next week's post" not in text and "Unlisted post" not in text
    busiest = text.split("Busiest topics", 1)[1]
    assert busiest.index("Older post, still busy (12 replies)") < busiest.index("Wikimania 2027 call for sessions (3 replies)")
    assert "Tools" not in busiest  # no replies: not busy

    assert '<a href="https://forum.example.org/t/t-1/1001">Wikimania 2027 call for sessions</a>' in html
    assert "Tools &lt;&amp;&gt; bots roundup" in html and "Tools <&>" not in html
    assert '<html lang="en" dir="ltr">' in html


def test_retried_digest_job_sends_the_same_message_id(engine, smtp_server):
    digest = digest_settings(smtp_server.port)
    settings = settings_with(digest)
    outbox = Outbox(engine)
    digest_mod.enqueue_due(settings, outbox, now=MONDAY)
    [job] = outbox.list(kind=digest_mod.DIGEST_KIND)
    handler = digest_mod.digest_handler(settings, engine, reply_counts_factory=lambda: None)
    handler(job)
    handler(job)  # a worker died after sending: the job runs again
    ids = {email.message_from_bytes(raw)["Message-ID"] for _, _, raw in smtp_server.messages}
    assert len(smtp_server.messages) == 2 and len(ids) == 1


def test_digest_in_arabic_is_right_to_left_and_says_nothing_new(engine, smtp_server):
    job = run_digest(engine, digest_settings(smtp_server.port, language="ar"), {})
    assert job.state == "done", job.last_error
    msg, text, html = parts(smtp_server.messages[0][2])
    assert msg["Subject"].startswith("ملخص ويكيميديا سبيس")
    assert "لا جديد هذه المرة." in text
    assert 'dir="rtl"' in html


def test_smtp_login_with_username_and_password(engine, smtp_server):
    digest = digest_settings(smtp_server.port, smtp={"username": "bridge", "password": "s3cret-pass"})
    assert run_digest(engine, digest, {}).state == "done"
    assert len(smtp_server.messages) == 1


def test_wrong_smtp_password_is_permanent(engine, smtp_server):
    digest = digest_settings(smtp_server.port, smtp={"username": "bridge", "password": "wrong"})
    job = run_digest(engine, digest, {})
    assert job.state == "dead" and job.attempts == 1
    assert job.last_error.startswith("PermanentFailure: SMTP login refused (535)")
    assert "wrong" not in job.last_error
    assert smtp_server.messages == []


def test_refused_list_address_is_permanent(engine, smtp_server):
    job = run_digest(engine, digest_settings(smtp_server.port, lists=["nobody@lists.example.org"]), {})
    assert job.state == "dead" and job.attempts == 1 and "550" in job.last_error


def test_smtp_server_down_is_a_retry(engine):
    digest = digest_settings(9)  # nothing listens on 127.0.0.1:9
    settings = settings_with(digest)
    outbox = Outbox(engine)
    digest_mod.enqueue_due(settings, outbox, now=MONDAY)
    [job] = outbox.list(kind=digest_mod.DIGEST_KIND)
    with pytest.raises(RetryLater):
        digest_mod.digest_handler(settings, engine, reply_counts_factory=lambda: None)(job)


def test_digest_registered_with_the_worker_and_scheduler(engine):
    from bridge import jobs

    example = yaml.safe_load(EXAMPLE.read_text())
    example["bridge"]["database_url"] = str(engine.url)
    settings = config.parse(example)
    assert digest_mod.DIGEST_KIND in jobs.handlers(settings, engine)
    scheduled = []
    jobs.schedule(SimpleNamespace(every=lambda seconds, func, name: scheduled.append(name)), settings, engine)
    assert "relay-digest" in scheduled
    no_digest = settings.model_copy(update={"relay": settings.relay.model_copy(update={"digest": None})})
    assert digest_mod.DIGEST_KIND not in jobs.handlers(no_digest, engine)


# -- the `email` target kind -------------------------------------------------------------------------
def test_email_target_sends_one_relayed_message(smtp_server):
    settings = settings_with(digest_settings(smtp_server.port))
    target = digest_mod.build(settings, RelayTarget(name="mods-mail", kind="email",
                                                    options={"to": ["mods@example.org"]}))
    message = SimpleNamespace(text="Alice published a blog post: Hello", html="<p>Alice published <b>Hello</b></p>",
                              title="Alice published a blog post: Hello")
    target.deliver(message, SimpleNamespace(id="post.published:blog:1"))
    [(_, rcpt, raw)] = smtp_server.messages
    assert rcpt == ["mods@example.org"]
    msg, text, html = parts(raw)
    assert msg["Subject"] == "Alice published a blog post: Hello"
    assert text.strip() == "Alice published a blog post: Hello" and "<b>Hello</b>" in html


def test_email_target_needs_an_address():
    with pytest.raises(ValueError, match="options.to"):
        digest_mod.build(settings_with(digest_settings(25)), RelayTarget(name="m", kind="email", options={}))


def test_refused_recipient_raises_permanent_failure(smtp_server):
    target = digest_mod.EmailTarget("m", digest_settings(smtp_server.port).smtp, "bridge@example.org",
                                    ["nobody@lists.example.org"])
    with pytest.raises(PermanentFailure):
        target.deliver(SimpleNamespace(text="x", html=None, title="x"), SimpleNamespace(id="e1"))


# -- STARTTLS ---------------------------------------------------------------------------------------
def test_starttls_then_login_with_a_trusted_certificate(engine, tls_smtp_server, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_smtp_server.cert))  # trust the test's own certificate
    digest = digest_settings(tls_smtp_server.port, smtp={"starttls": True, "username": "bridge",
                                                          "password": "s3cret-pass"})
    job = run_digest(engine, digest, {})
    assert job.state == "done", job.last_error
    assert len(tls_smtp_server.messages) == 1


def test_starttls_refuses_an_untrusted_certificate(engine, tls_smtp_server):
    digest = digest_settings(tls_smtp_server.port, smtp={"starttls": True, "username": "bridge",
                                                          "password": "s3cret-pass"})
    settings = settings_with(digest)
    outbox = Outbox(engine)
    digest_mod.enqueue_due(settings, outbox, now=MONDAY)
    [job] = outbox.list(kind=digest_mod.DIGEST_KIND)
    with pytest.raises(RetryLater, match="certificate not trusted"):
        digest_mod.digest_handler(settings, engine, reply_counts_factory=lambda: None)(job)
    assert tls_smtp_server.messages == []
