"""The operations of the OpenAPI description the double implements, keyed by operationId.

Each handler gets a Ctx (the validated, typed request) and returns (status, body) or a Flask
response.  Behaviour and messages follow Discourse's controllers and models:
app/controllers/posts_controller.rb, lib/post_creator.rb, lib/topic_creator.rb (an unknown
category is Discourse::InvalidParameters(:category)), app/models/topic.rb (title length from
min/max_topic_title_length, unique titles unless allow_duplicate_topic_titles, external_id
format/length/uniqueness), app/models/topic_embed.rb (embed_url unique), lib/validators/
post_validator.rb (min_first_post_length / min_post_length), app/controllers/topics_controller.rb
(show_by_external_id answers 301 to the topic's URL; update reads the top-level title,
category_id and tags params; status), lib/post_destroyer.rb (deleting the first post deletes the
topic), app/controllers/categories_controller.rb, app/controllers/admin/users_controller.rb
(log_out, suspend), lib/discourse_tagging.rb (clean_tag, creating tags on the fly for users
allowed to), app/controllers/post_actions_controller.rb (flags create a ReviewableFlaggedPost).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from flask import Response

from . import errors, titles
from .errors import MSG, json_error
from .serializers import (basic_user, category_json, cook, group_basic, post_json, tag_json, topic_list_item,
                          topic_view, user_json, web_hook_post)
from .store import SYSTEM_USER_ID, now_iso, slugify
from .titles import clean_title, raw_errors


@dataclass
class Ctx:
    store: Any
    hooks: Any
    user: dict | None
    path: dict
    query: dict
    body: Any
    request: Any
    operation: Any


class Halt(Exception):
    def __init__(self, response: Response):
        super().__init__("halt")
        self.response = response


def is_staff(user: dict | None) -> bool:
    return bool(user and (user.get("admin") or user.get("moderator")))


def require_staff(ctx: Ctx) -> None:
    if not is_staff(ctx.user):
        raise Halt(errors.invalid_access())


def _post_errors(errs: list[str], status: int = 422) -> Response:
    # PostsController#create renders NewPostResult: {"action": "create_post", "errors": [...]}
    return errors.json_response({"action": "create_post", "errors": errs}, status)


# -- validations shared by create and update (titles.py) ----------------------------------------------
def title_errors(store, title: str | None, *, exclude_topic_id: int | None = None, category_id: int | None = None,
                 user: dict | None = None) -> list[str]:
    """app/models/topic.rb's title validations: presence, length, quality (TextSentinel) and
    uniqueness (worded per profile)."""
    title = clean_title(title)
    if not title:
        return ["Title can't be blank"]
    errs = titles.title_problems(store, title)
    duplicate = titles.duplicate_error(store, title, user=user, exclude_topic_id=exclude_topic_id,
                                       category_id=category_id)
    if duplicate:
        errs.append(duplicate)
    return errs


def external_id_errors(store, external_id: str) -> list[str]:
    """app/models/topic.rb validates :external_id, in its order: unique case-insensitively (Rails'
    uniqueness check ignores the Trashable scope, so deleted topics count), at most
    EXTERNAL_ID_MAX_LENGTH (50), and /\\A[\\w-]+\\z/ where Ruby's \\w is ASCII."""
    errs = []
    low = external_id.lower()
    with store.lock:
        if any((t.get("external_id") or "").lower() == low for t in store.data["topics"].values()):
            errs.append("External has already been taken")
    if len(external_id) > 50:
        errs.append("External is too long (maximum is 50 characters)")
    if not re.fullmatch(r"[\w-]+", external_id, re.ASCII):
        errs.append("External is invalid")
    return errs


def just_posted_that(store, user: dict, raw: str) -> bool:
    """Post#matches_recent_post? for non-staff: the same text by the same user within
    unique_posts_mins minutes ("Body is too similar to what you recently posted")."""
    mins = int(store.setting("unique_posts_mins"))
    if is_staff(user) or mins <= 0:
        return False
    cutoff = time.time() - mins * 60
    norm = re.sub(r"\s+", " ", raw.strip())
    with store.lock:
        return any(p["user_id"] == user["id"] and p.get("created_epoch", 0) >= cutoff
                   and re.sub(r"\s+", " ", p["raw"].strip()) == norm for p in store.data["posts"].values())


TAG_STRIP = re.compile(r"[/?#\[\]@!$&'()*+,;=.%\\`^\s|{}\"<>]+")


def clean_tag(store, name: str) -> str:
    # DiscourseTagging.clean_tag
    name = name.strip()
    if store.setting("force_lowercase_tags"):
        name = name.lower()
    name = re.sub(r"\s+", "-", name)
    name = re.sub(r"[-_]+", lambda m: m.group(0)[0], name)
    name = TAG_STRIP.sub("", name)
    return name[: int(store.setting("max_tag_length"))]


def apply_tags(ctx: Ctx, topic: dict, names: list) -> list[str]:
    """Tag the topic with `names`; unknown tags are created when the user may create tags
    (create_tag_allowed_groups: admins, staff, trust level 3) and dropped otherwise."""
    store = ctx.store
    if not store.setting("tagging_enabled"):
        return []
    cleaned = []
    for n in names:
        if not isinstance(n, str):
            continue
        c = clean_tag(store, n)
        if c and c not in cleaned:
            cleaned.append(c)
    # DiscourseTagging.tags_for_saving: the existing tags first, then (for users who may create
    # tags) the new ones, cut to max_tags_per_topic without a word
    can_create = is_staff(ctx.user) or (ctx.user or {}).get("trust_level", 0) >= 3
    with store.lock:
        existing = [n for n in cleaned if n in store.data["tags"]]
        kept = (existing + [n for n in cleaned if n not in existing] if can_create else existing)
        kept = kept[:int(store.setting("max_tags_per_topic"))]
        for n in kept:
            if n not in store.data["tags"]:
                store.data["tags"][n] = {"id": store.next_id("tag"), "name": n, "created_at": now_iso()}
                ctx.hooks.emit("tag", "tag_created", lambda n=n: tag_json(store, n))
        topic["tags"] = kept
        store.touch()
    return kept


def _parse_time(value: str | None) -> str:
    if not value:
        return now_iso()
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    except ValueError:
        return now_iso()


# -- posts ------------------------------------------------------------------------------------------
def create_post(ctx: Ctx):
    """PostsController#create. An API request (Api-Key) is memoized for 120 s by user and params
    (DistributedMemoizer.memoize(signature_for(...), 120)): the same request again answers the
    first answer, and creates nothing."""
    if ctx.request.headers.get("Api-Key") is None:
        return _create_post(ctx)
    key = f"{ctx.user['id']}:{json.dumps(ctx.body, sort_keys=True, default=str)}"
    now = time.time()
    with ctx.store.lock:
        memo = ctx.store.post_memo
        for k in [k for k, (expires, _) in memo.items() if expires <= now]:
            del memo[k]
        if key in memo:
            return memo[key][1]
        result = _create_post(ctx)
        if isinstance(result, tuple):
            memo[key] = (now + 120, result)
        elif result.status_code in (200, 422):
            memo[key] = (now + 120, result)
        return result


def _create_post(ctx: Ctx):
    store, body, user = ctx.store, ctx.body or {}, ctx.user
    raw = body.get("raw")
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        # params.require(:raw)
        return json_error(MSG["param_missing"] % "raw", 400, "invalid_parameters")
    # PostsController#create_params: `whisper` (guardian.can_create_whisper?: staff here) makes
    # a reply Post.types[:whisper] (4); `unlist_topic` becomes `visible` (TopicCreator
    # #validate_visibility: staff may create an unlisted topic).
    whisper, unlist = _flag(body.get("whisper")), _flag(body.get("unlist_topic"))
    if (whisper or unlist) and not is_staff(user):
        return errors.invalid_access()
    pm = body.get("archetype") == "private_message"
    topic_id = body.get("topic_id")
    with store.lock:
        if pm and topic_id is None:
            # TopicCreator#process_private_message: no category; every recipient must exist
            names = [n.strip() for n in str(body.get("target_recipients") or "").split(",") if n.strip()]
            if not names:
                return _post_errors(["You must choose a valid user."])
            if not all(store.user_by_username(n) for n in names):
                return _post_errors(["Can't find the user you're sending this message to."])
            errs = title_errors(store, body.get("title"), user=user) or raw_errors(store, raw, first_post=True)
            if errs:
                return _post_errors(errs)
            topic = _insert_topic(store, user, body["title"].strip(), None, None, body.get("created_at"))
            topic["archetype"] = "private_message"
            topic["allowed_user_ids"] = [user["id"]] + [store.user_by_username(n)["id"] for n in names]
            post = _insert_post(store, topic, user, raw, None, body.get("created_at"))
            ctx.hooks.emit("topic", "topic_created", lambda: topic_view(store, topic, None, for_web_hook=True))
        elif topic_id is not None:
            topic = store.topic(topic_id)
            if topic is None or (topic.get("deleted_at") and not is_staff(user)):
                return _post_errors([MSG["topic_not_found"]])
            if topic.get("closed") and not is_staff(user):
                return _post_errors(["This topic is closed; it no longer accepts new replies."])
            errs = raw_errors(store, raw, first_post=False)
            if not errs and just_posted_that(store, user, raw):
                errs = ["Body is too similar to what you recently posted"]
            if errs:
                return _post_errors(errs)
            post = _insert_post(store, topic, user, raw, body.get("reply_to_post_number"), body.get("created_at"))
            if whisper:
                post["post_type"] = 4
            elif not topic["visible"] and topic.get("embed_url") and store.setting("embed_unlisted"):
                # PostCreator#make_visible (Jobs::MakeEmbeddedTopicVisible): the first regular
                # reply lists an embedded topic
                topic["visible"] = True
        else:
            category = None
            if body.get("category") is not None:
                category = store.category(body["category"])
                if category is None:
                    return errors.invalid_parameters("category")
            category_id = category["id"] if category else int(store.setting("uncategorized_category_id"))
            # PostCreator#valid?: the topic's errors (TopicCreator) alone when it has any, else the post's
            errs = title_errors(store, body.get("title"), category_id=category_id, user=user)
            external_id = body.get("external_id")
            if external_id not in (None, ""):
                errs += external_id_errors(store, external_id)
            if errs:
                return _post_errors(errs)
            errs = raw_errors(store, raw, first_post=True)
            if not errs and just_posted_that(store, user, raw):
                errs = ["Body is too similar to what you recently posted"]
            embed_url = body.get("embed_url")
            if embed_url and _embedded_topic(store, embed_url):
                errs.append("Embed url has already been taken")
            if errs:
                return _post_errors(errs)
            topic = _insert_topic(store, user, body["title"].strip(), category_id, external_id or None,
                                  body.get("created_at"), embed_url=embed_url)
            # PostCreator#initialize: a topic with an embed_url is unlisted under embed_unlisted
            topic["visible"] = not (unlist or (embed_url and store.setting("embed_unlisted")))
            post = _insert_post(store, topic, user, raw, None, body.get("created_at"))
            if embed_url:
                store.data["embeds"][embed_url] = topic["id"]
            ctx.hooks.emit("topic", "topic_created", lambda: topic_view(store, topic, None, for_web_hook=True),
                           category_id=topic["category_id"], tag_names=topic.get("tags"))
        ctx.hooks.emit("post", "post_created", lambda: web_hook_post(store, post),
                       category_id=topic["category_id"], tag_names=topic.get("tags"))
        return 200, post_json(store, post, user, topic=topic)


def _embedded_topic(store, embed_url: str) -> dict | None:
    """The live topic holding this embed_url (app/models/topic_embed.rb: unique among undeleted
    TopicEmbeds; Topic#trash! trashes its TopicEmbed, which frees the URL)."""
    topic = store.topic(store.data["embeds"].get(embed_url))
    return topic if topic and not topic.get("deleted_at") else None


def _flag(value) -> bool:
    # ActiveModel::Type::Boolean.new.cast, as the controller reads these form parameters
    return value is True or str(value).lower() in ("true", "1", "t", "on")


def _insert_topic(store, user, title, category_id, external_id, created_at, *, embed_url=None, pinned=False) -> dict:
    tid = store.next_id("topic")
    ts = _parse_time(created_at)
    topic = {"id": tid, "title": title, "slug": slugify(title), "category_id": category_id, "user_id": user["id"],
             "last_post_user_id": user["id"], "created_at": ts, "bumped_at": ts, "last_posted_at": ts,
             "updated_at": ts, "posts_count": 0, "reply_count": 0, "highest_post_number": 0, "visible": True,
             "closed": False, "archived": False, "pinned_at": ts if pinned else None, "external_id": external_id,
             "tags": [], "archetype": "regular", "views": 0, "deleted_at": None, "excerpt_raw": "",
             "embed_url": embed_url}
    store.data["topics"][tid] = topic
    store.touch()
    return topic


def _insert_post(store, topic, user, raw, reply_to, created_at) -> dict:
    pid = store.next_id("post")
    ts = _parse_time(created_at)
    number = topic["highest_post_number"] + 1
    post = {"id": pid, "topic_id": topic["id"], "user_id": user["id"], "post_number": number, "raw": raw,
            "cooked": cook(raw), "created_at": ts, "updated_at": ts, "reply_to_post_number": reply_to,
            "version": 1, "edit_reason": None, "deleted_at": None, "post_type": 1, "reply_count": 0,
            "hidden": False, "user_deleted": False, "reviewable_id": None, "created_epoch": time.time()}
    store.data["posts"][pid] = post
    topic["highest_post_number"] = number
    topic["posts_count"] += 1
    if number > 1:
        topic["reply_count"] += 1
        if reply_to:
            for p in store.topic_posts(topic["id"]):
                if p["post_number"] == reply_to:
                    p["reply_count"] = p.get("reply_count", 0) + 1
    else:
        topic["excerpt_raw"] = raw
    topic["last_posted_at"] = ts
    topic["bumped_at"] = ts
    topic["last_post_user_id"] = user["id"]
    user["last_posted_at"] = ts
    store.touch()
    return post


def get_post(ctx: Ctx):
    post = ctx.store.post(ctx.path["id"])
    if post is None or (post.get("deleted_at") and not is_staff(ctx.user)):
        return errors.not_found()
    return 200, post_json(ctx.store, post, ctx.user)


def list_posts(ctx: Ctx):
    store = ctx.store
    before = ctx.query.get("before")
    with store.lock:
        posts = [p for p in store.data["posts"].values() if not p.get("deleted_at")
                 and (before is None or p["id"] < before)]
        posts.sort(key=lambda p: -p["id"])
        out = []
        for p in posts[:50]:
            t = store.topic(p["topic_id"])
            if not t or (not t["visible"] and not is_staff(ctx.user)) or t.get("deleted_at"):
                continue
            out.append(post_json(store, p, ctx.user, topic=t))
    return 200, {"latest_posts": out}


def update_post(ctx: Ctx):
    store, user = ctx.store, ctx.user
    post = store.post(ctx.path["id"])
    if post is None or post.get("deleted_at"):
        return errors.not_found()
    if not (is_staff(user) or user["id"] == post["user_id"]):
        return errors.invalid_access()
    params = (ctx.body or {}).get("post") or {}
    raw = params.get("raw")
    if raw is None:
        return json_error(MSG["param_missing"] % "post", 400, "invalid_parameters")
    with store.lock:
        errs = raw_errors(store, raw, first_post=post["post_number"] == 1)
        if errs:
            return json_error(errs, 422)
        topic = store.topic(post["topic_id"])
        if raw != post["raw"]:
            post["raw"] = raw
            post["cooked"] = cook(raw)
            post["version"] += 1
            post["edit_reason"] = params.get("edit_reason") or None
            post["updated_at"] = now_iso()
            if post["post_number"] == 1 and topic:
                topic["excerpt_raw"] = raw
            store.touch()
            ctx.hooks.emit("post", "post_edited", lambda: web_hook_post(store, post),
                           category_id=topic["category_id"] if topic else None, tag_names=(topic or {}).get("tags"))
        return 200, {"post": post_json(store, post, user, topic=topic)}


def delete_post(ctx: Ctx):
    store, user = ctx.store, ctx.user
    post = store.post(ctx.path["id"])
    if post is None:
        return errors.not_found()
    if not (is_staff(user) or user["id"] == post["user_id"]):
        return errors.invalid_access()
    with store.lock:
        topic = store.topic(post["topic_id"])
        if post.get("deleted_at"):
            return Response("", 200)
        ts = now_iso()
        if is_staff(user):
            post["deleted_at"] = ts
            post["deleted_by_id"] = user["id"]
        else:
            # PostDestroyer#mark_for_deletion: a user's own post is replaced, not deleted
            post["user_deleted"] = True
            post["raw"] = "(post deleted by author)"
            post["cooked"] = cook(post["raw"])
        if topic and post["post_number"] == 1 and is_staff(user):
            topic["deleted_at"] = ts
            for p in store.topic_posts(topic["id"]):
                p["deleted_at"] = p.get("deleted_at") or ts
        elif topic and post["post_number"] > 1 and is_staff(user):
            topic["posts_count"] = max(0, topic["posts_count"] - 1)
            topic["reply_count"] = max(0, topic["reply_count"] - 1)
        store.touch()
        ctx.hooks.emit("post", "post_destroyed", lambda: web_hook_post(store, post),
                       category_id=topic["category_id"] if topic else None, tag_names=(topic or {}).get("tags"))
        if topic and topic.get("deleted_at") == ts:
            ctx.hooks.emit("topic", "topic_destroyed", lambda: topic_view(store, topic, None, for_web_hook=True),
                           category_id=topic["category_id"], tag_names=topic.get("tags"))
    return Response("", 200)  # PostsController#destroy: render body: nil


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


# -- topics -----------------------------------------------------------------------------------------
def _visible_topic(ctx: Ctx, tid) -> dict | None:
    t = ctx.store.topic(tid)
    if t is None or (t.get("deleted_at") and not is_staff(ctx.user)):
        return None
    if not is_staff(ctx.user):
        # lib/guardian/topic_guardian.rb#can_see_topic?: a PM for its participants, a topic for
        # those who may see its category (staff-only categories here)
        if t.get("archetype") == "private_message" and (ctx.user or {}).get("id") not in t.get("allowed_user_ids", []):
            return None
        if not _can_see_category(ctx, ctx.store.category(t.get("category_id"))):
            return None
    return t


def _can_see_category(ctx: Ctx, cat: dict | None) -> bool:
    # app/models/category.rb, Category.secured: a read-restricted category is for the groups its
    # permissions name; the double knows the automatic groups `everyone` and `staff` only.
    return cat is None or not cat.get("read_restricted") or is_staff(ctx.user)


def get_topic(ctx: Ctx):
    topic = _visible_topic(ctx, ctx.path["id"])
    if topic is None:
        return errors.not_found()
    with ctx.store.lock:
        topic["views"] = topic.get("views", 0) + 1
        return 200, topic_view(ctx.store, topic, ctx.user)


def topic_by_external_id(ctx: Ctx):
    topic = ctx.store.topic_by_external_id(ctx.path["external_id"])
    if topic is None:
        return errors.not_found()
    # TopicsController#redirect_to_correct_topic: 301 to relative_url, ".json" for JSON requests
    url = f"/t/{topic['slug']}/{topic['id']}"
    if ctx.request.path.endswith(".json") or "json" in (ctx.request.headers.get("Accept") or ""):
        url += ".json"
    resp = Response(f'<html><body>You are being <a href="{ctx.store.base_url}{url}">redirected</a>.</body></html>',
                    status=301, content_type="text/html; charset=utf-8")
    resp.headers["Location"] = ctx.store.base_url + url
    return resp


def remove_topic(ctx: Ctx):
    require_staff(ctx)
    store = ctx.store
    topic = store.topic(ctx.path["id"])
    if topic is None:
        return errors.not_found()
    with store.lock:
        if not topic.get("deleted_at"):
            ts = now_iso()
            topic["deleted_at"] = ts
            for p in store.topic_posts(topic["id"]):
                p["deleted_at"] = p.get("deleted_at") or ts
            store.touch()
            ctx.hooks.emit("topic", "topic_destroyed", lambda: topic_view(store, topic, None, for_web_hook=True),
                           category_id=topic["category_id"], tag_names=topic.get("tags"))
    return Response("", 200)


def update_topic(ctx: Ctx):
    store, user, body = ctx.store, ctx.user, ctx.body or {}
    topic = _visible_topic(ctx, ctx.path["id"])
    if topic is None:
        return errors.not_found()
    first = next(iter(store.topic_posts(topic["id"])), None)
    if not (is_staff(user) or (first and first["user_id"] == user["id"])):
        return errors.invalid_access()
    with store.lock:
        changed = False
        if "title" in body:
            new_title = (body.get("title") or "").strip()
            if new_title != topic["title"]:
                errs = title_errors(store, new_title, exclude_topic_id=topic["id"], category_id=topic["category_id"],
                                    user=user)
                if errs:
                    return json_error(errs, 422)
                topic["title"] = new_title
                topic["slug"] = slugify(new_title)
                changed = True
        if "category_id" in body and body["category_id"] not in (None, ""):
            try:
                cid = int(body["category_id"])
            except (TypeError, ValueError):
                cid = 0
            if store.category(cid) is None:
                return json_error("Category not found!", 422)
            if cid != topic["category_id"]:
                topic["category_id"] = cid
                changed = True
        if "tags" in body:
            tags = body["tags"] if isinstance(body["tags"], list) else [body["tags"]]
            before = list(topic.get("tags", []))
            apply_tags(ctx, topic, [t for t in tags if t])
            changed = changed or before != topic.get("tags")
        if changed:
            topic["updated_at"] = now_iso()
            store.touch()
            if first:
                first["version"] += 1
                ctx.hooks.emit("post", "post_edited", lambda: web_hook_post(store, first),
                               category_id=topic["category_id"], tag_names=topic.get("tags"))
            ctx.hooks.emit("topic", "topic_edited", lambda: topic_view(store, topic, None, for_web_hook=True),
                           category_id=topic["category_id"], tag_names=topic.get("tags"))
        return 200, {"basic_topic": {"id": topic["id"], "title": topic["title"],
                                     "fancy_title": topic["title"], "slug": topic["slug"],
                                     "posts_count": topic["posts_count"]}}


def update_topic_status(ctx: Ctx):
    require_staff(ctx)
    store, body = ctx.store, ctx.body or {}
    topic = _visible_topic(ctx, ctx.path["id"])
    if topic is None:
        return errors.not_found()
    status, enabled = body["status"], body["enabled"] == "true"
    with store.lock:
        if status == "visible":
            topic["visible"] = enabled
        elif status == "closed":
            topic["closed"] = enabled
        elif status == "archived":
            topic["archived"] = enabled
        elif status in ("pinned", "pinned_globally"):
            topic["pinned_at"] = now_iso() if enabled else None
        store.touch()
        ctx.hooks.emit("topic", f"topic_{status}_status_updated",
                       lambda: topic_view(store, topic, None, for_web_hook=True),
                       category_id=topic["category_id"], tag_names=topic.get("tags"))
    return 200, {"success": "OK", "topic_status_update": None}


def _listable(ctx: Ctx, t: dict) -> bool:
    if t.get("deleted_at") or t.get("archetype") == "private_message":
        return False
    if not _can_see_category(ctx, ctx.store.category(t.get("category_id"))):
        return False
    if t.get("category_definition"):
        return False  # show_category_definitions_in_topic_lists is off by default
    return t["visible"] or is_staff(ctx.user)


def _topic_list(ctx: Ctx, topics: list[dict]):
    store = ctx.store
    per_page = ctx.query.get("per_page") or 30
    if not isinstance(per_page, int):
        per_page = 30
    order = ctx.query.get("order") or "activity"
    key = {"created": "created_at", "views": "views", "posts": "posts_count"}.get(order, "bumped_at")
    asc = ctx.query.get("ascending") == "true"
    topics = sorted(topics, key=lambda t: (t.get(key) or "", t["id"]), reverse=not asc)[: max(1, min(per_page, 100))]
    users = {}
    for t in topics:
        for uid in (t["user_id"], t.get("last_post_user_id")):
            u = store.user(uid)
            if u:
                users[u["id"]] = basic_user(u)
    return 200, {"users": list(users.values()), "primary_groups": [],
                 "topic_list": {"can_create_topic": bool(ctx.user), "draft": None, "draft_key": "new_topic",
                                "draft_sequence": 0, "per_page": per_page,
                                "topics": [topic_list_item(store, t) for t in topics]}}


def list_latest(ctx: Ctx):
    with ctx.store.lock:
        topics = [t for t in ctx.store.data["topics"].values() if _listable(ctx, t)]
        return _topic_list(ctx, topics)


def list_category_topics(ctx: Ctx):
    cat = ctx.store.category(ctx.path["id"])
    if cat is None:
        return errors.not_found()
    with ctx.store.lock:
        topics = [t for t in ctx.store.data["topics"].values() if _listable(ctx, t) and t["category_id"] == cat["id"]]
        return _topic_list(ctx, topics)


# -- categories ------------------------------------------------------------------------------------
# server.en.yml category.replace_paragraph + category.post_template
CATEGORY_POST_TEMPLATE = (
    "(Replace this first paragraph with a brief description of your new category. This guidance will appear "
    "in the category selection area, so try to keep it below 200 characters.)\n\nUse the following paragraphs "
    "for a longer description, or to establish category guidelines or rules:\n\n- Why should people use this "
    "category? What is it for?\n\n- How exactly is this different than the other categories we already have?"
    "\n\n- What should topics in this category generally contain?\n\n- Do we need this category? Can we "
    "merge with another category, or subcategory?\n")

def create_category(ctx: Ctx):
    require_staff(ctx)
    store, body = ctx.store, ctx.body or {}
    name = (body.get("name") or "").strip()
    if not name:
        return json_error("Category Name can't be blank", 422)
    parent_id = body.get("parent_category_id")
    with store.lock:
        if parent_id is not None and store.category(parent_id) is None:
            return errors.invalid_parameters("parent_category_id")
        for c in store.data["categories"].values():
            if c["name"].lower() == name.lower() and c.get("parent_category_id") == parent_id:
                return json_error("Category Name has already been taken", 422)
        # Category#ensure_slug: a duplicate slug given is an error; one made from the name is blanked
        slug = body.get("slug") or slugify(name)
        if not body.get("slug") and any(c["slug"] == slug and c.get("parent_category_id") == parent_id
                                        for c in store.data["categories"].values()):
            slug = ""
        elif any(c["slug"] == slug and c.get("parent_category_id") == parent_id for c in store.data["categories"].values()):
            return json_error("Slug is already in use", 422)
        cat = store.add_category(name, slug, body.get("color") or "0088CC", body.get("text_color") or "FFFFFF", parent_id)
        if isinstance(body.get("permissions"), dict):
            _set_permissions(cat, body["permissions"])
        # Category#create_category_definition: an "About the ... category" topic
        system = store.user(SYSTEM_USER_ID)
        t = _insert_topic(store, system, f"About the {name} category", cat["id"], None, None, pinned=True)
        t["category_definition"] = True
        _insert_post(store, t, system, CATEGORY_POST_TEMPLATE, None, None)
        cat["topic_id"] = t["id"]
        store.touch()
        ctx.hooks.emit("category", "category_created", lambda: category_json(store, cat))
        return 200, {"category": category_json(store, cat)}


def _set_permissions(cat: dict, permissions: dict) -> None:
    # app/models/category.rb, Category.resolve_permissions: read-restricted unless the group
    # `everyone` has a permission (full for everyone means no restriction at all)
    cat["permissions"] = dict(permissions)
    cat["read_restricted"] = "everyone" not in permissions


def update_category(ctx: Ctx):
    """app/controllers/categories_controller.rb#update: name, slug, colours, parent and
    permissions; a category_updated web hook (config/initializers/012-web_hook_events.rb)."""
    require_staff(ctx)
    store, body = ctx.store, ctx.body or {}
    with store.lock:
        cat = store.category(ctx.path["id"])
        if cat is None:
            return errors.not_found()
        for key in ("name", "slug", "color", "text_color"):
            if body.get(key):
                cat[key] = body[key].strip() if key == "name" else body[key]
        if "parent_category_id" in body:
            if body["parent_category_id"] is not None and store.category(body["parent_category_id"]) is None:
                return errors.invalid_parameters("parent_category_id")
            cat["parent_category_id"] = body["parent_category_id"]
        if isinstance(body.get("permissions"), dict):
            _set_permissions(cat, body["permissions"])
        store.touch()
        ctx.hooks.emit("category", "category_updated", lambda: category_json(store, cat))
        return 200, {"success": "OK", "category": category_json(store, cat)}


def list_categories(ctx: Ctx):
    store = ctx.store
    with store.lock:
        cats = sorted((c for c in store.data["categories"].values() if _can_see_category(ctx, c)),
                      key=lambda c: (c["position"], c["id"]))
        if ctx.query.get("include_subcategories") is not True:
            cats = [c for c in cats if c.get("parent_category_id") is None]
        out = []
        for c in cats:
            j = category_json(store, c)
            if ctx.query.get("include_subcategories") is True:
                j["subcategory_list"] = [category_json(store, s) for s in store.data["categories"].values()
                                         if s.get("parent_category_id") == c["id"] and _can_see_category(ctx, s)]
            out.append(j)
    return 200, {"category_list": {"can_create_category": is_staff(ctx.user), "can_create_topic": bool(ctx.user),
                                   "categories": out}}


def get_category(ctx: Ctx):
    cat = ctx.store.category(ctx.path["id"])
    if cat is None or not _can_see_category(ctx, cat):
        return errors.not_found()
    return 200, {"category": category_json(ctx.store, cat)}


# -- groups, tags ------------------------------------------------------------------------------------
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


# -- users -------------------------------------------------------------------------------------------
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
        until = _parse_time(body["suspend_until"])
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


def topic_posts(ctx: Ctx):
    topic = _visible_topic(ctx, ctx.path["id"])
    if topic is None:
        return errors.not_found()
    wanted = (ctx.body or {}).get("post_ids[]")
    ids = set(wanted) if isinstance(wanted, list) else {wanted} if wanted is not None else None
    posts = [p for p in ctx.store.topic_posts(topic["id"]) if ids is None or p["id"] in ids]
    return 200, {"post_stream": {"posts": [post_json(ctx.store, p, ctx.user, topic=topic) for p in posts]},
                 "id": topic["id"]}


def get_group(ctx: Ctx):
    store = ctx.store
    with store.lock:
        group = next((g for g in store.data["groups"].values() if g["name"].lower() == ctx.path["name"].lower()), None)
    if group is None:
        return errors.not_found()
    return 200, {"group": group_basic(group), "extras": {"visible_group_names": [group["name"]]}}


def get_site(ctx: Ctx):
    store = ctx.store
    with store.lock:
        cats = [category_json(store, c) for c in sorted(store.data["categories"].values(), key=lambda c: c["id"])
                if _can_see_category(ctx, c)]
        groups = [{"id": g["id"], "name": g["name"]} for g in store.data["groups"].values()]
    return 200, {"default_archetype": "regular", "uncategorized_category_id": store.setting("uncategorized_category_id"),
                 "categories": cats, "groups": groups, "can_create_tag": is_staff(ctx.user),
                 "can_tag_topics": bool(ctx.user) and bool(store.setting("tagging_enabled")),
                 "post_action_types": [{"id": i, "name_key": n} for i, n in ACTION_TYPES.items()],
                 "topic_flag_types": [], "archetypes": [{"id": "regular", "name": "Regular Topic", "options": []}],
                 "top_tags": list(store.data["tags"])[:20], "email_configured": False}


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


def search(ctx: Ctx):
    store = ctx.store
    term = (ctx.query.get("q") or "").strip()
    words = [w.lower() for w in term.split() if ":" not in w and not w.startswith(("@", "#"))]
    with store.lock:
        posts = []
        topics = {}
        for p in sorted(store.data["posts"].values(), key=lambda p: -p["id"]):
            t = store.topic(p["topic_id"])
            if p.get("deleted_at") or not t or not _listable(ctx, t):
                continue
            text = (p["raw"] + " " + (t["title"] if p["post_number"] == 1 else "")).lower()
            if words and all(w in text for w in words):
                j = post_json(store, p, ctx.user, topic=t)
                j["blurb"] = p["raw"][:200]
                posts.append(j)
                topics[t["id"]] = topic_list_item(store, t)
    return 200, {"posts": posts[:50], "topics": list(topics.values()), "users": [], "categories": [], "tags": [],
                 "groups": [], "grouped_search_result": {"more_posts": None, "more_users": None,
                                                         "more_categories": None, "term": term, "search_log_id": 0,
                                                         "more_full_page_results": None, "can_create_topic": bool(ctx.user),
                                                         "error": None, "post_ids": [p["id"] for p in posts[:50]],
                                                         "user_ids": [], "category_ids": [], "tag_ids": [], "group_ids": []}}


# operationId -> (handler, who may call: "public", "user" or "staff")
HANDLERS = {
    "createTopicPostPM": (create_post, "user"),
    "getPost": (get_post, "public"),
    "listPosts": (list_posts, "public"),
    "updatePost": (update_post, "user"),
    "deletePost": (delete_post, "user"),
    "performPostAction": (perform_post_action, "user"),
    "getTopic": (get_topic, "public"),
    "getTopicByExternalId": (topic_by_external_id, "public"),
    "removeTopic": (remove_topic, "user"),
    "updateTopic": (update_topic, "user"),
    "updateTopicStatus": (update_topic_status, "user"),
    "listLatestTopics": (list_latest, "public"),
    "listCategoryTopics": (list_category_topics, "public"),
    "createCategory": (create_category, "user"),
    "listCategories": (list_categories, "public"),
    "updateCategory": (update_category, "user"),
    "getCategory": (get_category, "public"),
    "createGroup": (create_group, "staff"),
    "listTags": (list_tags, "public"),
    "getUser": (get_user, "public"),
    "getUserExternalId": (get_user_by_external_id, "staff"),
    "adminGetUser": (admin_get_user, "staff"),
    "logOutUser": (log_out_user, "staff"),
    "suspendUser": (suspend_user, "staff"),
    "getSpecificPostsFromTopic": (topic_posts, "public"),
    "getGroup": (get_group, "public"),
    "getSite": (get_site, "public"),
    "adminListUsersFlag": (admin_list_users, "staff"),
    "search": (search, "public"),
    "addGroupMembers": (add_group_members, "staff"),
    "removeGroupMembers": (remove_group_members, "staff"),
}
