"""Endpoints the OpenAPI description does not cover, reproduced from Discourse's source (each
cites the file it follows), and the double's own admin endpoints under /__double__/."""

from __future__ import annotations

import ipaddress
import re
import socket
import time
from urllib.parse import unquote_plus, urlsplit

from flask import Response

from . import connect, errors, profiles, usernames, webhooks
from .errors import json_error, json_response
from .serializers import user_json
from .store import DEFAULT_SITE_SETTINGS, now_iso, setting_type


def _admin_or_error(auth):
    if auth.error is not None:
        return auth.error
    if auth.user is None:
        return errors.not_logged_in()
    if not auth.user.get("admin"):
        return errors.invalid_access()  # Admin::AdminController: ensure_admin
    return None


# -- app/controllers/admin/users_controller.rb#sync_sso --------------------------------------------------
def sync_sso(store, hooks, auth, params):
    """POST /admin/users/sync_sso with sso and sig (query or body). 404 without
    enable_discourse_connect; a payload that does not parse or verify -> 422 {failed, message:
    "Login Error"}; blank external_id -> 422 blank_id_error; otherwise the user, created or
    updated exactly as at login (lookup_or_create_user), serialized by AdminDetailedUserSerializer.
    On stable-2025 the params are decoded a second time first (profiles.Profile.sync_sso_reparses_query)."""
    err = _admin_or_error(auth)
    if err is not None:
        return err
    if not store.setting("enable_discourse_connect"):
        return Response("", 404)
    sso_v, sig_v = params.get("sso"), params.get("sig")
    if profiles.of(store).sync_sso_reparses_query:
        sso_v, sig_v = _reparsed(sso_v, sig_v)
    try:
        sso = connect.parse(sso_v, sig_v, store.setting("discourse_connect_secret"))
    except connect.ParseError:
        return json_response({"failed": "FAILED", "message": connect.MESSAGES["login_error"]}, 422)
    try:
        user, created = connect.lookup_or_create_user(store, sso, hooks)
    except connect.BlankExternalId:
        return json_response({"failed": "FAILED", "message": connect.MESSAGES["blank_id_error"]}, 422)
    except connect.NoEmail:
        return json_response({"failed": "FAILED", "message": "Validation failed: Primary email can't be blank"}, 403)
    except connect.InvalidUser as exc:
        return json_response({"failed": "FAILED", "message": exc.message}, 403)
    if not created:
        hooks.emit("user", "user_updated", lambda: user_json(store, user, web_hook=True))
    return json_response(user_json(store, user, admin_view=True))


def _reparsed(sso, sig) -> tuple[str | None, str | None]:
    """Before Discourse PR #42024, sync_sso interpolates the already decoded params into
    "sso=...&sig=..." and DiscourseConnect.parse reads that with Rack::Utils.parse_query
    (lib/discourse_connect_base.rb): each value is form-decoded a second time, so a "+" of the
    Base64 payload becomes a space (and "%2B" a "+")."""
    parsed: dict[str, str] = {}
    for pair in f"sso={'' if sso is None else sso}&sig={'' if sig is None else sig}".split("&"):
        key, _, value = pair.partition("=")
        parsed[unquote_plus(key)] = unquote_plus(value)
    return parsed.get("sso"), parsed.get("sig")


# -- app/controllers/admin/site_settings_controller.rb ------------------------------------------------------
def site_settings_index(store, auth):
    err = _admin_or_error(auth)
    if err is not None:
        return err
    out = []
    hidden = profiles.of(store).hidden_settings()
    for name, value in store.all_settings().items():
        if name in hidden:
            continue
        default = DEFAULT_SITE_SETTINGS.get(name)
        out.append({"setting": name, "value": str(value).lower() if isinstance(value, bool) else str(value),
                    "default": str(default).lower() if isinstance(default, bool) else str(default),
                    "type": setting_type(name, default), "category": "double"})
    return json_response({"site_settings": out})


def site_settings_update(store, auth, name, params):
    """PUT /admin/site_settings/{name}: the value is params[name]; integer settings keep only
    digits and '-'; an unknown setting is Discourse::InvalidParameters, rendered as 422;
    success is `render body: nil` (200, empty)."""
    err = _admin_or_error(auth)
    if err is not None:
        return err
    if name not in DEFAULT_SITE_SETTINGS or name in profiles.of(store).unknown_settings():
        return json_error(f"No setting named '{name}' exists", 422)
    if name not in params:
        # params.require(:id) passes, then SiteSetting.set_and_log(id, nil) fails validation
        return json_error(f"You supplied invalid parameters to the request: {name}", 422)
    value = params.get(name)
    if isinstance(value, str):
        value = value.strip()
    kind = setting_type(name, DEFAULT_SITE_SETTINGS[name])
    if kind == "integer":
        digits = re.sub(r"[^-0-9]", "", str(value))
        if not re.fullmatch(r"-?\d+", digits):
            return json_error("Value must be an integer.", 422)
        value = int(digits)
    elif kind == "bool":
        if value not in ("true", "false", "t", "f", True, False):
            return json_error("Value must be true or false.", 422)
        value = value in ("true", "t", True)
    else:
        value = "" if value is None else str(value)
    # lib/validators/enable_sso_validator.rb
    if name == "enable_discourse_connect" and value and not store.setting("discourse_connect_url"):
        return json_error("You must set 'discourse connect url' before enabling this setting.", 422)
    refused = _username_setting_error(store, name, value)
    if refused:
        return json_error(refused, 422)
    store.set_setting(name, value)
    return Response("", 200)


def _username_setting_error(store, name, value) -> str | None:
    """lib/validators/unicode_username_validator.rb (unicode usernames need external system
    avatars: the internal letter avatars cannot draw them), unicode_username_allowlist_validator.rb
    (a regular expression), min_ and max_username_length_validator.rb
    (the range stays ordered and no existing username falls outside it)."""
    if name == "unicode_usernames" and value and not store.setting("external_system_avatars_url"):
        return "The internal system avatars do not support Unicode usernames."
    if name == "allowed_unicode_username_characters" and value:  # unicode_username_allowlist_validator.rb
        if usernames.regex.match(r"^/.*/[imxo]*$", value):
            return "The regular expression must not be surrounded by slashes."
        try:
            usernames.regex.compile(value)
        except usernames.regex.error as exc:
            return f"The regular expression is invalid: {exc}"
    if name in ("min_username_length", "max_username_length"):
        lo = value if name == "min_username_length" else store.setting("min_username_length")
        hi = value if name == "max_username_length" else store.setting("max_username_length")
        if lo > hi or lo < 1 or hi > 60:
            return "You cannot set the minimum length above the maximum length, or outside 1..60."
        with store.lock:
            outside = [u["username"] for u in store.data["users"].values()
                       if not lo <= len(usernames.clusters(u["username"])) <= hi]
        if outside:
            return f"You cannot set the username length range to {lo}..{hi}: '{outside[0]}' is outside it."
    return None


# -- app/controllers/admin/web_hooks_controller.rb (+ app/models/web_hook.rb validations) -------------------
def _hook_params(params) -> dict:
    wh = params.get("web_hook")
    return wh if isinstance(wh, dict) else {}


def _truthy(v) -> bool:
    return v in (True, "true", "1", 1, "t")


def _internal_host(store, host: str | None, allowed: list[str]) -> bool:
    if not host:
        return True
    if host in allowed:
        return False
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return True
    for info in infos:
        ip = ipaddress.ip_address(info[4][0])
        if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_unspecified:
            return True
    return False


def _validate_hook(store, hook: dict, allowed_internal: list[str]) -> list[str]:
    errs = []
    url = (hook.get("payload_url") or "").strip()
    if not url:
        errs.append("Payload url can't be blank")
    elif not re.match(r"^https?://[^\s/]+\S*$", url):
        # activerecord.errors.models.web_hook.attributes.payload_url.invalid
        errs.append("Payload url URL is invalid. URL should includes http:// or https://. And no blank is allowed.")
    elif _internal_host(store, urlsplit(url).hostname, allowed_internal):
        # WebHook#ensure_payload_url_allowed (FinalDestination::SSRFDetector)
        errs.append("Payload url cannot be used because it resolves to a blocked or internal IP address")
    if hook.get("secret") and len(hook["secret"]) < 12:
        errs.append("Secret is too short (minimum is 12 characters)")
    if not hook.get("wildcard_web_hook") and not hook.get("web_hook_event_type_ids"):
        errs.append("Web hook event types can't be blank")
    return errs


def _apply_hook_params(hook: dict, wh: dict) -> None:
    if "payload_url" in wh:
        hook["payload_url"] = (wh.get("payload_url") or "").strip()
    if "content_type" in wh:
        try:
            hook["content_type"] = int(wh["content_type"])
        except (TypeError, ValueError):
            hook["content_type"] = 1
    if "secret" in wh:
        hook["secret"] = wh.get("secret") or ""
    for b in ("wildcard_web_hook", "active", "verify_certificate"):
        if b in wh:
            hook[b] = _truthy(wh[b])
    if "web_hook_event_type_ids" in wh:
        ids = wh["web_hook_event_type_ids"]
        ids = ids if isinstance(ids, list) else [ids]
        hook["web_hook_event_type_ids"] = [int(i) for i in ids if str(i).strip().isdigit()]
    if "category_ids" in wh:
        ids = wh["category_ids"] if isinstance(wh["category_ids"], list) else [wh["category_ids"]]
        hook["category_ids"] = [int(i) for i in ids if str(i).strip().isdigit()]
    if "tag_names" in wh:
        names = wh["tag_names"] if isinstance(wh["tag_names"], list) else [wh["tag_names"]]
        hook["tag_names"] = [n for n in names if n]


def web_hooks_index(store, auth):
    err = _admin_or_error(auth)
    if err is not None:
        return err
    with store.lock:
        hooks = [webhooks.web_hook_json(h) for h in sorted(store.data["web_hooks"].values(), key=lambda h: h["id"])]
    return json_response({
        "web_hooks": hooks,
        "extras": {"event_types": webhooks.event_types_json(store),
                   "default_event_types": [e for e in webhooks.event_types_json(store) if e["name"].startswith("post_")],
                   "content_types": [{"id": 1, "name": "application/json"},
                                     {"id": 2, "name": "application/x-www-form-urlencoded"}],
                   "delivery_statuses": [{"id": 1, "name": "inactive"}, {"id": 2, "name": "failed"},
                                         {"id": 3, "name": "successful"}, {"id": 4, "name": "disabled"}]},
        "total_rows_web_hooks": len(hooks),
        "load_more_web_hooks": "/admin/api/web_hooks.json?limit=50&offset=50",
    })


def web_hooks_create(store, auth, params, allowed_internal):
    err = _admin_or_error(auth)
    if err is not None:
        return err
    wh = _hook_params(params)
    if not wh:
        return json_error("param is missing or the value is empty: web_hook", 400, "invalid_parameters")
    hook = {"payload_url": "", "content_type": 1, "secret": "", "wildcard_web_hook": False,
            "verify_certificate": True, "active": False, "web_hook_event_type_ids": [], "category_ids": [],
            "tag_names": [], "last_delivery_status": 1}
    _apply_hook_params(hook, wh)
    errs = _validate_hook(store, hook, allowed_internal)
    if errs:
        return json_error(errs, 422)
    with store.lock:
        hook["id"] = store.next_id("web_hook")
        hook["created_at"] = hook["updated_at"] = now_iso()
        store.data["web_hooks"][hook["id"]] = hook
        store.touch()
    return json_response({"web_hook": webhooks.web_hook_json(hook)})


def web_hooks_show(store, auth, hook_id):
    err = _admin_or_error(auth)
    if err is not None:
        return err
    hook = store.data["web_hooks"].get(hook_id)
    if hook is None:
        return errors.not_found()
    return json_response({"web_hook": webhooks.web_hook_json(hook)})


def web_hooks_update(store, auth, hook_id, params, allowed_internal):
    err = _admin_or_error(auth)
    if err is not None:
        return err
    with store.lock:
        hook = store.data["web_hooks"].get(hook_id)
        if hook is None:
            return errors.not_found()
        candidate = dict(hook)
        _apply_hook_params(candidate, _hook_params(params))
        errs = _validate_hook(store, candidate, allowed_internal) if candidate["payload_url"] != hook["payload_url"] \
            else [e for e in _validate_hook(store, candidate, allowed_internal) if "blocked or internal" not in e]
        if errs:
            return json_error(errs, 422)
        candidate["updated_at"] = now_iso()
        store.data["web_hooks"][hook_id] = candidate
        store.touch()
    return json_response({"web_hook": webhooks.web_hook_json(candidate)})


def web_hooks_destroy(store, auth, hook_id):
    err = _admin_or_error(auth)
    if err is not None:
        return err
    with store.lock:
        if store.data["web_hooks"].pop(hook_id, None) is None:
            return errors.not_found()
        store.touch()
    return json_response({"success": "OK"})


def web_hooks_events(store, auth, hook_id):
    err = _admin_or_error(auth)
    if err is not None:
        return err
    if hook_id not in store.data["web_hooks"]:
        return errors.not_found()
    with store.lock:
        evs = [webhooks.web_hook_event_json(e) for e in reversed(store.data["web_hook_events"]) if e["web_hook_id"] == hook_id]
    return json_response({"web_hook_events": evs[:50], "total_rows_web_hook_events": len(evs),
                          "load_more_web_hook_events": f"/admin/api/web_hook_events/{hook_id}.json?limit=50&offset=50",
                          "extras": {"web_hook_id": hook_id}})


def web_hooks_ping(store, hooks, auth, hook_id):
    err = _admin_or_error(auth)
    if err is not None:
        return err
    if hook_id not in store.data["web_hooks"]:
        return errors.not_found()
    hooks.ping(hook_id)
    return json_response({"success": "OK"})


# -- app/controllers/admin/api_controller.rb#create_key -----------------------------------------------------
def api_keys_create(store, auth, params):
    err = _admin_or_error(auth)
    if err is not None:
        return err
    k = params.get("key") if isinstance(params.get("key"), dict) else {}
    username = k.get("username")
    user = None
    if username:
        user = store.user_by_username(username)
        if user is None:
            return errors.not_found()
    rec = store.add_api_key(user_id=user["id"] if user else None, description=k.get("description") or "")
    return json_response({"key": _key_json(store, rec)})


def _key_json(store, rec):
    u = store.user(rec["user_id"]) if rec.get("user_id") is not None else None
    return {"id": rec["id"], "key": rec["key"], "truncated_key": rec["key"][:4], "description": rec["description"],
            "created_at": rec["created_at"], "revoked_at": rec.get("revoked_at"),
            "user": {"id": u["id"], "username": u["username"]} if u else None}


def double_info(store, started: float) -> dict:
    return {"double": "Discourse double (local stand-in for Discourse)", "base_url": store.base_url,
            "uptime_seconds": round(time.time() - started, 1), "profile": profiles.of(store).as_json()}
