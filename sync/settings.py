"""The `mirror:` section of space.yaml, owned by the mirror feature (sync/feature.py)."""

from __future__ import annotations

from pydantic import Field

from bridge.config import Model


class MirrorSettings(Model):
    """Every blog post gets its forum discussion (sync/mirror.py, docs/architecture.md)."""

    reconcile_interval_seconds: float = Field(300.0, ge=1, description="how often every site is asked for "
                                              "the posts modified since its checkpoint")
    reconcile_overlap_seconds: float = Field(120.0, ge=0, description="listed again before the checkpoint "
                                             "(clock skew, one-second precision)")
    initial_lookback_days: float = Field(2.0, ge=0, description="first reconcile of a site: posts modified "
                                         "this long ago (older ones: space-bridge backfill)")
    webhook_max_age_seconds: int = Field(300, ge=10, le=3600, description="replay window of WordPress web hooks")
    excerpt_words: int = Field(80, ge=10, le=1000, description="topic body: the excerpt, cut to this many words")
    continue_reading: str = Field("Continue reading", min_length=1, description="text of the link to the post")
    title_min_length: int = Field(15, ge=1, description="Discourse's min_topic_title_length")
    title_max_length: int = Field(255, ge=20, description="Discourse's max_topic_title_length")
    title_padding: str = Field("{title} · {site}", description="a title shorter than the minimum: {title}, {site}")
    duplicate_title_suffix: str = Field(" ({site} #{post_id})", description="added to a title the forum "
                                        "already has: {site}, {post_id}")
    max_tags: int = Field(5, ge=0, description="Discourse's max_tags_per_topic")
    max_tag_length: int = Field(20, ge=1, description="Discourse's max_tag_length")
    username: str | None = Field(None, description="Discourse user topics are created as (default: "
                                 "discourse.api_username)")
    post_as_author: bool = Field(True, description="create the topic as its author's forum account when the "
                                 "author's blog account is linked to a member by a Wikimedia login "
                                 "(external id, never a name)")
    relist_embedded: bool = Field(True, description="list a new topic Discourse left unlisted (embed_unlisted)")
    latest_replies: int = Field(5, ge=0, le=20, description="replies shown under the post")
    reply_excerpt_chars: int = Field(300, ge=20, le=2000, description="length of each reply's excerpt")
    job_max_wait_seconds: float = Field(5.0, ge=0, description="a job waits this long for its Discourse slot, "
                                        "else it is queued again for later")
