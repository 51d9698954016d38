"""The Wikimedia double: Wikimedia's OAuth 2.0 server (MediaWiki extension OAuth) for one consumer.

Serves, at Wikimedia's paths, with Authlib's authorization server and resource protector:

- ``GET /w/rest.php/oauth2/authorize`` (src/Rest/Handler/Authorize.php): parameters checked
  first (response_type=code, client_id; code_challenge_method plain|S256); an anonymous user is
  sent to ``Special:UserLogin`` (returning through ``Special:OAuth/rest_redirect``); then the
  client and redirect URI are checked (exact match with the registered callback, else
  invalid_client); without `approval_pass` the user is sent to ``Special:OAuth/approve``, whose
  Allow/Cancel buttons come back with ``approval_pass=1`` / ``approval_cancel=1``. Cancel gives
  ``error=unauthorized_client`` on the redirect URI *without* `state` (ClientApprovalDenyException).
  An approval is remembered per user and consumer: with identity-only grants the approve page
  passes straight through the next time (SpecialMWOAuth::handleAuthorizationForm).
- ``POST /w/rest.php/oauth2/access_token`` (AccessToken.php): x-www-form-urlencoded only;
  client_secret_post or Basic; PKCE (Authlib's CodeChallenge(required=True)); codes single-use
  and expiring (Wikimedia: 10 minutes). Errors are league/oauth2-server's JSON:
  ``{"error", "error_description", "hint", "message"}``; a reused code is ``invalid_request`` +
  hint "Authorization code has been revoked", an expired one "... has expired" (league
  AuthCodeGrant::validateAuthorizationCode), a wrong verifier ``invalid_grant``.
- ``GET /w/rest.php/oauth2/resource/profile`` (Resource.php + UserStatementProvider.php):
  sub, username, editcount, confirmed_email, email_verified, blocked, registered, groups, rights,
  grants; realname and email with the mwoauth-authonlyprivate grant; only sub+blocked for a
  hidden user. ``.../resource/scopes`` lists the consumer's grants.

Differences from Wikimedia, on purpose: access tokens are opaque random strings (Wikimedia issues
JWTs) and no refresh token is issued; users, codes, tokens and approvals live in memory.

Admin side for tests (``/__double__/...``): list/change users (block them, ...), reset, forget
approvals, expire codes and tokens. See tests/doubles/wikimedia.py.
"""

from __future__ import annotations

import base64
import dataclasses
import hmac
import logging
import secrets
import threading
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc6749.errors import InvalidClientError, InvalidScopeError
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import Flask, Response, abort, jsonify, redirect, request, session

from . import pages
from .users import EDITABLE, default_users, rights_for

log = logging.getLogger("wikimedia_double")

REST = "/w/rest.php/oauth2"
IDENTITY_GRANTS = {"mwoauth-authonly", "mwoauth-authonlyprivate"}
PRIVATE_INFO_GRANTS = {"mwoauth-authonlyprivate", "privateinfo"}
#: grant names MediaWiki knows (ScopeRepository: '#default', the two identity grants, $wgGrantPermissions)
KNOWN_GRANTS = IDENTITY_GRANTS | {"#default", "basic", "highvolume", "editpage", "editprotected", "createeditmovepage",
                                  "uploadfile", "uploadeditmovefile", "patrol", "rollback", "blockusers", "viewdeleted",
                                  "viewrestrictedlogs", "delete", "protect", "oversight", "editmycssjs", "editmyoptions",
                                  "editmywatchlist", "editsiteconfig", "editinterface", "editprotected", "privateinfo",
                                  "sendemail", "createaccount", "checkuser", "mergehistory", "import"}

DEFAULT_CONFIG: dict[str, Any] = {
    "base_url": "http://127.0.0.1:8071",
    "client_id": "space-bridge-dev",
    "client_secret": "space-bridge-dev-secret",
    "redirect_uris": ["http://127.0.0.1:8090/oauth/callback"],
    "client_name": "Wikimedia Space (local)",
    "client_owner": "Space bridge developers",
    "grants": ["mwoauth-authonlyprivate"],
    "code_ttl": 600,       # AuthorizationCodeAuthorization: new DateInterval('PT10M')
    "token_ttl": 3600,     # AuthorizationProvider::getGrantExpirationInterval() default PT1H
    "users": None,         # list of user records; None: users.default_users()
    "secret_key": None,
}

# league/oauth2-server's fixed error_description per error type, and its HTTP status
LEAGUE_ERRORS = {
    "invalid_request": ("The request is missing a required parameter, includes an invalid parameter value, "
                        "includes a parameter more than once, or is otherwise malformed.", 400),
    "invalid_client": ("Client authentication failed", 401),
    "invalid_grant": ("The provided authorization grant (e.g., authorization code, resource owner credentials) or "
                      "refresh token is invalid, expired, revoked, does not match the redirection URI used in the "
                      "authorization request, or was issued to another client.", 400),
    "invalid_scope": ("The requested scope is invalid, unknown, or malformed", 400),
    "unsupported_grant_type": ("The authorization grant type is not supported by the authorization server.", 400),
    "access_denied": ("The resource owner or authorization server denied the request.", 401),
    # ClientApprovalDenyException: message mwoauth-oauth2-error-user-approval-deny, type unauthorized_client
    "unauthorized_client": ("User has not approved the application (mwoauth-oauth2-error-user-approval-deny)", 400),
    "server_error": ("The authorization server encountered an unexpected condition which prevented it from "
                     "fulfilling the request: ", 500),
}


# Authlib's descriptions -> the hints league gives for the same failure
AUTHLIB_HINTS = {
    "Code challenge failed.": "Failed to verify `code_verifier`.",
    "Missing 'code_verifier'": "Check the `code_verifier` parameter",
    "Invalid 'code_verifier'": "Code Verifier must follow the specifications of RFC-7636.",
    "Missing 'code' in request.": "Check the `code` parameter",
    "Invalid 'code_challenge'": "Code challenge must follow the specifications of RFC-7636.",
}


class LeagueError(OAuth2Error):
    """An error as league/oauth2-server builds it: a type, a fixed description and a hint."""

    def __init__(self, error: str, hint: str | None = None, redirect_uri: str | None = None):
        # the hint stays out of Authlib's description, which may not contain '"'
        super().__init__(redirect_uri=redirect_uri, error=error)
        self.error = error
        self.hint = hint

    def get_error_description(self):
        return self.hint or ""


def league_payload(error: OAuth2Error) -> tuple[dict[str, str], int]:
    kind = error.error or "server_error"
    if kind == "unsupported_response_type":  # MediaWiki's parameter validation refuses it first
        kind = "invalid_request"
    description, status = LEAGUE_ERRORS.get(kind, LEAGUE_ERRORS["server_error"])
    hint = getattr(error, "hint", None) or AUTHLIB_HINTS.get(error.description, error.description)
    if kind == "server_error":
        description += hint or ""
        hint = None
    payload = {"error": kind, "error_description": description}
    if hint:
        payload["hint"] = hint
    payload["message"] = description  # deprecated copy league still sends
    return payload, status


# -- state --------------------------------------------------------------------------------------------
@dataclasses.dataclass
class Client(ClientMixin):
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    grants: list[str]
    name: str
    owner: str

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return self.redirect_uris[0] if len(self.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope):
        requested = [s for s in scope_to_list(scope or "") if s != "#default"]
        if not requested:  # no scope (or '#default'): all the consumer's grants
            return " ".join(self.grants)
        return " ".join(s for s in requested if s in self.grants)  # others are trimmed off silently

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret):
        return hmac.compare_digest(str(client_secret).encode(), self.client_secret.encode())

    def check_endpoint_auth_method(self, method, endpoint):
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type == "authorization_code"


@dataclasses.dataclass
class AuthCode:
    code: str
    client_id: str
    redirect_uri: str | None
    scope: str
    sub: int
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: float
    revoked: bool = False

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope


@dataclasses.dataclass
class Token:
    access_token: str
    client_id: str
    sub: int
    scope: str
    issued_at: float
    expires_in: int
    revoked: bool = False

    def get_scope(self):
        return self.scope

    def get_expires_in(self):
        return self.expires_in

    def is_expired(self):
        return time.time() >= self.issued_at + self.expires_in

    def is_revoked(self):
        return self.revoked


class Store:
    def __init__(self, cfg: dict):
        self.cfg = cfg
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.users: dict[int, dict] = {u["sub"]: u for u in (self.cfg["users"] or default_users())}
            for user in self.users.values():
                user.setdefault("password", "wikimedia-double")
                user.setdefault("hidden", False)
            self.codes: dict[str, AuthCode] = {}
            self.tokens: dict[str, Token] = {}
            self.approvals: dict[tuple[int, str], set[str]] = {}
            self.token_requests: list[dict] = []

    def user(self, key: Any) -> dict | None:
        with self.lock:
            if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
                return self.users.get(int(key))
            name = " ".join(str(key).replace("_", " ").split())  # MediaWiki: "_" is " ", first letter upper
            name = name[:1].upper() + name[1:]
            return next((u for u in self.users.values() if u["username"] == name), None)


# -- Authlib pieces ------------------------------------------------------------------------------------
class CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
    store: Store  # set on the subclass made per app

    def validate_authorization_redirect_uri(self, request, client):
        # league AbstractGrant::validateRedirectUri: a callback that is not the registered one is
        # invalid_client (401), not invalid_request
        uri = request.payload.redirect_uri
        if uri is not None and not client.check_redirect_uri(uri):
            raise InvalidClientError(description="Client authentication failed")
        return super().validate_authorization_redirect_uri(request, client)

    def save_authorization_code(self, code, request):
        data = request.payload.data
        with self.store.lock:
            self.store.codes[code] = AuthCode(
                code=code, client_id=request.client.client_id, redirect_uri=request.payload.redirect_uri,
                scope=request.scope or "", sub=request.user["sub"], code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method") or ("plain" if data.get("code_challenge") else None),
                expires_at=time.time() + float(self.store.cfg["code_ttl"]))

    def query_authorization_code(self, code, client):
        with self.store.lock:
            item = self.store.codes.get(code)
        if item is None:  # Wikimedia's codes are encrypted payloads; an unknown one fails to decrypt
            raise LeagueError("invalid_request", "Cannot decrypt the authorization code")
        if time.time() > item.expires_at:
            raise LeagueError("invalid_request", "Authorization code has expired")
        if item.revoked:
            raise LeagueError("invalid_request", "Authorization code has been revoked")
        if item.client_id != client.client_id:
            raise LeagueError("invalid_request", "Authorization code was not issued to this client")
        redirect_uri = self.request.payload.redirect_uri
        if item.redirect_uri and redirect_uri is None:
            raise LeagueError("invalid_request", "Check the `redirect_uri` parameter")
        if item.redirect_uri != redirect_uri:
            raise LeagueError("invalid_request", "Invalid redirect URI")
        return item

    def delete_authorization_code(self, authorization_code):
        with self.store.lock:  # revoked, not forgotten: a second use says "revoked"
            authorization_code.revoked = True

    def authenticate_user(self, authorization_code):
        return self.store.user(authorization_code.sub)


class TokenValidator(BearerTokenValidator):
    def __init__(self, store: Store):
        super().__init__()
        self.store = store

    def authenticate_token(self, token_string):
        with self.store.lock:
            return self.store.tokens.get(token_string)


class LeagueResourceProtector(ResourceProtector):
    def raise_error_response(self, error):
        # league's BearerTokenValidator answers every failure with accessDenied(hint)
        if error.error == "missing_authorization":
            hint = 'Missing "Authorization" header'
        else:  # unknown, expired or not a Bearer token
            hint = "Access token could not be verified"
        payload, status = league_payload(LeagueError("access_denied", hint))
        abort(Response(_json(payload), status=status, content_type="application/json"))


class Server(AuthorizationServer):
    def validate_requested_scope(self, scope):
        unknown = [s for s in scope_to_list(scope or "") if s not in KNOWN_GRANTS]
        if unknown:
            raise InvalidScopeError(description=f"Check the `{unknown[0]}` scope")

    def handle_error_response(self, request, error):
        payload, status = league_payload(error)
        if error.redirect_uri:
            sep = "&" if "?" in error.redirect_uri else "?"
            if error.error == "access_denied" and getattr(error, "state", None):
                payload = {"state": error.state, **payload}
            return redirect(error.redirect_uri + sep + urlencode(payload), code=302)
        if request is not None and getattr(request, "method", "GET") == "GET":
            # AuthenticationHandler::errorResponse: a GET without redirect shows an HTML error page
            return Response(pages.error_page(payload), status=status, content_type="text/html; charset=utf-8")
        return Response(_json(payload), status=status, content_type="application/json")


def _json(data) -> str:
    import json

    return json.dumps(data, ensure_ascii=False)


def profile_of(user: dict, scope: str) -> dict:
    """UserStatementProvider::getUserProfile() for `user` and the token's grants."""
    profile: dict[str, Any] = {"sub": user["sub"]}
    if user.get("hidden"):
        profile["blocked"] = True
        return profile
    grants_list = scope_to_list(scope or "") or []
    profile.update({
        "username": user["username"],
        "editcount": int(user["editcount"]),
        "confirmed_email": bool(user["confirmed_email"]),
        "email_verified": bool(user["confirmed_email"]),
        "blocked": bool(user["blocked"]),
        "registered": user.get("registered"),
        "groups": list(user["groups"]),
        "rights": rights_for(list(user["groups"])),
        "grants": grants_list,
    })
    if PRIVATE_INFO_GRANTS & set(grants_list):
        profile["realname"] = user.get("realname") or ""
        profile["email"] = user.get("email") or ""
    return profile


# -- the app ---------------------------------------------------------------------------------------------
def create_app(config: dict | None = None) -> Flask:
    cfg = dict(DEFAULT_CONFIG)
    cfg.update({k: v for k, v in (config or {}).items() if v is not None})
    if isinstance(cfg["redirect_uris"], str):
        cfg["redirect_uris"] = [cfg["redirect_uris"]]
    app = Flask("wikimedia_double")
    app.config.update(SECRET_KEY=cfg["secret_key"] or secrets.token_hex(32), SESSION_COOKIE_NAME="wikimedia_double_session",
                      SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_HTTPONLY=True)
    store = Store(cfg)
    client = Client(client_id=cfg["client_id"], client_secret=cfg["client_secret"],
                    redirect_uris=list(cfg["redirect_uris"]), grants=list(cfg["grants"]),
                    name=cfg["client_name"], owner=cfg["client_owner"])

    def save_token(token, req):
        with store.lock:
            store.tokens[token["access_token"]] = Token(
                access_token=token["access_token"], client_id=req.client.client_id, sub=req.user["sub"],
                scope=req.authorization_code.get_scope() if getattr(req, "authorization_code", None) else "",
                issued_at=time.time(), expires_in=int(token["expires_in"]))

    def generate_token(grant_type, client, user=None, scope=None, expires_in=None, include_refresh_token=True):
        # league BearerTokenResponse: token_type, expires_in, access_token (and refresh_token, not issued here)
        return {"token_type": "Bearer", "expires_in": int(cfg["token_ttl"]),
                "access_token": base64.urlsafe_b64encode(secrets.token_bytes(48)).decode().rstrip("=")}

    server = Server(app, query_client=lambda cid: client if cid == client.client_id else None, save_token=save_token)
    server.register_token_generator("default", generate_token)
    grant_cls = type("BoundCodeGrant", (CodeGrant,), {"store": store})
    server.register_grant(grant_cls, [CodeChallenge(required=True)])
    protector = LeagueResourceProtector()
    protector.register_token_validator(TokenValidator(store))
    app.config["DOUBLE"] = {"store": store, "client": client, "server": server, "config": cfg}

    def base_url() -> str:
        return cfg["base_url"].rstrip("/")

    def current_user() -> dict | None:
        sub = session.get("sub")
        return store.user(sub) if sub is not None else None

    def title_url(title: str, **query) -> str:
        return f"{base_url()}/w/index.php?" + urlencode({"title": title, **query})

    # -- REST: authorize ------------------------------------------------------------------------------
    @app.get(f"{REST}/authorize")
    def authorize():
        args = request.args
        # Authorize::getParamSettings(): checked before anything else (AuthenticationHandler::validate)
        for name in ("response_type", "client_id"):
            if not args.get(name):
                return server.handle_error_response(request, LeagueError("invalid_request", f"Check the `{name}` parameter"))
        if args["response_type"] != "code":
            return server.handle_error_response(request, LeagueError("invalid_request", "Check the `response_type` parameter"))
        if args.get("code_challenge_method") not in (None, "plain", "S256"):
            return server.handle_error_response(request, LeagueError("invalid_request",
                                                                     "Check the `code_challenge_method` parameter"))
        user = current_user()
        if user is None:  # getLoginRedirectResponse()
            return redirect(title_url("Special:UserLogin", returnto="Special:OAuth/rest_redirect",
                                      returntoquery=urlencode({"rest_url": request.url})), code=307)
        try:
            grant = server.get_consent_grant(end_user=user)
        except OAuth2Error as error:
            return server.handle_error_response(request, error)
        requested = set(scope_to_list(grant.request.scope or "") or [])
        if args.get("approval_cancel"):
            # ClientApprovalDenyException($authRequest->getRedirectUri()): the *requested* redirect URI,
            # no state; without one there is nowhere to send the error, so it is shown here
            return server.handle_error_response(request, LeagueError("unauthorized_client",
                                                                     redirect_uri=args.get("redirect_uri")))
        approved = store.approvals.get((user["sub"], client.client_id), set())
        if args.get("approval_pass") and requested <= approved:
            return server.create_authorization_response(grant=grant, grant_user=user)
        # getApprovalRedirectResponse(): returnto/returntoquery, minus any stale approval flags
        query = [(k, v) for k, v in parse_qsl(request.query_string.decode(), keep_blank_values=True)
                 if k not in ("approval_pass", "approval_cancel", "title")]
        return redirect(title_url("Special:OAuth/approve", returnto=f"{REST}/authorize", returntoquery=urlencode(query),
                                  client_id=client.client_id, oauth_version="2", scope=" ".join(sorted(requested))),
                        code=307)

    # -- REST: access token ---------------------------------------------------------------------------
    @app.post(f"{REST}/access_token")
    def access_token():
        if request.mimetype != "application/x-www-form-urlencoded":
            # MediaWiki REST: a body type the handler does not support
            return jsonify(httpCode=415, httpReason="Unsupported Media Type",
                           message=f"Unsupported Content-Type: {request.mimetype}"), 415
        with store.lock:
            store.token_requests.append({"form": {k: v for k, v in request.form.items() if k != "client_secret"},
                                         "basic_auth": bool(request.authorization),
                                         "user_agent": request.headers.get("User-Agent")})
        return server.create_token_response()

    # -- REST: resources ------------------------------------------------------------------------------
    @app.get(f"{REST}/resource/<kind>")
    def resource(kind):
        try:
            token = protector.acquire_token()
        except OAuth2Error as error:
            protector.raise_error_response(error)
        if kind == "scopes":
            return jsonify(scopes=list(client.grants))
        if kind != "profile":
            return jsonify(error="parameter-validation-failed", name="type", value=kind, httpCode=400,
                           httpReason="Bad Request"), 400
        user = store.user(token.sub)
        if user is None:
            return jsonify(httpCode=403, httpReason="Forbidden", message="User not found"), 403
        return Response(_json(profile_of(user, token.scope)), content_type="application/json")

    # -- wiki pages: login, approve, rest_redirect, email ----------------------------------------------
    @app.route("/w/index.php", methods=["GET", "POST"])
    def index_php():
        title = request.args.get("title", "")
        if title == "Special:UserLogin":
            return user_login()
        if title == "Special:OAuth/rest_redirect":
            query = dict(request.args)
            rest_url = query.pop("rest_url", "")
            query.pop("title", None)
            return redirect(_append_query(rest_url, query) if _is_ours(rest_url) else base_url() + "/", code=302)
        if title == "Special:OAuth/approve":
            return approve()
        if title in ("Special:ConfirmEmail", "Special:ChangeEmail"):
            return email_page(title)
        return Response(pages.simple_page("Wikimedia double", f"No page {title!r} here."), status=404,
                        content_type="text/html; charset=utf-8")

    @app.get("/wiki/<path:title>")
    def wiki(title):
        return redirect(title_url(title, **request.args), code=302)

    def user_login():
        error = None
        if request.method == "POST":
            user = store.user(request.form.get("wpName", ""))
            if user and hmac.compare_digest(request.form.get("wpPassword", "").encode(), str(user["password"]).encode()):
                session.clear()
                session["sub"] = user["sub"]
                returnto = request.args.get("returnto") or ""
                returntoquery = request.args.get("returntoquery") or ""
                return redirect(title_url(returnto, **dict(parse_qsl(returntoquery))) if returnto else base_url() + "/",
                                code=302)
            error = "Incorrect username or password entered. Please try again."
        return Response(pages.login_page(store.users.values(), error=error, name=request.form.get("wpName", "")),
                        status=200, content_type="text/html; charset=utf-8")

    def approve():
        user = current_user()
        if user is None:
            return redirect(title_url("Special:UserLogin", returnto="Special:OAuth/approve",
                                      returntoquery=urlencode({k: v for k, v in request.args.items() if k != "title"})))
        if request.args.get("client_id") != client.client_id:
            return Response(pages.simple_page("OAuth error", "Unknown application."), status=400,
                            content_type="text/html; charset=utf-8")
        requested = set(scope_to_list(request.args.get("scope", "")) or []) or set(client.grants)
        approved = store.approvals.get((user["sub"], client.client_id), set())

        def back(flag: str):
            query = dict(parse_qsl(request.args.get("returntoquery", ""), keep_blank_values=True))
            query[flag] = "1"
            return redirect(f"{base_url()}{request.args.get('returnto', REST + '/authorize')}?{urlencode(query)}", code=302)

        if request.method == "POST":
            if "cancel" in request.form:
                return back("approval_cancel")
            if "accept" in request.form:
                with store.lock:
                    store.approvals[(user["sub"], client.client_id)] = approved | requested
                return back("approval_pass")
        elif requested <= approved and requested <= IDENTITY_GRANTS:
            return back("approval_pass")  # an existing authorization for identity only: no dialog
        return Response(pages.approve_page(user, client, sorted(requested)), content_type="text/html; charset=utf-8")

    def email_page(title: str):
        user = current_user()
        if user is None:
            return redirect(title_url("Special:UserLogin", returnto=title))
        if request.method == "POST":
            with store.lock:
                if title == "Special:ChangeEmail" and request.form.get("email"):
                    user["email"] = request.form["email"]
                    user["confirmed_email"] = False
                else:
                    user["confirmed_email"] = bool(user.get("email"))
        return Response(pages.email_page(title, user), content_type="text/html; charset=utf-8")

    @app.get("/")
    def home():
        user = current_user()
        return Response(pages.simple_page("Wikimedia double", f"Logged in as {user['username']}." if user
                                          else "Not logged in."), content_type="text/html; charset=utf-8")

    @app.post("/w/index.php/logout")
    def logout():
        session.clear()
        return redirect(base_url() + "/")

    # -- admin side -----------------------------------------------------------------------------------
    @app.get("/__double__/users")
    def admin_users():
        return jsonify(users=[_public(u) for u in store.users.values()])

    @app.route("/__double__/users/<key>", methods=["GET", "POST", "PATCH"])
    def admin_user(key):
        user = store.user(key)
        if user is None:
            return jsonify(error="no such user", key=key), 404
        if request.method != "GET":
            changes = request.get_json(force=True) or {}
            unknown = set(changes) - EDITABLE
            if unknown:
                return jsonify(error=f"not editable: {', '.join(sorted(unknown))}", editable=sorted(EDITABLE)), 400
            with store.lock:
                user.update(changes)
        return jsonify(user=_public(user))

    @app.post("/__double__/reset")
    def admin_reset():
        store.reset()
        return jsonify(ok=True)

    @app.route("/__double__/approvals", methods=["GET", "DELETE"])
    def admin_approvals():
        if request.method == "DELETE":
            with store.lock:
                store.approvals.clear()
        return jsonify(approvals=[{"sub": sub, "client_id": cid, "grants": sorted(g)}
                                  for (sub, cid), g in store.approvals.items()])

    @app.post("/__double__/expire_codes")
    def admin_expire_codes():
        with store.lock:
            for code in store.codes.values():
                code.expires_at = 0
        return jsonify(ok=True)

    @app.post("/__double__/expire_tokens")
    def admin_expire_tokens():
        with store.lock:
            for token in store.tokens.values():
                token.issued_at = 0
        return jsonify(ok=True)

    @app.get("/__double__/token_requests")
    def admin_token_requests():
        return jsonify(token_requests=store.token_requests)

    @app.get("/__double__/config")
    def admin_config():
        return jsonify(client_id=client.client_id, redirect_uris=client.redirect_uris, grants=client.grants,
                       base_url=base_url(), code_ttl=cfg["code_ttl"], token_ttl=cfg["token_ttl"])

    def _is_ours(url: str) -> bool:
        parts = urlsplit(url)
        return (not parts.netloc or parts.netloc == urlsplit(base_url()).netloc) and parts.path.startswith("/w/rest.php/")

    return app


def _append_query(url: str, query: dict) -> str:
    if not query:
        return url
    parts = urlsplit(url)
    merged = parse_qsl(parts.query, keep_blank_values=True) + list(query.items())
    return urlunsplit(parts._replace(query=urlencode(merged)))


def _public(user: dict) -> dict:
    return {k: v for k, v in user.items() if k != "password"}
