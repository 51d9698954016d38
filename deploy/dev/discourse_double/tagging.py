"""Tags as lib/discourse_tagging.rb cleans and saves them (`clean_tag`, `tags_for_saving`).

Shared by topic creation and TopicsController#update, so a tag is cleaned, created on the fly
(for the users allowed to) and cut to max_tags_per_topic the same way on both paths.
"""

from __future__ import annotations

import re

from .context import Ctx
from .guardian import is_staff
from .serializers import tag_json
from .store import now_iso


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
