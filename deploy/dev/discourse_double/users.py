"""UsersController and Admin::UsersController: show, by external id, the admin's view,
the admin user lists, log-out and suspension.

app/controllers/users_controller.rb, app/controllers/admin/users_controller.rb (log_out,
suspend), app/services/user/suspend.rb.
"""

from __future__ import annotations

from datetime import datetime, timezone

from . import errors
from .context import Ctx
from .guardian import is_staff, require_staff
from .records import parse_time
from .serializers import basic_user, user_json
from .store import now_iso


def get_user(ctx: Ctx):
    u = ctx.store.user_by_username(ctx.path["username"])
    if u is None:
        return errors.not_found()
    return 200, {"user_badges": [], "user": user_json(ctx.store, u, admin_view=is_staff(ctx.user))}


def get_user_by_external_id(ctx: Ctx):
    u = ctx.store.user_by_external_id(ctx.path["external_id"])
    if u is None:
        return errors.not_found()
    return 200, {"user_badges": [], "user": user_json(ctx.store, u, admin_view=is_staff(ctx.user))}


def admin_get_user(ctx: Ctx):
    require_staff(ctx)
    u = ctx.store.user(ctx.path["id"])
    if u is None:
        return errors.not_found()
    return 200, user_json(ctx.store, u, admin_view=True)


def log_out_user(ctx: Ctx):
    require_staff(ctx)
    store = ctx.store
    u = store.user(ctx.path["id"])
    if u is None:
        # Admin::UsersController#log_out
        return errors.json_response({"error": "User with that ID not found"}, 404)
    store.log_out_user(u["id"])
    ctx.hooks.emit("user", "user_logged_out", lambda: user_json(store, u, web_hook=True))
    return 200, {"success": "OK"}


def suspend_user(ctx: Ctx):
    """Admin::UsersController#suspend running User::Suspend (app/services/user/suspend.rb), in its
    order: the contract (reason present and at most 300 characters, suspend_until present) -> 400
    {failed, errors}; no such user -> 404; already suspended (User::Policy::NotAlreadySuspended)
    -> 409 {failed, message: user.already_suspended}, nothing changes; a user the caller may not
    suspend (Guardian#can_suspend?: staff are never suspended) -> 403."""
    require_staff(ctx)
    store, body = ctx.store, ctx.body or {}
    reason = body.get("reason") if isinstance(body.get("reason"), str) else ""
    problems = []
    if not reason.strip():
        problems.append("Reason can't be blank")
    elif len(reason) > 300:
        problems.append("Reason is too long (maximum is 300 characters)")
    if not body.get("suspend_until"):
        problems.append("Suspend until can't be blank")
    if problems:
        return errors.json_response({"failed": "FAILED", "errors": problems}, 400)
    u = store.user(ctx.path["id"])
    if u is None:
        return errors.not_found()
    if u.get("suspended_till") and u["suspended_till"] > now_iso():
        by = store.user(u.get("suspended_by_id"))
        return errors.json_response({"failed": "FAILED", "message": (
            f"User was already suspended by {by['username'] if by else 'system'} {_time_ago(u.get('suspended_at'))}.")},
            409)
    if is_staff(u):
        return errors.invalid_access()
    with store.lock:
        until = parse_time(body["suspend_until"])
        u["suspended_at"] = now_iso()
        u["suspended_till"] = until
        u["suspend_reason"] = reason
        u["suspended_by_id"] = ctx.user["id"]
        store.touch()
    store.log_out_user(u["id"])  # UserSuspender logs the user out
    ctx.hooks.emit("user", "user_suspended", lambda: user_json(store, u, web_hook=True))
    return 200, {"suspension": {"suspend_reason": u["suspend_reason"], "full_suspend_reason": u["suspend_reason"],
                                "suspended_till": u["suspended_till"], "suspended_at": u["suspended_at"],
                                "suspended_by": basic_user(ctx.user)}}


def _time_ago(iso: str | None) -> str:
    # AgeWords.time_ago_in_words with datetime.distance_in_words_verbose (server.en.yml), roughly
    try:
        secs = (datetime.now(timezone.utc) - datetime.fromisoformat((iso or "").replace("Z", "+00:00"))).total_seconds()
    except ValueError:
        return "just now"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if secs >= size:
            n = int(secs // size)
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"


def admin_list_users(ctx: Ctx):
    require_staff(ctx)
    store, flag = ctx.store, ctx.path["flag"]
    with store.lock:
        users = [u for u in store.data["users"].values() if u["id"] > 0]
    if flag == "staff":
        users = [u for u in users if u.get("admin") or u.get("moderator")]
    elif flag == "suspended":
        users = [u for u in users if u.get("suspended_till")]
    elif flag == "active":
        users = [u for u in users if u.get("active")]
    if ctx.query.get("email"):
        users = [u for u in users if (u.get("email") or "").lower() == ctx.query["email"].lower()]
    out = []
    for u in users:
        j = user_json(store, u, admin_view=True)
        if not ctx.query.get("show_emails") and not ctx.query.get("email"):
            j.pop("email", None)
        out.append(j)
    return 200, out
