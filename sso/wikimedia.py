"""Log members in with their Wikimedia account: the bridge as an OAuth 2.0 client of Wikimedia.

Flow (authorization code grant with PKCE S256 and `state`, Authlib's Flask client):

1. ``GET /login?next=URL[&uselang=xx]``: remembers `next` (allow-listed, see `safe_next`), the
   PKCE verifier and the language with a fresh `state` in the session, and redirects to
   ``{oauth_base_url}/w/rest.php/oauth2/authorize``. Wikimedia asks the member to log in and,
   the first time, to allow the consumer (Special:OAuth/approve), then redirects back.
2. ``GET /oauth/callback?code=..&state=..``: the `state` must be one this browser started;
   the code is exchanged at ``/w/rest.php/oauth2/access_token`` (client_secret_post + the PKCE
   verifier), the profile read from ``/w/rest.php/oauth2/resource/profile`` (sso/profile.py),
   the policy applied (sso/policy.py), the account upserted (sso/accounts.py), the member's
   `sub` put in the session (Flask's signed cookie: HttpOnly, SameSite=Lax, Secure on https),
   and the browser sent to `next`.
3. Anything else ends on a refusal page in the member's language (bridge/i18n/), reached by a
   303 to ``GET /login/refused`` so that reloading it or switching its language (``?uselang=``)
   never replays the callback. Status: 403 for the policy and a cancelled consent, 400 for a
   stale `state` or a refused code, 502 when Wikimedia is unreachable or answers nonsense.
4. ``GET /whoami``: the logged-in account as JSON (never its email address or real name), or 401.

Sessions (sso/sessions.py): /login and a successful /oauth/callback each start a fresh session
(nothing an earlier visitor left survives a login); the login time and the account's session
generation are stored with the member, and a login older than ``session_max_age_seconds`` or
ended by a log-out in another browser (sso/logout.py) no longer counts.

Wikimedia behaviour this relies on (extension OAuth, github.com/wikimedia/mediawiki-extensions-OAuth):

- src/Rest/Handler/Authorize.php: Cancel on the consent page (Special:OAuth/approve ->
  `approval_cancel=1`) throws ClientApprovalDenyException (src/Exception/): the browser comes
  back with ``error=unauthorized_client`` and *no* `state`; league/oauth2-server's own denial
  (``completeAuthorizationRequest``) says ``error=access_denied`` with the state. Both mean
  "the member said no", so an `error` is handled before the `state` check (it changes nothing).
- src/Rest/Handler/AccessToken.php: only x-www-form-urlencoded; errors are league's JSON
  ``{"error", "error_description", "hint", "message"}``. A reused code is ``invalid_request``
  with hint "Authorization code has been revoked" (league AuthCodeGrant::validateAuthorizationCode
  in the wikimedia/mediawiki-vendor fork), an expired one "Authorization code has expired";
  a wrong PKCE verifier ``invalid_grant``. Codes live 10 minutes (src/AuthorizationProvider/
  Grant/AuthorizationCodeAuthorization.php: PT10M).
- src/Rest/Handler/Resource.php + src/UserStatementProvider.php: the profile (see sso/profile.py).
- src/Frontend/SpecialPages/SpecialMWOAuth.php: an approval is remembered; with only the
  mwoauth-authonly(private) grants a second login skips the consent page.

API for the other flows (DiscourseConnect, WordPress), inside a request of the app:

    from sso import wikimedia
    account = wikimedia.current_account()     # Account of the logged-in member, or None
    response = wikimedia.require_login()      # None when logged in, else a redirect to /login
    if response is not None:                  #   that comes back to this very URL afterwards
        return response                       #   (or to require_login(next=...))
    wikimedia.login_url(next="/sso/discourse?sso=..&sig=..")   # the /login URL for a `next`
    wikimedia.logout_session()                # forget the member in this browser
    wikimedia.render_refusal("blocked")       # a localized refusal page (Response, 403)
    wikimedia.safe_next(url)                  # `url` if the bridge may redirect there, else None

`current_account()` is None for a member whose account has since been marked blocked (by a
re-check) when the policy refuses blocked members, so a blocked member's old session cannot be
used for a new DiscourseConnect handshake. `Account.email_confirmed` False means the policy let
an unconfirmed address in (``require_confirmed_email: false``): ask the forum to confirm it.
"""

from __future__ import annotations

import dataclasses
import time
from urllib.parse import urlencode, urlsplit

import requests
import sqlalchemy as sa
import structlog
from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import (Blueprint, Flask, Response, current_app, g, jsonify, redirect, render_template, request,
                   session, url_for)

from bridge import events, i18n
from bridge.clients import user_agent
from bridge.config import Settings, WikimediaSettings
from sso import accounts, policy, redirects, sessions
from sso.accounts import Account
from sso.profile import ProfileError, parse_profile

log = structlog.get_logger(__name__)

bp = Blueprint("wikimedia", __name__, template_folder="templates")

EXTENSION = "sso.wikimedia"
OAUTH_CLIENT = "wikimedia"
SESSION_KEY = "wikimedia_sub"
SESSION_LOGIN_AT = "wikimedia_login_at"
SESSION_GENERATION = "wikimedia_generation"
SESSION_REFUSAL = "wikimedia_refusal"
#: what a login keeps of the session it replaces (session fixation: nothing else survives it):
#: logins in progress in other tabs, and the DiscourseConnect requests waiting for this login
#: (sso/provider.py SESSION_PENDING: their age is counted from their first visit)
KEPT_AT_LOGIN_PREFIXES = (f"_state_{OAUTH_CLIENT}_", "sso_pending")
#: what /whoami tells about the member: never the email address or the real name (a script on a
#: page of the bridge's host could read it)
WHOAMI_FIELDS = ("sub", "username", "email_confirmed", "groups", "editcount", "registered", "blocked",
                 "platforms", "last_login_at")
CALLBACK_PATH = "/oauth/callback"

# Reasons that are not policy decisions (the policy's are in sso.policy.REFUSALS).
CANCELLED = "cancelled"
STATE = "state"
CODE = "code"
UPSTREAM_ERROR = "upstream_error"
UNAVAILABLE = "unavailable"
REASONS = (*policy.REFUSALS, CANCELLED, STATE, CODE, UPSTREAM_ERROR, UNAVAILABLE)
#: reasons worth offering "Log in again" for (the others need something to change first)
RETRYABLE = frozenset({CANCELLED, STATE, CODE, UPSTREAM_ERROR, UNAVAILABLE, policy.EMAIL_UNCONFIRMED,
                       policy.EMAIL_MISSING, policy.PROFILE_INCOMPLETE})
#: Wikimedia pages that fix a reason, and the message naming the link
ACTIONS = {policy.EMAIL_MISSING: ("Special:ChangeEmail", "spacebridge-refusal-action-add-email"),
           policy.EMAIL_UNCONFIRMED: ("Special:ConfirmEmail", "spacebridge-refusal-action-confirm-email")}


@dataclasses.dataclass(frozen=True)
class Endpoints:
    authorize: str
    access_token: str
    profile: str

    @classmethod
    def for_base(cls, base_url: str) -> "Endpoints":
        rest = base_url.rstrip("/") + "/w/rest.php/oauth2"
        return cls(f"{rest}/authorize", f"{rest}/access_token", f"{rest}/resource/profile")


@dataclasses.dataclass
class _State:
    settings: Settings
    wikimedia: WikimediaSettings
    engine: sa.Engine
    oauth: OAuth
    endpoints: Endpoints
    redirect_uri: str
    user_agent: str

    @property
    def client(self):
        return self.oauth.create_client(OAUTH_CLIENT)

    @property
    def wiki_host(self) -> str:
        return urlsplit(self.wikimedia.oauth_base_url).netloc


def init_app(app: Flask, settings: Settings, engine: sa.Engine) -> None:
    """Register the login routes and the OAuth client on `app` (settings.wikimedia must be set)."""
    wm = settings.wikimedia
    if wm is None:
        raise ValueError("the wikimedia section is not configured")
    endpoints = Endpoints.for_base(wm.oauth_base_url)
    oauth = OAuth(app)
    oauth.register(
        OAUTH_CLIENT,
        client_id=wm.client_id,
        client_secret=wm.client_secret.get_secret_value(),
        authorize_url=endpoints.authorize,
        access_token_url=endpoints.access_token,
        client_kwargs={
            "scope": " ".join(wm.scopes),
            "code_challenge_method": "S256",
            # Wikimedia's documentation sends the credentials in the body; league also takes Basic
            "token_endpoint_auth_method": "client_secret_post",
            "default_timeout": wm.timeout_seconds,
        },
    )
    app.extensions[EXTENSION] = _State(
        settings=settings, wikimedia=wm, engine=engine, oauth=oauth, endpoints=endpoints,
        redirect_uri=settings.bridge.public_url + CALLBACK_PATH,
        user_agent=user_agent(settings.bridge.user_agent_contact),
    )
    app.register_blueprint(bp)


def _state() -> _State:
    return current_app.extensions[EXTENSION]


# -- where the bridge may send a browser (sso/redirects.py) ---------------------------------------
MAX_NEXT_LENGTH = redirects.MAX_NEXT_LENGTH
split_url = redirects.split_url
_origin = redirects.origin
allowed_origins = redirects.allowed_origins


def safe_next(value: str | None, settings: Settings | None = None) -> str | None:
    """`value` when it is a same-origin path ("/x?y") or an http(s) URL on a configured host."""
    return redirects.safe_next(value, settings or _state().settings)


def default_next() -> str:
    """Where a member lands when no (acceptable) `next` was given: the forum, else the first blog."""
    return redirects.default_next(_state().settings)


# -- API for the other flows ----------------------------------------------------------------------
def session_sub() -> str | None:
    """The member this browser's session logged in, when that login still counts (sso/sessions.py:
    not older than session_max_age_seconds, not ended by a log-out elsewhere); else None, and a
    login that no longer counts is removed from the session."""
    if "sso_sub" in g:
        return g.sso_sub
    sub = session.get(SESSION_KEY)
    if sub is not None:
        st = _state()
        sub = str(sub)
        current = sessions.generation(st.engine, sub)
        if not sessions.login_is_current(session.get(SESSION_LOGIN_AT), session.get(SESSION_GENERATION), current,
                                         now=time.time(), max_age=st.wikimedia.session_max_age_seconds):
            log.info("sso.session_ended", sub=sub, reason="unknown account" if current is None else "expired or logged out")
            _forget_login()
            sub = None
    g.sso_sub = sub
    return sub


def current_account() -> Account | None:
    """The logged-in member's account (cached for the request), or None."""
    if "sso_account" in g:
        return g.sso_account
    account = None
    sub = session_sub()
    if sub:
        st = _state()
        account = accounts.get(st.engine, sub)
        if account is not None and account.blocked and st.wikimedia.policy.deny_blocked:
            log.info("sso.session_of_blocked_member", sub=sub)
            account = None
    g.sso_account = account
    return account


def login_url(next: str | None = None, *, uselang: str | None = None) -> str:  # noqa: A002
    args = {}
    if next:
        args["next"] = next
    if uselang:
        args["uselang"] = uselang
    return url_for("wikimedia.login", **args)


def _this_url() -> str:
    query = request.query_string.decode("latin-1")
    return request.script_root + request.path + (f"?{query}" if query else "")


def require_login(next: str | None = None) -> Response | None:  # noqa: A002
    """None when a member is logged in; else a redirect to /login coming back to `next`
    (default: the current URL, path and query)."""
    if current_account() is not None:
        return None
    return redirect(login_url(next or _this_url(), uselang=request.args.get("uselang")), code=302)


def logout_session() -> None:
    """Forget the member (and any login in progress) in this browser."""
    for key in [k for k in session if k in (SESSION_KEY, SESSION_LOGIN_AT, SESSION_GENERATION, SESSION_REFUSAL)
                or k.startswith(f"_state_{OAUTH_CLIENT}_")]:
        session.pop(key, None)
    g.pop("sso_account", None)
    g.pop("sso_sub", None)


def _forget_login() -> None:
    for key in (SESSION_KEY, SESSION_LOGIN_AT, SESSION_GENERATION):
        session.pop(key, None)
    g.pop("sso_account", None)
    g.pop("sso_sub", None)


def _fresh_session() -> None:
    """Start a new session for a login, keeping only what the login flow itself needs.

    Whatever an earlier visitor (or an attacker who planted a cookie) left in this browser's
    session, a login must not inherit it: a login in progress started here, and the
    DiscourseConnect requests waiting for it, are the only keys kept.
    """
    kept = {k: v for k, v in session.items() if k.startswith(KEPT_AT_LOGIN_PREFIXES)}
    session.clear()
    session.update(kept)
    g.pop("sso_account", None)
    g.pop("sso_sub", None)


AUTONYMS = {"en": "English", "es": "español", "ar": "العربية"}


def render_refusal(reason: str, status: int = 403, params: tuple | list = (), *, next: str | None = None,  # noqa: A002
                   lang: str | None = None) -> Response:
    """The refusal page for `reason` (one of REASONS) in `lang` (default: negotiated)."""
    st = _state()
    lang = lang or i18n.negotiate(request.args.get("uselang"), request.accept_languages)
    t = i18n.translator(lang)
    key = "spacebridge-refusal-" + reason.replace("_", "-")
    wiki = st.wiki_host
    default_params = {policy.PROFILE_INCOMPLETE: (wiki,), policy.EMAIL_MISSING: (wiki,),
                      policy.EMAIL_UNCONFIRMED: (wiki,)}
    if reason == policy.EDIT_COUNT:  # the count is the one on the login wiki: name it
        params = (*tuple(params)[:2], wiki)
    help_params = {policy.EDIT_COUNT: (*tuple(params)[:1], wiki)}.get(reason, default_params.get(reason, ()))
    action = None
    if reason in ACTIONS:
        page, text_key = ACTIONS[reason]
        action = {"href": f"{st.wikimedia.oauth_base_url}/wiki/{page}", "text": t(text_key, wiki)}
    languages = [{"code": code, "name": AUTONYMS.get(code, code), "dir": i18n.direction(code),
                  "href": "?" + urlencode({"uselang": code})}
                 for code in i18n.available_languages() if code != lang]
    html = render_template(
        "sso/refusal.html", lang=lang, dir=i18n.direction(lang), t=t, reason=reason,
        message=t(key, *(tuple(params) or default_params.get(reason, ()))),
        help=t(key + "-help", *help_params), action=action, languages=languages,
        retry=login_url(next, uselang=lang if request.args.get("uselang") else None) if reason in RETRYABLE else None,
    )
    response = Response(html, status=status, content_type="text/html; charset=utf-8")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Language"] = lang
    return response


# -- routes ---------------------------------------------------------------------------------------
@bp.get("/login")
def login():
    st = _state()
    nxt = request.args.get("next")
    checked = safe_next(nxt)
    if nxt and checked is None:
        log.warning("sso.next_refused", next=nxt[:300])
    uselang = request.args.get("uselang") or None
    if current_account() is not None:
        return redirect(checked or default_next())
    client = st.client
    _fresh_session()
    _forget_old_logins()
    rv = client.create_authorization_url(st.redirect_uri)
    client.save_authorize_data(state=rv["state"], redirect_uri=st.redirect_uri,
                               code_verifier=rv["code_verifier"], next=checked, uselang=uselang)
    return redirect(rv["url"])


MAX_PENDING_LOGINS = 4


def _forget_old_logins() -> None:
    """Keep the newest few logins in progress: each one is ~300 bytes of a cookie limited to 4 KB."""
    prefix = f"_state_{OAUTH_CLIENT}_"
    pending = sorted((k for k in session if k.startswith(prefix)),
                     key=lambda k: (session[k] or {}).get("exp", 0) if isinstance(session[k], dict) else 0)
    for key in pending[: max(0, len(pending) - (MAX_PENDING_LOGINS - 1))]:
        session.pop(key, None)


def _refuse(reason: str, status: int, params=(), *, next: str | None = None,  # noqa: A002
            uselang: str | None = None) -> Response:
    """Remember the refusal and send the browser to the page that shows it (POST/redirect/GET).

    A refusal by the policy also ends any earlier session in this browser: Wikimedia has just
    said who is at the keyboard, and that member may not log in. The other refusals (a stale
    state, a refused code, a cancelled consent) leave a session alone, so that a link to
    /oauth/callback cannot log anyone out.
    """
    if reason in policy.REFUSALS:
        _forget_login()
    session[SESSION_REFUSAL] = {"reason": reason, "status": status, "params": list(params), "next": next}
    args = {"uselang": uselang} if uselang else {}
    return redirect(url_for("wikimedia.refused", **args), code=303)


@bp.get(CALLBACK_PATH)
def callback():
    st = _state()
    client = st.client
    state = request.args.get("state")
    pending = client.framework.get_state_data(session, state) if state else None
    nxt = (pending or {}).get("next")
    uselang = (pending or {}).get("uselang")

    error = request.args.get("error")
    if error:
        if pending is not None:
            client.framework.clear_state_data(session, state)
        log.info("sso.authorization_error", error=error[:100], description=request.args.get("error_description", "")[:300])
        if error in ("access_denied", "unauthorized_client"):
            return _refuse(CANCELLED, 403, next=nxt, uselang=uselang)
        if error in ("server_error", "temporarily_unavailable"):
            return _refuse(UNAVAILABLE, 502, next=nxt, uselang=uselang)
        return _refuse(UPSTREAM_ERROR, 400, (error[:100],), next=nxt, uselang=uselang)
    if pending is None:
        log.info("sso.state_mismatch", state_given=bool(state))
        return _refuse(STATE, 400)
    if not request.args.get("code"):
        client.framework.clear_state_data(session, state)
        return _refuse(CODE, 400, next=nxt, uselang=uselang)

    headers = {"User-Agent": st.user_agent}
    try:
        token = client.authorize_access_token(headers=headers)  # checks the state again, clears it
    except OAuthError as exc:
        log.info("sso.token_refused", error=exc.error, description=(exc.description or "")[:300])
        if exc.error in ("invalid_grant", "invalid_request"):
            return _refuse(CODE, 400, next=nxt, uselang=uselang)
        if exc.error in ("server_error", "temporarily_unavailable"):
            return _refuse(UNAVAILABLE, 502, next=nxt, uselang=uselang)
        return _refuse(UPSTREAM_ERROR, 400, (str(exc.error)[:100],), next=nxt, uselang=uselang)
    except (requests.RequestException, ValueError) as exc:
        log.warning("sso.token_request_failed", error=str(exc)[:300])
        return _refuse(UNAVAILABLE, 502, next=nxt, uselang=uselang)

    try:
        resp = client.get(st.endpoints.profile, token=token, headers=headers)
        if resp.status_code != 200:
            raise ProfileError(f"HTTP {resp.status_code}: {resp.text[:200]}")
        profile = parse_profile(resp.json())
    except (requests.RequestException, ValueError) as exc:  # ProfileError is a ValueError
        log.warning("sso.profile_failed", error=str(exc)[:300])
        return _refuse(UNAVAILABLE, 502, next=nxt, uselang=uselang)

    decision = policy.evaluate(profile, st.wikimedia.policy)
    if not decision.allowed:
        log.info("sso.login_refused", reason=decision.reason, sub=profile.sub, username=profile.username)
        return _refuse(decision.reason, 403, decision.params, next=nxt, uselang=uselang)

    account = accounts.upsert_from_profile(st.engine, profile)
    _fresh_session()
    session[SESSION_KEY] = account.sub
    session[SESSION_LOGIN_AT] = int(time.time())
    session[SESSION_GENERATION] = sessions.generation(st.engine, account.sub) or 0
    g.sso_account = account
    g.sso_sub = account.sub
    log.info("sso.login", sub=account.sub, username=account.username, reason=decision.reason,
             email_confirmed=account.email_confirmed)
    events.publish(st.settings, st.engine, "member.login", sub=account.sub)
    return redirect(safe_next(nxt) or default_next())


@bp.get("/login/refused")
def refused():
    stored = session.get(SESSION_REFUSAL)
    if not isinstance(stored, dict) or stored.get("reason") not in REASONS:
        return render_refusal(STATE, 400)
    return render_refusal(stored["reason"], int(stored.get("status") or 403), tuple(stored.get("params") or ()),
                          next=stored.get("next"))


@bp.get("/whoami")
def whoami():
    account = current_account()
    if account is None:
        response = jsonify(logged_in=False, login_url=login_url())
        response.status_code = 401
    else:
        public = account.to_json()
        response = jsonify(logged_in=True, account={k: public[k] for k in WHOAMI_FIELDS})
    response.headers["Cache-Control"] = "no-store"
    return response
