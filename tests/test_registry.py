"""The command registry is the one list: /help, Discord's slash and prefix commands and the
command layer's dispatch all come from it."""

from __future__ import annotations

from discord import AppCommandOptionType

from bot.commands import COMMANDS, CommandLayer, User, help_text
from bot.discord.client import DiscordOptions, build_bot
from bot.registry import Arg, Registry

ADA = User("console", "1", "Ada")


def test_every_command_is_declared_once_with_a_handler():
    names = [spec.name for spec in COMMANDS]
    assert names == ["start", "help", "info", "similar", "song", "recommend", "top", "rate", "watchlist",
                     "search", "forget", "stats", "where", "country", "party"]
    assert COMMANDS.get("title") is COMMANDS.get("info")          # the plain-title alias
    assert all(callable(spec.handler) and spec.help for spec in COMMANDS)


def test_a_name_declared_twice_is_refused():
    registry = Registry()
    registry.command("a", "first")(lambda: None)
    try:
        registry.command("b", "second", aliases=("a",))(lambda: None)
    except ValueError as err:
        assert "/a" in str(err)
    else:
        raise AssertionError("duplicate accepted")


async def test_help_is_generated_from_the_registry_and_lists_every_command(engine):
    text = (await CommandLayer(lambda: engine).handle("/help", ADA)).text
    assert text.startswith(help_text())             # then what the catalog covers
    assert text.endswith(engine.catalog.coverage_sentence())
    for spec in COMMANDS:
        assert spec.help_line() in text
    assert "/info <title> – facts, poster and trailer" in text
    assert "/rate <title> <stars>" in text and "/similar <title> [filters]" in text
    assert "/stats – usage numbers (admins only)" in text


async def test_the_discord_command_tree_is_built_from_the_registry(engine):
    bot = build_bot(CommandLayer(lambda: engine), DiscordOptions())
    await bot.setup_hook()
    slash = {c.name: c for c in bot.tree.get_commands()}
    assert list(slash) == [spec.name for spec in COMMANDS]
    for spec in COMMANDS:
        assert slash[spec.name].description == spec.help[:100]
        params = {p.name: p for p in slash[spec.name].parameters}
        assert list(params) == [a.name for a in sorted(spec.args, key=lambda a: not a.required)]
        for arg in spec.args:
            assert params[arg.name].required == arg.required
            assert params[arg.name].description == arg.help[:100]
        prefix = bot.get_command(spec.name)
        assert prefix is not None and set(prefix.aliases) == set(spec.aliases)
    stars = {p.name: p for p in slash["rate"].parameters}["stars"]
    assert stars.type is AppCommandOptionType.number and (stars.min_value, stars.max_value) == (0.5, 5.0)
    action = {p.name: p for p in slash["watchlist"].parameters}["action"]
    assert [c.value for c in action.choices] == ["add", "remove", "list"]
    assert {p.name: p for p in slash["similar"].parameters}["title"].type is AppCommandOptionType.string
    assert bot.get_command("title") is bot.get_command("info")


async def test_typed_values_and_chat_text_reach_the_same_handler(engine):
    layer = CommandLayer(lambda: engine)
    typed = await layer.run("info", {"title": "heat"}, ADA)
    text = await layer.run_text("info", "heat", ADA)
    assert typed.cards[0].title == text.cards[0].title == "Heat (1995)"
    assert "no “stars”" in (await layer.run("info", {"stars": 3}, ADA)).text
    assert "not a filter" in (await layer.run("similar", {"title": "heat", "filters": "blah"}, ADA)).text
    assert "admins" in (await layer.run("stats", {}, ADA)).text


def test_arg_defaults():
    arg = Arg("title", "a title")
    assert arg.required and arg.type is str and not arg.greedy
