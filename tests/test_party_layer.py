"""The party state machine through the command layer (no platform): a tie goes to a
runoff, a second tie to the group's best match; the clock starts a party and closes its
vote; the host's powers; bad input; and the group list a group gets instead of cards."""

from __future__ import annotations

import asyncio

import pytest

from bot import party
from bot.actions import Action
from bot.cards import group_list
from bot.commands import Chat, CommandLayer, MessageRef, User
from bot.party import PartyOptions
from bot.store import FeedbackEvent, Store

GROUP = Chat("telegram", "-100900", group=True)
ANN = User("telegram", "21", "Ann Lee")
BO = User("telegram", "22", "Bo")
REF = MessageRef("telegram", GROUP.chat_id, "1")


@pytest.fixture
async def layer(engine, tmp_path):
    store = await Store.open(f"sqlite:///{tmp_path / 'p.db'}")
    layer = CommandLayer(lambda: engine, store=store)
    for user, ratings in ((ANN, {2571: 5.0, 1: 4.0}), (BO, {296: 5.0, 1214: 4.5})):
        uid = await store.user_id(user.platform, user.user_id, user.display_name)
        for movie_id, stars in ratings.items():
            await store.record_feedback(FeedbackEvent(uid, movie_id, "rating", stars,
                                                      event_id=f"seed:{movie_id}"))
    yield layer
    await store.close()


async def open_with_both(layer) -> int:
    lobby = await layer.run("party", {}, ANN, chat=GROUP)
    assert lobby.remember and lobby.context["party"]
    pid = lobby.context["party"]
    joined = await layer.press(Action.party_step("join", pid), BO, REF, "e1", GROUP)
    assert joined.replace and "Ann and Bo" in joined.text
    return pid


def ballot_ids(reply) -> list[int]:
    return [b.action.movie_id for b in reply.buttons if b.action and b.action.step == "vote"]


async def test_a_tie_goes_to_a_runoff_then_to_the_best_match(layer):
    party.configure(layer, PartyOptions(start_after=600, vote_time=600))
    pid = await open_with_both(layer)
    ballot = await layer.run("party", {"step": "go"}, ANN, chat=GROUP)
    ids = ballot_ids(ballot)
    assert len(ids) >= 3 and "Vote for tonight's film" in ballot.text
    await layer.press(Action.party_step("vote", pid, ids[1]), ANN, REF, "e2", GROUP)
    await layer.press(Action.party_step("vote", pid, ids[2]), BO, REF, "e3", GROUP)
    runoff = await layer.press(Action.party_step("close", pid), ANN, REF, "e4", GROUP)
    assert "Runoff" in runoff.text and ballot_ids(runoff) == [ids[1], ids[2]]
    # a vote for a film that is out of the runoff is refused
    refused = await layer.press(Action.party_step("vote", pid, ids[0]), ANN, REF, "e5", GROUP)
    assert refused.is_error and "isn't in this round" in refused.text
    await layer.press(Action.party_step("vote", pid, ids[2]), ANN, REF, "e6", GROUP)
    await layer.press(Action.party_step("vote", pid, ids[1]), BO, REF, "e7", GROUP)
    done = await layer.run("party", {"step": "go"}, ANN, chat=GROUP)
    assert "Still a tie" in done.text
    winner = layer.engine.movie(ids[1])             # the better group match of the two
    assert winner.label in done.text and done.cards[0].movie_id == ids[1]
    # each round's vote is its own event: 4 votes, 2 winner events
    stats = await layer.store.stats()
    assert stats["events_by_signal"]["party_winner"] == 2
    assert stats["events"] == 4 + 4 + 2


async def test_the_clock_starts_the_party_and_closes_the_vote(layer):
    desk = party.configure(layer, PartyOptions(start_after=0.001, vote_time=0.001))
    await open_with_both(layer)
    await asyncio.sleep(0.05)                 # well past the start's 1 ms
    [(chat, ballot)] = await desk.due("telegram")
    assert chat == GROUP.chat_id and "Vote for tonight's film" in ballot.text
    assert await desk.due("discord") == []
    await asyncio.sleep(0.05)                 # well past the vote's 1 ms
    [(chat, done)] = await desk.due("telegram")
    assert "Nobody voted" in done.text and done.cards
    assert await desk.due("telegram") == []
    assert await layer.store.open_party_in("telegram", GROUP.chat_id) is None


async def test_the_host_and_bad_input(layer):
    party.configure(layer, PartyOptions(start_after=600, vote_time=600))
    nothing = await layer.run("party", {"step": "go"}, ANN, chat=GROUP)
    assert nothing.is_error and "no party here" in nothing.text
    wrong = await layer.run_text("party", "tonight please", ANN, chat=GROUP)
    assert wrong.is_error and "not something /party understands" in wrong.text
    private = await layer.run("party", {}, ANN, chat=Chat("telegram", "21", group=False))
    assert "groups" in private.text
    pid = await open_with_both(layer)
    again = await layer.press(Action.party_step("join", pid), BO, REF, "e9", GROUP)
    assert "already in" in again.notice
    refused = await layer.run("party", {"step": "stop"}, BO, chat=GROUP)
    assert refused.is_error and "Only Ann" in refused.text
    # the host leaves: Bo hosts now
    await layer.run("party", {"step": "leave"}, ANN, chat=GROUP)
    record = await layer.store.party(pid)
    assert record.host == BO.user_id and record.state == "open"
    stopped = await layer.run("party", {"step": "stop"}, BO, chat=GROUP)
    assert "off" in stopped.text
    over = await layer.press(Action.party_step("join", pid), ANN, REF, "e10", GROUP)
    assert over.is_error and "over" in over.text
    forged = await layer.press("party:vote:99999:1", ANN, REF, "e11", GROUP)
    assert forged.is_error and "over" in forged.text


async def test_a_group_gets_one_numbered_list_instead_of_cards(layer):
    reply = await layer.run("similar", {"title": "Heat"}, ANN)
    assert len(reply.cards) == 5
    listed = group_list(reply)
    assert not listed.cards and listed.remember
    lines = listed.text.splitlines()
    assert lines[0] == reply.text
    assert [line.split(".")[0] for line in lines if line[:1].isdigit()] == ["1", "2", "3", "4", "5"]
    rows = {}
    for b in listed.buttons:
        rows.setdefault(b.row, []).append(b)
    assert len(rows) == 5 and all(len(r) <= 5 for r in rows.values())
    first = [b.action.verb for b in rows[0]]
    assert first == ["info", "like", "dislike"]
    assert any(b.action.verb == "page" for b in rows[4])       # paging in the last row
    assert listed.context["movie_ids"] == [c.movie_id for c in reply.cards]


def test_party_actions_and_deep_links_have_one_wire_form():
    from bot.actions import InvalidAction

    for action in (Action.party_step("join", 7), Action.party_step("vote", 7, 318),
                   Action.party_step("pick", 12, 1)):
        assert Action.decode(action.encode()) == action
        assert len(action.encode().encode()) <= 64
    for forged in ("party:join:7:318", "party:vote:7", "party:dance:7", "party:join:0",
                   "party:vote:7:318:1"):
        with pytest.raises(InvalidAction):
            Action.decode(forged)
    assert Action.more(318).deep_link() == "more-318"
    assert Action.from_deep_link("more-318") == Action.more(318)
    assert Action.like(318).deep_link() is None               # a toast needs no link
    for bad in ("like-318", "more-0", "more-318-1", "start", ""):
        with pytest.raises(InvalidAction):
            Action.from_deep_link(bad)
