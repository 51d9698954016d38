"""TopicsController and ListController: show, show by external id, update, status, delete,
the topic's posts, and the latest and per-category topic lists.

app/controllers/topics_controller.rb (show_by_external_id answers 301 to the topic's URL; update
reads the top-level title, category_id and tags params; status), app/controllers/
list_controller.rb.
"""

from __future__ import annotations

from flask import Response

from . import errors
from .context import Ctx
from .errors import json_error
from .guardian import can_edit_featured_link, is_staff, listable, require_staff, visible_topic
from .serializers import basic_user, post_json, topic_list_item, topic_view, web_hook_post
from .store import now_iso, slugify
from .tagging import apply_tags
from .validations import featured_link_errors, title_errors


def get_topic(ctx: Ctx):
    topic = visible_topic(ctx, ctx.path["id"])
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
    topic = visible_topic(ctx, ctx.path["id"])
    if topic is None:
        return errors.not_found()
    first = next(iter(store.topic_posts(topic["id"])), None)
    if not (is_staff(user) or (first and first["user_id"] == user["id"])):
        return errors.invalid_access()
    with store.lock:
        changed = False
        if "title" in body:
            errs = title_change_errors(store, topic, body.get("title"), user)
            if errs:
                return json_error(errs, 422)
            changed = set_title(topic, body.get("title")) or changed
        if "featured_link" in body:
            # PostRevisor's featured_link field (lib/post_revisor.rb): the editor must pass
            # Guardian#can_edit_featured_link?, else the revision fails and TopicsController
            # #update answers :unable_to_update; the topic's validation follows.
            if not can_edit_featured_link(store, user, topic["category_id"]):
                return json_error("There was an error updating that topic.", 422)
            link, errs = featured_link_errors(store, store.user(topic["user_id"]), body["featured_link"],
                                              topic["category_id"])
            if link != topic.get("featured_link"):
                if errs:
                    return json_error(errs, 422)
                topic["featured_link"] = link
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


def title_change_errors(store, topic: dict, title, user: dict | None) -> list[str]:
    """PostRevisor's title field (lib/post_revisor.rb): the topic takes the new title and is
    saved with app/models/topic.rb's title validations, whose messages come back when it fails.
    An unchanged title is no change. Shared by TopicsController#update and PostsController
    #update of a first post (posts.py)."""
    new_title = (title or "").strip()
    if new_title == topic["title"]:
        return []
    return title_errors(store, new_title, exclude_topic_id=topic["id"], category_id=topic["category_id"], user=user)


def set_title(topic: dict, title) -> bool:
    """Give the topic a title title_change_errors accepted; whether it changed."""
    new_title = (title or "").strip()
    if new_title == topic["title"]:
        return False
    topic["title"] = new_title
    topic["slug"] = slugify(new_title)
    return True


def update_topic_status(ctx: Ctx):
    require_staff(ctx)
    store, body = ctx.store, ctx.body or {}
    topic = visible_topic(ctx, ctx.path["id"])
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


def _topic_list(ctx: Ctx, topics: list[dict]):
    store = ctx.store
    per_page = ctx.query.get("per_page") or 30
    if not isinstance(per_page, int):
        per_page = 30
    order = ctx.query.get("order") or "activity"
    key = {"created": "created_at", "views": "views", "posts": "posts_count"}.get(order, "bumped_at")
    asc = ctx.query.get("ascending") == "true"
    per_page = max(1, min(per_page, 100))
    # lib/topic_query.rb: `page` (from 0) offsets by page * per_page
    page = ctx.query.get("page")
    page = int(page) if isinstance(page, str) and page.isascii() and page.isdigit() else page if isinstance(page, int) else 0
    ordered = sorted(topics, key=lambda t: (t.get(key) or "", t["id"]), reverse=not asc)
    topics = ordered[page * per_page:(page + 1) * per_page]
    users = {}
    for t in topics:
        for uid in (t["user_id"], t.get("last_post_user_id")):
            u = store.user(uid)
            if u:
                users[u["id"]] = basic_user(u)
    return 200, {"users": list(users.values()), "primary_groups": [],
                 "topic_list": {"can_create_topic": bool(ctx.user), "draft": None, "draft_key": "new_topic",
                                "draft_sequence": 0, "per_page": per_page,
                                "topics": [topic_list_item(store, t) for t in topics],
                                # ListController#construct_url_with(:next); app/serializers/topic_list_serializer.rb
                                # include_more_topics_url?: only when the page is full
                                **({"more_topics_url": f"{ctx.request.path.removesuffix('.json')}?page={page + 1}"}
                                   if len(topics) == per_page else {})}}


def list_latest(ctx: Ctx):
    with ctx.store.lock:
        topics = [t for t in ctx.store.data["topics"].values() if listable(ctx, t)]
        return _topic_list(ctx, topics)


def list_category_topics(ctx: Ctx):
    cat = ctx.store.category(ctx.path["id"])
    if cat is None:
        return errors.not_found()
    with ctx.store.lock:
        topics = [t for t in ctx.store.data["topics"].values() if listable(ctx, t) and t["category_id"] == cat["id"]]
        return _topic_list(ctx, topics)


def topic_posts(ctx: Ctx):
    topic = visible_topic(ctx, ctx.path["id"])
    if topic is None:
        return errors.not_found()
    wanted = (ctx.body or {}).get("post_ids[]")
    ids = set(wanted) if isinstance(wanted, list) else {wanted} if wanted is not None else None
    posts = [p for p in ctx.store.topic_posts(topic["id"]) if ids is None or p["id"] in ids]
    return 200, {"post_stream": {"posts": [post_json(ctx.store, p, ctx.user, topic=topic) for p in posts]},
                 "id": topic["id"]}
