"""PostActionsController#create: likes and flags.

app/controllers/post_actions_controller.rb: a flag creates (or adds a score to) a
ReviewableFlaggedPost; the web hooks follow app/models/web_hook_event_type.rb per profile
(webhooks.py decides which event types exist).
"""

from __future__ import annotations

from . import errors
from .context import Ctx
from .serializers import basic_user, post_json, web_hook_post
from .store import now_iso


FLAG_TYPES = {3: "off_topic", 4: "inappropriate", 6: "notify_user", 7: "notify_moderators", 8: "spam", 10: "illegal"}


ACTION_TYPES = {2: "like", **FLAG_TYPES}


def perform_post_action(ctx: Ctx):
    store, user, body = ctx.store, ctx.user, ctx.body or {}
    post = store.post(body["id"])
    if post is None or post.get("deleted_at"):
        return errors.not_found()
    type_id = body["post_action_type_id"]
    if type_id not in ACTION_TYPES:
        return errors.invalid_parameters("post_action_type_id")
    with store.lock:
        for a in store.data["post_actions"]:
            if a["post_id"] == post["id"] and a["user_id"] == user["id"] and a["post_action_type_id"] == type_id \
                    and not a.get("deleted_at"):
                return errors.invalid_access()  # guardian.can_post_action? refuses acting twice
        if type_id == 2 and post["user_id"] == user["id"]:
            return errors.invalid_access()
        action = {"id": store.next_id("post_action"), "post_id": post["id"], "user_id": user["id"],
                  "post_action_type_id": type_id, "created_at": now_iso(), "deleted_at": None}
        store.data["post_actions"].append(action)
        topic = store.topic(post["topic_id"])
        if type_id in FLAG_TYPES and type_id != 6:
            reviewable = _reviewable_for(store, post, topic, user, type_id)
            action["reviewable_id"] = reviewable["id"]
            ctx.hooks.emit("flag", "flag_created", lambda: _flag_json(store, action, post),
                           category_id=topic["category_id"] if topic else None)
            if reviewable.pop("_new", False):
                ctx.hooks.emit("reviewable", "reviewable_created", lambda: _reviewable_json(store, reviewable),
                               category_id=topic["category_id"] if topic else None)
            else:
                ctx.hooks.emit("reviewable", "reviewable_score_updated", lambda: _reviewable_json(store, reviewable),
                               category_id=topic["category_id"] if topic else None)
        store.touch()
        out = post_json(store, post, user, topic=topic)
        counts: dict[int, int] = {}
        for a in store.data["post_actions"]:
            if a["post_id"] == post["id"] and not a.get("deleted_at"):
                counts[a["post_action_type_id"]] = counts.get(a["post_action_type_id"], 0) + 1
        out["actions_summary"] = [{"id": t, "count": c, "acted": t == type_id, "can_undo": True} for t, c in counts.items()]
        return 200, out


def _reviewable_for(store, post, topic, flagger, type_id) -> dict:
    for r in store.data["reviewables"].values():
        if r["target_id"] == post["id"] and r["status"] == 0:
            r["scores"].append({"user_id": flagger["id"], "reviewable_score_type": type_id, "created_at": now_iso()})
            r["score"] += 1.0
            return r
    rid = store.next_id("reviewable")
    r = {"id": rid, "type": "ReviewableFlaggedPost", "status": 0, "target_type": "Post", "target_id": post["id"],
         "topic_id": post["topic_id"], "category_id": topic["category_id"] if topic else None,
         "created_by_id": flagger["id"], "target_created_by_id": post["user_id"], "score": 1.0,
         "created_at": now_iso(), "scores": [{"user_id": flagger["id"], "reviewable_score_type": type_id,
                                              "created_at": now_iso()}], "_new": True}
    store.data["reviewables"][rid] = r
    post["reviewable_id"] = rid
    return r


def _reviewable_json(store, r: dict) -> dict:
    # WebHookReviewableSerializer-like: the reviewable with its target post
    out = {k: v for k, v in r.items() if not k.startswith("_") and k != "scores"}
    out["status"] = "pending" if r["status"] == 0 else r["status"]
    out["reviewable_score_count"] = len(r["scores"])
    out["payload"] = {}
    return out


def _flag_json(store, action: dict, post: dict) -> dict:
    # WebHookFlagSerializer: id, post, flag_type, created_by, created_at, resolved_at, resolved_by
    return {"id": action["id"], "post": web_hook_post(store, post),
            "flag_type": FLAG_TYPES.get(action["post_action_type_id"]),
            "created_by": basic_user(store.user(action["user_id"])), "created_at": action["created_at"],
            "resolved_at": None, "resolved_by": None}
