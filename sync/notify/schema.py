"""The members' notification choices: one row per member (`sub`), made by migration 0009.

It joins the bridge's one `MetaData` (bridge/store.py), so the schema check that compares the
migrations with the declared tables sees it. Each event is its own boolean column with an index
on (event, channel): "everyone who wants new posts, by any channel but none" is one index range
however many members there are (sync/notify/preferences.py `wanting`). The lists a member picks
for new posts are kept as "|key-a|key-b|" ("" for any), so one LIKE '%|key|%' finds a key on
both databases, as search_documents.tags does.
"""

from __future__ import annotations

import sqlalchemy as sa

from bridge.store import metadata

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
    sa.CheckConstraint("channel IN ('talk', 'email', 'none')", name="channel"),
    sa.CheckConstraint("frequency IN ('instant', 'daily', 'weekly')", name="frequency"),
    *(sa.Index(None, event_column(e), "channel") for e in EVENTS),
)
