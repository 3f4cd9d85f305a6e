"""Title autocomplete: the catalog's completion (prefixes, words inside titles, typos) and
Discord's slash commands offering it on every title parameter, through the real
discord.py client and the fake API."""

from __future__ import annotations

import asyncio

import pytest

from bot.commands import COMMANDS, CommandLayer
from bot.discord.client import DiscordOptions, build_bot
from tests.fakes.discord_api import FakeDiscord


def test_completion_prefixes_inner_words_typos_and_nothing(engine):
    catalog = engine.catalog
    labels = [c.label for c in catalog.complete("toy st", 5)]
    assert labels[:3] == ["Toy Story (1995)", "Toy Story 2 (1999)", "Toy Story 3 (2010)"]
    # a word inside the title, after the titles that start with it
    knight = [c.label for c in catalog.complete("knight", 25)]
    assert "The Dark Knight (2008)" in knight
    starts = [i for i, label in enumerate(knight) if label.lower().startswith("knight")]
    assert starts and max(starts) < knight.index("The Dark Knight (2008)")
    assert catalog.complete("the dark kn", 3)[0].label == "The Dark Knight (2008)"
    assert catalog.complete("amélie", 3)[0].title == "Amelie"
    assert catalog.complete("incepton", 3)[0].title == "Inception"        # a typo
    assert len(catalog.complete("", 10)) == 10                             # best known
    assert catalog.complete("qqqqzzzz", 5) == [] and catalog.complete("x" * 5000, 5) == []
    assert len(catalog.complete("s", 25)) == 25


@pytest.fixture
async def fake():
    server = await FakeDiscord().start()
    yield server
    await server.stop()


async def test_every_title_parameter_autocompletes_on_discord(fake, engine):
    layer = CommandLayer(lambda: engine)
    bot = build_bot(layer, DiscordOptions(api_base=fake.api_base, gateway=fake.gateway_url,
                                          guild_ready_timeout=0.2))
    task = asyncio.create_task(bot.start(fake.token))
    await asyncio.wait_for(bot.wait_until_ready(), 20)
    try:
        titled = [(spec.name, arg.name) for spec in COMMANDS for arg in spec.args
                  if arg.complete == "title"]
        assert {("info", "title"), ("similar", "title"), ("rate", "title"),
                ("watchlist", "title")} <= set(titled)
        for name, option in titled:
            command = bot.tree.get_command(name)
            assert command._params[option].autocomplete is not None, (name, option)
        choices = await fake.autocomplete("info", "title", "incep")
        assert choices[0] == {"name": "Inception (2010)", "value": "Inception (2010)"}
        choices = await fake.autocomplete("rate", "title", "godfa")
        assert [c["name"] for c in choices][:2] == ["The Godfather (1972)",
                                                    "The Godfather: Part II (1974)"]
        assert len(await fake.autocomplete("similar", "title", "s")) == 25
        assert await fake.autocomplete("info", "title", "qqqqzzzz") == []
    finally:
        await bot.close()
        await asyncio.wait_for(task, 10)
