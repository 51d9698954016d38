"""PostsController: create, show, latest posts, update and destroy.

app/controllers/posts_controller.rb, lib/post_creator.rb, lib/topic_creator.rb (an unknown
category is Discourse::InvalidParameters(:category)), app/models/topic_embed.rb (embed_url
unique among live topics), lib/validators/post_validator.rb (min_first_post_length /
min_post_length), lib/post_destroyer.rb (deleting the first post deletes the topic).
"""

from __future__ import annotations

import json
import time

from flask import Response

from . import errors
from .context import Ctx
from .errors import MSG, json_error
from .guardian import is_staff
from .records import insert_post, insert_topic
from .tagging import apply_tags
from .serializers import cook, post_json, topic_view, web_hook_post
from .store import now_iso
from .titles import raw_errors
from .validations import external_id_errors, just_posted_that, title_errors


def _post_errors(errs: list[str], status: int = 422) -> Response:
    # PostsController#create renders NewPostResult: {"action": "create_post", "errors": [...]}
    return errors.json_response({"action": "create_post", "errors": errs}, status)


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
            topic = insert_topic(store, user, body["title"].strip(), None, None, body.get("created_at"))
            topic["archetype"] = "private_message"
            topic["allowed_user_ids"] = [user["id"]] + [store.user_by_username(n)["id"] for n in names]
            post = insert_post(store, topic, user, raw, None, body.get("created_at"))
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
            post = insert_post(store, topic, user, raw, body.get("reply_to_post_number"), body.get("created_at"))
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
            # TopicCreator#setup_tags (lib/topic_creator.rb): tags given at creation go through
            # DiscourseTagging.tag_topic_by_names; a user who may not tag topics
            # (Guardian#can_tag_topics?: tag_topic_allowed_groups, default admins, staff and trust
            # level 1) has the whole topic refused with :unable_to_tag, nothing created.
            tags = body.get("tags")
            tags = [t for t in (tags if isinstance(tags, list) else [tags]) if t] if tags else []
            if tags and store.setting("tagging_enabled") and not (is_staff(user) or (user or {}).get("trust_level", 0) >= 1):
                return _post_errors(["There was an error tagging the topic."])
            topic = insert_topic(store, user, body["title"].strip(), category_id, external_id or None,
                                  body.get("created_at"), embed_url=embed_url)
            # PostCreator#initialize: a topic with an embed_url is unlisted under embed_unlisted
            topic["visible"] = not (unlist or (embed_url and store.setting("embed_unlisted")))
            post = insert_post(store, topic, user, raw, None, body.get("created_at"))
            if tags:
                apply_tags(ctx, topic, tags)
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
