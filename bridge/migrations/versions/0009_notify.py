"""Notify (issue 16): each member's notification choices, one row per member (`sub`).

One boolean column per event, each indexed with the channel, so the members who want an event
are one index range at any number of members (sync/notify/schema.py).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# as in sync/notify/schema.py at this revision (a migration never imports the code it migrates)
EVENTS = ("new_posts", "replies_to_my_topics", "replies_to_my_posts", "mentions", "first_reply_to_my_blog_post")


def upgrade() -> None:
    op.create_table(
        "notify_preferences",
        sa.Column("sub", sa.String(64), nullable=False),
        *(sa.Column("event_" + e, sa.Boolean, nullable=False) for e in EVENTS),
        sa.Column("categories", sa.Text, nullable=False),
        sa.Column("tags", sa.Text, nullable=False),
        sa.Column("languages", sa.Text, nullable=False),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("frequency", sa.String(10), nullable=False),
        sa.Column("wiki", sa.String(255), nullable=True),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.CheckConstraint("channel IN ('talk', 'email', 'none')", name="ck_notify_preferences_channel"),
        sa.CheckConstraint("frequency IN ('instant', 'daily', 'weekly')", name="ck_notify_preferences_frequency"),
        sa.PrimaryKeyConstraint("sub", name="pk_notify_preferences"),
    )
    for e in EVENTS:
        op.create_index(f"ix_notify_preferences_event_{e}_channel", "notify_preferences", ["event_" + e, "channel"])


def downgrade() -> None:
    for e in EVENTS:
        op.drop_index(f"ix_notify_preferences_event_{e}_channel", table_name="notify_preferences")
    op.drop_table("notify_preferences")
