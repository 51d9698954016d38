"""SiteController#site and SearchController#query.

app/controllers/site_controller.rb (the site's categories, groups, flag types) and
app/controllers/search_controller.rb (a plain word match over the posts a user may see).
"""

from __future__ import annotations

from .context import Ctx
from .guardian import can_see_category, is_staff, listable
from .post_actions import ACTION_TYPES
from .serializers import category_json, post_json, topic_list_item


def get_site(ctx: Ctx):
    store = ctx.store
    with store.lock:
        cats = [category_json(store, c) for c in sorted(store.data["categories"].values(), key=lambda c: c["id"])
                if can_see_category(ctx, c)]
        groups = [{"id": g["id"], "name": g["name"]} for g in store.data["groups"].values()]
    return 200, {"default_archetype": "regular", "uncategorized_category_id": store.setting("uncategorized_category_id"),
                 "categories": cats, "groups": groups, "can_create_tag": is_staff(ctx.user),
                 "can_tag_topics": bool(ctx.user) and bool(store.setting("tagging_enabled")),
                 "post_action_types": [{"id": i, "name_key": n} for i, n in ACTION_TYPES.items()],
                 "topic_flag_types": [], "archetypes": [{"id": "regular", "name": "Regular Topic", "options": []}],
                 "top_tags": list(store.data["tags"])[:20], "email_configured": False}


def search(ctx: Ctx):
    store = ctx.store
    term = (ctx.query.get("q") or "").strip()
    words = [w.lower() for w in term.split() if ":" not in w and not w.startswith(("@", "#"))]
    with store.lock:
        posts = []
        topics = {}
        for p in sorted(store.data["posts"].values(), key=lambda p: -p["id"]):
            t = store.topic(p["topic_id"])
            if p.get("deleted_at") or not t or not listable(ctx, t):
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
