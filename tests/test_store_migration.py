"""Migration 0002 (typed feedback identity) keeps the data of a database made by 0001.

On SQLite and PostgreSQL: build the schema of revision 0001, write the rows the code of
that time wrote (every key format, active and retracted), upgrade to head, and check
the parsed columns and that the new store works on the old rows.
"""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from bot.store import FeedbackEvent, MessageKey, ReactionChange, Store
from bot.store.models import FeedbackRow
from bot.store.store import _alembic
from bot.store.testing import drop_schema, require_postgres

T = datetime(2025, 1, 1, 12, 0, 0)              # naive UTC, as 0001 stored times
STAMP = int(T.replace(tzinfo=UTC).timestamp())

USERS = [(1, "telegram", "42"), (2, "discord", "900"), (3, "console", "me")]
# (id, user, movie, signal, value, source, message_ref, idempotency_key, retracted)
ROWS = [
    # a reaction, active
    (1, 1, 318, "like", None, "telegram:reaction", "telegram:-1001:77",
     f"telegram:-1001:77:reaction:42:like:{STAMP}", False),
    # a reaction removed, then added again (a new key, a later stamp)
    (2, 1, 1, "dislike", None, "telegram:reaction", "telegram:-1001:78",
     f"telegram:-1001:78:reaction:42:dislike:{STAMP}", True),
    (3, 1, 1, "dislike", None, "telegram:reaction", "telegram:-1001:78",
     f"telegram:-1001:78:reaction:42:dislike:{STAMP + 60}", False),
    # two processes raced to two active rows for one Discord reaction
    (4, 2, 2, "like", None, "discord:reaction", "discord:55:66",
     f"discord:55:66:reaction:900:like:{STAMP * 10**9}", False),
    (5, 2, 2, "like", None, "discord:reaction", "discord:55:66",
     f"discord:55:66:reaction:900:like:{STAMP * 10**9 + 1}", False),
    # button presses: with the platform's event id, and without one (the console)
    (6, 1, 296, "like", None, "telegram:button", "telegram:-1001:79", "telegram:button:4431",
     False),
    (7, 3, 296, "dislike", None, "console:button", None,
     f"console:button:None:me:dislike:{STAMP * 10**9}", False),
    # /rate, and a key of no known format (an import, a test)
    (8, 1, 593, "rating", 4.5, "telegram:command", None, f"telegram:rate:42:593:{STAMP}",
     False),
    (9, 1, 5, "like", None, "test", None, "1:5", False),
]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def old_store(request, tmp_path):
    """A store whose database is at revision 0001, with ROWS in it."""
    if request.param == "sqlite":
        url, schema = f"sqlite:///{tmp_path}/old.db", None
    else:
        url = await require_postgres()
        schema = f"test_mig_{os.getpid()}_{secrets.token_hex(4)}"
    store = await Store.open(url, schema=schema, migrate=False)
    await store.migrate("0001")
    meta = sa.MetaData()
    users = sa.Table("users", meta, *(sa.Column(c) for c in (
        "id", "platform", "platform_user_id", "display_name", "created_at")))
    events = sa.Table("feedback_events", meta, *(sa.Column(c) for c in (
        "id", "user_id", "movie_id", "signal", "value", "source", "message_ref",
        "idempotency_key", "created_at", "retracted", "retracted_at")))

    def fill(conn):
        conn.execute(users.insert(), [
            {"id": i, "platform": p, "platform_user_id": u, "display_name": None,
             "created_at": T} for i, p, u in USERS])
        conn.execute(events.insert(), [
            {"id": i, "user_id": u, "movie_id": m, "signal": s, "value": v, "source": src,
             "message_ref": ref, "idempotency_key": key, "created_at": T.replace(minute=i),
             "retracted": gone, "retracted_at": T.replace(minute=30) if gone else None}
            for i, u, m, s, v, src, ref, key, gone in ROWS])
        if conn.dialect.name == "postgresql":   # explicit ids: move the sequences on
            for table in ("users", "feedback_events"):
                conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                     f"(SELECT max(id) FROM {table}))"))

    await store.database.run(fill, write=True)
    try:
        yield store
    finally:
        await store.close()
        if schema:
            await drop_schema(url, schema)


async def _rows(store: Store) -> dict[int, tuple]:
    query = sa.select(FeedbackRow.id, FeedbackRow.kind, FeedbackRow.platform,
                      FeedbackRow.chat_id, FeedbackRow.message_id, FeedbackRow.event_id,
                      FeedbackRow.retracted).order_by(FeedbackRow.id)
    rows = await store.database.run(lambda conn: conn.execute(query).all())
    return {r.id: tuple(r)[1:] for r in rows}


async def test_upgrade_parses_every_old_key_and_keeps_every_row(old_store: Store):
    before = await old_store.database.run(
        lambda conn: conn.execute(sa.text("SELECT count(*) FROM feedback_events")).scalar())
    await old_store.migrate()
    rows = await _rows(old_store)
    assert len(rows) == before == len(ROWS)
    assert rows == {
        1: ("reaction", "telegram", "-1001", "77", None, False),
        2: ("reaction", "telegram", "-1001", "78", None, True),
        3: ("reaction", "telegram", "-1001", "78", None, False),
        4: ("reaction", "discord", "55", "66", None, True),     # the older twin, retracted
        5: ("reaction", "discord", "55", "66", None, False),
        6: ("button", "telegram", "-1001", "79", "4431", False),
        7: ("button", "console", None, None, f"console:button:None:me:dislike:{STAMP * 10**9}",
            False),
        8: ("command", "telegram", None, None, f"telegram:rate:42:593:{STAMP}", False),
        9: ("other", None, None, None, "1:5", False),
    }
    columns = await old_store.database.run(
        lambda conn: {c["name"] for c in sa.inspect(conn).get_columns("feedback_events")})
    assert "idempotency_key" not in columns and "message_ref" not in columns
    # what the users see is unchanged
    assert await old_store.history(1) == [(318, "like"), (1, "dislike"), (296, "like"),
                                          (593, 4.5), (5, "like")]
    assert await old_store.history(2) == [(2, "like")]


async def test_the_new_store_works_on_upgraded_rows(old_store: Store):
    await old_store.migrate()
    store = old_store
    m77 = MessageKey("telegram", "-1001", "77")
    at = T.replace(tzinfo=UTC)
    # the old reaction, delivered again, is known; taken off, it is retracted
    assert await store.active_reactions(m77) == [("42", "like")]
    assert not await store.record_reaction(ReactionChange(m77, "42", "like", True,
                                                          movie_id=318, at=at))
    assert await store.record_reaction(ReactionChange(m77, "42", "like", False,
                                                      at=at.replace(hour=13)))
    assert await store.active_reactions(m77) == []
    assert (318, "like") not in await store.history(1)
    # the Discord reaction (two rows before) goes with one removal
    m66 = MessageKey("discord", "55", "66")
    assert await store.record_reaction(ReactionChange(m66, "900", "like", False))
    assert await store.history(2) == []
    # a button press redelivered after the upgrade is recognised by its event id
    assert not await store.record_feedback(FeedbackEvent(
        None, 296, "like", event_id="4431", kind="button", platform="telegram",
        platform_user_id="42"))
    assert await store.record_feedback(FeedbackEvent(
        None, 296, "like", event_id="4432", kind="button", platform="telegram",
        platform_user_id="42"))
    stats = await store.stats()
    assert stats["events"] == len(ROWS) + 1 and stats["users"] == 3


async def test_downgrade_gives_back_keys_the_old_code_can_use(old_store: Store):
    await old_store.migrate()
    await old_store.database.run(_alembic, old_store.schema, "downgrade", "0001", write=True)
    keys = await old_store.database.run(lambda conn: dict(conn.execute(sa.text(
        "SELECT id, idempotency_key FROM feedback_events")).all()))
    assert keys[6] == "telegram:button:4431" and keys[9] == "1:5"
    assert keys[1].startswith("telegram:-1001:77:reaction:42:like:")
    await old_store.migrate()                  # and up again
    assert (await _rows(old_store))[6] == ("button", "telegram", "-1001", "79", "4431", False)
