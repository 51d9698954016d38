"""A new topic's and post's validations that are not about the title's text alone.

app/models/topic.rb (title presence and uniqueness, `validates :external_id`) and
app/models/post.rb `matches_recent_post?`; the title's quality rules are in titles.py. Shared by
PostsController#create (posts.py) and TopicsController#update (topics.py).
"""

from __future__ import annotations

import re
import time

from . import titles
from .guardian import is_staff
from .titles import clean_title


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
