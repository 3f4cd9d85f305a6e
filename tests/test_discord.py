"""The real discord.py client (commands.Bot + our cog) against a fake Discord REST API and
gateway on 127.0.0.1: prefix and slash commands, embeds, buttons, reactions, and the
start-up reconciliation of reactions made while the bot was offline."""

from __future__ import annotations

import asyncio

import pytest

from bot.commands import CommandLayer
from bot.discord.client import DiscordOptions, build_bot
from bot.store import Store
from tests.fakes.discord_api import FakeDiscord

USER = "4242"


@pytest.fixture
async def fake():
    server = await FakeDiscord().start()
    yield server
    await server.stop()


@pytest.fixture
async def store(tmp_path):
    s = await Store.open(f"sqlite:///{tmp_path / 'discord.db'}")
    yield s
    await s.close()


class Running:
    def __init__(self, fake, store, engine):
        self.fake, self.store, self.engine = fake, store, engine
        self.bot = None
        self.task = None

    async def start(self):
        layer = CommandLayer(lambda: self.engine, store=self.store)
        self.bot = build_bot(layer, DiscordOptions(api_base=self.fake.api_base,
                                                   gateway=self.fake.gateway_url,
                                                   guild_ready_timeout=0.2))
        self.fake._identified.clear()
        self.task = asyncio.create_task(self.bot.start(self.fake.token))
        await asyncio.wait_for(self.bot.wait_until_ready(), 20)
        return self

    async def stop(self):
        await self.bot.close()
        await asyncio.wait_for(self.task, 10)


@pytest.fixture
async def running(fake, store, engine):
    bot = await Running(fake, store, engine).start()
    yield bot
    await bot.stop()


def embeds(fake):
    return [e for m in fake.sent for e in m.get("embeds", [])]


async def _card(fake, count=1):
    await fake.wait_for(lambda f: len([m for m in f.sent if m.get("embeds")]) >= count)
    return [m for m in fake.sent if m.get("embeds")][-1]


async def test_prefix_command_sends_embed_with_buttons_and_reaction_hints(running, fake, store):
    await fake.send_user_message("!info toy story")
    card = await _card(fake)
    embed = card["embeds"][0]
    assert embed["title"] == "Toy Story (1995)"
    custom_ids = [c.get("custom_id") for row in card["components"] for c in row["components"]]
    assert {"mb:like:1", "mb:dislike:1", "mb:more:1"} <= set(custom_ids)
    await fake.wait_for(lambda f: f.reactions.get((card["id"], "👎")))
    assert fake.reactions[(card["id"], "👍")] == [fake.bot_user["id"]]
    sent = await store.lookup_message("discord", fake.channel_id, card["id"])
    assert sent.movie_id == 1


async def test_slash_command_answers_through_the_interaction(running, fake):
    interaction = await fake.slash("info", {"title": "heat"})
    await fake.wait_for(lambda f: any(c["interaction_id"] == interaction for c in f.callbacks))
    callback = next(c for c in fake.callbacks if c["interaction_id"] == interaction)
    assert callback["type"] == 4
    assert callback["data"]["embeds"][0]["title"].startswith("Heat")


async def test_reactions_are_feedback_stored_once_and_retracted(running, fake, store):
    await fake.send_user_message("!info heat")
    card = await _card(fake)
    await fake.wait_for(lambda f: f.reactions.get((card["id"], "👎")))
    await fake.react(card["id"], "👍")
    await fake.react(card["id"], "👍")        # the gateway delivering an event twice
    uid = await store.user_id("discord", USER)
    for _ in range(100):
        if await store.history(uid):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)
    history = await store.history(uid)
    assert [s for _, s in history] == ["like"]
    assert (await store.stats())["events"] == 1
    await fake.react(card["id"], "👍", add=False)
    for _ in range(100):
        if not await store.history(uid):
            break
        await asyncio.sleep(0.05)
    assert await store.history(uid) == []


async def test_like_button_press(running, fake, store):
    await fake.send_user_message("!info toy story")
    card = await _card(fake)
    interaction = await fake.press(card, "mb:like:1")
    await fake.wait_for(lambda f: any(c["interaction_id"] == interaction for c in f.callbacks))
    callback = next(c for c in fake.callbacks if c["interaction_id"] == interaction)
    assert "Noted" in callback["data"]["content"]
    assert callback["data"]["flags"] & 64          # ephemeral: only the presser sees it
    uid = await store.user_id("discord", USER)
    assert await store.history(uid) == [(1, "like")]


async def test_a_press_that_cannot_be_answered_is_reported_to_the_presser(running, fake, store):
    """Discord never redelivers an interaction: when the answer cannot be posted (403, no
    permission in the channel) the presser alone is told, instead of "interaction failed"."""
    await fake.send_user_message("!info toy story")
    card = await _card(fake)
    fake.refuse_posts = 1                               # the "More like this" cards
    interaction = await fake.press(card, "mb:more:1")
    await fake.wait_for(lambda f: any(m.get("interaction_id") == interaction
                                      and "not allowed to post" in m["content"] for m in f.sent))
    apology = next(m for m in fake.sent if m.get("interaction_id") == interaction
                   and "not allowed to post" in m["content"])
    assert apology["flags"] & 64                        # ephemeral: only the presser sees it
    assert "Traceback" not in apology["content"]


async def test_mentions_titles_unknown_commands_and_injection(running, fake):
    await fake.send_user_message(f"<@{fake.bot_user['id']}> toy story", mention_bot=True)
    assert (await _card(fake))["embeds"][0]["title"] == "Toy Story (1995)"
    await fake.send_user_message("!nope")
    await fake.wait_for(lambda f: any("I don't know /nope" in m["content"] for m in f.sent))
    await fake.send_user_message("!info @everyone **boom**")
    await fake.wait_for(lambda f: any("couldn" in m["content"] for m in f.sent))
    reply = next(m for m in fake.sent if "couldn" in m["content"])
    assert "@everyone" not in reply["content"].replace("@\u200beveryone", "")
    assert "\\*\\*boom\\*\\*" in reply["content"]
    await fake.send_user_message("just chatting, not for the bot")
    await asyncio.sleep(0.3)
    assert not any("chatting" in m["content"] for m in fake.sent)


async def test_reactions_made_while_offline_are_reconciled_at_startup(fake, store, engine):
    bot = await Running(fake, store, engine).start()
    await fake.send_user_message("!info heat")
    card = await _card(fake)
    await fake.wait_for(lambda f: f.reactions.get((card["id"], "👎")))
    await fake.react(card["id"], "👍", user_id="1001")
    uid_a = await store.user_id("discord", "1001")
    for _ in range(100):
        if await store.history(uid_a):
            break
        await asyncio.sleep(0.05)
    await bot.stop()

    # while the bot is down: A takes the 👍 back, B reacts 👎
    await fake.react(card["id"], "👍", user_id="1001", add=False, live=False)
    await fake.react(card["id"], "👎", user_id="1002", live=False)

    bot = await Running(fake, store, engine).start()
    try:
        uid_b = await store.user_id("discord", "1002")
        for _ in range(100):
            if await store.history(uid_b):
                break
            await asyncio.sleep(0.05)
        assert [s for _, s in await store.history(uid_b)] == ["dislike"]
        assert await store.history(uid_a) == []
    finally:
        await bot.stop()


async def test_a_reaction_that_could_not_be_stored_is_re_read_later(running, fake, store):
    await fake.send_user_message("!info heat")
    card = await _card(fake)
    await fake.wait_for(lambda f: f.reactions.get((card["id"], "👎")))
    cog = running.bot.get_cog("Movies")
    cog.retry_every = 3600                      # the test triggers the retry itself
    layer = cog.layer
    original = layer.reaction
    failures = []

    async def database_down(*args, **kwargs):
        failures.append(1)
        raise ConnectionError("database went away")

    layer.reaction = database_down
    await fake.react(card["id"], "👍", user_id="777")
    for _ in range(100):
        if failures:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.1)
    assert len(cog._dirty) == 1
    layer.reaction = original                   # the database is back
    assert await cog.retry_dirty() == 1
    uid = await store.user_id("discord", "777")
    movie_id = (await store.lookup_message("discord", fake.channel_id, card["id"])).movie_id
    assert await store.history(uid) == [(movie_id, "like")]


async def test_a_user_flooding_commands_is_asked_to_slow_down(fake, store, engine):
    bot = Running(fake, store, engine)
    layer = CommandLayer(lambda: engine, store=store)
    bot.bot = build_bot(layer, DiscordOptions(api_base=fake.api_base, gateway=fake.gateway_url,
                                              guild_ready_timeout=0.2, user_rate=3,
                                              user_period=60, hint_reactions=False))
    bot.task = asyncio.create_task(bot.bot.start(fake.token))
    await asyncio.wait_for(bot.bot.wait_until_ready(), 20)
    try:
        for _ in range(4):
            await fake.send_user_message("!help")
        await fake.wait_for(lambda f: any("going fast" in m["content"] for m in f.sent))
        helps = [m for m in fake.sent if "/similar" in m["content"]]
        assert len(helps) == 3                      # the fourth was refused, politely
        await fake.send_user_message("!help", user_id="777")   # another user is not affected
        await fake.wait_for(lambda f: len([m for m in f.sent if "/similar" in m["content"]]) == 4)
    finally:
        await bot.stop()


async def test_a_slash_command_reaches_its_handler_with_typed_values(running, fake, store, engine):
    """/rate title:Heat stars:4.5 arrives as {"title": "Heat", "stars": 4.5}: no chat text
    is built or parsed on the way."""
    layer = running.bot.get_cog("Movies").layer
    calls = []
    original_run = layer.run

    async def run(name, values, user, **kwargs):
        calls.append((name, dict(values)))
        return await original_run(name, values, user, **kwargs)

    async def no_text(*args, **kwargs):
        raise AssertionError("a slash command was turned into text")

    layer.run, layer.handle, layer.run_text = run, no_text, no_text
    interaction = await fake.slash("rate", {"title": "Heat", "stars": 4.5})
    await fake.wait_for(lambda f: any(c["interaction_id"] == interaction for c in f.callbacks))
    callback = next(c for c in fake.callbacks if c["interaction_id"] == interaction)
    assert calls == [("rate", {"title": "Heat", "stars": 4.5})]
    assert "★ 4.5/5" in callback["data"]["content"]
    uid = await store.user_id("discord", USER)
    assert [(engine.movie(m).title, v) for m, v in await store.history(uid)] == [("Heat", 4.5)]
