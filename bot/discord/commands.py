"""Discord's slash and ``!`` prefix commands, generated from the command registry.

For each `bot.registry.CommandSpec`:
  * a slash command (`app_commands.Command`) whose parameters are the spec's typed
    arguments: ``/rate title:Heat stars:4.5`` (stars a number from 0.5 to 5),
    ``/watchlist action:add title:Heat`` (action a choice). discord.py reads a callback's
    parameters from its signature, so the generated callback gets a ``__signature__``
    built from the spec, and `app_commands.describe` adds the help texts. Its values go
    to the command layer as they are (`Frontend.command`): nothing is turned into text.
  * a prefix command (`commands.Command`, with the spec's aliases) that takes the rest of
    the line, as typed in a chat: ``!rate The Matrix 4.5`` (`Frontend.command_text`).
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.frontend import Incoming
from bot.registry import Arg, CommandSpec, Registry

if TYPE_CHECKING:
    from .cog import MovieCog

AUTOCOMPLETE_CHOICES = 25        # Discord shows at most 25


def _annotation(arg: Arg) -> Any:
    if arg.choices:
        return Literal[arg.choices]          # a choice list in Discord's UI
    if arg.type is float:
        return app_commands.Range[float, *arg.bounds] if arg.bounds else float
    if arg.type is int:
        return app_commands.Range[int, *arg.bounds] if arg.bounds else int
    return str                               # text, and filters ("genre:crime after:1990")


def slash_command(spec: CommandSpec, cog: MovieCog) -> app_commands.Command:
    async def callback(interaction: discord.Interaction, **values: Any) -> None:
        ctx = await commands.Context.from_interaction(interaction)
        ev = Incoming(cog.who(interaction.user, interaction.locale), chat=ctx,
                      event_id=f"interaction:{interaction.id}",
                      where=cog.where(interaction.channel_id, interaction.guild_id))
        try:
            await cog.command(ev, spec.name, values)
        except Exception as error:  # noqa: BLE001 - never a traceback in chat
            await cog.apologise(ev, error)

    params = [inspect.Parameter("interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                annotation=discord.Interaction)]
    params += [inspect.Parameter(arg.name, inspect.Parameter.KEYWORD_ONLY, annotation=_annotation(arg),
                                 default=inspect.Parameter.empty if arg.required else None)
               for arg in spec.args]
    callback.__signature__ = inspect.Signature(params)          # what discord.py reads
    callback.__qualname__ = callback.__name__ = f"slash_{spec.name}"
    if spec.args:
        callback = app_commands.describe(**{a.name: a.help[:100] for a in spec.args})(callback)
    titles = {a.name: title_choices(cog) for a in spec.args if a.complete == "title"}
    if titles:
        callback = app_commands.autocomplete(**titles)(callback)
    return app_commands.Command(name=spec.name, description=spec.help[:100], callback=callback)


def title_choices(cog: MovieCog) -> Any:
    """The autocomplete callback of a title parameter: catalog titles for what has been
    typed so far ("incep" -> Inception (2010)); the value is the label, year included, so
    the command resolves exactly that film."""
    async def choices(interaction: discord.Interaction,
                      current: str) -> list[app_commands.Choice[str]]:
        try:
            found = cog.layer.engine.catalog.complete(current, AUTOCOMPLETE_CHOICES)
        except Exception:  # noqa: BLE001 - no engine yet: no suggestions, never an error
            return []
        return [app_commands.Choice(name=c.label[:100], value=c.label[:100]) for c in found]
    return choices


def prefix_command(spec: CommandSpec, cog: MovieCog) -> commands.Command:
    async def callback(ctx: commands.Context, *, text: str = "") -> None:
        await cog.command_text(Incoming(cog.who(ctx.author), chat=ctx,
                                        event_id=f"message:{ctx.message.id}",
                                        where=cog.where(ctx.channel.id, ctx.guild)),
                               spec.name, text)

    callback.__qualname__ = callback.__name__ = f"prefix_{spec.name}"
    return commands.Command(callback, name=spec.name, aliases=list(spec.aliases),
                            help=spec.help, usage=spec.usage.partition(" ")[2])


def add_registry_commands(bot: commands.Bot, cog: MovieCog, registry: Registry) -> None:
    for spec in registry:
        bot.add_command(prefix_command(spec, cog))
        bot.tree.add_command(slash_command(spec, cog))
