"""The Discord front-end: a discord.py cog with hybrid commands (``/info`` and ``!info``),
button presses, and 👍/👎 reactions as feedback.

Like the Telegram front-end it only translates: every command becomes the same text the
command layer parses (``/similar heat``), and its `Reply` is rendered by `render.py`.
Reactions use the *raw* events, which fire for messages that are not in discord.py's
cache (a reaction days after the recommendation, after restarts). Reactions made while
the bot was offline are picked up once at start-up by `reconcile()`, through REST.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import discord
from discord.ext import commands

from bot.commands import CommandLayer, MessageRef, User

from .render import ACTION_PREFIX, render

log = logging.getLogger("moviebot.discord")

PLATFORM = "discord"
OOPS = "Sorry, something went wrong on my side. Please try again in a moment."
HINT_REACTIONS = ("👍", "👎")


def slow_down(seconds: float) -> str:
    return f"You're going fast! Give me {max(1, round(seconds))} s and ask again."


def is_admin(admins: frozenset[str], user_id: str) -> bool:
    return f"{PLATFORM}:{user_id}" in admins or user_id in admins


class MovieCog(commands.Cog, name="Movies"):
    def __init__(self, bot: commands.Bot, layer: CommandLayer, *, admins: frozenset[str] = frozenset(),
                 hint_reactions: bool = True, reconcile_days: float = 7.0,
                 user_rate: int = 8, user_period: float = 10.0):
        self.bot = bot
        # discord.py's own per-user cooldown: one user hammering /recommend cannot starve
        # everyone else; commands and plain titles share the bucket.
        self.cooldowns = commands.CooldownMapping.from_cooldown(
            user_rate, user_period, commands.BucketType.user)
        self.layer = layer
        self.admins = admins
        self.hint_reactions = hint_reactions
        self.reconcile_days = reconcile_days
        self.retry_every = 30.0               # seconds before re-reading a failed reaction
        self._reconciled = False
        self._dirty: set[MessageRef] = set()  # messages with reactions not stored yet
        self._retry_task: asyncio.Task | None = None

    def who(self, user: discord.abc.User) -> User:
        return User(PLATFORM, str(user.id), user.display_name,
                    is_admin=is_admin(self.admins, str(user.id)))

    def retry_after(self, message: discord.Message) -> float:
        """Seconds this user must wait (0.0: go ahead); takes a token when allowed."""
        bucket = self.cooldowns.get_bucket(message)
        return (bucket.update_rate_limit() or 0.0) if bucket else 0.0

    async def cog_check(self, ctx: commands.Context) -> bool:
        bucket = self.cooldowns.get_bucket(ctx.message)
        wait = bucket.update_rate_limit() if bucket else None
        if wait:
            raise commands.CommandOnCooldown(bucket, wait, commands.BucketType.user)
        return True

    # -- answering -------------------------------------------------------------------
    async def answer(self, ctx: commands.Context, text: str) -> None:
        reply = await self.layer.handle(text, self.who(ctx.author))
        if reply is not None:
            await self.send(ctx, reply)

    async def send(self, target: commands.Context | discord.abc.Messageable, reply) -> None:
        for item in render(reply):
            message = await target.send(**item.kwargs())
            if item.movie_id is None or message is None:
                continue
            ref = MessageRef(PLATFORM, str(message.channel.id), str(message.id))
            # Persist message -> movie so a reaction days later, after restarts, resolves.
            await self.layer.remember(ref, item.movie_id, reply.context)
            if self.hint_reactions:
                for emoji in HINT_REACTIONS:   # one tap to react, and it shows it is wanted
                    try:
                        await message.add_reaction(emoji)
                    except discord.HTTPException as exc:
                        log.info("could not add reaction hint: %s", exc)

    # -- hybrid commands: each is the same text the command layer parses -------------
    @commands.hybrid_command(name="start", description="What I can do, and how to teach me your taste")
    async def start_(self, ctx: commands.Context) -> None:
        await self.answer(ctx, "/start")

    @commands.hybrid_command(name="help", description="Show the commands")
    async def help_(self, ctx: commands.Context) -> None:
        await self.answer(ctx, "/help")

    @commands.hybrid_command(description="Facts, poster and trailer for a movie")
    async def info(self, ctx: commands.Context, *, title: str = "") -> None:
        await self.answer(ctx, f"/info {title}")

    @commands.hybrid_command(description="Find titles")
    async def search(self, ctx: commands.Context, *, text: str = "") -> None:
        await self.answer(ctx, f"/search {text}")

    @commands.hybrid_command(description="Movies like the one you name")
    async def similar(self, ctx: commands.Context, *, title: str = "") -> None:
        await self.answer(ctx, f"/similar {title}")

    @commands.hybrid_command(description="Movies with the vibe of a song")
    async def song(self, ctx: commands.Context, *, song: str = "") -> None:
        await self.answer(ctx, f"/song {song}")

    @commands.hybrid_command(description="Personal picks from your likes and ratings")
    async def recommend(self, ctx: commands.Context, *, filters: str = "") -> None:
        await self.answer(ctx, f"/recommend {filters}")

    @commands.hybrid_command(description="Rate a movie from 0.5 to 5, e.g. /rate Heat 4.5")
    async def rate(self, ctx: commands.Context, *, title_and_stars: str = "") -> None:
        await self.answer(ctx, f"/rate {title_and_stars}")

    @commands.hybrid_command(description="Your watchlist: add <title>, remove <title>, or list")
    async def watchlist(self, ctx: commands.Context, *, args: str = "") -> None:
        await self.answer(ctx, f"/watchlist {args}")

    @commands.hybrid_command(description="Delete everything I stored about you (asks first)")
    async def forget(self, ctx: commands.Context) -> None:
        await self.answer(ctx, "/forget")

    @commands.hybrid_command(description="Usage numbers (admins only)")
    async def stats(self, ctx: commands.Context) -> None:
        await self.answer(ctx, "/stats")

    # -- listeners ---------------------------------------------------------------------
    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """A plain movie title in a DM, or when the bot is mentioned, works like /info."""
        if message.author.bot or self.bot.user is None:
            return
        prefixes = await self.bot.get_prefix(message)
        prefixes = [prefixes] if isinstance(prefixes, str) else prefixes
        if any(message.content.startswith(p) for p in prefixes):
            return   # a command: the command framework handles it
        mentioned = self.bot.user in message.mentions
        if not (mentioned or message.guild is None):
            return
        text = message.content.replace(f"<@{self.bot.user.id}>", "").replace(
            f"<@!{self.bot.user.id}>", "").strip()
        wait = self.retry_after(message)
        if wait:
            await message.channel.send(slow_down(wait))
            return
        reply = await self.layer.handle(text, self.who(message.author))
        if reply is not None:
            await self.send(message.channel, reply)

    @commands.Cog.listener()
    async def on_command_error(self, ctx: commands.Context, error: commands.CommandError) -> None:
        if isinstance(error, commands.CommandNotFound):
            rest = ctx.message.content[len(ctx.prefix or ""):].strip()
            if (ctx.prefix or "").startswith("<@"):
                await self.answer(ctx, rest)          # "@MovieBot heat": a plain title
            else:
                # "!foo bar": the command layer's usual "I don't know /foo" answer.
                await self.answer(ctx, "/" + rest)
            return
        if isinstance(error, commands.CommandOnCooldown):
            await ctx.send(slow_down(error.retry_after))
            return
        log.error("command failed: %r", error, exc_info=error)
        try:
            await ctx.send(OOPS)
        except discord.HTTPException:
            pass

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        if interaction.type is not discord.InteractionType.component:
            return
        custom_id = (interaction.data or {}).get("custom_id", "")
        if not custom_id.startswith(ACTION_PREFIX):
            return
        ref = None
        if interaction.message is not None:
            ref = MessageRef(PLATFORM, str(interaction.message.channel.id), str(interaction.message.id))
        reply = await self.layer.press(custom_id[len(ACTION_PREFIX):], self.who(interaction.user),
                                       message_ref=ref, event_id=str(interaction.id))
        if reply is None:
            await interaction.response.defer()
            return
        if reply.text and not reply.cards and not reply.buttons:
            # A small confirmation ("Saved 👍") only for the presser.
            await interaction.response.send_message(reply.text[:2000], ephemeral=True)
            return
        await interaction.response.defer()
        if interaction.channel is not None:
            await self.send(interaction.channel, reply)

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        await self._reaction(payload, added=True)

    @commands.Cog.listener()
    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        await self._reaction(payload, added=False)

    async def _reaction(self, payload: discord.RawReactionActionEvent, added: bool) -> None:
        if self.bot.user is not None and payload.user_id == self.bot.user.id:
            return   # our own hint reactions
        name = payload.member.display_name if payload.member else ""
        who = User(PLATFORM, str(payload.user_id), name,
                   is_admin=is_admin(self.admins, str(payload.user_id)))
        ref = MessageRef(PLATFORM, str(payload.channel_id), str(payload.message_id))
        try:
            await self.layer.reaction(who, ref, str(payload.emoji), added=added)
        except Exception:  # noqa: BLE001 - the gateway will not send it again
            # Typically the database is down. Discord keeps the reactions, so re-read
            # this message through REST later instead of losing the event.
            log.warning("reaction on %s not stored yet; will re-read it", ref, exc_info=True)
            self._dirty.add(ref)
            if self._retry_task is None or self._retry_task.done():
                self._retry_task = asyncio.create_task(self._retry_dirty_later())

    async def _retry_dirty_later(self) -> None:
        delay = self.retry_every
        while self._dirty and not self.bot.is_closed():
            await asyncio.sleep(delay)
            await self.retry_dirty()
            delay = min(delay * 2, 300.0)

    async def retry_dirty(self) -> int:
        """Re-read messages whose reactions could not be stored; returns how many now are."""
        done = 0
        for ref in list(self._dirty):
            try:
                await self.reconcile_message(ref)
            except Exception:  # noqa: BLE001 - still failing: keep it for the next round
                log.info("re-reading %s failed again", ref)
                continue
            self._dirty.discard(ref)
            done += 1
        return done

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        if not self._reconciled:      # on_ready fires again after reconnects
            self._reconciled = True
            try:
                await self.reconcile()
            except Exception:  # noqa: BLE001 - a failed catch-up must not stop the bot
                log.exception("reaction reconciliation failed")

    async def reconcile(self, limit: int = 200) -> int:
        """Re-read reactions on recent recommendation messages; returns messages checked."""
        since = datetime.now(UTC) - timedelta(days=self.reconcile_days)
        sent = await self.layer.recent_messages(PLATFORM, since)
        checked = 0
        for item in sent[-limit:]:
            if await self.reconcile_message(MessageRef(PLATFORM, item.chat_id, item.message_id)):
                checked += 1
        log.info("reconciled reactions on %d recent messages", checked)
        return checked

    async def reconcile_message(self, ref: MessageRef) -> bool:
        """Make the stored reactions on one message match Discord's; False if it is gone."""
        try:
            channel = (self.bot.get_channel(int(ref.chat_id))
                       or await self.bot.fetch_channel(int(ref.chat_id)))
            message = await channel.fetch_message(int(ref.message_id))
        except (discord.NotFound, discord.Forbidden):
            return False
        present: dict[str, tuple[User, set[str]]] = {}
        for reaction in message.reactions:
            async for user in reaction.users():
                if self.bot.user is not None and user.id == self.bot.user.id:
                    continue
                entry = present.setdefault(str(user.id), (self.who(user), set()))
                entry[1].add(str(reaction.emoji))
        await self.layer.sync_reactions(ref, present)
        return True
