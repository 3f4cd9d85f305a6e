"""The watch-party rows (migration 0005) on SQLite and PostgreSQL: one open party per chat,
compare-and-set saves, due deadlines; and the spooling store's friendly refusal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.store import PartyRecord, StoreUnavailable
from bot.store.spool import SpoolingStore
from bot.store.store import Store
from bot.store.testing import open_test_store, unopenable_sqlite


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request, tmp_path):
    async with open_test_store(request.param, tmp_path) as s:
        yield s


async def test_one_open_party_per_chat_and_compare_and_set(store):
    soon = datetime.now(UTC) + timedelta(minutes=5)
    first = await store.open_party(PartyRecord("telegram", "-100", "42", data={"a": 1},
                                               deadline=soon))
    assert first is not None and first.id and first.version == 0
    # a second party in the same chat is refused; another chat (or platform) is fine
    assert await store.open_party(PartyRecord("telegram", "-100", "43")) is None
    other = await store.open_party(PartyRecord("telegram", "-200", "43"))
    assert other is not None and other.id != first.id
    assert await store.open_party(PartyRecord("discord", "-100", "43")) is not None

    found = await store.open_party_in("telegram", "-100")
    assert found.id == first.id and found.data == {"a": 1} and found.host == "42"
    assert abs((found.deadline - soon).total_seconds()) < 1

    # two handlers read the same version: the first save wins, the second is refused
    a, b = await store.party(first.id), await store.party(first.id)
    a.data["members"] = ["42"]
    assert await store.save_party(a) and a.version == 1
    b.data["members"] = ["43"]
    assert not await store.save_party(b)
    assert (await store.party(first.id)).data == {"a": 1, "members": ["42"]}

    # a finished party frees its chat for the next one
    a.state, a.deadline = "done", None
    assert await store.save_party(a)
    assert await store.open_party_in("telegram", "-100") is None
    assert await store.open_party(PartyRecord("telegram", "-100", "42")) is not None


async def test_due_parties(store):
    now = datetime.now(UTC)
    late = await store.open_party(PartyRecord("discord", "1", "9", deadline=now - timedelta(seconds=1)))
    await store.open_party(PartyRecord("discord", "2", "9", deadline=now + timedelta(hours=1)))
    await store.open_party(PartyRecord("discord", "3", "9"))            # waits for the host
    await store.open_party(PartyRecord("telegram", "1", "9", deadline=now - timedelta(seconds=1)))
    due = await store.due_parties("discord", now)
    assert [p.id for p in due] == [late.id]
    late.state = "cancelled"
    assert await store.save_party(late)
    assert await store.due_parties("discord", now) == []


async def test_forget_takes_a_member_out_of_every_party(store):
    ann = await store.user_id("telegram", "42", "Ann")
    await store.user_id("telegram", "43", "Bo")
    members = {"42": {"name": "Ann", "in": True, "rows": {"0": 1}},
               "43": {"name": "Bo", "in": True}}
    hosted = await store.open_party(PartyRecord("telegram", "-1", "42", state="voting", data={
        "members": members, "votes": {"42": 318, "43": 1}, "newcomers": ["42"]}))
    alone = await store.open_party(PartyRecord("telegram", "-2", "42", data={
        "members": {"42": {"name": "Ann", "in": True}}}))
    other = await store.open_party(PartyRecord("discord", "-1", "42", data={
        "members": {"42": {"name": "Ada", "in": True}}}))     # another platform's 42
    await store.forget_user(ann)
    hosted = await store.party(hosted.id)
    assert "42" not in hosted.data["members"] and hosted.data["votes"] == {"43": 1}
    assert hosted.data["newcomers"] == [] and hosted.host == "43" and hosted.state == "voting"
    alone = await store.party(alone.id)
    assert alone.data["members"] == {} and alone.state == "cancelled"
    assert "42" in (await store.party(other.id)).data["members"]


async def test_spooling_store_refuses_party_writes_while_down(tmp_path):
    store = Store(unopenable_sqlite(tmp_path))
    spooling = SpoolingStore(store, tmp_path / "spool.jsonl", retry_every=60)
    with pytest.raises(StoreUnavailable):
        await spooling.open_party(PartyRecord("telegram", "-1", "42"))
    with pytest.raises(StoreUnavailable):
        await spooling.open_party_in("telegram", "-1")
    assert spooling.spool.pending_count() == 0     # nothing half-written to replay later
    await spooling.close()


async def test_a_changed_vote_retracts_the_earlier_one_in_the_same_write(store):
    from bot.store import FeedbackEvent

    uid = await store.user_id("telegram", "42")

    def vote(movie_id, key, replaces=()):
        return FeedbackEvent(uid, movie_id, "rating", 3.5, source="telegram:party-vote",
                             event_id=key, kind="button", replaces=replaces)

    await store.record_feedback(FeedbackEvent(uid, 1, "like", event_id="thumb"))
    first, second, back = (vote(1, "p:1:r0:vote:1"), vote(2, "p:1:r0:vote:2:1", ("p:1:r0:vote:1",)),
                           vote(1, "p:1:r0:vote:1:2", ("p:1:r0:vote:2:1",)))
    assert await store.record_feedback(first)
    assert dict(await store.history(uid)) == {1: 3.5}
    assert await store.record_feedback(second)
    # the vote for film 1 is taken back: its earlier 👍 shows again; film 2 has the vote
    assert dict(await store.history(uid)) == {1: "like", 2: 3.5}
    assert await store.record_feedback(back)
    assert dict(await store.history(uid)) == {1: 3.5}
    # a redelivery or a replay of all three (the spool's batch) stores nothing new and
    # leaves the same state
    assert not await store.record_feedback(second)
    assert await store.record_feedback_many([first, second, back]) == 0
    assert dict(await store.history(uid)) == {1: 3.5}
    stats = await store.stats()
    assert stats["events"] == 4 and stats["retracted"] == 2


async def test_a_changed_vote_is_spooled_with_what_it_takes_back(tmp_path):
    from bot.store import FeedbackEvent

    event = FeedbackEvent(None, 2, "rating", 3.5, event_id="p:1:r0:vote:2:1",
                          platform="telegram", platform_user_id="42",
                          replaces=("p:1:r0:vote:1",))
    line = event.to_dict()
    assert line["replaces"] == ["p:1:r0:vote:1"]
    assert FeedbackEvent.from_dict(line).replaces == ("p:1:r0:vote:1",)
    # a spool line written before votes could change has no such field
    del line["replaces"]
    assert FeedbackEvent.from_dict(line).replaces == ()
