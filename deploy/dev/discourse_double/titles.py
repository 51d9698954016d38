"""What makes a topic title or a post body acceptable, as Discourse judges it.

Follows:
- lib/text_sentinel.rb (title_sentinel, body_sentinel): entropy is the number of distinct
  *bytes* of the stripped text (so one CJK character counts up to three); a title needs a letter or
  digit (\\p{Alnum}), no run of letters/digits longer than title_max_word_length (skipped for the
  ja, ko, zh_CN and zh_TW default locales) and, unless allow_uppercase_posts, a lowercase letter
  or an "other" letter (CJK, kana, Hangul...) when it has letters at all; the title's minimum
  entropy is title_min_entropy, or 0.7 x min_topic_title_length when that is not larger.
- lib/validators/quality_title_validator.rb: which of those the error names
  (config/locales/server.en.yml, activerecord.errors.messages.is_invalid*).
- app/models/topic.rb (title presence, TopicTitleLengthValidator, unique_among) and, for the
  duplicate title message and scope, profiles.Profile.duplicate_title_names_topic (PR #41871).
- lib/validators/post_validator.rb (stripped length, body_sentinel).
"""

from __future__ import annotations

import re

import regex

from . import profiles

ENTROPY_SCALE = 0.7
CJK_LOCALES = ("ja", "ko", "zh_CN", "zh_TW")

# config/locales/server.en.yml, activerecord.errors.messages (QualityTitleValidator)
QUALITY = {
    "meaningful": "seems unclear, most of the words contain the same letters over and over?",
    "unpretentious": "seems unclear, one or more words is very long?",
    "quiet": "seems unclear, did you mean to enter it in ALL CAPS?",
    "invalid": "seems unclear, is it a complete sentence?",
}
DUPLICATE_OLD = "Title has already been used"
# PR #41871: the message links the conflicting topic
DUPLICATE_NEW = "This title has already been used by [another topic]({url})."


def entropy(text: str) -> int:
    """TextSentinel#entropy: the number of unique bytes of the stripped UTF-8 text."""
    return len(set((text or "").strip().encode("utf-8")))


def title_min_entropy(store) -> int:
    lo, wanted = int(store.setting("min_topic_title_length")), int(store.setting("title_min_entropy"))
    return wanted if lo > wanted else int(lo * ENTROPY_SCALE)


def sentinel_problem(store, text: str, min_entropy: int | None, max_word_length: int | None) -> str | None:
    """The first TextSentinel check `text` fails, as QualityTitleValidator names it (None: valid)."""
    if min_entropy is not None and entropy(text) < min_entropy:
        return "meaningful"
    if not regex.search(r"\p{Alnum}", text):
        return "invalid"  # seems_pronounceable? has no message of its own
    if max_word_length is not None and store.setting("default_locale") not in CJK_LOCALES \
            and regex.search(r"\p{Alnum}{%d,}" % (max_word_length + 1), text):
        return "unpretentious"
    if not store.setting("allow_uppercase_posts") and regex.search(r"\p{L}", text) \
            and not regex.search(r"\p{Ll}|\p{Lo}", text):
        return "quiet"
    return None


def title_problems(store, title: str) -> list[str]:
    """Length and quality errors of a title (the uniqueness check is separate: it needs the topic)."""
    lo, hi = int(store.setting("min_topic_title_length")), int(store.setting("max_topic_title_length"))
    errs = []
    if len(title) < lo:
        errs.append(f"Title is too short (minimum is {lo} characters)")
    elif len(title) > hi:
        errs.append(f"Title is too long (maximum is {hi} characters)")
    problem = sentinel_problem(store, title, title_min_entropy(store), int(store.setting("title_max_word_length")))
    if problem:
        errs.append(f"Title {QUALITY[problem]}")
    return errs


def _can_see(store, user: dict | None, topic: dict) -> bool:
    # lib/guardian/topic_guardian.rb#can_see_topic?, as far as the double knows groups: staff see
    # everything; others not a read-restricted category's topics, nor unlisted ones
    if user and (user.get("admin") or user.get("moderator")):
        return True
    cat = store.category(topic.get("category_id"))
    return not (cat and cat.get("read_restricted")) and topic.get("visible", True)


def duplicate_error(store, title: str, *, user: dict | None, exclude_topic_id: int | None,
                    category_id: int | None) -> str | None:
    """app/models/topic.rb: the title is unique case-insensitively among listable (non-PM,
    undeleted) topics. stable-2025: allow_duplicate_topic_titles turns it off,
    allow_duplicate_topic_titles_category limits it to the same category, and any topic counts.
    main-2026 (PR #41871): the enum duplicate_topic_titles (disallowed, allowed_across_categories,
    allowed; the two old booleans are its deprecated aliases), and only a topic the acting user can
    see, or one in the destination category, blocks; the error links it."""
    profile = profiles.of(store)
    if profile.duplicate_title_names_topic:
        mode = store.setting("duplicate_topic_titles")
        if store.setting("allow_duplicate_topic_titles"):
            mode = "allowed"
        elif store.setting("allow_duplicate_topic_titles_category") and mode == "disallowed":
            mode = "allowed_across_categories"
    else:
        mode = "allowed" if store.setting("allow_duplicate_topic_titles") else (
            "allowed_across_categories" if store.setting("allow_duplicate_topic_titles_category") else "disallowed")
    if mode == "allowed":
        return None
    low = title.lower()
    with store.lock:
        for t in store.data["topics"].values():
            if t["id"] == exclude_topic_id or t.get("deleted_at") or t.get("archetype") == "private_message":
                continue
            if mode == "allowed_across_categories" and t["category_id"] != category_id:
                continue
            if t["title"].strip().lower() != low:
                continue
            if not profile.duplicate_title_names_topic:
                return DUPLICATE_OLD
            if t["category_id"] == category_id or _can_see(store, user, t):
                return DUPLICATE_NEW.format(url=f"/t/{t['slug']}/{t['id']}")
    return None


def clean_title(title: str | None) -> str:
    # TextCleaner.clean_title (and TextSentinel's strip / interior spaces)
    return re.sub(r"\s+", " ", (title or "").strip())


def raw_errors(store, raw: str, first_post: bool) -> list[str]:
    """lib/validators/post_validator.rb: stripped length and body_sentinel's entropy (at most 0.7 x
    min_post_length)."""
    stripped = re.sub(r"\s+", " ", (raw or "").strip())
    lo = int(store.setting("min_first_post_length" if first_post else "min_post_length"))
    hi = int(store.setting("max_post_length"))
    if not stripped:
        return ["Body can't be blank"]
    if len(stripped) < lo:
        return [f"Body is too short (minimum is {lo} characters)"]
    if len(stripped) > hi:
        return [f"Body is too long (maximum is {hi} characters)"]
    min_entropy = int(store.setting("body_min_entropy"))
    if min_entropy > int(store.setting("min_post_length")):
        min_entropy = int(int(store.setting("min_post_length")) * ENTROPY_SCALE)
    if entropy(stripped) < min_entropy:
        return [f"Body {QUALITY['meaningful']}"]
    return []
