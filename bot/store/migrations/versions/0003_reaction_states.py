"""Reaction state per emoji: which emoji each user has on each message, and the platform
sequence number of the change that set it.

A movie's like/dislike for a (message, user) is derived from the set of emoji currently
on it, so taking ❤ off a card that still has 👍 keeps the like. ``seq`` is the platform's
own ordering of the change (Telegram: the update id), never wall-clock time: a change
whose ``seq`` is not above the stored one is a redelivery or stale, and changes nothing.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reaction_states",
        sa.Column("platform", sa.String(32), primary_key=True),
        sa.Column("chat_id", sa.String(128), primary_key=True),
        sa.Column("message_id", sa.String(128), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("emoji", sa.String(64), primary_key=True),
        sa.Column("signal", sa.String(32), nullable=False),
        sa.Column("present", sa.Boolean(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("movie_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_reaction_states_user", "reaction_states", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_reaction_states_user", "reaction_states")
    op.drop_table("reaction_states")
