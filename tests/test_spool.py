"""Feedback survives a database outage and reaches the database exactly once."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import OperationalError

from bot.store import FeedbackEvent, MessageKey, ReactionChange, Store, StoreUnavailable
from bot.store.spool import Spool, SpoolingStore
from bot.store.testing import drop_schema, require_postgres, unopenable_sqlite


def ev(uid, movie, key, signal="like") -> FeedbackEvent:
    return FeedbackEvent(uid, movie, signal, None, "test", None, key)


CARD = MessageKey("telegram", "c1", "m9")


def react(added: bool, movie: int = 3, user: str = "1", at: datetime | None = None):
    return ReactionChange(CARD, user, "like", added, movie_id=movie if added else None, at=at)


class BrokenSQLite:
    """Point a SQLite store at a file that cannot be opened: a real driver error."""

    def __init__(self, store: Store, tmp_path):
        self.store, self.good = store, store.database
        self.bad = unopenable_sqlite(tmp_path)

    def down(self):
        self.store.database = self.bad

    def up(self):
        self.store.database = self.good


@pytest.fixture
async def sqlite_store(tmp_path):
    store = await Store.open(f"sqlite:///{tmp_path}/db.sqlite")
    yield store
    await store.close()


async def test_outage_spools_then_flushes_exactly_once(sqlite_store, tmp_path):
    db = BrokenSQLite(sqlite_store, tmp_path)
    s = SpoolingStore(sqlite_store, tmp_path / "spool.jsonl", retry_every=0)
    uid = await s.user_id("telegram", "1")
    assert await s.record_feedback(ev(uid, 1, "a"))

    db.down()
    assert await s.user_id("telegram", "1") == uid  # answered from the cache
    with pytest.raises(StoreUnavailable):
        await s.user_id("telegram", "never-seen")
    with pytest.raises(StoreUnavailable) as err:
        await s.history(uid)  # reads fail with a friendly message...
    assert "try again" in str(err.value)
    for movie in (2, 4, 5, 6):  # ...writes keep working
        assert await s.record_feedback(ev(uid, movie, f"k{movie}"))
    assert await s.record_feedback(ev(uid, 2, "k2"))          # a retry of the same event
    assert await s.record_feedback(ev(uid, 1, "a"))           # already in the database
    assert await s.record_reaction(react(True))               # 👍 on a card...
    assert await s.record_reaction(react(False))              # ...taken back
    await s.remember_message("telegram", "c1", "m1", 5, {"command": "similar"})
    await s.remember_messages([("telegram", "c1", "m2", 6, {}), ("telegram", "c1", "m3", 7, {})])
    assert s.spool.pending_count() == 11
    with pytest.raises(OperationalError):
        await s.flush()
    assert s.spool.pending_count() == 11

    db.up()
    assert await s.flush() == 11
    assert s.spool.pending_count() == 0
    assert await s.flush() == 0  # nothing is ever replayed twice
    assert await s.history(uid) == [(1, "like"), (2, "like"), (4, "like"), (5, "like"),
                                    (6, "like")]
    assert (await s.stats())["events"] == 6
    assert (await s.lookup_message("telegram", "c1", "m1")).movie_id == 5
    assert (await s.lookup_message("telegram", "c1", "m3")).movie_id == 7
    assert not list(tmp_path.glob("spool.jsonl.flushing*"))


async def test_a_flush_that_gets_through_closes_the_breaker(sqlite_store, tmp_path):
    # The breaker keeps the database alone for retry_every after a failure; a flush that
    # then succeeds proves it answers, so reads must not stay "unavailable" until then.
    db = BrokenSQLite(sqlite_store, tmp_path)
    s = SpoolingStore(sqlite_store, tmp_path / "spool.jsonl", retry_every=3600)
    uid = await s.user_id("telegram", "1")
    db.down()
    assert await s.record_feedback(ev(uid, 2, "k2"))         # fails, opens the breaker
    with pytest.raises(StoreUnavailable):
        await s.history(uid)
    db.up()
    assert await s.flush() == 1
    assert await s.history(uid) == [(2, "like")]


async def test_writes_keep_order_behind_spooled_ones(sqlite_store, tmp_path):
    db = BrokenSQLite(sqlite_store, tmp_path)
    s = SpoolingStore(sqlite_store, tmp_path / "spool.jsonl", retry_every=0)
    uid = await s.user_id("telegram", "1")
    db.down()
    await s.record_reaction(react(True, movie=7))
    db.up()
    # the retraction must not reach the database before the reaction it retracts
    assert await s.record_reaction(react(False))
    assert s.spool.pending_count() == 0
    assert await s.history(uid) == []


async def test_crash_during_flush_replays_without_duplicates(sqlite_store, tmp_path,
                                                            monkeypatch):
    monkeypatch.setattr("bot.store.spool.REPLAY_BATCH", 50)
    uid = await sqlite_store.user_id("telegram", "1")
    spool = Spool(tmp_path / "spool.jsonl")
    for movie in range(1, 120):  # three replay batches
        spool.append({"op": "record", "event": ev(uid, movie, f"k{movie}").to_dict()})
    at = datetime(2025, 1, 1, tzinfo=UTC)    # as SpoolingStore writes them: with their time
    spool.append({"op": "reaction", "change": react(True, movie=0, at=at).to_dict()})
    spool.append({"op": "reaction", "change": react(False, at=at).to_dict()})
    calls = 0

    async def apply_then_crash(ops):
        nonlocal calls
        calls += 1
        if calls == 2:
            raise KeyboardInterrupt("power loss")  # after batch 1 went in
        await SpoolingStore(sqlite_store, tmp_path / "unused.jsonl")._apply(ops)

    with pytest.raises(KeyboardInterrupt):
        await spool.replay(apply_then_crash)
    assert spool.pending_count() == 71
    # the progress marker is lost too: the whole file is replayed, harmlessly
    spool.progress.unlink()
    s = SpoolingStore(sqlite_store, tmp_path / "spool.jsonl")
    assert await s.flush() == 121
    assert (await s.stats())["events"] == 120
    assert (await s.stats())["retracted"] == 1
    assert len(await s.history(uid)) == 119


async def test_a_reaction_spooled_without_a_time_gets_one_when_spooled(sqlite_store, tmp_path):
    db = BrokenSQLite(sqlite_store, tmp_path)
    s = SpoolingStore(sqlite_store, tmp_path / "spool.jsonl", retry_every=0)
    db.down()
    assert await s.record_reaction(react(True))            # Discord: no event time
    assert await s.record_reaction(react(False))
    assert await s.record_reaction(react(True))            # add, remove, add: ends added
    db.up()
    assert await s.flush() == 3
    uid = await s.user_id("telegram", "1")
    assert await s.history(uid) == [(3, "like")]


async def test_replaying_reaction_changes_again_changes_nothing(sqlite_store, tmp_path):
    # Changes carry the platform's order (seq: Telegram's update id), so replaying them,
    # even all in the same second, is exact: no extra row.
    s = SpoolingStore(sqlite_store, tmp_path / "spool.jsonl")
    uid = await s.user_id("telegram", "1")
    for seqs, rows in (((1, 2, 3, 4, 5), (3, 2)), ((6, 7, 8, 9, 10), (5, 4))):
        lines = []
        for n, seq in enumerate(seqs):
            change = react(n % 2 == 0, at=datetime(2025, 1, 1, 0, 0, 6, tzinfo=UTC))
            change.seq, change.emoji = seq, "👍"
            lines.append({"op": "reaction", "change": change.to_dict()})
        for _ in range(3):            # a crash before the spool was deleted, twice
            s.spool.append(*lines)
        assert await s.flush() == 15
        assert await s.history(uid) == [(3, "like")]
        assert await s.active_reactions(CARD) == [("1", "like")]
        stats = await s.stats()
        assert (stats["events"], stats["retracted"]) == rows


async def test_a_spool_written_before_the_typed_schema_still_replays(sqlite_store, tmp_path):
    """Lines of schema 0001 (idempotency keys) pending at the upgrade are translated."""
    uid = await sqlite_store.user_id("telegram", "42")
    s = SpoolingStore(sqlite_store, tmp_path / "spool.jsonl")

    def old_event(movie, key, ref=None, signal="like", at="2025-01-01T00:00:05+00:00"):
        return {"op": "record", "event": {
            "user_id": None, "movie_id": movie, "signal": signal, "value": None,
            "source": "telegram:reaction", "message_ref": ref, "idempotency_key": key,
            "created_at": at, "platform": "telegram", "platform_user_id": "42"}}

    s.spool.append(
        old_event(318, "telegram:5:77:reaction:42:like:1735689605", "telegram:5:77"),
        old_event(318, "telegram:5:77:reaction:42:like:1735689605", "telegram:5:77"),  # twice
        old_event(1, "telegram:button:cb-9", "telegram:5:78"),
        old_event(2, "telegram:5:79:reaction:42:dislike:1735689605", "telegram:5:79",
                  signal="dislike"),
        {"op": "retract", "key": "telegram:5:79:reaction:42:dislike:1735689605"},
        {"op": "retract", "key": "telegram:button:cb-9"},       # never written; skipped
    )
    assert await s.flush() == 6
    assert await s.history(uid) == [(318, "like"), (1, "like")]
    assert await s.active_reactions(MessageKey("telegram", "5", "77")) == [("42", "like")]
    # the press redelivered after the upgrade is recognised by its callback query id
    assert not await s.record_feedback(FeedbackEvent(None, 1, "like", event_id="cb-9",
                                                     platform="telegram",
                                                     platform_user_id="42"))


async def test_torn_last_line_is_skipped(sqlite_store, tmp_path):
    uid = await sqlite_store.user_id("telegram", "1")
    s = SpoolingStore(sqlite_store, tmp_path / "spool.jsonl")
    s.spool.append({"op": "record", "event": ev(uid, 1, "k1").to_dict()})
    with open(s.spool.path, "a") as fh:
        fh.write('{"op": "record", "ev')  # the process died mid-write
    s.spool.append({"op": "record", "event": ev(uid, 2, "k2").to_dict()})  # the next one
    assert await s.flush() == 3
    assert await s.history(uid) == [(1, "like"), (2, "like")]


async def test_spooled_events_of_a_forgotten_user_are_dropped(sqlite_store, tmp_path):
    uid = await sqlite_store.user_id("telegram", "1")
    s = SpoolingStore(sqlite_store, tmp_path / "spool.jsonl")
    s.spool.append({"op": "record", "event": ev(uid, 1, "k1").to_dict()})
    s.spool.append({"op": "record", "event": ev(uid + 99, 1, "bad").to_dict()})  # no such user
    assert await s.flush() == 2
    assert await s.history(uid) == [(1, "like")]


def _append_many(path, worker, n):
    spool = Spool(path)
    for i in range(n):
        spool.append({"op": "retract", "key": f"{worker}:{i}"})


def test_processes_share_one_spool(tmp_path):
    path = tmp_path / "spool.jsonl"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_append_many, args=(path, w, 200)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert len(lines) == 600 and len({x["key"] for x in lines}) == 600


class TcpProxy:
    """A TCP forwarder to PostgreSQL that can be cut, to take the database away for real."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.server = None
        self.port = 0
        self.conns: list[asyncio.StreamWriter] = []

    async def start(self):
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self):
        self.server.close()
        for w in self.conns:
            w.close()
        self.conns.clear()
        await self.server.wait_closed()

    async def _handle(self, reader, writer):
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self.conns += [writer, up_writer]

        async def pipe(src, dst):
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@pytest.mark.postgres
async def test_postgres_outage_through_a_cut_connection(tmp_path):
    url = await require_postgres()
    from sqlalchemy.engine import make_url

    real = make_url(url)
    proxy = TcpProxy(real.port or 5432)
    await proxy.start()
    schema = f"test_spool_{proxy.port}"
    store = await Store.open(real.set(port=proxy.port).render_as_string(hide_password=False),
                             schema=schema, connect_timeout=2)
    try:
        s = SpoolingStore(store, tmp_path / "spool.jsonl", retry_every=0, timeout=5)
        uid = await s.user_id("discord", "1")
        await s.record_feedback(ev(uid, 1, "a"))
        await proxy.stop()
        for movie in range(2, 12):
            assert await s.record_feedback(ev(uid, movie, f"k{movie}"))
        assert s.spool.pending_count() == 10
        await proxy.start()  # same port: the database is back
        assert await s.flush() == 10
        assert len(await s.history(uid)) == 11
        assert await s.flush() == 0
    finally:
        await store.close()
        await proxy.stop()
        await drop_schema(url, schema)
