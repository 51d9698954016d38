"""The Discourse double: a Flask app that answers like Discourse for what the bridge (through
pydiscourse) sends, and refuses loudly what Discourse's official OpenAPI description does not
allow.

Request path, for an API request:
 1. match the path against the description (Rails route aliases: a missing `.json` suffix,
    /users/ for /u/, /t/{slug}/{id} for /t/{id}; see ROUTE_ALIASES) -> unknown: 404 + violation;
 2. authenticate (Api-Key/Api-Username headers or the browser cookie) -> 403 / 429;
 3. keep the body parameters the real controller takes and drop the rest silently, as Rails
    strong parameters do (params.RULES); each dropped parameter is a violation of kind
    `dropped_parameter`, the request goes on;
4. check path, query and body against the operation's schemas (bodies are turned into Rails
    params and form-style strings coerced first; fields the controller takes that the
    description lacks are not refused) -> 400 + violation;
 5. run the operation (operations.HANDLERS; one module per Discourse controller) and shape the answer to the documented response schema.
Violations are kept for GET /__double__/violations and printed to stderr.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any
from urllib.parse import parse_qsl

from flask import Flask, Response, make_response, redirect, request

from . import admin, auth as authmod, connect, errors, operations, pages, params as permits
from .context import Ctx, Halt
from .guardian import is_staff
from .serializers import current_user_json, user_json
from .spec import Spec, parse_query, rails_params
from .store import SYSTEM_USER_ID, Store
from .webhooks import Dispatcher

log = logging.getLogger("discourse_double")
ALL_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]

DEFAULT_CONFIG: dict[str, Any] = {
    "state_dir": None,
    "base_url": "http://127.0.0.1:8070",
    "openapi": None,
    "api_key": None,              # seed key for the `system` admin user
    "api_username": "system",
    "rate_limit": 60,             # GlobalSetting.max_admin_api_reqs_per_minute
    "rate_limit_window": 60,
    "route_aliases": True,        # accept Rails' alternative routes for documented operations
    "webhook_retry_unit_seconds": 60.0,
    "webhook_workers": 1,         # Sidekiq runs jobs in parallel and does not keep their order; 1 does
    "allowed_internal_hosts": ["127.0.0.1", "localhost", "::1"],
    "site_settings": {},
}

# Rails routes (config/routes.rb) that reach the same controller action as a documented path.
ROUTE_ALIASES = [
    # `(.:format)`: /posts with `Accept: application/json` is /posts.json
    ("format", re.compile(r"^(?P<p>(?!.*\.json$).+?)/?$"), lambda m: m.group("p") + ".json"),
    # routes.rb defines every user route under both /u/ and /users/
    ("users_prefix", re.compile(r"^/users/(?P<rest>.+?)(?:\.json)?$"), lambda m: "/u/" + m.group("rest") + ".json"),
    # get "t/:topic_id/:post_number" => "topics#show" (both numeric)
    ("topic_post_number", re.compile(r"^/t/(?P<id>\d+)/(?P<n>\d+)(?:\.json)?$"), lambda m: f"/t/{m.group('id')}.json"),
    # get "t/:slug/:topic_id" and "t/:slug/:topic_id/:post_number" => "topics#show"
    ("topic_slug", re.compile(r"^/t/(?P<slug>[^/]*[^/\d][^/]*)/(?P<id>\d+)(?:/\d+)?(?:\.json)?$"),
     lambda m: f"/t/{m.group('id')}.json"),
    # put "t/:slug/:topic_id" and "t/:topic_id" => "topics#update" (the description has /t/-/{id}
    # alone; wp-discourse sets a featured_link with PUT /t/{slug}/{id})
    ("topic_update", re.compile(r"^/t/(?:(?P<slug>[^/]+)/)?(?P<id>\d+)(?:\.json)?$"),
     lambda m: f"/t/-/{m.group('id')}.json"),
]


def _at(body: Any, dotted: str | None) -> Any:
    """The value at a dotted field name (`group.flair_bg_color`) of a request body, or None."""
    for part in (dotted or "").split(".") if dotted else []:
        if isinstance(body, dict):
            body = body.get(part)
        elif isinstance(body, list) and part.isdigit() and int(part) < len(body):
            body = body[int(part)]
        else:
            return None
    return body if dotted else None


def create_app(config: dict | None = None) -> Flask:
    cfg = dict(DEFAULT_CONFIG)
    cfg.update(config or {})
    app = Flask("discourse_double")
    app.url_map.strict_slashes = False
    spec = Spec(cfg.get("openapi"))
    store = Store(cfg.get("state_dir"), cfg["base_url"])
    store.rate = {"max": int(cfg["rate_limit"]), "window": float(cfg["rate_limit_window"])}
    for name, value in (cfg.get("site_settings") or {}).items():
        store.set_setting(name, value)
    if cfg.get("api_key"):
        rec = store.api_key(cfg["api_key"])
        if rec is None:
            seed_user = store.user_by_username(cfg.get("api_username") or "system")
            store.add_api_key(cfg["api_key"], seed_user["id"] if seed_user else SYSTEM_USER_ID, "seed key")
    hooks = Dispatcher(store, retry_unit_seconds=float(cfg["webhook_retry_unit_seconds"]),
                       workers=int(cfg["webhook_workers"]))
    started = time.time()
    app.config["DOUBLE"] = {"store": store, "spec": spec, "hooks": hooks, "config": cfg}
    allowed_internal = list(cfg.get("allowed_internal_hosts") or [])

    def violation(kind: str, problems: list, op_id: str | None = None, body: Any = None) -> dict:
        rec = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "method": request.method,
               "path": request.path, "query": request.query_string.decode(errors="replace"),
               "operation": op_id, "kind": kind, "problems": problems,
               "content_type": request.headers.get("Content-Type"), "body": body,
               "user_agent": request.headers.get("User-Agent")}
        store.violations.append(rec)
        print(f"discourse-double VIOLATION {request.method} {request.path}: {kind}: "
              + "; ".join(p if isinstance(p, str) else p.get("message", "") for p in problems),
              file=sys.stderr, flush=True)
        return rec

    def note(kind: str, message: str) -> None:
        store.notes.append({"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "method": request.method,
                            "path": request.path, "kind": kind, "message": message})

    def drop_unpermitted(rule: permits.Rule, params: Any, route: str, op_id: str | None = None, *,
                         api: bool = True, where: str = "body") -> Any:
        """What the controller action takes of `params`, as Rails' permit leaves it; each parameter
        it drops is recorded (the request goes on, as on a real forum, but a client's test sees it)."""
        kept, dropped = permits.apply(rule, params, api=api, setting=store.setting)
        for name in dropped:
            message = f"{route}: Discourse drops the {where} parameter '{name}' ({rule.source} does not take it)"
            rec = violation("dropped_parameter", [{"where": where, "field": name, "kind": "dropped_parameter",
                                                   "message": message}], op_id)
            rec.update(route=route, param=name, source=rule.source)
        return kept

    def taken(rule: permits.Rule, a, route: str) -> dict:
        """all_params() of a route outside the description, less what its controller drops; a request
        refused before the action runs (no or wrong credentials) drops nothing."""
        params = all_params()
        if a.error is not None or a.user is None:
            return params
        return drop_unpermitted(rule, params, route)

    def session_of(create: bool = False) -> tuple[str | None, dict | None]:
        sid = request.cookies.get(authmod.SESSION_COOKIE)
        with store.lock:
            sess = store.sessions.get(sid) if sid else None
        if sess is None and create:
            sid = store.new_session()
            sess = store.sessions[sid]
        return sid, sess

    def all_params() -> dict:
        params = parse_query(request.query_string.decode(errors="replace"))
        if request.is_json:
            body = request.get_json(silent=True)
            if isinstance(body, dict):
                params.update(body)
        else:
            params.update(rails_params(request.form.items(multi=True)))
        return params

    def wants_html() -> bool:
        accept = request.headers.get("Accept") or ""
        return "text/html" in accept and "application/json" not in accept

    # -- the double's own admin endpoints ---------------------------------------------------------
    def double_admin(path: str):
        body = request.get_json(silent=True) or {}
        if path == "health":
            return errors.json_response(admin.double_info(store, started))
        if path == "violations":
            if request.method == "DELETE":
                store.violations.clear()
                return errors.json_response({"success": "OK"})
            return errors.json_response({"violations": list(store.violations)})
        if path == "notes":
            return errors.json_response({"notes": list(store.notes)})
        if path == "reset" and request.method == "POST":
            hooks.clear()
            store.reset(keep_keys=True)
            for name, value in (cfg.get("site_settings") or {}).items():
                store.set_setting(name, value)
            store.rate = {"max": int(cfg["rate_limit"]), "window": float(cfg["rate_limit_window"])}
            store.save()
            return errors.json_response({"success": "OK"})
        if path == "rate_limit" and request.method == "POST":
            with store.lock:
                store.rate = {"max": int(body.get("max", 60)), "window": float(body.get("window_seconds", 60))}
                store.rate_hits.clear()
            return errors.json_response({"success": "OK", "rate_limit": store.rate})
        if path == "api_keys" and request.method == "POST":
            user = store.user_by_username(body.get("username")) if body.get("username") else None
            if body.get("username") and user is None:
                return errors.not_found()
            rec = store.add_api_key(body.get("key"), user["id"] if user else (None if body.get("all_users") else SYSTEM_USER_ID),
                                    body.get("description") or "")
            store.save()
            return errors.json_response({"key": rec["key"], "user_id": rec["user_id"]})
        if path == "site_settings" and request.method == "POST":
            for name, value in body.items():
                store.set_setting(name, value)
            store.save()
            return errors.json_response({"site_settings": store.all_settings()})
        if path == "post_process" and request.method == "POST":
            # What CookedPostProcessor (lib/cooked_post_processor.rb) writes into a saved post's
            # cooked (lightbox, oneboxes) needs uploads and remote pages the double lacks: a test
            # gives the result. Like Discourse: no new revision, no web hook.
            with store.lock:
                post = store.post(body.get("post_id"))
                if post is None or not isinstance(body.get("cooked"), str):
                    return errors.not_found()
                post["cooked"] = body["cooked"]
                store.touch()
            store.save()
            return errors.json_response({"success": "OK"})
        if path == "web_hook_events":
            if request.args.get("wait"):
                hooks.idle(float(request.args.get("wait")))
            with store.lock:
                evs = list(store.data["web_hook_events"])
            return errors.json_response({"web_hook_events": evs})
        if path == "web_hooks/idle":
            return errors.json_response({"idle": hooks.idle(float(request.args.get("timeout", 10)))})
        if path == "expire_nonces" and request.method == "POST":
            with store.lock:
                for sess in store.sessions.values():
                    for rec in sess["nonces"].values():
                        rec["expires"] = 0
            return errors.json_response({"success": "OK"})
        if path == "state":
            return Response(json.dumps(store.snapshot(), default=str), content_type=errors.JSON_CT)
        if path == "logout":
            token = request.cookies.get(authmod.AUTH_COOKIE)
            uid = None
            with store.lock:
                uid = store.auth_tokens.pop(token, None) if token else None
            if uid is not None:
                u = store.user(uid)
                hooks.emit("user", "user_logged_out", lambda: user_json(store, u, web_hook=True))
            resp = redirect("/")
            resp.delete_cookie(authmod.AUTH_COOKIE)
            return resp
        return errors.not_found()

    # -- routes the description does not cover -------------------------------------------------------
    def special(path: str):
        m = request.method
        if m == "GET" and (path in ("/", "/latest") or re.fullmatch(r"/t/[^/]+/\d+", path) or re.fullmatch(r"/t/\d+", path)) \
                and (wants_html() or path == "/"):
            a = authmod.authenticate(store, request)
            user = a.user
            if path in ("/", "/latest"):
                return pages.topic_list_page(store, user, path)
            return pages.topic_page(store, user, path, path.rsplit("/", 1)[1])
        if path == "/session/sso" and m == "GET":
            return sso_start()
        if path == "/session/sso_login" and m == "GET":
            return sso_login()
        if path in ("/session/current.json", "/session/current") and m == "GET":
            a = authmod.authenticate(store, request)
            if a.error is not None:
                return a.error
            if a.user is None:
                return Response("", 404)  # SessionController#current: render body: nil, status: 404
            return errors.json_response({"current_user": current_user_json(store, a.user)})
        mm = re.fullmatch(r"/session/([^/]+?)(?:\.json)?", path)
        if mm and m == "DELETE" and mm.group(1) not in ("sso", "sso_login", "current"):
            # SessionController#destroy: log the browser's user out
            token = request.cookies.get(authmod.AUTH_COOKIE)
            with store.lock:
                uid = store.auth_tokens.pop(token, None) if token else None
            if uid is None:
                return errors.not_found()
            u = store.user(uid)
            hooks.emit("user", "user_logged_out", lambda: user_json(store, u, web_hook=True))
            resp = errors.json_response({"success": "OK", "redirect_url": "/"})
            resp.delete_cookie(authmod.AUTH_COOKIE)
            return resp
        if path == "/u/account-created" and m == "GET":
            a = authmod.authenticate(store, request)
            return pages.account_created_page(store, a.user, path)
        mm = re.fullmatch(r"/admin/users/sync_sso(?:\.json)?", path)
        if mm and m == "POST":
            a = authmod.authenticate(store, request)
            return admin.sync_sso(store, hooks, a, taken(permits.ROUTE_RULES["sync_sso"], a, "POST /admin/users/sync_sso"))
        if re.fullmatch(r"/admin/site_settings(?:\.json)?", path) and m == "GET":
            return admin.site_settings_index(store, authmod.authenticate(store, request))
        mm = re.fullmatch(r"/admin/site_settings/([A-Za-z0-9_]+)(?:\.json)?", path)
        if mm and m == "PUT":
            a = authmod.authenticate(store, request)
            rule = permits.site_setting_rule(mm.group(1))
            return admin.site_settings_update(store, a, mm.group(1), taken(rule, a, "PUT /admin/site_settings/{id}"))
        if re.fullmatch(r"/admin/api/web_hooks(?:\.json)?", path):
            a = authmod.authenticate(store, request)
            if m == "GET":
                return admin.web_hooks_index(store, a)
            if m == "POST":
                params = taken(permits.ROUTE_RULES["web_hook"], a, "POST /admin/api/web_hooks")
                return admin.web_hooks_create(store, a, params, allowed_internal)
        mm = re.fullmatch(r"/admin/api/web_hooks/(\d+)(?:\.json)?", path)
        if mm:
            a = authmod.authenticate(store, request)
            hid = int(mm.group(1))
            if m == "GET":
                return admin.web_hooks_show(store, a, hid)
            if m == "PUT":
                params = taken(permits.ROUTE_RULES["web_hook"], a, "PUT /admin/api/web_hooks/{id}")
                return admin.web_hooks_update(store, a, hid, params, allowed_internal)
            if m == "DELETE":
                taken(permits.ROUTE_RULES["web_hook_no_body"], a, "DELETE /admin/api/web_hooks/{id}")
                return admin.web_hooks_destroy(store, a, hid)
        mm = re.fullmatch(r"/admin/api/web_hooks/(\d+)/events(?:\.json)?", path)
        if mm and m == "GET":
            return admin.web_hooks_events(store, authmod.authenticate(store, request), int(mm.group(1)))
        mm = re.fullmatch(r"/admin/api/web_hooks/(\d+)/ping(?:\.json)?", path)
        if mm and m == "POST":
            a = authmod.authenticate(store, request)
            taken(permits.ROUTE_RULES["web_hook_no_body"], a, "POST /admin/api/web_hooks/{id}/ping")
            return admin.web_hooks_ping(store, hooks, a, int(mm.group(1)))
        if re.fullmatch(r"/admin/api/keys(?:\.json)?", path) and m == "POST":
            a = authmod.authenticate(store, request)
            return admin.api_keys_create(store, a, taken(permits.ROUTE_RULES["api_key"], a, "POST /admin/api/keys"))
        return None

    # -- DiscourseConnect (session_controller.rb) ----------------------------------------------------
    def sso_start():
        if not store.setting("enable_discourse_connect"):
            return errors.not_found() if not wants_html() else pages.render(
                store, None, request.path, "Not found", "<h1>Oops! That page doesn't exist or is private.</h1>", 404)
        sid, sess = session_of(create=True)
        return_path = request.args.get("return_path") or "/"
        url = connect.generate_sso_url(store, sess, return_path)
        resp = redirect(url, 302)
        resp.set_cookie(authmod.SESSION_COOKIE, sid, httponly=True, samesite="Lax")
        return resp

    def sso_error(text: str, status: int, user=None):
        return pages.sso_error_page(store, user, request.path, text, status)

    def sso_login():
        if not store.setting("enable_discourse_connect"):
            return errors.not_found()
        # Rack::Utils.parse_query on the raw query string ('+' is a space, as in Rails)
        raw = dict(re.findall(r"(?:^|&)([^=&]+)=([^&]*)", request.query_string.decode(errors="replace")))
        from urllib.parse import unquote_plus
        sso_v = unquote_plus(raw["sso"]) if "sso" in raw else None
        sig_v = unquote_plus(raw["sig"]) if "sig" in raw else None
        if not sso_v or not sig_v:
            missing = "sso" if not sso_v else "sig"
            return sso_error(errors.MSG["param_missing"] % missing, 400)
        try:
            sso = connect.parse(sso_v, sig_v, store.setting("discourse_connect_secret"))
        except connect.PayloadParseError:
            return sso_error(connect.MESSAGES["payload_parse_error"], 422)
        except connect.SignatureError:
            return sso_error(connect.MESSAGES["signature_error"], 422)
        sid, sess = session_of()
        nonce = sso.get("nonce")
        return_path = connect.nonce_return_path(store, sess, nonce)
        if return_path is None:
            reason = "Nonce has already been used" if nonce in store.used_nonces else \
                "Nonce is incorrect, was generated in a different browser session, or has expired"
            note("sso_nonce", reason)
            return sso_error(connect.MESSAGES["timeout_expired"], 419)
        connect.expire_nonce(store, sess, nonce)
        try:
            user, created = connect.lookup_or_create_user(store, sso, hooks)
        except connect.BlankExternalId:
            return sso_error(connect.MESSAGES["blank_id_error"], 500)
        except connect.NoEmail:
            return sso_error(connect.MESSAGES["no_email"], 500)
        except connect.InvalidUser as exc:
            return sso_error(connect.MESSAGES["email_error"] % exc, 500)
        if user.get("suspended_till") and user["suspended_till"] > time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()):
            # SessionController#failed_to_login: user.suspended_message
            msg = f"Your account has been suspended until {user['suspended_till'][:10]}."
            if user.get("suspend_reason"):
                msg = f"You have been suspended from the forum until {user['suspended_till'][:10]}. Reason: {user['suspend_reason']}"
            return sso_error(msg, 403)
        if not user.get("active"):
            return redirect("/u/account-created", 302)
        token = store.log_in(user["id"])
        user["last_seen_at"] = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        hooks.emit("user", "user_logged_in", lambda: user_json(store, user, web_hook=True))
        resp = redirect(connect.safe_return_path(store, return_path), 302)
        resp.set_cookie(authmod.AUTH_COOKIE, token, httponly=True, samesite="Lax")
        store.touch()
        return resp

    # -- operations of the description -------------------------------------------------------------------
    def match_operation(path: str):
        m = spec.match_exact(path, request.method)
        if m is not None and request.method.lower() in m.operations:
            return m, None
        if not cfg.get("route_aliases", True):
            return m, None
        for name, rx, target in ROUTE_ALIASES:
            mm = rx.match(path)
            if not mm:
                continue
            alt = target(mm)
            m2 = spec.match_exact(alt, request.method)
            if m2 is not None and request.method.lower() in m2.operations:
                return m2, f"{name}: {path} -> {m2.template}"
        return m, None

    def api_dispatch(path: str):
        m, alias = match_operation(path)
        if m is None:
            violation("unknown_endpoint", [f"{request.method} {path} is not an endpoint of Discourse's API description"])
            return errors.not_found()
        op = m.operations.get(request.method.lower())
        if op is None:
            violation("unknown_method", [f"{request.method} is not documented for {m.template} "
                                          f"(documented: {', '.join(x.upper() for x in m.operations)})"])
            return errors.not_found()
        if alias:
            note("route_alias", alias)
        a = authmod.authenticate(store, request)
        if a.error is not None:
            return a.error
        handler, level = operations.HANDLERS.get(op.operation_id, (None, "user"))
        if level != "public" and a.user is None:
            return errors.not_logged_in()
        if level == "staff" and not is_staff(a.user):
            return errors.invalid_access()
        if a.via_cookie and request.method != "GET" and not request.headers.get("X-CSRF-Token"):
            return errors.json_error(errors.MSG["bad_csrf"], 403)
        # the request, as Rails params
        query = parse_query(request.query_string.decode(errors="replace"))
        if request.is_json:
            body = request.get_json(silent=True)
            if body is None and request.get_data():
                violation("body", ["request body is not valid JSON"], op.operation_id, request.get_data(as_text=True))
                return errors.json_error("The request body is not valid JSON", 400, "invalid_parameters")
        else:
            body = rails_params(request.form.items(multi=True)) if request.form else None
        if request.method == "GET" and op.body_schema() is not None and body is None:
            # a GET "requestBody" in the description stands for query parameters (literal keys)
            body = dict(parse_qsl(request.query_string.decode(errors="replace"), keep_blank_values=True))
        rule = permits.RULES.get(op.operation_id) if request.method != "GET" else None
        if rule is not None:
            # Rails strong parameters: what the action does not take is dropped, not refused
            api_request = not a.via_cookie  # ApplicationController#is_api?
            body = drop_unpermitted(rule, body, f"{request.method} {m.template}", op.operation_id, api=api_request)
            documented = {p["name"] for p in op.parameters("query")} | set(m.path_params)
            unread = {k: v for k, v in query.items() if k not in documented and k not in rule.keys
                      and k not in rule.api_only}
            drop_unpermitted(permits.Rule(rule.source, {}), unread, f"{request.method} {m.template}",
                             op.operation_id, where="query")
            if op.operation_id == "createTopicPostPM" and isinstance(body, dict):
                body = permits.munge_create(body, api=api_request)
        typed_path, typed_query, problems = spec.check_params(op, m.path_params, query)
        # Rails hands form strings and JSON strings alike to the model, which casts "12" and "true"
        body, body_problems = spec.check_body(op, body, True)
        if rule is not None:
            # the controller takes these although the description does not list them; and a JSON
            # null is a permitted scalar to Rails (nil), whatever type the description names
            body_problems = [p for p in body_problems if p.kind != "additionalProperties"
                             and not (p.kind == "type" and _at(body, p.field) is None)]
        problems += body_problems
        if problems:
            violation("invalid_request", [{"where": p.where, "field": p.field, "kind": p.kind, "message": p.message}
                                          for p in problems], op.operation_id, body)
            first = problems[0]
            if first.kind == "required" and first.field:
                msg = errors.MSG["param_missing"] % first.field.split(".")[-1]
            else:
                msg = errors.MSG["invalid_parameters"] % (first.field or "body")
            detail = [f"Discourse double: {request.method} {m.template} ({op.operation_id}) is not allowed by "
                      f"Discourse's OpenAPI description: " + "; ".join(p.message for p in problems)]
            return errors.json_error([msg] + detail, 400, "invalid_parameters")
        if handler is None:
            note("not_implemented", f"{op.operation_id} is valid but not implemented by the double")
            return errors.json_error(f"Discourse double: {op.operation_id} ({request.method} {m.template}) is "
                                     "allowed by the API description but not implemented by the double", 501,
                                     "not_implemented")
        ignored = permits.unreproduced(rule, body) if rule is not None else []
        if ignored:
            note("not_reproduced", f"{op.operation_id}: {', '.join(ignored)} taken as Discourse takes them, "
                                   "but not acted on by the double")
        ctx = Ctx(store, hooks, a.user, typed_path, typed_query, body, request, op)
        try:
            result = handler(ctx)
        except Halt as h:
            return h.response
        if isinstance(result, Response):
            return result
        status, payload = result
        shaped = spec.shape_response(op, status, payload)
        mismatch = spec.check_response(op, status, shaped)
        if mismatch:
            note("response_mismatch", f"{op.operation_id}: " + "; ".join(mismatch[:5]))
        return errors.json_response(shaped, status)

    @app.route("/", defaults={"p": ""}, methods=ALL_METHODS)
    @app.route("/<path:p>", methods=ALL_METHODS)
    def dispatch(p: str):
        path = "/" + p
        if path.startswith("/__double__/"):
            return double_admin(path[len("/__double__/"):].strip("/"))
        resp = special(path)
        if resp is None:
            resp = api_dispatch(path)
        return resp

    @app.after_request
    def persist(resp):
        if request.method != "GET" or request.path.startswith("/session/"):
            try:
                store.save()
            except OSError:
                log.exception("could not save the double's state")
        resp.headers.setdefault("X-Discourse-Double", "1")
        return resp

    return app
