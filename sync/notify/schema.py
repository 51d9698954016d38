"""The members' notification choices: one row per member (`sub`), made by migration 0009.

It joins the bridge's one `MetaData` (bridge/store.py), so the schema check that compares the
migrations with the declared tables sees it. Each event is its own boolean column with an index
on (event, channel): "everyone who wants new posts, by any channel but none" is one index range
however many members there are (sync/notify/preferences.py `wanting`). The lists a member picks
for new posts are kept as "|key-a|key-b|" ("" for any), so one LIKE '%|key|%' finds a key on
both databases, as search_documents.tags does.

Two more tables (migration 0010) hold what was sent and what waits: `notify_sent` is one row per
message that left (its key is the delivery's: the member and the happening, or the member and the
digest's day), which counts the day's talk-page edits against `talk_edits_per_day`, and
`notify_pending` holds the happenings waiting for a member's digest, once each per member.
"""

from __future__ import annotations

import sqlalchemy as sa

from bridge.store import BigId, metadata

EVENTS = ("new_posts", "replies_to_my_topics", "replies_to_my_posts", "mentions", "first_reply_to_my_blog_post")
CHANNELS = ("talk", "email", "none")
FREQUENCIES = ("instant", "daily", "weekly")


def event_column(event: str) -> str:
    """The boolean column of `event` (one of EVENTS)."""
    return "event_" + event


preferences = sa.Table(
    "notify_preferences",
    metadata,
    sa.Column("sub", sa.String(64), primary_key=True),  # accounts.sub
    *(sa.Column(event_column(e), sa.Boolean, nullable=False) for e in EVENTS),
    sa.Column("categories", sa.Text, nullable=False),
    sa.Column("tags", sa.Text, nullable=False),
    sa.Column("languages", sa.Text, nullable=False),
    sa.Column("channel", sa.String(10), nullable=False),
    sa.Column("frequency", sa.String(10), nullable=False),
    sa.Column("wiki", sa.String(255), nullable=True),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("language", sa.String(20), nullable=True),  # the settings page's, for the messages (0010)
    sa.CheckConstraint("channel IN ('talk', 'email', 'none')", name="channel"),
    sa.CheckConstraint("frequency IN ('instant', 'daily', 'weekly')", name="frequency"),
    *(sa.Index(None, event_column(e), "channel") for e in EVENTS),
)


#: What a `notify_sent` row records: one happening as it happened, a digest, the welcome note.
SENT_KINDS = ("event", "digest", "welcome")

sent = sa.Table(
    "notify_sent",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),  # notify:<sub>:<happening>, digest or welcome key
    sa.Column("sub", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(10), nullable=False),
    # how it went: talk, email, digest (folded), talk-digest, talk-welcome, none, or the
    # talk page's refusal (bots-denied, not-wikitext, refused, invalid, present)
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("sent_at", sa.DateTime, nullable=False),
    sa.Index(None, "sub", "channel", "sent_at"),
)

pending = sa.Table(
    "notify_pending",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("sub", sa.String(64), nullable=False),
    sa.Column("happening_id", sa.String(200), nullable=False),
    sa.Column("reason", sa.String(40), nullable=False),
    sa.Column("happening", sa.JSON, nullable=False),
    sa.Column("added_at", sa.DateTime, nullable=False),
    sa.Column("digest_key", sa.String(255), nullable=True),  # set once a digest holding it was sent
    sa.UniqueConstraint("sub", "happening_id"),
    sa.Index(None, "digest_key", "sub"),
)
