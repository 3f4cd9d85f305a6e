"""Watch parties: one row per party, so a party survives a bot restart.

The typed columns are what queries select on (the chat, the state, the next deadline);
the rest of a party (members, onboarding picks, candidates, votes per round) is one JSON
document that only `bot.party` reads and writes. ``version`` makes every save a
compare-and-set, so two presses handled at once cannot both win. A partial unique index
keeps one open party per chat.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

OPEN_PARTY = "state IN ('open', 'onboarding', 'voting')"


def upgrade() -> None:
    op.create_table(
        "parties",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("chat_id", sa.String(128), nullable=False),
        sa.Column("host", sa.String(128), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("deadline", sa.DateTime(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_index("uq_parties_open_chat", "parties", ["platform", "chat_id"], unique=True,
                    sqlite_where=sa.text(OPEN_PARTY), postgresql_where=sa.text(OPEN_PARTY))
    op.create_index("ix_parties_due", "parties", ["platform", "state", "deadline"])


def downgrade() -> None:
    op.drop_index("ix_parties_due", "parties")
    op.drop_index("uq_parties_open_chat", "parties")
    op.drop_table("parties")
