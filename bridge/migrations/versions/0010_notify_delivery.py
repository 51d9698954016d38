"""Notify delivery (issue 16): what was sent to each member, and what waits for their digest.

`notify_preferences.language`: the language of the member's messages. `notify_sent`: one row per message sent (a happening, a digest, the welcome note), keyed like
the outbox job that sent it; the (sub, channel, sent_at) index counts a member's talk-page edits
of the day. `notify_pending`: happenings waiting for a member's next digest, once per member
(sync/notify/schema.py).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # the language the member's messages are written in: the settings page's when they saved
    op.add_column("notify_preferences", sa.Column("language", sa.String(20), nullable=True))
    op.create_table(
        "notify_sent",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("sub", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("sent_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_notify_sent"),
    )
    op.create_index("ix_notify_sent_sub_channel_sent_at", "notify_sent", ["sub", "channel", "sent_at"])
    op.create_table(
        "notify_pending",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("sub", sa.String(64), nullable=False),
        sa.Column("happening_id", sa.String(200), nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("happening", sa.JSON, nullable=False),
        sa.Column("added_at", sa.DateTime, nullable=False),
        sa.Column("digest_key", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_notify_pending"),
        sa.UniqueConstraint("sub", "happening_id", name="uq_notify_pending_sub_happening_id"),
    )
    op.create_index("ix_notify_pending_digest_key_sub", "notify_pending", ["digest_key", "sub"])


def downgrade() -> None:
    op.drop_index("ix_notify_pending_digest_key_sub", table_name="notify_pending")
    op.drop_table("notify_pending")
    op.drop_index("ix_notify_sent_sub_channel_sent_at", table_name="notify_sent")
    op.drop_table("notify_sent")
    op.drop_column("notify_preferences", "language")
