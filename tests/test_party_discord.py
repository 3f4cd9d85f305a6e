"""A watch party on the real discord.py client against the fake Discord API: /party as a
slash command, Join by button and by 👍, the vote with live counts on the same message,
the winner's card, feedback stored once, and presses after the party closed."""

from __future__ import annotations

import asyncio

import pytest

from bot import party
from bot.commands import CommandLayer
from bot.discord.client import DiscordOptions, build_bot
from bot.party import PartyOptions
from bot.store import FeedbackEvent, Store
from tests.fakes.discord_api import FakeDiscord

ANN, BO, CY = "501", "502", "503"
NAMES = {ANN: "Ann", BO: "Bo", CY: "Cy"}
RATINGS = {ANN: {2571: 5.0, 1: 4.0, 6: 4.5}, BO: {296: 5.0, 1214: 4.5, 608: 4.0},
           CY: {318: 5.0, 858: 4.5, 50: 4.0}}


@pytest.fixture
async def fake():
    server = await FakeDiscord().start()
    yield server
    await server.stop()


@pytest.fixture
async def running(fake, tmp_path, engine):
    store = await Store.open(f"sqlite:///{tmp_path / 'party.db'}")
    layer = CommandLayer(lambda: engine, store=store)
    party.configure(layer, PartyOptions(start_after=600, vote_time=600))
    bot = build_bot(layer, DiscordOptions(api_base=fake.api_base, gateway=fake.gateway_url,
                                          guild_ready_timeout=0.2, party_tick=0.1))
    task = asyncio.create_task(bot.start(fake.token))
    await asyncio.wait_for(bot.wait_until_ready(), 20)
    yield store
    await bot.close()
    await asyncio.wait_for(task, 10)
    await store.close()


def buttons(message: dict) -> dict[str, str]:
    return {c["label"]: c.get("custom_id", "") for row in message.get("components", [])
            for c in row["components"]}


async def message_with(fake, words: str) -> dict:
    await fake.wait_for(lambda f: any(words in m["content"] for m in f.sent))
    return [m for m in fake.sent if words in m["content"]][-1]


async def press(fake, message: dict, label_start: str, user: str) -> str:
    """Press a button on ``message`` as it looks now; returns what only the presser saw."""
    now = fake.messages[message["id"]]
    custom_id = next(c for label, c in buttons(now).items() if label.startswith(label_start))
    interaction = await fake.press(now, custom_id, user_id=user, name=NAMES[user])
    await fake.wait_for(lambda f: any(c["interaction_id"] == interaction for c in f.callbacks))
    callback = next(c for c in fake.callbacks if c["interaction_id"] == interaction)
    if callback["type"] == 7:       # redrawn: the notice follows as an ephemeral message
        await fake.wait_for(lambda f: any(m.get("interaction_id") == interaction
                                          and m.get("flags", 0) & 64 for m in f.sent))
        return next(m["content"] for m in fake.sent if m.get("interaction_id") == interaction
                    and m.get("flags", 0) & 64)
    return callback["data"].get("content") or ""


async def test_a_three_member_party_on_discord(running, fake, engine):
    store = running
    for user, ratings in RATINGS.items():
        uid = await store.user_id("discord", user, NAMES[user])
        for movie_id, stars in ratings.items():
            await store.record_feedback(FeedbackEvent(uid, movie_id, "rating", stars,
                                                      event_id=f"seed:{movie_id}"))
    opened = await fake.slash("party", {}, user_id=ANN, user_name="Ann")
    await fake.wait_for(lambda f: any(c["interaction_id"] == opened for c in f.callbacks))
    lobby = await message_with(fake, "Movie night!")
    assert "Ann is hosting" in lobby["content"]
    assert {"🙋 Join", "Leave", "▶ Start"} <= set(buttons(lobby))
    # the lobby is remembered, so a 👍 on it joins
    for _ in range(100):
        if await store.lookup_message("discord", fake.channel_id, lobby["id"]):
            break
        await asyncio.sleep(0.05)

    assert "You're in" in await press(fake, lobby, "🙋 Join", BO)
    assert "In (2): Ann and Bo" in fake.messages[lobby["id"]]["content"]   # the same message
    await fake.react(lobby["id"], "👍", user_id=CY, name="Cy")
    for _ in range(100):
        record = await store.open_party_in("discord", fake.channel_id)
        if len(record.data["members"]) == 3:
            break
        await asyncio.sleep(0.05)
    assert record.data["members"][CY]["in"]

    await fake.send_user_message("!party go", user_id=ANN, name="Ann")
    ballot = await message_with(fake, "Vote for tonight's film")
    votes = [label for label in buttons(ballot) if label[0].isdigit()]
    assert 3 <= len(votes) <= 5
    ids = [int(c.rsplit(":", 1)[1]) for label, c in buttons(ballot).items() if label[0].isdigit()]

    assert "Your vote" in await press(fake, ballot, "1.", ANN)
    await press(fake, ballot, "1.", BO)
    await press(fake, ballot, "2.", CY)
    assert "already" in await press(fake, ballot, "2.", CY)
    live = fake.messages[ballot["id"]]
    assert "Voted: 3 of 3" in live["content"]
    assert next(label for label in buttons(live) if label.startswith("1.")).endswith("(2)")
    assert "Only Ann" in await press(fake, ballot, "Close the vote", BO)
    await press(fake, ballot, "Close the vote", ANN)
    won = await message_with(fake, "🏆")
    winner = engine.movie(ids[0])
    assert winner.label in won["content"] and "2 votes of 3" in won["content"]
    await fake.wait_for(lambda f: any(e["title"] == winner.label for m in f.sent
                                      for e in m.get("embeds", [])))

    for user, voted in ((ANN, ids[0]), (BO, ids[0]), (CY, ids[1])):
        history = dict(await store.history(await store.user_id("discord", user)))
        assert history[voted] == 3.5
    stats = await store.stats()
    assert stats["events_by_signal"]["party_winner"] == 3
    before = stats["events"]
    assert "over" in await press(fake, ballot, "2.", BO)
    assert "over" in await press(fake, lobby, "🙋 Join", BO)
    assert (await store.stats())["events"] == before


async def test_the_host_puts_the_winner_on_the_servers_events(running, fake, engine):
    from datetime import UTC, datetime

    store = running
    for user in (ANN, BO):
        uid = await store.user_id("discord", user, NAMES[user])
        for movie_id, stars in RATINGS[user].items():
            await store.record_feedback(FeedbackEvent(uid, movie_id, "rating", stars,
                                                      event_id=f"seed:{movie_id}"))
    opened = await fake.slash("party", {}, user_id=ANN, user_name="Ann")
    await fake.wait_for(lambda f: any(c["interaction_id"] == opened for c in f.callbacks))
    lobby = await message_with(fake, "Movie night!")
    await press(fake, lobby, "🙋 Join", BO)
    await fake.send_user_message("!party go", user_id=ANN, name="Ann")
    ballot = await message_with(fake, "Vote for tonight's film")
    ids = [int(c.rsplit(":", 1)[1]) for label, c in buttons(ballot).items() if label[0].isdigit()]
    assert "Schedule" not in " ".join(buttons(ballot))       # nothing to schedule yet
    await press(fake, ballot, "2.", BO)
    await press(fake, ballot, "Close the vote", ANN)
    winner = engine.movie(ids[1])
    await fake.wait_for(lambda f: any(e["title"] == winner.label for m in f.sent
                                      for e in m.get("embeds", [])))
    card = next(m for m in fake.sent for e in m.get("embeds", []) if e["title"] == winner.label)
    assert "📅 Schedule it" in buttons(card)

    assert "Only Ann" in await press(fake, card, "📅 Schedule it", BO)
    fake.refuse_events = True
    assert "Manage Events" in await press(fake, card, "📅 Schedule it", ANN)
    assert fake.events == []
    fake.refuse_events = False

    await press(fake, card, "📅 Schedule it", ANN)
    said = await message_with(fake, "on the server's events")
    assert winner.label in said["content"]
    [event] = fake.events
    assert event["name"] == f"Movie night: {winner.label}" and event["entity_type"] == 3
    assert event["entity_metadata"]["location"] == "#movies"
    start = datetime.fromisoformat(event["scheduled_start_time"])
    end = datetime.fromisoformat(event["scheduled_end_time"])
    assert start > datetime.now(UTC) and start.minute == 0 and end > start
    assert "Ann and Bo" in event["description"]
    link = f"https://discord.com/events/{fake.guild_id}/{event['id']}"
    assert link in [c.get("url") for row in said["components"] for c in row["components"]]
    # once per party: a second press points to the same event
    await press(fake, card, "📅 Schedule it", ANN)
    again = await message_with(fake, "already")
    assert link in [c.get("url") for row in again["components"] for c in row["components"]]
    assert len(fake.events) == 1
