"""Who may see and do what, as lib/guardian.rb and its topic and category parts decide.

Shared by the topic, category, site and search handlers, so they agree on what is visible: staff
(admins and moderators) see everything; others see topics of the categories they may read
(lib/guardian/topic_guardian.rb `can_see_topic?`, app/models/category.rb `Category.secured`).
"""

from __future__ import annotations

from . import errors
from .context import Ctx, Halt


def is_staff(user: dict | None) -> bool:
    return bool(user and (user.get("admin") or user.get("moderator")))


def require_staff(ctx: Ctx) -> None:
    if not is_staff(ctx.user):
        raise Halt(errors.invalid_access())


def can_see_category(ctx: Ctx, cat: dict | None) -> bool:
    # app/models/category.rb, Category.secured: a read-restricted category is for the groups its
    # permissions name; the double knows the automatic groups `everyone` and `staff` only.
    return cat is None or not cat.get("read_restricted") or is_staff(ctx.user)


def visible_topic(ctx: Ctx, tid) -> dict | None:
    t = ctx.store.topic(tid)
    if t is None or (t.get("deleted_at") and not is_staff(ctx.user)):
        return None
    if not is_staff(ctx.user):
        # lib/guardian/topic_guardian.rb#can_see_topic?: a PM for its participants, a topic for
        # those who may see its category (staff-only categories here)
        if t.get("archetype") == "private_message" and (ctx.user or {}).get("id") not in t.get("allowed_user_ids", []):
            return None
        if not can_see_category(ctx, ctx.store.category(t.get("category_id"))):
            return None
    return t


def listable(ctx: Ctx, t: dict) -> bool:
    if t.get("deleted_at") or t.get("archetype") == "private_message":
        return False
    if not can_see_category(ctx, ctx.store.category(t.get("category_id"))):
        return False
    if t.get("category_definition"):
        return False  # show_category_definitions_in_topic_lists is off by default
    return t["visible"] or is_staff(ctx.user)


def can_edit_featured_link(store, user: dict | None, category_id) -> bool:
    """lib/guardian.rb `can_edit_featured_link?`: the site setting topic_featured_link_enabled,
    a user past trust level 0 (newuser), and a category (Uncategorized when none) whose
    topic_featured_link_allowed is on (the column's default)."""
    if not store.setting("topic_featured_link_enabled"):
        return False
    if (user or {}).get("trust_level", 0) == 0:
        return False
    cat = store.category(category_id or store.setting("uncategorized_category_id"))
    return bool(cat) and cat.get("topic_featured_link_allowed", True) is not False
