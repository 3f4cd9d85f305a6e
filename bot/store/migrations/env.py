"""Alembic environment, driven only programmatically by ``bot.store.migrate``.

``Store.open`` hands us a live (sync-facing) connection in ``config.attributes``; we never
create an engine here, so the same code runs on SQLite and PostgreSQL.

To add a migration: edit ``bot/store/models.py``, then write
``versions/NNNN_<what>.py`` by hand (copy 0001's header, bump ``down_revision``).
"""

from __future__ import annotations

from alembic import context

from bot.store.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite can only ALTER by copying tables; batch mode does that for us.
    render_as_batch=connection.dialect.name == "sqlite",
    version_table_schema=context.config.attributes.get("schema"),
)
with context.begin_transaction():
    context.run_migrations()
