"""A new topic's and post's validations that are not about the title's text alone.

app/models/topic.rb (title presence and uniqueness, `validates :external_id`, featured_link) and
app/models/post.rb `matches_recent_post?`; the title's quality rules are in titles.py. Shared by
PostsController#create (posts.py) and TopicsController#update (topics.py).
"""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

from . import titles
from .guardian import can_edit_featured_link, is_staff
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


def featured_link_errors(store, user: dict | None, value, category_id, *, validate: bool = True) -> tuple:
    """A topic's new featured_link (as it will be stored) and its errors, `user` being the
    topic's owner. lib/topic_creator.rb#setup_topic_params and PostRevisor pass it on as sent;
    app/models/topic.rb strips it before validation (blank: none), checks it with UrlValidator
    (lib/validators/url_validator.rb: an http(s) URL whose host has a dot; "is invalid") and,
    when set, Guardian#can_edit_featured_link? (errors.add(:featured_link): server.en.yml's topic
    featured_link `invalid`). Under skip_validations the topic is saved without validation,
    callbacks included: the value is kept exactly as sent."""
    if value is None or not validate:
        return value, []
    value = str(value).strip() or None
    if value is None:
        return None, []
    errs = []
    if not _http_url(value):
        errs.append("Featured Link is invalid")
    if not can_edit_featured_link(store, user, category_id):
        errs.append("Featured Link is invalid. URL should include http:// or https://.")
    return value, errs


def _http_url(value: str) -> bool:
    # URI.parse(value).is_a?(URI::HTTP) && host present and containing a "."
    parts = urlsplit(value)
    return parts.scheme.lower() in ("http", "https") and "." in (parts.hostname or "")
