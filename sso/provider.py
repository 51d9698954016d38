"""The bridge as DiscourseConnect provider of the forum and of the blogs.

Routes: one per kind of consumer (sso/consumers/), e.g. ``GET /sso/discourse?sso=..&sig=..`` (the
forum's discourse_connect_url) and ``GET /sso/wordpress/<site>?sso=..&sig=..`` (each WordPress site
with a ``connect_secret``: the site's space-bridge mu-plugin is the consumer). A route naming no
configured consumer answers 404. ``GET /session/sso_provider?sso=..&sig=..`` is Discourse's own
provider path, which names no consumer (wp-discourse's DiscourseConnect client on a blog uses it):
it sends the browser, sso and sig unchanged, to the route of the blog whose secret signed the
request for a return URL on that blog's own origin (sso/session_path.py), or refuses (400).

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
   with the member's fields (the consumer's `answer_fields`).

After every Wikimedia login (/oauth/callback) each consumer may queue a re-sync of what changed
(`Consumer.after_login`; the forum's: sso/consumers/discourse.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

import sqlalchemy as sa
import structlog
from flask import Blueprint, Flask, Response, abort, current_app, g, redirect, request, session, url_for

from bridge.config import Settings
from bridge.outbox import Outbox
from bridge.store import reader, sso_nonces, utcnow
from sso import accounts, consumers, discourse_connect, session_path, usernames, wikimedia
from sso.accounts import Account
from sso.consumers import Consumer
# the old import path of the forum's re-sync job, used by sso/feature.py

if TYPE_CHECKING:
    from sso.settings import SsoSettings

log = structlog.get_logger(__name__)

EXTENSION = "sso.provider"
BLUEPRINT = "sso_provider"
#: Discourse's own provider path (config/routes.rb, SessionController#sso_provider)
DISCOURSE_PATH = "/session/sso_provider"
SESSION_PENDING = "sso_pending"
MAX_PENDING = 4

# Refusal reasons of this module (messages spacebridge-refusal-sso-* in bridge/i18n/)
INVALID = "sso_invalid"
RETURN_URL = "sso_return_url"
REPLAYED = "sso_replayed"
EXPIRED = "sso_expired"
REASONS = (INVALID, RETURN_URL, REPLAYED, EXPIRED)


@dataclasses.dataclass
class _State:
    settings: Settings
    engine: sa.Engine
    outbox: Outbox
    consumers: dict[str, Consumer]


def init_app(app: Flask, settings: Settings, engine: sa.Engine, outbox: Outbox) -> None:
    """Register the consumers' routes, /sso/... (needs sso.wikimedia registered first)."""
    if wikimedia.EXTENSION not in app.extensions:
        raise ValueError("the DiscourseConnect provider needs the Wikimedia login (wikimedia section)")
    app.extensions[EXTENSION] = _State(settings, engine, outbox, consumers.by_name(settings))
    app.register_blueprint(_blueprint())


def _state() -> _State:
    return current_app.extensions[EXTENSION]


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
    if not consumer.return_url_ok(req.return_sso_url):
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
    fields = consumer.answer_fields(st.engine, account, username, sso)
    accounts.mark_platform(st.engine, account.sub, consumer.platform)
    payload, sig = discourse_connect.build_payload(
        {**fields, "nonce": req.nonce, "return_sso_url": req.return_sso_url}, consumer.secret)
    log.info("sso.provider_answer", consumer=consumer.name, sub=account.sub, username=username,
             require_activation=bool(fields.get("require_activation")))
    response = redirect(discourse_connect.answer_url(req.return_sso_url, payload, sig), code=302)
    response.headers["Cache-Control"] = "no-store"
    return response


def _view(kind: type[Consumer]):
    def view(**view_args: str) -> Response:
        consumer = _state().consumers.get(kind.name_for(**view_args))
        if not isinstance(consumer, kind):
            abort(404)
        return _handle(consumer)
    view.__name__ = kind.endpoint
    return view


def _discourse_path() -> Response:
    """/session/sso_provider: on to the route of the consumer that signed the request (sso/session_path.py)."""
    sso, sig = request.args.get("sso"), request.args.get("sig")
    try:
        consumer = session_path.choose(_state().consumers.values(), sso, sig)
    except session_path.Refused as exc:
        reason = RETURN_URL if exc.code == session_path.OTHER_ORIGIN else INVALID
        log.info("sso.provider_refused", reason=reason, consumer=exc.consumer.name if exc.consumer else None,
                 path=request.path, detail=str(exc)[:300])
        return wikimedia.render_refusal(reason, 400, (exc.host,))
    target = url_for(f"{BLUEPRINT}.{consumer.endpoint}", **consumer.view_args())
    response = redirect(f"{target}?{urlencode({'sso': sso, 'sig': sig})}", code=302)
    response.headers["Cache-Control"] = "no-store"
    return response


# -- after each Wikimedia login, the consumers may re-sync what changed -----------------------------
def _after_login(response: Response) -> Response:
    if request.endpoint != "wikimedia.callback" or response.status_code not in (302, 303):
        return response
    account = g.get("sso_account")
    if account is None:
        return response
    st = _state()
    for consumer in st.consumers.values():
        try:
            consumer.after_login(st.settings, st.engine, st.outbox, account)
        except Exception:  # noqa: BLE001 - never fail a login for a sync that can be done later
            log.exception("sso.resync_queue_failed", consumer=consumer.name, sub=account.sub)
    return response


def _blueprint() -> Blueprint:
    """The provider's routes, one per kind of consumer in `consumers.KINDS` when the app is made."""
    bp = Blueprint(BLUEPRINT, __name__)
    for kind in consumers.KINDS:
        bp.add_url_rule(kind.route, kind.endpoint, _view(kind), methods=["GET"])
    bp.add_url_rule(DISCOURSE_PATH, "discourse_path", _discourse_path, methods=["GET"])
    bp.after_app_request(_after_login)
    return bp
