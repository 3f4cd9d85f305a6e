"""Feedback through the command layer (bot/feedback.py) onto the typed store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.commands import CommandLayer, MessageRef, User
from bot.feedback import FeedbackDesk
from bot.store import FeedbackStore, Store
from bot.store.spool import SpoolingStore
from bot.store.testing import unopenable_sqlite

ADA = User("telegram", "42", "Ada Lovelace")
BOB = User("telegram", "43", "Bob")
CARD = MessageRef("telegram", "42", "77")
AT = datetime(2025, 3, 1, 20, 15, 7, tzinfo=UTC)     # Telegram dates to the second


@pytest.fixture
async def store(tmp_path):
    store = await Store.open(f"sqlite:///{tmp_path / 'f.db'}")
    yield store
    await store.close()


@pytest.fixture
async def layer(engine, store):
    layer = CommandLayer(lambda: engine, store=store)
    await layer.remember(CARD, 318, {"command": "info"})
    return layer


async def test_both_stores_are_feedback_stores(store, tmp_path):
    spooling = SpoolingStore(store, tmp_path / "spool.jsonl")
    assert isinstance(store, FeedbackStore) and isinstance(spooling, FeedbackStore)
    assert not hasattr(SpoolingStore, "__getattr__")     # every method written out
    with pytest.raises(AttributeError):
        spooling.feedback_frame  # noqa: B018 - jobs use the Store itself


async def test_add_remove_add_in_one_second_ends_added(layer, store):
    # issue 14, item 3: the key of 0001 had the second in it and lost the last 👍
    assert await layer.reaction(ADA, CARD, "👍", added=True, at=AT)
    assert await layer.reaction(ADA, CARD, "👍", added=False, at=AT)
    assert await layer.reaction(ADA, CARD, "👍", added=True, at=AT)
    uid = await store.user_id("telegram", "42")
    assert await store.history(uid) == [(318, "like")]


async def test_a_redelivered_reaction_is_stored_once(layer, store):
    # seq: Telegram's update ids; every change has the same (one-second) date.
    assert await layer.reaction(ADA, CARD, "👍", added=True, at=AT, seq=10)
    assert not await layer.reaction(ADA, CARD, "👍", added=True, at=AT, seq=10)  # redelivered
    assert not await layer.reaction(ADA, CARD, "👍🏻", added=True, at=AT, seq=11)  # same signal
    # 👍 goes but 👍🏻 is still on the card: still a like
    assert not await layer.reaction(ADA, CARD, "👍", added=False, at=AT, seq=12)
    assert await layer.reaction(ADA, CARD, "👍🏻", added=False, at=AT, seq=13)
    # the addition delivered once more after its removal stays undone
    assert not await layer.reaction(ADA, CARD, "👍", added=True, at=AT, seq=10)
    assert (await store.stats())["events"] == 1
    assert await store.history(await store.user_id("telegram", "42")) == []


async def test_removing_a_reaction_on_an_unknown_message_changes_nothing(layer, store):
    other = MessageRef("telegram", "42", "999")
    assert not await layer.reaction(ADA, other, "👍", added=True)       # not a card
    assert not await layer.reaction(ADA, other, "👍", added=False)
    assert (await store.stats())["users"] == 0


async def test_sync_reactions_makes_the_store_match_the_platform(layer, store):
    await layer.reaction(ADA, CARD, "👍", added=True)
    await layer.reaction(BOB, CARD, "👎", added=True)
    # now the platform shows: Ada 👎 (her 👍 gone), Bob nothing, Cy 👍
    cy = User("telegram", "44", "Cy")
    await layer.sync_reactions(CARD, {"42": (ADA, {"👎"}), "44": (cy, {"👍", "🎉"})})
    assert await store.active_reactions(CARD) == [("42", "dislike"), ("44", "like")]


async def test_reactions_and_their_removal_are_spooled_while_the_database_is_down(
        engine, store, tmp_path):
    spooling = SpoolingStore(store, tmp_path / "spool.jsonl", retry_every=0)
    layer = CommandLayer(lambda: engine, store=spooling)
    await layer.remember(CARD, 318, {})
    assert await layer.reaction(ADA, CARD, "👍", added=True, at=AT)
    good, store.database = store.database, unopenable_sqlite(tmp_path)
    try:
        # the card is known from memory, and a removal needs no lookup: both spool
        assert await layer.reaction(ADA, CARD, "👍", added=False, at=AT + timedelta(seconds=1))
        assert await layer.reaction(BOB, CARD, "👎", added=True)     # no time: now
        assert await layer.reaction(BOB, CARD, "👎", added=True)     # delivered again
        assert spooling.spool.pending_count() == 3
    finally:
        await store.database.dispose()
        store.database = good
    assert await spooling.flush() == 3
    assert await store.active_reactions(CARD) == [("43", "dislike")]
    assert (await store.stats())["events"] == 2


async def test_button_presses_and_ratings(layer, store):
    assert "Noted" in (await layer.press("like:1", ADA, CARD, event_id="cb-1")).text
    assert "Noted" in (await layer.press("like:1", ADA, CARD, event_id="cb-1")).text
    assert "Saved" in (await layer.handle("/rate Heat 4.5", ADA)).text
    uid = await store.user_id("telegram", "42")
    history = dict(await store.history(uid))
    assert history[1] == "like" and 4.5 in history.values()
    assert (await store.stats())["events"] == 2


def test_the_desk_without_a_store_says_so():
    from engine.errors import InvalidInput

    with pytest.raises(InvalidInput, match="no memory"):
        FeedbackDesk(None).need_store()
