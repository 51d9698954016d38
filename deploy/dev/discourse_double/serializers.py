"""JSON shapes of Discourse's serializers (app/serializers/*.rb), built from the double's state.
API responses are then shaped to the documented response schema (spec.conform); web hook
payloads follow the WebHook*Serializer classes, which the OpenAPI description does not cover."""

from __future__ import annotations

import html
import re

from . import cooking

AVATAR = "/letter_avatar_proxy/v4/letter/{initial}/0088cc/{{size}}.png"


def avatar_template(user: dict) -> str:
    if user.get("id") == -1:
        return "/images/discourse-logo-sketch-small.png"
    return AVATAR.format(initial=(user.get("username") or "x")[0].lower())


def cook(raw: str, store=None, author: dict | None = None) -> str:
    """Discourse's Markdown cooking, as far as the double goes (cooking.py); with the store,
    @mentions are looked up as PrettyText.add_mentions does, for `author` (the last editor)."""
    return cooking.cook(raw, store, author)


def excerpt(raw: str, length: int = 200) -> str:
    text = re.sub(r"\s+", " ", raw or "").strip()
    return text if len(text) <= length else text[:length] + "&hellip;"


def basic_user(user: dict) -> dict:
    # BasicUserSerializer
    return {"id": user["id"], "username": user["username"], "name": user.get("name"),
            "avatar_template": avatar_template(user)}


def category_json(store, cat: dict) -> dict:
    with store.lock:
        topics = [t for t in store.data["topics"].values() if t["category_id"] == cat["id"] and not t.get("deleted_at")]
        subs = [c["id"] for c in store.data["categories"].values() if c.get("parent_category_id") == cat["id"]]
        post_count = sum(t["posts_count"] for t in topics)
    topic = store.topic(cat["topic_id"]) if cat.get("topic_id") else None
    return {
        "id": cat["id"], "name": cat["name"], "color": cat["color"], "text_color": cat["text_color"],
        "style_type": "square", "emoji": None, "icon": None, "slug": cat["slug"],
        "topic_count": len([t for t in topics if t["id"] != cat.get("topic_id")]), "post_count": post_count,
        "position": cat["position"], "description": cat.get("description"),
        "description_text": cat.get("description"), "description_excerpt": cat.get("description"),
        "topic_url": f"/t/{topic['slug']}/{topic['id']}" if topic else None,
        "read_restricted": cat.get("read_restricted", False), "permission": 1, "notification_level": 1,
        "can_edit": True, "topic_template": None, "topic_title_placeholder": None,
        "has_children": bool(subs), "subcategory_count": len(subs) or None, "sort_order": None,
        "sort_ascending": None, "show_subcategory_list": False, "num_featured_topics": 3,
        "default_view": None, "subcategory_list_style": "rows_with_featured_topics",
        "default_top_period": "all", "default_list_filter": "all", "minimum_required_tags": 0,
        "navigate_to_first_post_after_read": False, "topics_day": 0, "topics_week": 0,
        "topics_month": 0, "topics_year": 0, "topics_all_time": len(topics),
        "is_uncategorized": cat["id"] == store.setting("uncategorized_category_id"),
        "subcategory_ids": subs, "uploaded_logo": None, "uploaded_logo_dark": None,
        "uploaded_background": None, "uploaded_background_dark": None,
        "parent_category_id": cat.get("parent_category_id"),
        "permissions": cat.get("permissions"), "custom_fields": {},
        # Group::AUTO_GROUPS ids of the groups a category's permissions name (CategorySerializer#group_permissions)
        "group_permissions": [{"permission_type": v if isinstance(v, int) else 1, "group_name": k, "group_id": {"everyone": 0, "staff": 3}.get(k)}
                              for k, v in (cat.get("permissions") or {"everyone": 1}).items()],
    }


_QUOTE_ASIDE = re.compile(r'<aside class="quote[^"]*"([^>]*)>')
_DATA_ATTR = re.compile(r'data-(topic|post)="(\d+)"')


def reply_quoted(store, post: dict) -> bool:
    """Post#reply_quoted as QuotedPost.extract_from (app/models/quoted_post.rb) sets it: the post
    quotes (aside.quote data-topic, data-post) the post it replies to."""
    number = post.get("reply_to_post_number")
    if not number:
        return False
    for m in _QUOTE_ASIDE.finditer(post.get("cooked") or ""):
        attrs = dict(_DATA_ATTR.findall(m.group(1)))
        if attrs.get("topic") == str(post["topic_id"]) and attrs.get("post") == str(number):
            return any(p["post_number"] == number for p in store.topic_posts(post["topic_id"]))
    return False


def reply_to_user(store, post: dict) -> dict | None:
    """PostSerializer#reply_to_user ({username, name, avatar_template}), included when
    include_reply_to_user? holds: the post's reply_to_user (set from the replied-to post's author
    by PostCreator) exists, unless the site setting suppress_reply_when_quoting (default on) and
    the post quotes the post it replies to (app/serializers/post_serializer.rb)."""
    if not post.get("reply_to_post_number"):
        return None
    if "reply_to_user_id" in post:
        uid = post["reply_to_user_id"]
    else:  # a post saved before the double kept it: the replied-to post's author
        uid = next((p["user_id"] for p in store.topic_posts(post["topic_id"])
                    if p["post_number"] == post["reply_to_post_number"]), None)
    user = store.user(uid)
    if user is None:
        return None
    if store.setting("suppress_reply_when_quoting") is not False and reply_quoted(store, post):
        return None
    return {"username": user["username"], "name": user.get("name"), "avatar_template": avatar_template(user)}


def post_json(store, post: dict, viewer: dict | None = None, *, topic: dict | None = None) -> dict:
    """PostSerializer (the fields API clients read)."""
    user = store.user(post["user_id"]) or {"id": post["user_id"], "username": "deleted", "name": None}
    topic = topic or store.topic(post["topic_id"]) or {}
    staff = bool(user.get("admin") or user.get("moderator"))
    viewer_staff = bool(viewer and (viewer.get("admin") or viewer.get("moderator")))
    out = {
        "id": post["id"], "name": user.get("name"), "username": user["username"],
        "avatar_template": avatar_template(user), "created_at": post["created_at"],
        "cooked": post["cooked"], "post_number": post["post_number"], "post_type": post.get("post_type", 1),
        "posts_count": topic.get("posts_count", 0), "updated_at": post["updated_at"],
        "reply_count": post.get("reply_count", 0), "reply_to_post_number": post.get("reply_to_post_number"),
        "quote_count": 0, "incoming_link_count": 0, "reads": post.get("reads", 1), "readers_count": 0,
        "score": 0, "yours": bool(viewer and viewer["id"] == user["id"]), "topic_id": post["topic_id"],
        "topic_slug": topic.get("slug", ""), "topic_title": topic.get("title"),
        "topic_html_title": html.escape(topic.get("title") or ""),
        "category_id": topic.get("category_id"), "display_username": user.get("name") or user["username"],
        "primary_group_name": None, "flair_name": None, "flair_url": None, "flair_bg_color": None,
        "flair_color": None, "flair_group_id": None, "badges_granted": [], "version": post.get("version", 1),
        "can_edit": viewer_staff or bool(viewer and viewer["id"] == user["id"]),
        "can_delete": viewer_staff, "can_recover": viewer_staff, "can_see_hidden_post": viewer_staff,
        "can_wiki": viewer_staff, "user_title": user.get("title"), "bookmarked": False, "raw": post["raw"],
        "actions_summary": [{"id": 2, "can_act": True}] if viewer else [], "moderator": bool(user.get("moderator")),
        "admin": bool(user.get("admin")), "staff": staff, "user_id": user["id"],
        "draft_sequence": 0, "hidden": bool(post.get("hidden")), "trust_level": user.get("trust_level", 1),
        "deleted_at": post.get("deleted_at"), "user_deleted": bool(post.get("user_deleted")),
        "edit_reason": post.get("edit_reason"), "can_view_edit_history": True, "wiki": False,
        "reviewable_id": post.get("reviewable_id"), "reviewable_score_count": 0,
        "reviewable_score_pending_count": 0,
        "post_url": f"/t/{topic.get('slug', 'topic')}/{post['topic_id']}/{post['post_number']}",
        "mentioned_users": [], "link_counts": [], "read": True,
    }
    replied = reply_to_user(store, post)
    if replied is not None:
        out["reply_to_user"] = replied
    return out


def tag_json(store, name: str) -> dict:
    tag = store.data["tags"].get(name, {"id": 0, "name": name})
    return {"id": tag["id"], "name": name, "slug": name}


def featured_link(store, topic: dict) -> str | None:
    # TopicViewSerializer and TopicListItemSerializer: include_featured_link? is the site setting
    # topic_featured_link_enabled
    return topic.get("featured_link") if store.setting("topic_featured_link_enabled") else None


def topic_list_item(store, topic: dict) -> dict:
    """TopicListItemSerializer."""
    last = store.user(topic.get("last_post_user_id")) or {"username": ""}
    return {
        "id": topic["id"], "title": topic["title"], "fancy_title": html.escape(topic["title"]),
        "slug": topic["slug"], "posts_count": topic["posts_count"], "reply_count": topic["reply_count"],
        "highest_post_number": topic["highest_post_number"], "image_url": None,
        "created_at": topic["created_at"], "last_posted_at": topic.get("last_posted_at"),
        "bumped": True, "bumped_at": topic.get("bumped_at") or topic["created_at"],
        "archetype": topic.get("archetype", "regular"), "unseen": False, "pinned": bool(topic.get("pinned_at")),
        "unpinned": None, "visible": topic["visible"], "closed": topic["closed"], "archived": topic["archived"],
        "bookmarked": None, "liked": None, "views": topic.get("views", 0), "like_count": 0,
        "has_summary": False, "last_poster_username": last["username"], "category_id": topic["category_id"],
        "op_like_count": 0, "pinned_globally": False, "featured_link": featured_link(store, topic),
        "tags": [tag_json(store, t) for t in topic.get("tags", [])], "tags_descriptions": {},
        "excerpt": excerpt(topic.get("excerpt_raw", "")),
        "posters": [{"extras": "latest single", "description": "Original Poster, Most Recent Poster",
                     "user_id": topic["user_id"], "primary_group_id": None}],
    }


def topic_view(store, topic: dict, viewer: dict | None, *, for_web_hook: bool = False) -> dict:
    """TopicViewSerializer (WebHookTopicViewSerializer leaves out post_stream, details and others)."""
    posts = store.topic_posts(topic["id"])
    creator = store.user(topic["user_id"]) or {"id": topic["user_id"], "username": "deleted", "name": None}
    last = store.user(topic.get("last_post_user_id")) or creator
    staff = bool(viewer and (viewer.get("admin") or viewer.get("moderator")))
    out = {
        "id": topic["id"], "title": topic["title"], "fancy_title": html.escape(topic["title"]),
        "posts_count": topic["posts_count"], "created_at": topic["created_at"], "views": topic.get("views", 0),
        "reply_count": topic["reply_count"], "like_count": 0, "last_posted_at": topic.get("last_posted_at"),
        "visible": topic["visible"], "closed": topic["closed"], "archived": topic["archived"],
        "has_summary": False, "archetype": topic.get("archetype", "regular"), "slug": topic["slug"],
        "category_id": topic["category_id"], "word_count": sum(len(p["raw"].split()) for p in posts),
        "deleted_at": topic.get("deleted_at"), "user_id": topic["user_id"], "featured_link": featured_link(store, topic),
        "pinned_globally": False, "pinned_at": topic.get("pinned_at"), "pinned_until": None,
        "image_url": None, "slow_mode_seconds": 0, "draft": None, "draft_key": f"topic_{topic['id']}",
        "draft_sequence": 0, "unpinned": None, "pinned": bool(topic.get("pinned_at")),
        "highest_post_number": topic["highest_post_number"], "deleted_by": None, "has_deleted": False,
        "actions_summary": [], "chunk_size": 20, "bookmarked": False, "bookmarks": [], "topic_timer": None,
        "message_bus_last_id": 0, "participant_count": len({p["user_id"] for p in posts}),
        "show_read_indicator": False, "thumbnails": None, "slow_mode_enabled_until": None,
        "tags": [tag_json(store, t) for t in topic.get("tags", [])], "tags_descriptions": {},
        "timeline_lookup": [], "suggested_topics": [],
    }
    if for_web_hook:
        out.pop("timeline_lookup")
        out.pop("suggested_topics")
        for k in ("draft", "draft_key", "draft_sequence", "message_bus_last_id", "chunk_size", "topic_timer",
                  "image_url", "slow_mode_seconds", "slow_mode_enabled_until", "bookmarks", "actions_summary",
                  "has_summary", "show_read_indicator"):
            out.pop(k, None)
        out["created_by"] = basic_user(creator)
        out["last_poster"] = basic_user(last)
        return out
    out["post_stream"] = {
        "posts": [post_json(store, p, viewer, topic=topic) for p in posts],
        "stream": [p["id"] for p in posts],
    }
    out["details"] = {
        "can_edit": staff, "notification_level": 1, "can_move_posts": staff, "can_delete": staff,
        "can_remove_allowed_users": staff, "can_create_post": bool(viewer), "can_reply_as_new_topic": bool(viewer),
        "can_flag_topic": bool(viewer), "can_convert_topic": staff, "can_review_topic": staff,
        "can_close_topic": staff, "can_archive_topic": staff, "can_split_merge_topic": staff,
        "can_edit_staff_notes": staff, "can_toggle_topic_visibility": staff, "can_pin_unpin_topic": staff,
        "can_moderate_category": staff, "can_remove_self_id": viewer["id"] if viewer else 0,
        "participants": [dict(basic_user(u), post_count=len([p for p in posts if p["user_id"] == u["id"]]),
                              primary_group_name=None, flair_name=None, flair_url=None, flair_color=None,
                              flair_bg_color=None, admin=bool(u.get("admin")), moderator=bool(u.get("moderator")),
                              trust_level=u.get("trust_level", 1))
                         for u in filter(None, (store.user(uid) for uid in dict.fromkeys(p["user_id"] for p in posts)))],
        "created_by": basic_user(creator), "last_poster": basic_user(last),
    }
    return out


def web_hook_post(store, post: dict) -> dict:
    """WebHookPostSerializer: PostSerializer with raw, topic_title, category_id, the topic counts
    and category_slug, without can_* flags, actions_summary, yours, flair_*, mentioned_users,
    badges_granted and readers_count; it keeps PostSerializer's reply_to_user and its condition
    (app/serializers/web_hook_post_serializer.rb does not turn it off)."""
    out = post_json(store, post, None)
    for k in ("can_edit", "can_delete", "can_recover", "can_see_hidden_post", "can_wiki", "actions_summary",
              "can_view_edit_history", "yours", "flair_url", "flair_bg_color", "flair_color", "mentioned_users",
              "badges_granted", "readers_count", "draft_sequence", "link_counts", "read", "topic_html_title"):
        out.pop(k, None)
    topic = store.topic(post["topic_id"]) or {}
    live = [p for p in store.topic_posts(post["topic_id"]) if not p.get("user_deleted")] if topic else []
    out["topic_posts_count"] = len(live)
    out["topic_filtered_posts_count"] = len([p for p in live if p.get("post_type", 1) == 1])
    out["topic_archetype"] = topic.get("archetype", "") if topic else ""
    cat = store.category(topic.get("category_id")) if topic else None
    if cat:
        out["category_slug"] = cat["slug"]
    return out


def user_json(store, user: dict, *, admin_view: bool = False, web_hook: bool = False) -> dict:
    """UserSerializer / AdminDetailedUserSerializer / WebHookUserSerializer (the common fields)."""
    out = {
        "id": user["id"], "username": user["username"], "name": user.get("name"),
        "avatar_template": avatar_template(user), "last_posted_at": user.get("last_posted_at"),
        "last_seen_at": user.get("last_seen_at"), "created_at": user["created_at"],
        "trust_level": user.get("trust_level", 1), "moderator": bool(user.get("moderator")),
        "admin": bool(user.get("admin")), "title": user.get("title"), "badge_count": 0,
        "time_read": 0, "recent_time_read": 0, "primary_group_id": None, "primary_group_name": None,
        "flair_group_id": None, "flair_name": None, "flair_url": None, "flair_bg_color": None,
        "flair_color": None, "featured_topic": None, "staged": bool(user.get("staged")),
        "can_edit": True, "can_edit_username": True, "can_edit_email": True, "can_edit_name": True,
        "can_send_private_messages": True, "can_send_private_message_to_user": True,
        "suspended_till": user.get("suspended_till"), "suspend_reason": user.get("suspend_reason"),
        "groups": [group_basic(store.data["groups"][gid]) for gid in user.get("groups", []) if gid in store.data["groups"]],
        "custom_fields": {}, "user_fields": {}, "active": bool(user.get("active")),
    }
    if admin_view or web_hook:
        out["email"] = user.get("email")
        out["secondary_emails"] = []
        out["external_id"] = user.get("external_id")
        out["approved"] = bool(user.get("approved", True))
        out["suspended_at"] = user.get("suspended_at")
        out["silenced_till"] = user.get("silenced_till")
    if admin_view:
        out["single_sign_on_record"] = ({"external_id": user["external_id"], "external_username": (user.get("sso") or {}).get("username"),
                                         "external_email": (user.get("sso") or {}).get("email"),
                                         "external_name": (user.get("sso") or {}).get("name"),
                                         "external_avatar_url": (user.get("sso") or {}).get("avatar_url"),
                                         "last_payload": (user.get("sso") or {}).get("last_payload")}
                                        if user.get("external_id") is not None else None)
    return out


def group_basic(group: dict) -> dict:
    return {"id": group["id"], "automatic": False, "name": group["name"], "display_name": group["name"],
            "user_count": len(group.get("user_ids", [])), "mentionable_level": 0, "messageable_level": 0,
            "visibility_level": group.get("visibility_level", 0), "primary_group": False,
            "title": group.get("title"), "grant_trust_level": None, "incoming_email": None,
            "has_messages": False, "flair_url": None, "flair_bg_color": None, "flair_color": None,
            "bio_raw": None, "bio_cooked": None, "bio_excerpt": None, "public_admission": False,
            "public_exit": False, "allow_membership_requests": False, "full_name": group.get("full_name"),
            "default_notification_level": 3, "membership_request_template": None,
            "members_visibility_level": 0, "can_see_members": True, "can_admin_group": True,
            "publish_read_state": False}


def current_user_json(store, user: dict) -> dict:
    """CurrentUserSerializer (the identifying fields)."""
    return {"id": user["id"], "username": user["username"], "name": user.get("name"),
            "avatar_template": avatar_template(user), "email": user.get("email"),
            "admin": bool(user.get("admin")), "moderator": bool(user.get("moderator")),
            "staff": bool(user.get("admin") or user.get("moderator")), "trust_level": user.get("trust_level", 1),
            "title": user.get("title"), "can_create_topic": True,
            "groups": [{"id": g, "name": store.data["groups"][g]["name"]} for g in user.get("groups", []) if g in store.data["groups"]]}
