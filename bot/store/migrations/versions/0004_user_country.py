"""Each user's country for "where to watch" (/country DE): an ISO 3166-1 alpha-2 code,
NULL until the user sets one (the platform's locale or MOVIEBOT_DEFAULT_COUNTRY is used
until then).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlite3

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN on both back-ends. Not batch mode: on SQLite that re-creates
    # `users`, and dropping the old table would cascade-delete every user's feedback.
    op.add_column("users", sa.Column("country", sa.String(2), nullable=True))


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite" and sqlite3.sqlite_version_info < (3, 35):
        return  # no DROP COLUMN before SQLite 3.35; the unused nullable column is harmless
    op.drop_column("users", "country")
