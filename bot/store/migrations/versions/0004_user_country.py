"""Each user's country for "where to watch" (/country DE): an ISO 3166-1 alpha-2 code,
NULL until the user sets one (the platform's locale or MOVIEBOT_DEFAULT_COUNTRY is used
until then).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite cannot ALTER a table's columns in place (PostgreSQL just adds it)
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("country", sa.String(2), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("country")
