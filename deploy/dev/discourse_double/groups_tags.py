"""GroupsController, Admin::GroupsController and TagsController#index.

app/controllers/groups_controller.rb (show, add_members, remove_member),
app/controllers/admin/groups_controller.rb (create), app/controllers/tags_controller.rb (index).
The membership helpers are shared with DiscourseConnect's group sync (connect.py).
"""

from __future__ import annotations

from . import errors
from .context import Ctx, Halt
from .errors import json_error
from .guardian import require_staff
from .serializers import group_basic


def create_group(ctx: Ctx):
    require_staff(ctx)
    store = ctx.store
    g = (ctx.body or {}).get("group") or {}
    name = (g.get("name") or "").strip()
    if not name:
        return json_error("Name can't be blank", 422)
    with store.lock:
        if any(x["name"].lower() == name.lower() for x in store.data["groups"].values()) or \
                name.lower() in ("admins", "moderators", "staff", "everyone", "trust_level_0", "trust_level_1",
                                 "trust_level_2", "trust_level_3", "trust_level_4"):
            return json_error("Name has already been taken", 422)
        gid = store.next_id("group")
        group = {"id": gid, "name": name, "full_name": g.get("full_name"), "user_ids": [],
                 "visibility_level": g.get("visibility_level", 0), "title": None}
        store.data["groups"][gid] = group
        for uname in (g.get("usernames") or "").split(","):
            u = store.user_by_username(uname.strip())
            if u:
                add_to_group(store, u, group)
        store.touch()
        return 200, {"basic_group": group_basic(group)}


def add_to_group(store, user: dict, group: dict) -> None:
    if group["id"] not in user["groups"]:
        user["groups"].append(group["id"])
    if user["id"] not in group["user_ids"]:
        group["user_ids"].append(user["id"])


def remove_from_group(store, user: dict, group: dict) -> None:
    if group["id"] in user["groups"]:
        user["groups"].remove(group["id"])
    if user["id"] in group["user_ids"]:
        group["user_ids"].remove(user["id"])


def _group_and_users(ctx: Ctx):
    store = ctx.store
    group = store.data["groups"].get(ctx.path["id"])
    if group is None:
        raise Halt(errors.not_found())
    names = [n.strip() for n in ((ctx.body or {}).get("usernames") or "").split(",") if n.strip()]
    if not names:
        # GroupsController#add_members: "Usernames or emails must be present"
        raise Halt(errors.invalid_parameters("usernames"))
    users = []
    for n in names:
        u = store.user_by_username(n)
        if u is None:
            raise Halt(errors.not_found())
        users.append(u)
    return group, users


def add_group_members(ctx: Ctx):
    require_staff(ctx)
    with ctx.store.lock:
        group, users = _group_and_users(ctx)
        already = [u["username"] for u in users if u["id"] in group["user_ids"]]
        if already:
            msg = (f"'{already[0]}' is already a member of this group." if len(already) == 1 else
                   f"The following users are already members of this group: {', '.join(already)}")
            return json_error(msg, 422)
        for u in users:
            add_to_group(ctx.store, u, group)
        ctx.store.touch()
    return 200, {"success": "OK", "usernames": [u["username"] for u in users], "emails": []}


def remove_group_members(ctx: Ctx):
    require_staff(ctx)
    with ctx.store.lock:
        group, users = _group_and_users(ctx)
        removed = [u for u in users if u["id"] in group["user_ids"]]
        for u in removed:
            remove_from_group(ctx.store, u, group)
        ctx.store.touch()
    return 200, {"success": "OK", "usernames": [u["username"] for u in removed],
                 "skipped_usernames": [u["username"] for u in users if u not in removed]}


def get_group(ctx: Ctx):
    store = ctx.store
    with store.lock:
        group = next((g for g in store.data["groups"].values() if g["name"].lower() == ctx.path["name"].lower()), None)
    if group is None:
        return errors.not_found()
    return 200, {"group": group_basic(group), "extras": {"visible_group_names": [group["name"]]}}


def list_tags(ctx: Ctx):
    store = ctx.store
    with store.lock:
        counts: dict[str, int] = {}
        for t in store.data["topics"].values():
            if not t.get("deleted_at"):
                for n in t.get("tags", []):
                    counts[n] = counts.get(n, 0) + 1
        tags = [{"id": tag["id"], "text": n, "name": n, "count": counts.get(n, 0), "pm_count": 0, "target_tag": None}
                for n, tag in store.data["tags"].items()]
    return 200, {"tags": tags, "extras": {"categories": []}}
