"""What the forum's jobs do with the answers real Discourse gives that a naive client takes for
failures (sso/consumers/discourse.py), against recorded HTTP (responses) with the real client:

- ``PUT /admin/users/{id}/suspend``: 409 when the user already is suspended
  (app/services/user/suspend.rb, policy ``not_suspended_already``; Admin::UsersController#suspend);
- ``POST /admin/users/sync_sso``: 403 with the validation message when, under
  ``require_activation``, another account has the address (app/models/discourse_connect.rb
  ``match_email_or_create_user`` does not match by e-mail then, and the new account is invalid);
- the forum's answer names the user as the forum made them (lib/user_name_suggester.rb: a name in
  the forum's ``reserved_usernames``, or one a local account has, gets a number: ``Grace`` ->
  ``Grace1``).

The same rules against the Discourse double's profiles: test_provider.py, test_recheck.py.
"""

from __future__ import annotations

import pytest
import responses

from bridge import config
from bridge.clients.discourse import DiscourseClient, Pacer
from bridge.outbox import Outbox
from sso import accounts, usernames
from sso.consumers import discourse as forum_consumer

FORUM = "https://forum.example.test"
CONNECT_SECRET = "connect-secret-123"


def settings_for():
    return config.parse({
        "bridge": {"public_url": "http://bridge.test", "secret_key": "test-secret-key-0123456789abcdef0123",
                   "log_format": "console"},
        "wikimedia": {"oauth_base_url": "http://wm.test", "client_id": "c", "client_secret": "s"},
        "discourse": {"url": FORUM, "api_key": "k" * 64, "connect_secret": CONNECT_SECRET,
                      "webhook_secret": "webhook-secret-123"},
    }, "<test>")


def client() -> DiscourseClient:
    return DiscourseClient(FORUM, "k" * 64, "system", connect_secret=CONNECT_SECRET, pacer=Pacer(100000),
                           sleep=lambda s: None)


def member(engine, sub="7", name="Grace", *, confirmed=True):
    account = accounts.upsert_from_profile(engine, {
        "sub": sub, "username": name, "email": f"m{sub}@example.org", "confirmed_email": confirmed,
        "blocked": False, "groups": ["*", "user"]})
    accounts.mark_platform(engine, sub, "discourse")
    usernames.assign(engine, sub, name)
    return account


def queued_job(engine, kind, payload):
    outbox = Outbox(engine)
    job_id, _ = outbox.enqueue(kind, payload, key=f"{kind}:{payload}")
    return outbox, outbox.get(job_id)


USER = {"id": 3, "username": "Grace1", "name": "Grace", "active": True, "admin": False, "moderator": False}


@responses.activate
def test_an_already_suspended_member_is_done_and_still_logged_out(engine):
    """Fails with a client that takes 409 for an error: the job died and the log-out never ran."""
    responses.get(f"{FORUM}/u/by-external/7.json", json={"user": USER})
    responses.put(f"{FORUM}/admin/users/3/suspend.json", status=409,
                  json={"failed": "FAILED", "message": "User is already suspended"})
    log_out = responses.post(f"{FORUM}/admin/users/3/log_out.json", json={"success": "OK"})
    outbox, job = queued_job(engine, forum_consumer.SUSPEND_DISCOURSE, {"sub": "7"})
    forum_consumer.suspend_discourse_handler(settings_for(), client)(job)
    assert log_out.call_count == 1


@responses.activate
def test_a_suspension_the_forum_refuses_for_staff_still_ends_the_sessions_and_fails_for_good(engine):
    """Discourse suspends no moderator or admin (Guardian#can_suspend?: 403): the member is logged
    out all the same and the job fails for good, saying why."""
    responses.get(f"{FORUM}/u/by-external/7.json", json={"user": USER})
    responses.put(f"{FORUM}/admin/users/3/suspend.json", status=403, json={"errors": ["You are not permitted"]})
    log_out = responses.post(f"{FORUM}/admin/users/3/log_out.json", json={"success": "OK"})
    from bridge.outbox import PermanentFailure

    outbox, job = queued_job(engine, forum_consumer.SUSPEND_DISCOURSE, {"sub": "7"})
    with pytest.raises(PermanentFailure, match="refused to suspend"):
        forum_consumer.suspend_discourse_handler(settings_for(), client)(job)
    assert log_out.call_count == 1


@responses.activate
def test_a_suspension_the_forum_refuses_otherwise_still_fails(engine):
    responses.get(f"{FORUM}/u/by-external/7.json", json={"user": USER})
    responses.put(f"{FORUM}/admin/users/3/suspend.json", status=400,
                  json={"failed": "FAILED", "errors": ["Reason is too long (maximum is 300 characters)"]})
    from bridge.outbox import PermanentFailure

    outbox, job = queued_job(engine, forum_consumer.SUSPEND_DISCOURSE, {"sub": "7"})
    with pytest.raises(PermanentFailure):
        forum_consumer.suspend_discourse_handler(settings_for(), client)(job)
    assert len(forum_consumer.SUSPEND_REASON) <= 300  # User::Suspend's contract: 400 beyond


@responses.activate
def test_an_address_another_forum_account_has_is_a_note_on_the_member(engine):
    """Fails with a handler that lets the 403 through: the job died as an error."""
    member(engine, confirmed=False)
    usernames.set_fields_hash(engine, "7", "stale")
    responses.post(f"{FORUM}/admin/users/sync_sso.json", status=403,
                   json={"failed": "FAILED", "message": "Validation failed: Primary email has already been taken"})
    outbox, job = queued_job(engine, forum_consumer.SYNC_DISCOURSE, {"sub": "7"})
    forum_consumer.sync_discourse_handler(settings_for(), engine, client)(job)
    notes = outbox.get(job.id).payload["notes"]
    assert len(notes) == 1 and "member 7" in notes[0] and "e-mail address" in notes[0]
    assert "require_activation" in notes[0]
    assert usernames.fields_hash(engine, "7") == "stale"  # the forum does not have these fields


@responses.activate
def test_the_forums_username_replaces_the_bridges_after_a_sync(engine):
    """Fails with a handler that keeps its own idea of the name: posting as `Grace` fails later."""
    member(engine, name="Grace")
    usernames.set_fields_hash(engine, "7", "stale")
    assert usernames.stored(engine, "7") == "Grace"
    responses.post(f"{FORUM}/admin/users/sync_sso.json", json=USER)
    outbox, job = queued_job(engine, forum_consumer.SYNC_DISCOURSE, {"sub": "7"})
    forum_consumer.sync_discourse_handler(settings_for(), engine, client)(job)
    assert usernames.stored(engine, "7") == "Grace1"
    # the stored fingerprint is that of what the forum now has: the next login queues nothing
    account = accounts.get(engine, "7")
    fields = forum_consumer.discourse_fields(account, "Grace1", settings_for().sso)
    assert usernames.fields_hash(engine, "7") == forum_consumer.fields_digest(fields)
    assert forum_consumer.queue_discourse_sync(settings_for(), engine, outbox, account) is None


def test_the_fields_fingerprint_did_not_change_with_the_encoding():
    """Hashes stored before the payload followed Rack's encoding stay valid (no needless re-sync)."""
    import hashlib
    from urllib.parse import urlencode

    fields = {"external_id": "7", "email": "a~b@example.org", "username": "ab", "name": "A * B ~ C",
              "avatar_url": None, "admin": False}
    before = hashlib.sha256(urlencode([("admin", "false"), ("email", "a~b@example.org"), ("external_id", "7"),
                                       ("name", "A * B ~ C"), ("username", "ab")]).encode()).hexdigest()
    assert forum_consumer.fields_digest(fields) == before
