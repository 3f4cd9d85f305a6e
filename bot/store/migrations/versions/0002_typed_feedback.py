"""Typed feedback identity: reactions and events get real columns instead of keys.

``idempotency_key`` (colon-joined, queried by prefix) and ``message_ref`` go; the rows
keep everything, parsed into ``kind``, ``platform``, ``chat_id``, ``message_id`` and
``event_id`` (see ``bot/store/legacy.py`` for the old formats). Two unique indexes take
the key's place: at most one active reaction per (message, user, signal), and one event
per ``(user_id, event_id)``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from bot.store.legacy import parse_key

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ACTIVE_REACTION = "kind = 'reaction' AND NOT retracted"
REACTION_COLUMNS = ["platform", "chat_id", "message_id", "user_id", "signal"]
BATCH = 1000


def _table() -> sa.Table:
    # Only the columns this migration reads or writes, as they are at this revision.
    return sa.table(
        "feedback_events",
        sa.column("id", sa.BigInteger()), sa.column("user_id", sa.Integer()),
        sa.column("signal", sa.String()), sa.column("idempotency_key", sa.String()),
        sa.column("message_ref", sa.String()), sa.column("kind", sa.String()),
        sa.column("platform", sa.String()), sa.column("chat_id", sa.String()),
        sa.column("message_id", sa.String()), sa.column("event_id", sa.String()),
        sa.column("created_at", sa.DateTime()), sa.column("retracted", sa.Boolean()),
        sa.column("retracted_at", sa.DateTime()),
    )


def upgrade() -> None:
    with op.batch_alter_table("feedback_events") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False,
                                   server_default="other"))
        batch.add_column(sa.Column("platform", sa.String(32), nullable=True))
        batch.add_column(sa.Column("chat_id", sa.String(128), nullable=True))
        batch.add_column(sa.Column("message_id", sa.String(128), nullable=True))
        batch.add_column(sa.Column("event_id", sa.String(255), nullable=True))

    conn = op.get_bind()
    events = _table()
    rows = conn.execute(sa.select(events.c.id, events.c.idempotency_key, events.c.message_ref,
                                  events.c.user_id, events.c.signal, events.c.retracted,
                                  events.c.created_at)
                        .order_by(events.c.id)).all()
    updates = []
    active: dict[tuple, list] = {}
    for row in rows:
        key = parse_key(row.idempotency_key, row.message_ref)
        updates.append({"row_id": row.id, "kind": key.kind, "platform": key.platform,
                        "chat_id": key.chat_id, "message_id": key.message_id,
                        "event_id": key.event_id})
        if key.kind == "reaction" and not row.retracted:
            ident = (key.platform, key.chat_id, key.message_id, row.user_id, row.signal)
            active.setdefault(ident, []).append(row)
    fill = (sa.update(events).where(events.c.id == sa.bindparam("row_id"))
            .values(kind=sa.bindparam("kind"), platform=sa.bindparam("platform"),
                    chat_id=sa.bindparam("chat_id"), message_id=sa.bindparam("message_id"),
                    event_id=sa.bindparam("event_id")))
    for start in range(0, len(updates), BATCH):
        conn.execute(fill, updates[start:start + BATCH])

    # 0001 kept one active reaction per key prefix with a check-then-insert, so two
    # processes could race to two. The unique index below allows one: the older ones are
    # retracted (history is unchanged: same movie, same signal, the latest stays).
    now = datetime.now(UTC).replace(tzinfo=None)
    extra = [r.id for rows_ in active.values() if len(rows_) > 1
             for r in sorted(rows_, key=lambda r: (r.created_at, r.id))[:-1]]
    for start in range(0, len(extra), BATCH):
        conn.execute(sa.update(events).where(events.c.id.in_(extra[start:start + BATCH]))
                     .values(retracted=True, retracted_at=now))

    with op.batch_alter_table("feedback_events") as batch:
        batch.drop_column("idempotency_key")
        batch.drop_column("message_ref")
    op.create_index("uq_feedback_event", "feedback_events", ["user_id", "event_id"],
                    unique=True)
    op.create_index("uq_feedback_reaction", "feedback_events", REACTION_COLUMNS, unique=True,
                    sqlite_where=sa.text(ACTIVE_REACTION),
                    postgresql_where=sa.text(ACTIVE_REACTION))


def downgrade() -> None:
    """Back to keys: reactions get their 0001 key (stamped with their row id), other events
    keep their ``event_id`` as the key."""
    op.drop_index("uq_feedback_reaction", "feedback_events")
    op.drop_index("uq_feedback_event", "feedback_events")
    with op.batch_alter_table("feedback_events") as batch:
        batch.add_column(sa.Column("idempotency_key", sa.String(255), nullable=True))
        batch.add_column(sa.Column("message_ref", sa.String(256), nullable=True))
    conn = op.get_bind()
    events = _table()
    users = sa.table("users", sa.column("id", sa.Integer()),
                     sa.column("platform_user_id", sa.String()))
    rows = conn.execute(sa.select(events, users.c.platform_user_id)
                        .join(users, users.c.id == events.c.user_id)).all()
    updates = []
    for r in rows:
        ref = (f"{r.platform}:{r.chat_id}:{r.message_id}"
               if r.platform and r.chat_id and r.message_id else None)
        if r.kind == "reaction":
            key = f"{ref}:reaction:{r.platform_user_id}:{r.signal}:{r.id}"
        elif r.kind == "button" and ":" not in (r.event_id or ":"):
            key = f"{r.platform}:button:{r.event_id}"
        else:
            key = r.event_id or f"0002:{r.id}"
        updates.append({"row_id": r.id, "idempotency_key": key, "message_ref": ref})
    fill = (sa.update(events).where(events.c.id == sa.bindparam("row_id"))
            .values(idempotency_key=sa.bindparam("idempotency_key"),
                    message_ref=sa.bindparam("message_ref")))
    for start in range(0, len(updates), BATCH):
        conn.execute(fill, updates[start:start + BATCH])
    with op.batch_alter_table("feedback_events") as batch:
        batch.alter_column("idempotency_key", existing_type=sa.String(255), nullable=False)
        batch.create_unique_constraint("uq_feedback_events_idempotency_key",
                                       ["idempotency_key"])
        for column in ("kind", "platform", "chat_id", "message_id", "event_id"):
            batch.drop_column(column)
