"""The forum as DiscourseConnect consumer: `GET /sso/discourse`, the forum's discourse_connect_url.

What it is told: the member, the Discourse groups the wiki groups map to (``sso.discourse_groups``:
``groups`` when ``discourse_overrides_groups``, else ``add_groups``/``remove_groups``), admin and
moderator by ``sso.discourse_admins``/``discourse_moderators``, ``require_activation`` for an
unconfirmed address, ``suppress_welcome_message`` (Discourse's DiscourseConnect fields:
lib/discourse_connect_base.rb ACCESSORS).

Later changes reach the forum without a new forum login: after every Wikimedia login of a member
who uses the forum, the fields the forum would get are hashed and compared with the hash of the
fields it last got; a difference queues ``sso.sync_discourse`` (POST /admin/users/sync_sso).

Log-out: the forum user with ``external_id`` = `sub` is logged out (POST
/admin/users/{id}/log_out.json); a failure queues ``sso.logout_discourse`` {sub}. A member the
wiki locked or blocked gets ``sso.suspend_discourse`` {sub}: suspended for ``sso.suspend_days``
and logged out; lifting it stays a moderator's decision.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import sqlalchemy as sa
import structlog

from bridge.outbox import Job, Outbox, PermanentFailure, RetryLater
from sso import accounts, discourse_connect, members, usernames
from sso.accounts import Account
from sso.consumers.base import LOGGED_OUT, LOGOUT_TIMEOUT, QUEUED, UNKNOWN, Consumer, member_fields
from sso.policy import normalise_username

if TYPE_CHECKING:
    from bridge.config import Settings
    from bridge.outbox import Handler
    from sso.settings import SsoRoleRule, SsoSettings

log = structlog.get_logger(__name__)

DISCOURSE = "discourse"
SYNC_DISCOURSE = "sso.sync_discourse"
LOGOUT_DISCOURSE = "sso.logout_discourse"
SUSPEND_DISCOURSE = "sso.suspend_discourse"
SUSPEND_REASON = "Wikimedia account locked or blocked (Space bridge re-check)"


# -- what the forum is told -----------------------------------------------------------------------
def _matches(rule: SsoRoleRule, account: Account) -> bool:
    if set(rule.groups) & set(account.groups):
        return True
    names = {normalise_username(u) for u in rule.users if not u.strip().startswith("#")}
    ids = {u.strip()[1:].strip() for u in rule.users if u.strip().startswith("#")}
    return account.sub in ids or normalise_username(account.username) in names


def discourse_fields(account: Account, username: str, sso: SsoSettings) -> dict[str, Any]:
    """The member's DiscourseConnect fields for the forum (no nonce or return URL)."""
    mapped = {dg for wg, dg in sso.discourse_groups.items() if wg in account.groups}
    fields = member_fields(account, username, sso)
    if sso.discourse_overrides_groups:
        fields["groups"] = ",".join(sorted(mapped))
    else:
        others = set(sso.discourse_groups.values()) - mapped
        fields["add_groups"] = ",".join(sorted(mapped)) or None
        fields["remove_groups"] = ",".join(sorted(others)) or None
    if not sso.discourse_admins.empty:
        fields["admin"] = _matches(sso.discourse_admins, account)
    if not sso.discourse_moderators.empty:
        fields["moderator"] = _matches(sso.discourse_moderators, account)
    if not account.email_confirmed:
        fields["require_activation"] = True
    if sso.suppress_welcome_message:
        fields["suppress_welcome_message"] = True
    return fields


def fields_digest(fields: Mapping[str, Any]) -> str:
    """A fingerprint of the fields, never sent anywhere. Its text is the form the payload had
    before it followed Rack's encoding (Python's quote_plus, which differs from it on ``~`` and
    ``*`` only), so that the hashes stored before keep matching and no member is re-synced
    for a change of encoding."""
    return hashlib.sha256(urlencode(discourse_connect.payload_pairs(fields)).encode()).hexdigest()


# -- later changes reach the forum ----------------------------------------------------------------
def queue_discourse_sync(settings: Settings, engine: sa.Engine, outbox: Outbox, account: Account) -> int | None:
    """Queue sso.sync_discourse when the forum's fields for `account` differ from the last ones it
    got; returns the job id (None: nothing to do)."""
    if settings.discourse is None or DISCOURSE not in account.platforms:
        return None
    username = usernames.stored(engine, account.sub)
    last = usernames.fields_hash(engine, account.sub)
    if username is None or last is None:
        return None
    digest = fields_digest(discourse_fields(account, username, settings.sso))
    if digest == last:
        return None
    job_id, created = outbox.enqueue(SYNC_DISCOURSE, {"sub": account.sub}, key=f"{SYNC_DISCOURSE}:{account.sub}:{digest}")
    if created:
        log.info("sso.sync_discourse_queued", sub=account.sub, job_id=job_id)
    return job_id


def _client_factory(settings: Settings, client_factory: Callable | None) -> Callable:
    from bridge import platforms

    return client_factory or (lambda: platforms.discourse(settings, max_wait=30, max_retries=1))


def sync_discourse_handler(settings: Settings, engine: sa.Engine, client_factory: Callable | None = None):
    """The outbox handler of sso.sync_discourse: POST /admin/users/sync_sso with the member's
    current fields (the same builder as the login answer), unless the forum already has them.

    The forum's answer names the user: when the forum gave another username than the bridge's
    (a reserved one, say), the bridge keeps the forum's (sso/members.py). An address another
    forum account already has, while the member's is unconfirmed (``require_activation``), is
    refused by Discourse and cannot change by retrying: the job ends with a note saying so
    (``space-bridge outbox list`` shows it) and a warning in the log, and the member's fields are
    tried again when they change (a confirmed address, for one)."""
    from bridge.clients.discourse import DiscourseError, EmailTaken
    from bridge.clients.errors import outbox_failure

    factory = _client_factory(settings, client_factory)

    def handle(job: Job) -> None:
        sub = str(job.payload.get("sub") or "")
        account = accounts.get(engine, sub)
        if account is None:
            raise PermanentFailure(f"no account with sub {sub!r}")
        username = usernames.stored(engine, sub)
        if username is None:
            raise PermanentFailure(f"account {sub} has never logged in to the forum")
        fields = discourse_fields(account, username, settings.sso)
        digest = fields_digest(fields)
        if usernames.fields_hash(engine, sub) == digest:
            log.info("sso.sync_discourse_unneeded", sub=sub, job_id=job.id)
            return
        rest = {k: v for k, v in fields.items() if k not in ("external_id", "email") and v is not None}
        try:
            with factory() as client:
                user = client.sync_sso(account.sub, account.email, **rest)
        except EmailTaken as exc:
            note = (f"the forum refused member {sub}: another forum account already has their e-mail address, "
                    "and it is not confirmed on the wiki (require_activation); the member can confirm it on the "
                    f"wiki, or a forum admin merge the accounts ({exc.message[:200]})")
            log.warning("sso.sync_discourse_email_taken", sub=sub, username=username, job_id=job.id)
            Outbox(engine).note(job, [note])
            return
        except DiscourseError as exc:
            raise outbox_failure(exc) from None
        forum_name = getattr(user, "username", None)
        if forum_name and forum_name != username and members.learn(engine, sub, forum_name):
            digest = fields_digest({**fields, "username": forum_name})
        usernames.set_fields_hash(engine, sub, digest)
        log.info("sso.sync_discourse_done", sub=sub, username=forum_name or username, job_id=job.id)

    return handle


# -- log-out --------------------------------------------------------------------------------------
def log_out_user(settings: Settings, sub: str, *, timeout: float = LOGOUT_TIMEOUT) -> bool:
    """Log the forum user with this external_id out; False when the forum does not know them."""
    from bridge import platforms

    client = platforms.discourse(settings, max_wait=timeout, max_retries=0)
    client.timeout = timeout
    user = client.user_by_external_id(str(sub))
    if user is None:
        return False
    client.log_out_user(user.id)
    return True


def logout_handler(settings: Settings):
    """Handler of ``sso.logout_discourse`` ({sub}): the retry of a failed forum log-out."""
    def handle(job: Job) -> None:
        sub = job.payload.get("sub")
        if not sub:
            raise PermanentFailure("payload needs sub")
        if settings.discourse is None:
            raise PermanentFailure("no discourse section")
        try:
            log_out_user(settings, str(sub), timeout=10)
        except Exception as exc:  # noqa: BLE001
            raise RetryLater(30, f"{type(exc).__name__}") from exc
    return handle


# -- a member the wiki locked or blocked ----------------------------------------------------------
def suspend_discourse_handler(settings: Settings, client_factory: Callable | None = None):
    """Handler of sso.suspend_discourse ({sub}): suspend the forum user with that external id
    and end their forum sessions (nothing to do when the forum has no such user)."""
    from bridge.clients.discourse import DiscourseError
    from bridge.clients.errors import outbox_failure

    factory = _client_factory(settings, client_factory)

    def handle(job: Job) -> None:
        sub = str(job.payload.get("sub") or "")
        if not sub:
            raise PermanentFailure("the job has no sub")
        until = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=settings.sso.suspend_days)
        try:
            with factory() as client:
                user = client.user_by_external_id(sub)
                if user is None:
                    log.info("sso.suspend_discourse_no_user", sub=sub, job_id=job.id)
                    return
                # False: already suspended (409, app/services/user/suspend.rb): done, and the
                # member's forum sessions still end
                try:
                    suspended = client.suspend_user(user.id, until, SUSPEND_REASON)
                except DiscourseError as exc:
                    if exc.status != 403:
                        raise
                    # Guardian#can_suspend? (lib/guardian.rb) refuses to suspend staff: no retry
                    # changes that, so the member is logged out and the job ends dead with the
                    # reason, for a forum admin to decide.
                    client.log_out_user(user.id)
                    log.warning("sso.suspend_discourse_refused", sub=sub, user_id=user.id, username=user.username,
                                job_id=job.id)
                    raise PermanentFailure(
                        f"the forum refused to suspend {user.username} (403: Discourse suspends no "
                        "moderator or admin); their forum sessions were ended; a forum admin must "
                        "decide about the account") from None
                client.log_out_user(user.id)
        except DiscourseError as exc:
            raise outbox_failure(exc) from None
        log.info("sso.suspend_discourse_done", sub=sub, user_id=user.id, username=user.username, job_id=job.id,
                 already_suspended=not suspended)

    return handle


# -- the consumer ---------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Discourse(Consumer):
    """The forum (the `discourse` section)."""

    route = "/sso/discourse"
    endpoint = "discourse"

    @classmethod
    def configured(cls, settings: Settings) -> list[Consumer]:
        if settings.discourse is None:
            return []
        return [cls(DISCOURSE, settings.discourse.connect_secret.get_secret_value(), settings.discourse.url)]

    @classmethod
    def name_for(cls, **view_args: str) -> str:
        return DISCOURSE

    @classmethod
    def handlers(cls, settings: Settings, engine: sa.Engine) -> dict[str, Handler]:
        # the log-out retry is known even without a forum, to fail the jobs a former forum left
        found: dict[str, Handler] = {LOGOUT_DISCOURSE: logout_handler(settings)}
        if settings.discourse is not None:
            found[SYNC_DISCOURSE] = sync_discourse_handler(settings, engine)
            found[SUSPEND_DISCOURSE] = suspend_discourse_handler(settings)
        return found

    def answer_fields(self, engine: sa.Engine, account: Account, username: str, sso: SsoSettings) -> dict[str, Any]:
        fields = discourse_fields(account, username, sso)
        usernames.set_fields_hash(engine, account.sub, fields_digest(fields))
        return fields

    def after_login(self, settings: Settings, engine: sa.Engine, outbox: Outbox, account: Account) -> None:
        try:
            queue_discourse_sync(settings, engine, outbox, account)
        except Exception:  # noqa: BLE001 - never fail a login for a sync that can be done later
            log.exception("sso.sync_discourse_queue_failed", sub=account.sub)

    def log_out(self, settings: Settings, outbox: Outbox | None, sub: str, stamp: int) -> str:
        try:
            return LOGGED_OUT if log_out_user(settings, sub) else UNKNOWN
        except Exception as exc:  # noqa: BLE001 - any failure: finish the log-out, retry later
            log.warning("sso.logout.discourse_failed", sub=sub, error=type(exc).__name__)
            if outbox is not None:
                outbox.enqueue(LOGOUT_DISCOURSE, {"sub": sub}, key=f"logout:discourse:{sub}:{stamp}")
            return QUEUED

    def queue_suspend(self, outbox: Outbox, sub: str, stamp: str, job_kinds: set[str]) -> bool:
        if SUSPEND_DISCOURSE not in job_kinds:
            return False
        outbox.enqueue(SUSPEND_DISCOURSE, {"sub": sub}, key=f"{SUSPEND_DISCOURSE}:{sub}:{stamp}")
        return True
