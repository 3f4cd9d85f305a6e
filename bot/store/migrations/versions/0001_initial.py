"""Initial schema: users, feedback events, sent messages, watchlist, job runs.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("platform_user_id", sa.String(128), nullable=False),
        sa.Column("display_name", sa.String(256), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("platform", "platform_user_id", name="uq_users_platform_id"),
    )
    op.create_table(
        "feedback_events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("movie_id", sa.Integer(), nullable=False),
        sa.Column("signal", sa.String(32), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("message_ref", sa.String(256), nullable=True),
        sa.Column("idempotency_key", sa.String(255), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("retracted", sa.Boolean(), nullable=False),
        sa.Column("retracted_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_feedback_user_movie", "feedback_events", ["user_id", "movie_id"])
    op.create_index("ix_feedback_created_at", "feedback_events", ["created_at"])
    op.create_table(
        "sent_messages",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("chat_id", sa.String(128), nullable=False),
        sa.Column("message_id", sa.String(128), nullable=False),
        sa.Column("movie_id", sa.Integer(), nullable=True),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("platform", "chat_id", "message_id", name="uq_sent_messages_ref"),
    )
    op.create_index("ix_sent_messages_platform_created", "sent_messages",
                    ["platform", "created_at"])
    op.create_table(
        "watchlist",
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("movie_id", sa.Integer(), primary_key=True),
        sa.Column("added_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "job_runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_job_runs_name_finished", "job_runs", ["name", "finished_at"])


def downgrade() -> None:
    for table in ("job_runs", "watchlist", "sent_messages", "feedback_events", "users"):
        op.drop_table(table)
