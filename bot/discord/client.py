"""Build the discord.py bot (prefix ``!`` + slash commands) around the command layer.

`configure_endpoints` points discord.py at another REST base and gateway (the tests'
fake server; a proxy in production). discord.py has no constructor option for this, so
the two class attributes it reads are set; call it before the client connects.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import discord
import yarl
from discord import gateway, http
from discord.ext import commands

from bot.commands import COMMANDS, CommandLayer

from .cog import MovieCog
from .commands import add_registry_commands

log = logging.getLogger("moviebot.discord")


@dataclass
class DiscordOptions:
    prefix: str = "!"
    api_base: str = ""         # DISCORD_API_BASE_URL, e.g. "http://127.0.0.1:8080/api/v10"
    gateway: str = ""          # DISCORD_GATEWAY_URL, e.g. "ws://127.0.0.1:8080/gateway"
    sync_commands: bool = False  # push slash commands to Discord at start (only after changes)
    hint_reactions: bool = True
    admins: frozenset[str] = frozenset()
    guild_ready_timeout: float = 2.0   # how long discord.py waits for more guilds at start
    user_rate: int = 8                 # commands per user ...
    user_period: float = 10.0          # ... per this many seconds
    party_tick: float = 1.0            # how often the party clock looks for due parties (s)


def configure_endpoints(api_base: str = "", gateway_url: str = "") -> None:
    if api_base:
        http.Route.BASE = api_base.rstrip("/")
    if gateway_url:
        gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


class MovieBot(commands.Bot):
    def __init__(self, layer: CommandLayer, options: DiscordOptions):
        intents = discord.Intents.default()
        intents.message_content = True   # privileged: needed for "!info heat" and plain titles
        super().__init__(command_prefix=commands.when_mentioned_or(options.prefix),
                         intents=intents, help_command=None,
                         guild_ready_timeout=options.guild_ready_timeout)
        self.layer = layer
        self.options = options

    async def setup_hook(self) -> None:
        cog = MovieCog(self, self.layer, admins=self.options.admins,
                       hint_reactions=self.options.hint_reactions,
                       user_rate=self.options.user_rate, user_period=self.options.user_period,
                       party_tick=self.options.party_tick)
        await self.add_cog(cog)
        add_registry_commands(self, cog, COMMANDS)      # slash + prefix, from the registry
        if self.options.sync_commands:
            synced = await self.tree.sync()
            log.info("synced %d slash commands", len(synced))

    async def close(self) -> None:
        cog = self.get_cog("Movies")
        if cog is not None:           # the party clock must not tick on a closed store
            await cog.stop_clock()
        await super().close()

    async def on_ready(self) -> None:
        self.layer.bot_username = self.user.name if self.user else ""
        log.info("connected to Discord as %s", self.user)


def build_bot(layer: CommandLayer, options: DiscordOptions | None = None) -> MovieBot:
    options = options or DiscordOptions()
    configure_endpoints(options.api_base, options.gateway)
    return MovieBot(layer, options)
