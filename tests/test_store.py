"""The feedback store: the same suite on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.store import FeedbackEvent, MessageKey, ReactionChange, Store
from bot.store.testing import open_test_store
from engine.errors import InvalidInput, MovieBotError


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request, tmp_path):
    async with open_test_store(request.param, tmp_path) as s:
        yield s


def ev(user_id, movie_id, signal="like", value=None, key=None, **kw) -> FeedbackEvent:
    return FeedbackEvent(user_id, movie_id, signal, value, "test", None,
                         key or f"k:{user_id}:{movie_id}:{signal}:{value}", **kw)


T0 = datetime(2024, 1, 1, tzinfo=UTC)


def card(message_id: str = "77", chat_id: str = "5") -> MessageKey:
    return MessageKey("telegram", chat_id, message_id)


def react(user: str, signal: str, added: bool, *, movie_id: int | None = 318,
          message: MessageKey | None = None, seconds: float = 0,
          seq: int | None = None, emoji: str = "") -> ReactionChange:
    return ReactionChange(message or card(), user, signal, added,
                          movie_id=movie_id if added else None,
                          at=T0 + timedelta(seconds=seconds), seq=seq, emoji=emoji)


async def test_user_id_is_get_or_create(store: Store):
    a = await store.user_id("telegram", "42", "Ann")
    assert await store.user_id("telegram", "42") == a
    assert await store.user_id("discord", "42") != a  # same number, other platform
    # concurrent first messages from one new user end up as one row
    ids = await asyncio.gather(*[store.user_id("telegram", "7") for _ in range(5)])
    assert len(set(ids)) == 1
    assert (await store.stats())["users"] == 3


async def test_an_event_id_is_stored_once_per_user(store: Store):
    uid = await store.user_id("telegram", "1")
    assert await store.record_feedback(ev(uid, 318, key="cb-1"))
    assert not await store.record_feedback(ev(uid, 2571, "dislike", key="cb-1"))
    other = await store.user_id("discord", "1")
    assert await store.record_feedback(ev(other, 1, key="cb-1"))   # another user's event
    assert await store.history(uid) == [(318, "like")]
    assert (await store.stats())["events"] == 2
    # without an event id, each event gets its own (random) one
    assert FeedbackEvent(uid, 1, "like").event_id != FeedbackEvent(uid, 1, "like").event_id


async def test_history_is_latest_non_retracted_signal_per_movie(store: Store):
    uid = await store.user_id("telegram", "1")
    await store.record_feedback(ev(uid, 1, "like", key="a", created_at=T0))
    await store.record_feedback(ev(uid, 2, "rating", 4.5, key="b", created_at=T0 + timedelta(1)))
    await store.record_reaction(react("1", "dislike", True, movie_id=1, seconds=2 * 86400))
    await store.record_feedback(ev(uid, 3, "watchlist", key="d", created_at=T0 + timedelta(3)))
    assert await store.history(uid) == [(2, 4.5), (1, "dislike")]
    # removing the dislike reaction brings the earlier like back
    assert await store.record_reaction(react("1", "dislike", False, seconds=3 * 86400))
    assert not await store.record_reaction(react("1", "dislike", False, seconds=3 * 86400))
    assert not await store.record_reaction(react("1", "like", False, seconds=3 * 86400))
    assert await store.history(uid) == [(1, "like"), (2, 4.5)]
    other = await store.user_id("telegram", "2")
    assert await store.history(other) == []


async def test_a_reaction_is_stored_once_per_message_user_and_signal(store: Store):
    assert await store.record_reaction(react("1", "like", True))
    assert not await store.record_reaction(react("1", "like", True))        # redelivered
    assert not await store.record_reaction(react("1", "like", True, seconds=5))  # re-read
    assert await store.record_reaction(react("1", "dislike", True))         # another signal
    assert await store.record_reaction(react("2", "like", True))            # another user
    assert await store.record_reaction(react("1", "like", True, message=card("78")))
    assert await store.active_reactions(card()) == [("1", "like"), ("1", "dislike"),
                                                    ("2", "like")]
    assert await store.active_reactions(card("78", chat_id="6")) == []
    assert (await store.stats())["events"] == 4


async def test_add_remove_add_in_one_second_ends_added(store: Store):
    # Telegram dates reactions to the second; the last 👍 must count (issue 14, item 3).
    assert await store.record_reaction(react("1", "like", True))
    assert await store.record_reaction(react("1", "like", False))
    assert await store.record_reaction(react("1", "like", True))
    uid = await store.user_id("telegram", "1")
    assert await store.history(uid) == [(318, "like")]
    assert await store.active_reactions(card()) == [("1", "like")]
    stats = await store.stats()
    assert (stats["events"], stats["retracted"]) == (2, 1)


async def test_stale_reaction_changes_are_ignored(store: Store):
    # Ordered by the platform's sequence (Telegram's update id), not by the clock: every
    # change here has the same timestamp.
    uid = await store.user_id("telegram", "1")
    assert await store.record_reaction(react("1", "like", True, seq=10, emoji="👍"))
    assert await store.record_reaction(react("1", "like", False, seq=20, emoji="👍"))
    # the addition delivered again after its removal went in: it stays removed
    assert not await store.record_reaction(react("1", "like", True, seq=10, emoji="👍"))
    assert await store.history(uid) == []
    assert await store.record_reaction(react("1", "like", True, seq=30, emoji="👍"))
    # a removal from before that new addition does not take it away
    assert not await store.record_reaction(react("1", "like", False, seq=20, emoji="👍"))
    assert await store.history(uid) == [(318, "like")]


async def test_a_like_stays_while_any_like_emoji_is_on_the_card(store: Store):
    # 👍 and ❤ both say "like": taking ❤ off keeps the like while 👍 is still there.
    uid = await store.user_id("telegram", "1")
    assert await store.record_reaction(react("1", "like", True, seq=1, emoji="👍"))
    assert not await store.record_reaction(react("1", "like", True, seq=2, emoji="❤"))
    assert not await store.record_reaction(react("1", "like", False, seq=3, emoji="❤"))
    assert await store.history(uid) == [(318, "like")]
    assert await store.record_reaction(react("1", "like", False, seq=4, emoji="👍"))
    assert await store.history(uid) == []
    assert (await store.stats())["events"] == 1


async def test_removing_a_reaction_of_an_unknown_user_creates_nobody(store: Store):
    assert not await store.record_reaction(react("404", "like", False))
    assert (await store.stats())["users"] == 0


async def test_batched_writes_count_only_new_events(store: Store):
    uid = await store.user_id("console", "me")
    events = [ev(uid, m, "rating", 3.0, key=f"r{m}") for m in range(2500)]
    assert await store.record_feedback_many(events) == 2500
    assert await store.record_feedback_many(events[:10] + [ev(uid, 9999, key="new")]) == 1
    assert len(await store.history(uid)) == 2501


async def test_event_for_user_named_by_platform(store: Store):
    event = FeedbackEvent(None, 318, "like", None, "tg", None, "x1",
                          platform="telegram", platform_user_id="555")
    assert await store.record_feedback(event)
    uid = await store.user_id("telegram", "555")
    assert await store.history(uid) == [(318, "like")]


def test_events_are_validated():
    with pytest.raises(InvalidInput) as err:
        FeedbackEvent(1, 318, "rating", 7, "tg", None, "k")
    assert isinstance(err.value, MovieBotError) and "0.5 to 5" in str(err.value)
    with pytest.raises(ValueError):
        FeedbackEvent(None, 318, "like")                   # no user at all
    with pytest.raises(ValueError):
        FeedbackEvent(1, 318, "like", kind="reaction")     # reactions: ReactionChange
    with pytest.raises(ValueError):
        ReactionChange(card(), "1", "like", added=True)    # adding needs the movie


async def test_sent_messages_resolve_later(store: Store):
    before = datetime.now(UTC) - timedelta(seconds=5)
    await store.remember_message("telegram", "100", "7", 318, {"command": "similar"})
    await store.remember_message("telegram", "100", "8", None, {"command": "recommend"})
    await store.remember_message("discord", "100", "7", 1, {})
    msg = await store.lookup_message("telegram", "100", "7")
    assert (msg.movie_id, msg.context) == (318, {"command": "similar"})
    assert msg.created_at.tzinfo is not None
    assert await store.lookup_message("telegram", "100", "9") is None
    recent = await store.recent_messages("telegram", since=before)
    assert [m.message_id for m in recent] == ["7", "8"]
    assert await store.recent_messages("telegram", since=datetime.now(UTC) + timedelta(1)) == []
    # re-sending under the same id (an edited message) updates it
    await store.remember_message("telegram", "100", "7", 2571, {"command": "similar", "page": 2})
    assert (await store.lookup_message("telegram", "100", "7")).movie_id == 2571


async def test_a_replys_cards_are_remembered_in_one_call(store: Store):
    await store.remember_messages([("telegram", "5", str(i), 100 + i, {"page": 0}) for i in range(3)]
                                  + [("telegram", "5", "0", 999, {"page": 1})])  # last one wins
    assert [(await store.lookup_message("telegram", "5", str(i))).movie_id
            for i in range(3)] == [999, 101, 102]
    await store.remember_messages([])  # nothing to do is fine


async def test_watchlist(store: Store):
    uid = await store.user_id("discord", "9")
    assert await store.watchlist_add(uid, 318)
    assert not await store.watchlist_add(uid, 318)
    assert await store.watchlist_add(uid, 1)
    assert await store.watchlist(uid) == [318, 1]
    assert await store.watchlist_remove(uid, 318)
    assert not await store.watchlist_remove(uid, 318)
    assert await store.watchlist(uid) == [1]


async def test_forget_user_removes_their_data_only(store: Store):
    ann = await store.user_id("telegram", "1")
    bob = await store.user_id("telegram", "2")
    for uid in (ann, bob):
        await store.record_feedback(ev(uid, 318))
        await store.record_feedback(ev(uid, 1, "rating", 4.0))
        await store.watchlist_add(uid, 2)
    counts = await store.forget_user(ann)
    assert counts == {"feedback_events": 2, "watchlist": 1, "users": 1}
    frame = await store.feedback_frame()
    assert set(frame["user_key"]) == {f"store:{bob}"}
    assert await store.history(ann) == [] and await store.watchlist(ann) == []
    assert len(await store.history(bob)) == 2
    # a forgotten user who comes back starts afresh
    assert await store.user_id("telegram", "1") != ann


async def test_feedback_frame_for_retraining(store: Store):
    ann = await store.user_id("telegram", "1")
    bob = await store.user_id("discord", "1")
    await store.record_feedback(ev(ann, 318, "like", key="a1"))
    await store.record_feedback(ev(ann, 318, "rating", 2.0, key="a2"))
    await store.record_feedback(ev(bob, 1, "dislike", key="b1"))
    await store.record_reaction(react("1", "like", True, movie_id=2, message=MessageKey(
        "discord", "9", "9")))
    await store.record_reaction(react("1", "like", False, message=MessageKey("discord", "9", "9")))
    frame = await store.feedback_frame()
    assert list(frame.columns) == ["user_key", "movie_id", "signal", "value"]
    rows = {(r.user_key, r.movie_id, r.signal) for r in frame.itertuples(index=False)}
    assert rows == {(f"store:{bob}", 1, "dislike"), (f"store:{ann}", 318, "rating")}
    assert frame.loc[frame.signal == "rating", "value"].tolist() == [2.0]
    assert str(frame["movie_id"].dtype) == "int64"


async def test_stats_and_job_runs(store: Store):
    uid = await store.user_id("telegram", "1")
    yesterday = datetime.now(UTC) - timedelta(days=1)
    await store.record_feedback(ev(uid, 1, key="old", created_at=yesterday))
    await store.record_feedback(ev(uid, 2, key="new"))
    await store.record_reaction(ReactionChange(card(), "1", "like", True, movie_id=3))
    await store.record_reaction(ReactionChange(card(), "1", "like", False))   # at: now
    assert (await store.stats())["last_job_run"] is None
    await store.record_job_run("retrain", "rejected", {"why": "ndcg@10 fell"})
    await store.record_job_run("retrain", "published", {"version": "v2"})
    stats = await store.stats()
    assert stats["users"] == 1 and stats["events"] == 3 and stats["retracted"] == 1
    assert stats["events_per_day"] == {yesterday.date().isoformat(): 1,
                                       datetime.now(UTC).date().isoformat(): 2}
    assert stats["events_by_signal"] == {"like": 2}
    assert stats["last_job_run"]["status"] == "published"
    await store.record_job_run("eval", "ok", {})
    stats = await store.stats()
    assert stats["last_job_run"]["name"] == "eval"
    assert stats["last_published"]["details"] == {"version": "v2"}
    runs = await store.job_runs("retrain")
    assert [r.status for r in runs] == ["published", "rejected"]
    assert runs[1].details == {"why": "ndcg@10 fell"}


async def test_reopen_keeps_data_and_migrations_are_idempotent(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/again.db"  # the spelling of earlier versions
    store = await Store.open(url)
    uid = await store.user_id("telegram", "1")
    await store.record_feedback(ev(uid, 318))
    await store.close()
    store = await Store.open(url.replace("sqlite+aiosqlite", "sqlite"))  # plain spelling too
    try:
        assert await store.history(uid) == [(318, "like")]
        mode = await store.database.run(
            lambda conn: conn.exec_driver_sql("PRAGMA journal_mode").scalar_one())
        assert mode == "wal"
    finally:
        await store.close()


async def test_sqlite_waits_for_another_writer_without_blocking_the_event_loop(tmp_path):
    # SQLite statements run on the event loop (bot/store/database.py). If the store
    # waited for the file lock there, the task below that ends the other writer's
    # transaction could never run: the write would fail after the whole wait instead.
    import sqlite3

    async with open_test_store("sqlite", tmp_path) as store:
        uid = await store.user_id("telegram", "1")
        other = sqlite3.connect(tmp_path / "moviebot-test.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")               # another process holds the write lock
        other.execute("UPDATE users SET display_name = 'other' WHERE id = ?", (uid,))

        async def finish_other_transaction():
            await asyncio.sleep(0.3)
            other.execute("COMMIT")

        stored, _ = await asyncio.gather(store.record_feedback(ev(uid, 318)),
                                         finish_other_transaction())
        other.close()
        assert stored
        assert await store.history(uid) == [(318, "like")]


async def test_sqlite_lock_held_too_long_is_an_outage_and_stores_nothing(tmp_path, monkeypatch):
    import sqlite3

    from bot.store import database, is_outage

    monkeypatch.setattr(database, "SQLITE_LOCK_WAIT_S", 0.2)
    async with open_test_store("sqlite", tmp_path) as store:
        uid = await store.user_id("telegram", "1")
        other = sqlite3.connect(tmp_path / "moviebot-test.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(Exception) as caught:
                await store.record_feedback(ev(uid, 318))
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert is_outage(caught.value)       # so a SpoolingStore spools the event
        assert await store.history(uid) == []


async def test_a_schema_with_sqlite_is_a_clear_error(tmp_path):
    with pytest.raises(MovieBotError, match="MOVIEBOT_DB_SCHEMA.*only applies to PostgreSQL"):
        await Store.open(f"sqlite:///{tmp_path}/s.db", schema="bots")
    assert not (tmp_path / "s.db").exists()
