"""DiscourseConnect (SSO) consumer, as Discourse implements it.

Follows:
- lib/discourse_connect_base.rb: the payload is Base64 (strict, no newlines) of a query string;
  `sig` is the hex HMAC-SHA256 of that Base64 text with discourse_connect_secret; parse refuses
  an `sso` with characters outside [A-Za-z0-9=\\r\\n/+] (PayloadParseError) and a wrong `sig`
  (SignatureError); booleans are only "true"/"false"; `custom.*` fields are custom fields;
  nonce_expiry_time is 10 minutes, a used nonce is remembered for 24 hours.
- app/models/discourse_connect.rb: generate_sso (nonce = SecureRandom.hex, return_sso_url =
  base_url + "/session/sso_login"); with discourse_connect_csrf_protection (default on) the nonce
  lives in the browser's server session, so sso_login must come from the same browser;
  lookup_or_create_user: blank external_id is refused, the user is found by external_id, else by
  email (unless require_activation: then an email another account has fails User#save!, never a
  second account), else created (username from UserNameSuggester, name);
  auth_overrides_* settings; a user stays inactive when require_activation is set; admin and
  moderator flags; groups (discourse_connect_overrides_groups) or add_groups/remove_groups,
  for existing, non-automatic groups only.
- app/controllers/session_controller.rb: sso (404 unless enable_discourse_connect) and sso_login
  (payload_parse_error / signature_error 422, timeout_expired 419, suspended 403, inactive ->
  account-created page, return path must be relative or on this host and never /session/sso).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from . import usernames
from .store import now_iso, username_lower

NONCE_EXPIRY = 10 * 60
USED_NONCE_EXPIRY = 24 * 3600

ACCESSORS = ["add_groups", "admin", "avatar_force_update", "avatar_url", "bio", "card_background_url",
             "confirmed_2fa", "email", "external_id", "failed", "groups", "locale", "locale_force_update",
             "location", "logout", "moderator", "name", "no_2fa_methods", "nonce", "prompt",
             "profile_background_url", "remove_groups", "require_2fa", "require_activation", "return_sso_url",
             "suppress_welcome_message", "title", "username", "website"]
BOOLS = {"admin", "avatar_force_update", "confirmed_2fa", "failed", "locale_force_update", "logout", "moderator",
         "no_2fa_methods", "require_2fa", "require_activation", "suppress_welcome_message"}

# config/locales/server.en.yml, discourse_connect.*
MESSAGES = {
    "login_error": "Login Error",
    "not_found": "Your account couldn't be found. Please contact the site's administrator.",
    "account_not_approved": "Your account is pending approval. You will receive an email notification when you are approved.",
    "unknown_error": "There is a problem with your account. Please contact the site's administrator.",
    "timeout_expired": "Account login timed out, please try logging in again.",
    "no_email": "No email address was provided. Please contact the site's administrator.",
    "blank_id_error": "The `external_id` is required but was blank",
    "email_error": "An account could not be registered with the email address <b>%s</b>. Please contact the site's administrator.",
    "payload_parse_error": "Authentication failed (payload is not valid Base64)",
    "signature_error": "Authentication failed (incorrect signature)",
}


class ParseError(Exception):
    pass


class PayloadParseError(ParseError):
    pass


class SignatureError(ParseError):
    pass


def sign(payload: str, secret: str) -> str:
    return hmac.new((secret or "").encode(), payload.encode(), hashlib.sha256).hexdigest()


def build_payload(fields: dict, secret: str) -> tuple[str, str]:
    """(sso, sig) for the given fields, as DiscourseConnectBase#payload builds them."""
    unsigned = urlencode({k: ("true" if v is True else "false" if v is False else v) for k, v in fields.items()
                          if v is not None})
    sso = base64.b64encode(unsigned.encode()).decode()
    return sso, sign(sso, secret)


def parse(sso: str | None, sig: str | None, secret: str) -> dict:
    """DiscourseConnectBase.parse: the decoded fields, or ParseError."""
    sso = sso or ""
    if re.search(r"[^a-zA-Z0-9=\r\n/+]", sso):
        raise PayloadParseError("The SSO field should be Base64 encoded")
    expected = sign(sso, secret)
    if not secret or not hmac.compare_digest(expected, sig or ""):
        raise SignatureError("Bad signature for payload")
    try:
        decoded = base64.b64decode(sso + "=" * (-len(sso) % 4)).decode()
    except Exception as exc:  # noqa: BLE001
        raise PayloadParseError(str(exc)) from exc
    raw = dict(parse_qsl(decoded, keep_blank_values=True))
    out: dict = {}
    for k in ACCESSORS:
        v = raw.get(k)
        if k in BOOLS:
            v = (v == "true") if v in ("true", "false") else None
        out[k] = v
    out["custom_fields"] = {k[7:]: v for k, v in raw.items() if k.startswith("custom.")}
    out["_unsigned"] = decoded
    return out


# -- nonces -----------------------------------------------------------------------------------------
def generate_sso_url(store, session: dict, return_path: str) -> str:
    nonce = secrets.token_hex(16)
    with store.lock:
        session["nonces"][nonce] = {"return_path": return_path, "expires": time.time() + NONCE_EXPIRY}
    fields = {"nonce": nonce, "return_sso_url": store.base_url + "/session/sso_login"}
    sso, sig = build_payload(fields, store.setting("discourse_connect_secret"))
    base = store.setting("discourse_connect_url")
    return f"{base}{'&' if '?' in base else '?'}sso={quote(sso, safe='')}&sig={sig}"


def nonce_return_path(store, session: dict | None, nonce: str | None) -> str | None:
    """The return path registered for a valid nonce (None when unknown, expired or used)."""
    if not nonce or session is None:
        return None
    with store.lock:
        rec = session["nonces"].get(nonce)
        if not rec or rec["expires"] < time.time():
            return None
        return rec["return_path"]


def expire_nonce(store, session: dict, nonce: str) -> None:
    with store.lock:
        session["nonces"].pop(nonce, None)
        store.used_nonces[nonce] = time.time() + USED_NONCE_EXPIRY


# -- users ------------------------------------------------------------------------------------------
class BlankExternalId(Exception):
    pass


class NoEmail(Exception):
    pass


class InvalidUser(Exception):
    """User#save! refused the record (ActiveRecord::RecordInvalid): SessionController#sso_login
    answers 500 with discourse_connect.email_error (the email), Admin::UsersController#sync_sso
    403 with the validation message."""

    def __init__(self, email: str | None, message: str = "Validation failed: Username is invalid"):
        super().__init__(email)
        self.message = message


def _note_username(store, sent: str | None, made: str) -> None:
    """Real Discourse repairs a DiscourseConnect username silently (UserNameSuggester); the double
    says so in /__double__/notes, so that a provider sending names the forum must change is seen."""
    if sent is None or sent == made:
        return
    problems = store.username_errors(sent)
    why = "; ".join(problems) if problems else ("reserved" if usernames.reserved(sent, store.setting) else "taken")
    store.notes.append({"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "method": "GET",
                        "path": "/session/sso_login", "kind": "username_changed",
                        "message": f"DiscourseConnect username {sent!r} became {made!r}: {why}"})


def lookup_or_create_user(store, sso: dict, hooks=None) -> tuple[dict, bool]:
    """DiscourseConnect#lookup_or_create_user: (user, created)."""
    from . import groups_tags  # group helpers
    from .serializers import user_json

    external_id = str(sso.get("external_id") or "")
    if not external_id.strip() or external_id.lower() in ("none", "nil", "blank", "null"):
        raise BlankExternalId()
    created = False
    with store.lock:
        user = store.user_by_external_id(external_id)
        if user is None:
            email = sso.get("email")
            if not sso.get("require_activation"):
                user = store.user_by_email(email)
            if user is None:
                if not email or "@" not in email:
                    raise NoEmail()
                if store.user_by_email(email):
                    # require_activation skips the match by email, and the new account's
                    # UserEmail is not unique: User#save! fails (match_email_or_create_user)
                    raise InvalidUser(email, "Validation failed: Primary email has already been taken")
                # DiscourseConnect#resolve_username: the username, then the name
                # (use_name_for_username_suggestions), then the email (use_email_for_...: off)
                username = store.suggest_username(
                    sso.get("username"), sso.get("name") if store.setting("use_name_for_username_suggestions") else None)
                _note_username(store, sso.get("username"), username)
                if store.username_errors(username):  # User validates with UsernameValidator on save!
                    raise InvalidUser(email)
                name = sso.get("name") or (sso.get("username") or "") or None
                user = store.create_user(username, name, email, active=False)
                created = True
            user["external_id"] = external_id
            if sso.get("avatar_url"):
                user["avatar_url"] = sso["avatar_url"]
        else:
            # change_external_attributes_and_override
            if store.setting("auth_overrides_email") and sso.get("email") and user["email"] != sso["email"].lower():
                user["email"] = sso["email"]
                if sso.get("require_activation"):
                    user["active"] = False
            if store.setting("auth_overrides_username") and sso.get("username"):
                # UsernameChanger.override
                if username_lower(sso["username"]) == username_lower(user["username"]):
                    user["username"] = sso["username"]
                elif user["username"] != usernames.fix(sso["username"], store.setting):
                    user["username"] = store.suggest_username(sso["username"], current_username=user["username"])
                    _note_username(store, sso["username"], user["username"])
            if store.setting("auth_overrides_name") and sso.get("name") and user.get("name") != sso["name"]:
                user["name"] = sso["name"]
            if sso.get("avatar_url") and (sso.get("avatar_force_update") or store.setting("discourse_connect_overrides_avatar")
                                          or not user.get("avatar_url")):
                user["avatar_url"] = sso["avatar_url"]
        user["sso"] = {"username": sso.get("username"), "email": sso.get("email"), "name": sso.get("name"),
                       "avatar_url": sso.get("avatar_url"), "last_payload": sso.get("_unsigned")}
        if not user["active"] and not sso.get("require_activation"):
            user["active"] = True
            if not sso.get("suppress_welcome_message"):
                user["welcome_message_sent"] = True
        user["custom_fields"].update(sso.get("custom_fields") or {})
        if sso.get("admin") is not None:
            user["admin"] = sso["admin"]
        if sso.get("moderator") is not None:
            user["moderator"] = sso["moderator"]
        if sso.get("title") is not None:
            user["title"] = sso["title"]
        for attr in ("bio", "website", "location"):
            if sso.get(attr):
                user[attr] = sso[attr]
        _apply_group_rules(store, user, sso, groups_tags)
        user["updated_at"] = now_iso()
        store.touch()
    if hooks is not None and created:
        hooks.emit("user", "user_created", lambda: user_json(store, user, web_hook=True))
    return user, created


def _groups_named(store, names: str | None) -> list[dict]:
    wanted = [n.strip().lower() for n in (names or "").split(",") if n.strip()]
    return [g for g in store.data["groups"].values() if g["name"].lower() in wanted]


def _apply_group_rules(store, user, sso, groups_tags) -> None:
    if store.setting("discourse_connect_overrides_groups"):
        desired = _groups_named(store, sso.get("groups"))
        desired_ids = {g["id"] for g in desired}
        for gid in list(user["groups"]):
            if gid not in desired_ids and gid in store.data["groups"]:
                groups_tags.remove_from_group(store, user, store.data["groups"][gid])
        for g in desired:
            groups_tags.add_to_group(store, user, g)
        return
    if sso.get("add_groups"):
        for g in _groups_named(store, sso["add_groups"]):
            groups_tags.add_to_group(store, user, g)
    if sso.get("remove_groups"):
        for g in _groups_named(store, sso["remove_groups"]):
            groups_tags.remove_from_group(store, user, g)


def safe_return_path(store, return_path: str | None) -> str:
    rp = return_path or "/"
    if not re.match(r"^/[^/]", rp) and rp != "/":
        try:
            parts = urlsplit(rp)
            if parts.hostname != urlsplit(store.base_url).hostname:
                rp = "/"
        except ValueError:
            rp = "/"
    if "/session/sso" in rp:
        rp = "/"
    return rp
