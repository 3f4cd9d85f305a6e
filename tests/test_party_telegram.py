"""Watch parties on the real python-telegram-bot stack against the fake Bot API: a whole
party in a group (join by button and by 👍, onboarding, vote with live counts, winner,
feedback stored once), a restart in the middle of a vote, two groups at once, a member who
leaves, a group with nothing in common, and presses that come too late."""

from __future__ import annotations

import html

import pytest

from bot import party
from bot.party import PartyOptions
from bot.store import FeedbackEvent
from engine.queries import GroupMember, GroupQuery
from engine.results import Filters
from tests.fakes.harness import telegram_bot

GROUP, OTHER_GROUP = -100500, -100600
ANN, BO, CY = 11, 12, 13
NAMES = {ANN: "Ann", BO: "Bo", CY: "Cy"}
# Films Ann and Bo have rated (The Matrix, Toy Story, Heat, Pulp Fiction, Alien, Fargo).
ANN_RATES = {2571: 5.0, 1: 4.0, 6: 4.5}
BO_RATES = {296: 5.0, 1214: 4.5, 608: 4.0}


def configure(frontend, start_after=600.0, vote_time=600.0):
    party.configure(frontend.commands, PartyOptions(start_after=start_after, vote_time=vote_time))


async def rate(store, user_id: int, ratings: dict[int, float]) -> None:
    uid = await store.user_id("telegram", str(user_id), NAMES.get(user_id))
    for movie_id, stars in ratings.items():
        await store.record_feedback(FeedbackEvent(uid, movie_id, "rating", stars,
                                                  event_id=f"seed:{movie_id}"))


def group_messages(fake, chat_id=GROUP):
    return [c for c in fake.sent(chat_id=chat_id) if c.method in ("sendMessage", "sendPhoto")]


def text_of(call) -> str:
    return html.unescape(call.params.get("text") or call.params.get("caption") or "")


def buttons(call) -> dict[str, str]:
    """label -> callback data of a message's (latest drawn) keyboard."""
    markup = call.params.get("reply_markup") or {}
    return {b["text"]: b.get("callback_data", "") for row in markup.get("inline_keyboard", [])
            for b in row}


def current(fake, call):
    """The message as it looks now: the last redraw of it, if it was edited."""
    edits = fake.edits.get(call.params["_message_id"])
    if not edits:
        return call
    latest = type(call)(call.method, {**call.params, **edits[-1]})
    return latest


async def message_with(fake, words: str, chat_id=GROUP, timeout=15.0):
    await fake.wait_for(lambda f: any(words in text_of(c) for c in group_messages(f, chat_id)),
                        timeout)
    return [c for c in group_messages(fake, chat_id) if words in text_of(c)][-1]


async def toast_for(fake, update_id_before: int, timeout=15.0) -> str:
    await fake.wait_for(lambda f: len(f.sent("answerCallbackQuery")) > update_id_before, timeout)
    return fake.sent("answerCallbackQuery")[-1].params.get("text") or ""


async def press(fake, call, label_start: str, user: int) -> str:
    """Press the button whose label starts with ``label_start``; returns the toast."""
    data = next(d for label, d in buttons(current(fake, call)).items()
                if label.startswith(label_start))
    before = len(fake.sent("answerCallbackQuery"))
    fake.press(call, data, user_id=user, first_name=NAMES[user])
    toast = await toast_for(fake, before)
    await processed(fake)           # the redraw comes after the toast
    return toast


async def processed(fake, timeout=15.0):
    await fake.wait_for(lambda f: f.all_confirmed(), timeout)


@pytest.fixture
async def bot(engine, tmp_path):
    async with telegram_bot(engine, tmp_path / "party.db",
                            options={"party_tick": 0.1}) as stack:
        yield stack


async def test_a_three_member_party_end_to_end(bot, engine):
    fake, frontend, _ = bot
    store = frontend.commands.store
    configure(frontend)
    await rate(store, ANN, ANN_RATES)
    await rate(store, BO, BO_RATES)

    fake.push_text("/party", user_id=ANN, chat_id=GROUP, chat_type="supergroup", first_name="Ann")
    lobby = await message_with(fake, "Movie night!")
    assert "Ann is hosting" in text_of(lobby) and "In (1): Ann" in text_of(lobby)
    assert {"🙋 Join", "Leave", "▶ Start"} <= set(buttons(lobby))

    assert "You're in" in await press(fake, lobby, "🙋 Join", BO)
    assert "In (2): Ann and Bo" in text_of(current(fake, lobby))     # redrawn, not re-sent
    # Cy joins with a 👍 on the party message
    fake.push_reaction(GROUP, lobby.params["_message_id"], CY, new=["👍"], first_name="Cy")
    await processed(fake)
    # only the host starts it
    assert "Only Ann" in await press(fake, lobby, "▶ Start", BO)
    await press(fake, lobby, "▶ Start", ANN)

    # Cy has no history: three questions first
    questions = await message_with(fake, "I don't know your taste yet")
    assert "Cy" in text_of(questions) and "Ann" not in text_of(questions).split(":")[0]
    picks = [label for label in buttons(questions) if label[:2] in ("1:", "2:", "3:")]
    assert len(picks) >= 3
    for row in ("1:", "2:", "3:"):
        await press(fake, questions, row, CY)

    ballot = await message_with(fake, "Vote for tonight's film")
    votes = [label for label in buttons(ballot) if label[0].isdigit()]
    assert 3 <= len(votes) <= 5
    assert "💡" in text_of(ballot)                                     # each says why
    seen = set(ANN_RATES) | set(BO_RATES)
    ballot_ids = [int(d.rsplit(":", 1)[1]) for label, d in buttons(ballot).items()
                  if label[0].isdigit()]
    assert not seen & set(ballot_ids)                                 # nobody has seen them

    assert "Your vote" in await press(fake, ballot, "1.", ANN)
    await press(fake, ballot, "1.", BO)
    assert "already" in await press(fake, ballot, "1.", BO)           # a second tap: once
    await press(fake, ballot, "2.", CY)
    drawn = text_of(current(fake, ballot))
    assert "1. " in drawn and "· 2 votes" in drawn and "Voted: 3 of 3" in drawn
    assert "(2)" in next(label for label in buttons(current(fake, ballot)) if label.startswith("1."))

    await press(fake, ballot, "Close the vote", ANN)
    winner = engine.movie(ballot_ids[0])
    announcement = await message_with(fake, "🏆")
    assert winner.label in text_of(announcement) and "2 votes of 3" in text_of(announcement)
    await fake.wait_for(lambda f: any(winner.title in text_of(c) and buttons(c)
                                      for c in group_messages(f)))
    card = [c for c in group_messages(fake) if winner.title in text_of(c) and buttons(c)][-1]
    if winner.trailer_url:
        markup = card.params["reply_markup"]["inline_keyboard"]
        assert any(b.get("url") == winner.trailer_url for row in markup for b in row)
    await processed(fake)

    # feedback: each vote once (a mild like: 3.5 stars), the winner once per member
    for user, voted in ((ANN, ballot_ids[0]), (BO, ballot_ids[0]), (CY, ballot_ids[1])):
        uid = await store.user_id("telegram", str(user))
        history = dict(await store.history(uid))
        assert history[voted] == 3.5
    stats = await store.stats()
    assert stats["events_by_signal"]["party_winner"] == 3
    cy_history = dict(await store.history(await store.user_id("telegram", str(CY))))
    assert sum(1 for s in cy_history.values() if s == "like") == 3  # the onboarding picks
    events_before = stats["events"]

    # too late: a vote and a join after the party closed change nothing
    assert "over" in await press(fake, ballot, "2.", BO)
    assert "over" in await press(fake, lobby, "🙋 Join", BO)
    await processed(fake)
    assert (await store.stats())["events"] == events_before


async def test_party_in_a_private_chat_explains_itself(bot):
    fake, _, _ = bot
    fake.push_text("/party", user_id=ANN, first_name="Ann")
    await fake.wait_for(lambda f: f.sent("sendMessage", ANN))
    assert "groups" in text_of(fake.sent("sendMessage", ANN)[0])


async def _to_the_vote(fake, store, chat_id=GROUP, members=(ANN, BO)):
    fake.push_text("/party", user_id=members[0], chat_id=chat_id, chat_type="supergroup",
                   first_name=NAMES[members[0]])
    lobby = await message_with(fake, "Movie night!", chat_id)
    for member in members[1:]:
        await press(fake, lobby, "🙋 Join", member)
    fake.push_text("/party go", user_id=members[0], chat_id=chat_id, chat_type="supergroup",
                   first_name=NAMES[members[0]])
    ballot = await message_with(fake, "Vote for tonight's film", chat_id)
    return lobby, ballot


def ballot_ids(ballot) -> list[int]:
    return [int(d.rsplit(":", 1)[1]) for label, d in buttons(ballot).items() if label[0].isdigit()]


async def test_changing_a_vote_moves_the_mild_like_to_the_new_film(bot):
    fake, frontend, _ = bot
    configure(frontend)
    store = frontend.commands.store
    await rate(store, ANN, ANN_RATES)
    await rate(store, BO, BO_RATES)
    _, ballot = await _to_the_vote(fake, store)
    first, second = ballot_ids(ballot)[:2]
    ann = await store.user_id("telegram", str(ANN))
    before = (await store.stats())["events"]

    await press(fake, ballot, "1.", ANN)
    assert dict(await store.history(ann))[first] == 3.5
    assert "Your vote" in await press(fake, ballot, "2.", ANN)       # she changes her mind
    history = dict(await store.history(ann))
    assert history[second] == 3.5 and first not in history
    assert "Voted: 1 of 2" in text_of(current(fake, ballot))
    assert "already" in await press(fake, ballot, "2.", ANN)         # a repeat stores nothing
    await press(fake, ballot, "1.", ANN)                              # and back again
    history = dict(await store.history(ann))
    assert history[first] == 3.5 and second not in history
    stats = await store.stats()
    assert stats["events"] == before + 3 and stats["retracted"] == 2

    await press(fake, ballot, "1.", BO)
    await press(fake, ballot, "Close the vote", ANN)
    assert "2 votes of 2" in text_of(await message_with(fake, "🏆"))
    history = dict(await store.history(ann))
    assert history[first] == 3.5 and second not in history


async def test_a_restart_in_the_middle_of_a_vote(engine, tmp_path):
    db = tmp_path / "restart.db"
    async with telegram_bot(engine, db, options={"party_tick": 0.1}) as (fake, frontend, _):
        configure(frontend)
        store = frontend.commands.store
        await rate(store, ANN, ANN_RATES)
        await rate(store, BO, BO_RATES)
        _, ballot = await _to_the_vote(fake, store)
        await press(fake, ballot, "1.", ANN)
        await processed(fake)
    # a new process, the same database: the vote goes on, the clock closes it
    async with telegram_bot(engine, db, fake=None, options={"party_tick": 0.1}) as (fake2, frontend2, _):
        configure(frontend2, vote_time=0.5)
        fake2.press(ballot, buttons(ballot)[next(label for label in buttons(ballot)
                                                  if label.startswith("1."))],
                    user_id=BO, first_name="Bo")
        await fake2.wait_for(lambda f: f.sent("answerCallbackQuery"))
        assert "Your vote" in fake2.sent("answerCallbackQuery")[0].params["text"]
        # the stored deadline is the old process's (600 s); move it as a host would wait
        store2 = frontend2.commands.store
        record = await store2.open_party_in("telegram", str(GROUP))
        assert record.state == "voting" and len(record.data["votes"]) == 2
        record.deadline = record.created_at
        assert await store2.save_party(record)
        announcement = await message_with(fake2, "🏆", timeout=10)
        assert "2 votes of 2" in text_of(announcement)


async def test_two_parties_in_two_groups_and_a_member_who_leaves(bot):
    fake, frontend, _ = bot
    configure(frontend)
    store = frontend.commands.store
    await rate(store, ANN, ANN_RATES)
    await rate(store, BO, BO_RATES)
    await rate(store, CY, {318: 5.0, 858: 4.5})
    # group 1: Ann, Bo and Cy; Cy leaves before the vote closes
    lobby, ballot = await _to_the_vote(fake, store, GROUP, (ANN, BO, CY))
    # group 2 at the same time: Bo hosts, Cy joins
    lobby2, ballot2 = await _to_the_vote(fake, store, OTHER_GROUP, (BO, CY))
    assert "hosting" in text_of(lobby2) and "Bo is hosting" in text_of(lobby2)
    # one open party per chat
    fake.push_text("/party", user_id=CY, chat_id=GROUP, chat_type="supergroup", first_name="Cy")
    await message_with(fake, "already a party here")

    await press(fake, ballot, "2.", CY)
    await press(fake, ballot, "1.", ANN)
    assert "left" in await press(fake, lobby, "Leave", CY)
    assert "In (2): Ann and Bo" in text_of(current(fake, lobby))
    assert "Join the party first" in await press(fake, ballot, "2.", CY)
    await press(fake, ballot2, "3.", CY)
    await press(fake, ballot, "Close the vote", ANN)
    won = await message_with(fake, "🏆")
    assert "1 vote of 2" in text_of(won)                  # Cy's vote left with Cy
    # group 2 is still voting, untouched by group 1's close
    record2 = await store.open_party_in("telegram", str(OTHER_GROUP))
    assert record2.state == "voting" and list(record2.data["votes"].values()) == [
        int(buttons(ballot2)[next(label for label in buttons(ballot2) if label.startswith("3."))]
            .rsplit(":", 1)[1])]
    await press(fake, ballot2, "Close the vote", BO)
    await message_with(fake, "🏆", OTHER_GROUP)


async def test_a_group_with_nothing_in_common_is_told_the_veto_was_relaxed(bot, engine):
    fake, frontend, _ = bot
    configure(frontend)
    store = frontend.commands.store
    # a narrow corner of the catalog, and a group split over every film in it
    corner = Filters(genres=["Western"], year_min=1950, year_max=1959)
    films = [r.movie.movie_id for r in engine.group_recommend(
        GroupQuery((GroupMember("x", ()),), rewatch=True), k=20, filters=corner).results]
    assert films, "the quick build has no 1950s westerns"
    await rate(store, ANN, {m: 1.0 for m in films})     # Ann turned every one of them down
    await rate(store, BO, {m: 5.0 for m in films})      # Bo loves them all
    fake.push_text("/party rewatch genre:western after:1950 before:1959", user_id=ANN,
                   chat_id=GROUP, chat_type="supergroup", first_name="Ann")
    lobby = await message_with(fake, "Movie night!")
    assert "western films from 1950 to 1959" in text_of(lobby)
    assert "rewatches welcome" in text_of(lobby)
    await press(fake, lobby, "🙋 Join", BO)
    await press(fake, lobby, "▶ Start", ANN)
    ballot = await message_with(fake, "Vote for tonight's film")
    assert "⚠️" in text_of(ballot) and "relaxed" in text_of(ballot)


async def test_a_group_gets_one_list_message_a_private_chat_gets_cards(bot):
    fake, frontend, _ = bot
    fake.push_text("/similar heat", user_id=ANN, chat_id=GROUP, chat_type="supergroup",
                   first_name="Ann")
    await processed(fake)
    sent = group_messages(fake)
    assert len(sent) == 1 and sent[0].method == "sendMessage"
    lines = text_of(sent[0]).splitlines()
    assert lines[0].startswith("Because you asked about Heat")
    assert [line[:2] for line in lines if line[:1].isdigit()] == ["1.", "2.", "3.", "4.", "5."]
    rows = sent[0].params["reply_markup"]["inline_keyboard"]
    assert len(rows) == 5 and [b["text"] for b in rows[0]][1:] == ["👍 1", "👎 1"]
    # the list is remembered, so its More ▶ button pages from the stored query
    stored = await frontend.commands.store.lookup_message("telegram", str(GROUP),
                                                          str(sent[0].params["_message_id"]))
    assert stored is not None and len(stored.context["movie_ids"]) == 5
    fake.push_text("/similar heat", user_id=ANN, first_name="Ann")
    await processed(fake)
    assert len([c for c in fake.sent(chat_id=ANN) if c.method in ("sendMessage", "sendPhoto")]) == 6
