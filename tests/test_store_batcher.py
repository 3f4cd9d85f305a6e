"""Concurrent record_feedback calls share INSERTs but each gets its own answer."""

from __future__ import annotations

import asyncio

import pytest

from bot.store import FeedbackEvent
from bot.store.batcher import FeedbackBatcher
from bot.store.spool import SpoolingStore
from bot.store.testing import open_test_store


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request, tmp_path):
    async with open_test_store(request.param, tmp_path) as s:
        yield s


async def test_concurrent_calls_are_batched(store, monkeypatch):
    calls = []
    real = store.store_events

    async def counting(events):
        calls.append(len(events))
        return await real(events)

    monkeypatch.setattr(store, "store_events", counting)
    uid = await store.user_id("telegram", "1")
    batcher = FeedbackBatcher(store, max_batch=100, max_delay=0.05)
    events = [FeedbackEvent(uid, m % 250, "like", None, "t", None, f"k{m % 250}")
              for m in range(300)]  # 50 keys twice
    results = await asyncio.gather(*[batcher.record_feedback(e) for e in events])
    await batcher.close()
    assert sum(results) == 250
    assert results[:250] == [True] * 250 and results[250:] == [False] * 50
    assert sum(calls) == 300 and len(calls) <= 4
    assert len(await store.history(uid)) == 250


@pytest.mark.timeout(30)
async def test_callers_arriving_one_by_one(store):
    uid = await store.user_id("telegram", "1")
    batcher = FeedbackBatcher(store, max_delay=0.001)
    for m in range(5):  # each arrives while the batcher idles
        assert await batcher.record_feedback(FeedbackEvent(uid, m, "like", None, "t", None, f"k{m}"))
    assert not await batcher.record_feedback(FeedbackEvent(uid, 0, "like", None, "t", None, "k0"))
    await batcher.close()
    with pytest.raises(RuntimeError):
        await batcher.record_feedback(FeedbackEvent(uid, 9, "like", None, "t", None, "k9"))
    assert len(await store.history(uid)) == 5


async def test_batcher_over_spooling_store_survives_outage(tmp_path):
    async with open_test_store("sqlite", tmp_path) as store:
        uid = await store.user_id("telegram", "1")
        spooling = SpoolingStore(store, tmp_path / "spool.jsonl", retry_every=0)
        good = store.database
        from bot.store.testing import unopenable_sqlite

        store.database = unopenable_sqlite(tmp_path)
        batcher = FeedbackBatcher(spooling, max_delay=0.01)
        results = await asyncio.gather(*[
            batcher.record_feedback(FeedbackEvent(uid, m, "like", None, "t", None, f"k{m}"))
            for m in range(20)])
        await batcher.close()
        assert all(results) and spooling.spool.pending_count() == 20
        store.database = good
        assert await spooling.flush() == 20
        assert len(await store.history(uid)) == 20
