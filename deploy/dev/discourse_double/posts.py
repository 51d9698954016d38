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
from .params import cast_boolean
from .records import insert_post, insert_topic
from .tagging import apply_tags
from .serializers import cook, post_json, topic_view, web_hook_post
from .store import now_iso
from .titles import clean_title, raw_errors
from .topics import set_title, title_change_errors
from .validations import external_id_errors, featured_link_errors, just_posted_that, title_errors


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
    # PostsController#create_params: `whisper` (guardian.can_create_whisper?: staff here, else
    # Discourse::InvalidAccess) makes a reply Post.types[:whisper] (4); `unlist_topic` has
    # already become `visible` (params.munge_create), which lib/topic_creator.rb#setup_topic_params
    # takes (nil: true). `skip_validations` (API requests only; "true" alone is true) makes
    # PostCreator skip the topic's and the post's validations (lib/post_creator.rb#valid?) and
    # TopicCreator#validate_visibility.
    whisper = _flag(body.get("whisper"))
    if whisper and not is_staff(user):
        return errors.invalid_access()
    visible = cast_boolean(body.get("visible")) is not False
    skip = body.get("skip_validations") is True
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
            if skip:
                errs = [] if clean_title(body.get("title")) else ["Title can't be blank"]
            else:
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
            errs = [] if skip else raw_errors(store, raw, first_post=False)
            if not skip and not errs and just_posted_that(store, user, raw):
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
            embed_url = body.get("embed_url")
            # PostCreator#valid?: the topic's errors (TopicCreator#valid?: the model's validations
            # in app/models/topic.rb's order, then validate_visibility) alone when it has any,
            # else the post's; skip_validations skips both.
            if skip:
                # the title is not validated; the double still wants one (a nil title breaks
                # the database's NOT NULL on real Discourse, a server error)
                errs = [] if clean_title(body.get("title")) else ["Title can't be blank"]
            else:
                errs = title_errors(store, body.get("title"), category_id=category_id, user=user)
            featured_link, link_errors = featured_link_errors(store, user, body.get("featured_link"), category_id,
                                                            validate=not skip)
            errs += link_errors
            external_id = body.get("external_id")
            if external_id not in (None, ""):
                errs += external_id_errors(store, external_id)
            if not skip and not visible and not (is_staff(user) or embed_url):
                # TopicCreator#validate_visibility: Guardian#can_create_unlisted_topic? (staff, or
                # a topic with an embed_url); server.en.yml topic base unable_to_unlist
                errs.append("Sorry, you cannot create an unlisted topic.")
            if errs:
                return _post_errors(errs)
            errs = [] if skip else raw_errors(store, raw, first_post=True)
            if not skip and not errs and just_posted_that(store, user, raw):
                errs = ["Body is too similar to what you recently posted"]
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
            topic["visible"] = visible and not (embed_url and store.setting("embed_unlisted"))
            topic["featured_link"] = featured_link
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
    """PostsController#update. For a first post the top-level `title` (any value but nil, as
    Ruby's `if params[:title]`) and `post[category_id]` are revised on the topic through
    PostRevisor, "to stay consistent with the create api": an unknown category is 422 "Category
    not found!" before anything; the post's errors are answered before the topic's, and a
    revision that fails changes nothing. A revision of the first post that carries a topic field
    emits topic_edited instead of post_edited (config/initializers/012-web_hook_events.rb)."""
    store, user = ctx.store, ctx.user
    post = store.post(ctx.path["id"])
    if post is None or post.get("deleted_at"):
        return errors.not_found()
    if not (is_staff(user) or user["id"] == post["user_id"]):
        return errors.invalid_access()
    body = ctx.body or {}
    params = body.get("post") or {}
    raw = params.get("raw")
    if raw is None:
        return json_error(MSG["param_missing"] % "post", 400, "invalid_parameters")
    first = post["post_number"] == 1
    title = body.get("title") if first else None
    with store.lock:
        topic = store.topic(post["topic_id"])
        category = None
        if first and topic and params.get("category_id") not in (None, ""):
            try:
                cid = int(params["category_id"])
            except (TypeError, ValueError):
                cid = 0
            if cid != (topic["category_id"] or 0):
                category = store.category(cid) if cid else store.category(store.setting("uncategorized_category_id"))
                if category is None:
                    return json_error("Category not found!", 422)
        errs = raw_errors(store, raw, first_post=first)
        if errs:
            return json_error(errs, 422)
        if title is not None and topic:
            errs = title_change_errors(store, topic, title, user)
            if errs:
                return json_error(errs, 422)
        changed = raw != post["raw"]
        if changed:
            post["raw"] = raw
            post["cooked"] = cook(raw, store, user)  # Post#cook: mentions for the last editor
            post["edit_reason"] = params.get("edit_reason") or None
            if first and topic:
                topic["excerpt_raw"] = raw
        topic_changed = False
        if title is not None and topic:
            topic_changed = set_title(topic, title)
        if category is not None and category["id"] != topic["category_id"]:
            topic["category_id"] = category["id"]
            topic_changed = True
        if changed or topic_changed:
            post["version"] += 1
            post["updated_at"] = now_iso()
            if topic_changed:
                topic["updated_at"] = post["updated_at"]
            store.touch()
            hook_args = {"category_id": topic["category_id"] if topic else None, "tag_names": (topic or {}).get("tags")}
            if first and topic and (title is not None or category is not None):
                ctx.hooks.emit("topic", "topic_edited", lambda: topic_view(store, topic, None, for_web_hook=True),
                               **hook_args)
            else:
                ctx.hooks.emit("post", "post_edited", lambda: web_hook_post(store, post), **hook_args)
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
