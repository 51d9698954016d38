"""The bridge as DiscourseConnect provider of the forum and of the blogs.

Routes:

- ``GET /sso/discourse?sso=..&sig=..``: the forum's discourse_connect_url;
- ``GET /sso/wordpress/<site>?sso=..&sig=..``: the same protocol for each WordPress site with a
  ``connect_secret`` (the site's space-bridge mu-plugin is the consumer).

Each request, in this order (the first failure ends it on a refusal page, nothing stored):

1. ``sig`` verified in constant time with the consumer's secret, the payload read
   (sso/discourse_connect.py): a forged, malformed or oversized request is refused (400);
2. ``return_sso_url`` must be http(s) on the consumer's own host and port (400 otherwise: the
   bridge never sends a signed answer anywhere else);
3. the nonce must not have been answered before (table ``sso_nonces``, kept
   ``sso.used_nonce_keep_hours``): a replayed request is refused (400);
4. the request is remembered in the browser's session with the time it was first seen; when
   it comes back after the Wikimedia login (``require_login`` returns to this very URL) and is
   older than ``sso.nonce_max_age_seconds``, it is refused (400) as expired;
5. not logged in: ``prompt=none`` is answered at once with ``failed=true`` (Discourse's silent
   login attempt); otherwise the browser goes through ``/login`` (sso/wikimedia.py: the policy
   refuses blocked or otherwise unwelcome members there, before any account exists);
6. logged in: the nonce is marked used (an atomic insert, so two tabs cannot both use it), the
   platform recorded on the account, and the browser sent to ``return_sso_url?sso=..&sig=..``
   with the member's fields (`discourse_fields` / `wordpress_fields`).

Later changes reach the forum without a new forum login: after every Wikimedia login
(/oauth/callback) of a member who uses the forum, the fields the forum would get are hashed
and compared with the hash of the fields it last got; a difference queues the outbox job
``sso.sync_discourse`` (handler `sync_discourse_handler`, POST /admin/users/sync_sso).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import sqlalchemy as sa
import structlog
from flask import Blueprint, Flask, Response, abort, current_app, g, redirect, request, session

from bridge.config import Settings, SsoRoleRule, SsoSettings, WordPressSite
from bridge.outbox import Job, Outbox
from bridge.store import reader, sso_nonces, utcnow
from sso import accounts, discourse_connect, usernames, wikimedia
from sso.accounts import Account
from sso.policy import normalise_username

log = structlog.get_logger(__name__)

bp = Blueprint("sso_provider", __name__)

EXTENSION = "sso.provider"
SESSION_PENDING = "sso_pending"
MAX_PENDING = 4
SYNC_DISCOURSE = "sso.sync_discourse"
DISCOURSE = "discourse"

# Refusal reasons of this module (messages spacebridge-refusal-sso-* in bridge/i18n/)
INVALID = "sso_invalid"
RETURN_URL = "sso_return_url"
REPLAYED = "sso_replayed"
EXPIRED = "sso_expired"
REASONS = (INVALID, RETURN_URL, REPLAYED, EXPIRED)


@dataclasses.dataclass(frozen=True)
class Consumer:
    name: str                       # "discourse" or "wordpress:<site>"
    platform: str                   # recorded on the account
    secret: str
    base_url: str
    site: WordPressSite | None = None

    @property
    def origin(self) -> tuple[str, int] | None:
        return wikimedia._origin(self.base_url)


@dataclasses.dataclass
class _State:
    settings: Settings
    engine: sa.Engine
    outbox: Outbox
    consumers: dict[str, Consumer]


def consumers(settings: Settings) -> dict[str, Consumer]:
    out: dict[str, Consumer] = {}
    if settings.discourse is not None:
        out[DISCOURSE] = Consumer(DISCOURSE, DISCOURSE, settings.discourse.connect_secret.get_secret_value(),
                                  settings.discourse.url)
    for site in settings.wordpress.sites:
        if site.connect_secret is not None:
            name = f"wordpress:{site.name}"
            out[name] = Consumer(name, name, site.connect_secret.get_secret_value(), site.url, site)
    return out


def init_app(app: Flask, settings: Settings, engine: sa.Engine, outbox: Outbox) -> None:
    """Register /sso/discourse and /sso/wordpress/<site> (needs sso.wikimedia registered first)."""
    if wikimedia.EXTENSION not in app.extensions:
        raise ValueError("the DiscourseConnect provider needs the Wikimedia login (wikimedia section)")
    app.extensions[EXTENSION] = _State(settings, engine, outbox, consumers(settings))
    app.register_blueprint(bp)


def _state() -> _State:
    return current_app.extensions[EXTENSION]


# -- what each consumer is told -------------------------------------------------------------------
def _matches(rule: SsoRoleRule, account: Account) -> bool:
    if set(rule.groups) & set(account.groups):
        return True
    names = {normalise_username(u) for u in rule.users if not u.strip().startswith("#")}
    ids = {u.strip()[1:].strip() for u in rule.users if u.strip().startswith("#")}
    return account.sub in ids or normalise_username(account.username) in names


def _avatar(sso: SsoSettings, account: Account) -> str | None:
    if not sso.avatar_url:
        return None
    return sso.avatar_url.format(username=quote(account.username.replace(" ", "_"), safe=""), sub=account.sub)


def discourse_fields(account: Account, username: str, sso: SsoSettings) -> dict[str, Any]:
    """The member's DiscourseConnect fields for the forum (no nonce or return URL)."""
    mapped = {dg for wg, dg in sso.discourse_groups.items() if wg in account.groups}
    fields: dict[str, Any] = {
        "external_id": account.sub, "email": account.email, "username": username,
        "name": account.realname or account.username, "avatar_url": _avatar(sso, account),
    }
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


def wordpress_role(account: Account, site: WordPressSite) -> str:
    for group, role in site.roles.items():
        if group in account.groups:
            return role
    return site.default_role


def wordpress_fields(account: Account, username: str, site: WordPressSite, sso: SsoSettings) -> dict[str, Any]:
    """The fields for a blog's mu-plugin: the member, the wiki groups as they are (`groups`) and
    the WordPress role the site's `roles` give (`custom.role`)."""
    fields: dict[str, Any] = {
        "external_id": account.sub, "email": account.email, "username": username,
        "name": account.realname or account.username, "avatar_url": _avatar(sso, account),
        "groups": ",".join(g for g in account.groups if g not in ("*",)),
        "custom.role": wordpress_role(account, site),
        "custom.wiki_username": account.username,
    }
    if not account.email_confirmed:
        fields["require_activation"] = True
    return fields


def fields_digest(fields: Mapping[str, Any]) -> str:
    return hashlib.sha256(discourse_connect.unsigned_payload(fields).encode()).hexdigest()


def member_username(engine: sa.Engine, account: Account, sso: SsoSettings) -> str:
    return usernames.assign(engine, account.sub, account.username, usernames.Rules.of(sso))


# -- nonces ---------------------------------------------------------------------------------------
def nonce_used(engine: sa.Engine, consumer: str, nonce_hash: str) -> bool:
    t = sso_nonces.c
    with reader(engine) as conn:
        return conn.execute(sa.select(t.nonce_hash).where(t.consumer == consumer, t.nonce_hash == nonce_hash,
                                                          t.expires_at > utcnow())).first() is not None


def use_nonce(engine: sa.Engine, consumer: str, nonce_hash: str, sub: str, keep: dt.timedelta) -> bool:
    """Record the nonce as answered; False when it already was (and has not expired)."""
    now = utcnow()
    t = sso_nonces.c
    try:
        with engine.begin() as conn:
            conn.execute(sa.delete(sso_nonces).where(t.consumer == consumer, t.nonce_hash == nonce_hash,
                                                     t.expires_at <= now))
            conn.execute(sa.insert(sso_nonces).values(consumer=consumer, nonce_hash=nonce_hash, sub=sub, used_at=now,
                                                      expires_at=now + keep))
        return True
    except sa.exc.IntegrityError:
        return False


def purge_nonces(engine: sa.Engine) -> int:
    with engine.begin() as conn:
        return conn.execute(sa.delete(sso_nonces).where(sso_nonces.c.expires_at <= utcnow())).rowcount or 0


# -- routes ---------------------------------------------------------------------------------------
def _refuse(reason: str, consumer: Consumer, detail: str = "") -> Response:
    log.info("sso.provider_refused", reason=reason, consumer=consumer.name, detail=detail[:300])
    return wikimedia.render_refusal(reason, 400, (urlsplit(consumer.base_url).hostname or consumer.base_url,))


def _return_url_ok(url: str, consumer: Consumer) -> bool:
    parts = wikimedia.split_url(url)
    if parts is None or parts.scheme not in ("http", "https") or parts.username is not None or parts.password is not None:
        return False
    if "\\" in url or any(ord(c) < 32 or ord(c) == 127 for c in url):
        return False
    origin = wikimedia._origin(url)
    return origin is not None and origin == consumer.origin


def _now() -> float:
    return time.time()


def _pending_since(key: str, max_age: float) -> float:
    """When this browser first brought this request (now, the first time); prunes old entries."""
    now = _now()
    pending = session.get(SESSION_PENDING)
    pending = dict(pending) if isinstance(pending, dict) else {}
    pending = {k: v for k, v in pending.items() if isinstance(v, (int, float)) and now - v <= 2 * max_age}
    first = pending.get(key)
    if first is None:
        first = now
        pending[key] = now
        if len(pending) > MAX_PENDING:
            for old in sorted(pending, key=pending.get)[: len(pending) - MAX_PENDING]:
                pending.pop(old)
    session[SESSION_PENDING] = pending
    return first


def _forget_pending(key: str) -> None:
    pending = session.get(SESSION_PENDING)
    if isinstance(pending, dict) and key in pending:
        pending = dict(pending)
        pending.pop(key)
        session[SESSION_PENDING] = pending


def _handle(consumer: Consumer) -> Response:
    st = _state()
    sso = st.settings.sso
    try:
        req = discourse_connect.parse_request(request.args.get("sso"), request.args.get("sig"), consumer.secret)
    except discourse_connect.ConnectError as exc:
        return _refuse(INVALID, consumer, f"{exc.code}: {exc}")
    if not _return_url_ok(req.return_sso_url, consumer):
        return _refuse(RETURN_URL, consumer, req.return_sso_url)
    if nonce_used(st.engine, consumer.name, req.nonce_hash):
        return _refuse(REPLAYED, consumer)
    key = f"{consumer.name}:{req.nonce_hash[:32]}"
    if _now() - _pending_since(key, sso.nonce_max_age_seconds) > sso.nonce_max_age_seconds:
        _forget_pending(key)
        return _refuse(EXPIRED, consumer)

    account = wikimedia.current_account()
    if account is None:
        if req.prompt == "none":  # a silent attempt: say "not logged in" instead of asking
            sig_fields = {"nonce": req.nonce, "return_sso_url": req.return_sso_url, "failed": True}
            payload, sig = discourse_connect.build_payload(sig_fields, consumer.secret)
            _forget_pending(key)
            return redirect(discourse_connect.answer_url(req.return_sso_url, payload, sig), code=302)
        return wikimedia.require_login()

    if not use_nonce(st.engine, consumer.name, req.nonce_hash, account.sub,
                     dt.timedelta(hours=sso.used_nonce_keep_hours)):
        return _refuse(REPLAYED, consumer)
    _forget_pending(key)
    username = member_username(st.engine, account, sso)
    if consumer.site is None:
        fields = discourse_fields(account, username, sso)
        usernames.set_fields_hash(st.engine, account.sub, fields_digest(fields))
    else:  # WordPress keeps logins ASCII (sanitize_user, strict): the forum name in Latin letters
        fields = wordpress_fields(account, usernames.transliterate(username), consumer.site, sso)
    accounts.mark_platform(st.engine, account.sub, consumer.platform)
    payload, sig = discourse_connect.build_payload(
        {**fields, "nonce": req.nonce, "return_sso_url": req.return_sso_url}, consumer.secret)
    log.info("sso.provider_answer", consumer=consumer.name, sub=account.sub, username=username,
             require_activation=bool(fields.get("require_activation")))
    response = redirect(discourse_connect.answer_url(req.return_sso_url, payload, sig), code=302)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/sso/discourse")
def discourse():
    consumer = _state().consumers.get(DISCOURSE)
    if consumer is None:
        abort(404)
    return _handle(consumer)


@bp.get("/sso/wordpress/<site>")
def wordpress(site: str):
    consumer = _state().consumers.get(f"wordpress:{site}")
    if consumer is None:
        abort(404)
    return _handle(consumer)


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


@bp.after_app_request
def _after_login(response: Response) -> Response:
    if request.endpoint != "wikimedia.callback" or response.status_code not in (302, 303):
        return response
    account = g.get("sso_account")
    if account is None:
        return response
    st = _state()
    try:
        queue_discourse_sync(st.settings, st.engine, st.outbox, account)
    except Exception:  # noqa: BLE001 - never fail a login for a sync that can be done later
        log.exception("sso.sync_discourse_queue_failed", sub=account.sub)
    return response


def sync_discourse_handler(settings: Settings, engine: sa.Engine, client_factory=None):
    """The outbox handler of sso.sync_discourse: POST /admin/users/sync_sso with the member's
    current fields (the same builder as the login answer), unless the forum already has them."""
    from bridge import platforms
    from bridge.clients.discourse import DiscourseError, outbox_failure
    from bridge.outbox import PermanentFailure

    factory = client_factory or (lambda: platforms.discourse(settings, max_wait=30, max_retries=1))

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
                client.sync_sso(account.sub, account.email, **rest)
        except DiscourseError as exc:
            raise outbox_failure(exc) from None
        usernames.set_fields_hash(engine, sub, digest)
        log.info("sso.sync_discourse_done", sub=sub, username=username, job_id=job.id)

    return handle
