"""New topic and post records as TopicCreator and PostCreator write them.

lib/topic_creator.rb, lib/post_creator.rb: the counters, bump and last-poster fields a new post
moves; shared by PostsController#create (posts.py) and Category#create_category_definition
(categories.py), which writes a topic of its own.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

from .serializers import cook
from .store import now_iso, slugify


def parse_time(value: str | None) -> str:
    if not value:
        return now_iso()
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    except ValueError:
        return now_iso()


def insert_topic(store, user, title, category_id, external_id, created_at, *, embed_url=None, pinned=False) -> dict:
    tid = store.next_id("topic")
    ts = parse_time(created_at)
    topic = {"id": tid, "title": title, "slug": slugify(title), "category_id": category_id, "user_id": user["id"],
             "last_post_user_id": user["id"], "created_at": ts, "bumped_at": ts, "last_posted_at": ts,
             "updated_at": ts, "posts_count": 0, "reply_count": 0, "highest_post_number": 0, "visible": True,
             "closed": False, "archived": False, "pinned_at": ts if pinned else None, "external_id": external_id,
             "tags": [], "archetype": "regular", "views": 0, "deleted_at": None, "excerpt_raw": "",
             "embed_url": embed_url}
    store.data["topics"][tid] = topic
    store.touch()
    return topic


def insert_post(store, topic, user, raw, reply_to, created_at) -> dict:
    pid = store.next_id("post")
    ts = parse_time(created_at)
    number = topic["highest_post_number"] + 1
    # PostCreator#setup_post (lib/post_creator.rb): reply_to_user_id is the replied-to post's
    # author when that post exists
    replied = next((p for p in store.topic_posts(topic["id"]) if p["post_number"] == reply_to), None) \
        if reply_to else None
    post = {"id": pid, "topic_id": topic["id"], "user_id": user["id"], "post_number": number, "raw": raw,
            "cooked": cook(raw, store, user), "created_at": ts, "updated_at": ts, "reply_to_post_number": reply_to,
            "reply_to_user_id": replied["user_id"] if replied else None,
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
