"""The Discord front-end: a discord.py cog for plain titles, button presses and 👍/👎
reactions; the slash (``/info``) and prefix (``!info``) commands are generated from the
command registry (`bot.discord.commands`).

Like the Telegram front-end it only translates: events become `bot.frontend.Incoming`
events for the `Frontend` base (rate limit, admin check, toast rule, card memory, the
apology), slash parameters go to the command layer as typed values, and a `Reply` is
rendered by `render.py`. Reactions use the *raw* events, which fire for messages that are
not in discord.py's cache (a reaction days after the recommendation, after restarts).
Reactions made while the bot was offline are picked up once at start-up by `reconcile()`,
through REST.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

import discord
from discord.ext import commands

from bot import party
from bot.commands import Chat, CommandLayer, MessageRef, User
from bot.frontend import APOLOGY, Frontend, Incoming, Sent
from bot.replies import Reply
from engine.errors import InvalidInput

from .render import ACTION_PREFIX, render

log = logging.getLogger("moviebot.discord")

PLATFORM = "discord"
HINT_REACTIONS = ("👍", "👎")


class MovieCog(Frontend, commands.Cog, name="Movies"):
    platform = PLATFORM

    def __init__(self, bot: commands.Bot, layer: CommandLayer, *, admins: frozenset[str] = frozenset(),
                 hint_reactions: bool = True, reconcile_days: float = 7.0,
                 user_rate: int = 8, user_period: float = 10.0, party_tick: float = 1.0):
        Frontend.__init__(self, layer, admins=admins, user_rate=user_rate, user_period=user_period)
        self.party_tick = party_tick
        self._clock: asyncio.Task | None = None
        self.bot = bot
        self.hint_reactions = hint_reactions
        self.reconcile_days = reconcile_days
        self.retry_every = 30.0               # seconds before re-reading a failed reaction
        self._reconciled = False
        self._dirty: set[MessageRef] = set()  # messages with reactions not stored yet
        self._retry_task: asyncio.Task | None = None
        party.offer_events(layer, PLATFORM, self.schedule_event)

    def who(self, user: discord.abc.User, locale: object = None) -> User:
        """``locale``: an interaction's (discord.Locale, e.g. "pt-BR"); messages carry none."""
        return self.user(str(user.id), user.display_name, str(locale) if locale else "")

    @staticmethod
    def where(channel_id: int | None, guild: object) -> Chat | None:
        """A server channel is a group; a DM is not."""
        if channel_id is None:
            return None
        return Chat(PLATFORM, str(channel_id), group=guild is not None)

    async def cog_unload(self) -> None:
        await self.stop_clock()

    async def stop_clock(self) -> None:
        if self._clock is not None:
            self._clock.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._clock
            self._clock = None

    # -- the Frontend primitives -------------------------------------------------------
    async def send(self, ev: Incoming, reply: Reply) -> list[Sent]:
        """``ev.chat``: a `commands.Context` (prefix or slash command) or a channel."""
        sent = []
        for item in render(reply):
            message = await ev.chat.send(**item.kwargs())
            if message is not None:
                sent.append(Sent(MessageRef(PLATFORM, str(message.channel.id), str(message.id)),
                                 item.movie_id, message))
        return sent

    async def send_done(self, ev: Incoming, sent: list[Sent]) -> None:
        if not self.hint_reactions:
            return
        for item in sent:                      # the cards are remembered by now
            if item.movie_id is None:
                continue
            for emoji in HINT_REACTIONS:       # one tap to react, and it shows it is wanted
                try:
                    await item.message.add_reaction(emoji)
                except discord.HTTPException as exc:
                    log.info("could not add reaction hint: %s", exc)

    async def edit(self, ev: Incoming, reply: Reply) -> None:
        """Redraw the pressed message (Discord's "update message" answer to the press), then
        the notice as an ephemeral follow-up, seen by the presser alone."""
        interaction: discord.Interaction = ev.source
        item = render(Reply(text=reply.text, buttons=reply.buttons))[0]
        await interaction.response.edit_message(content=item.content, view=item.view,
                                                allowed_mentions=discord.AllowedMentions.none())
        if reply.notice:
            await interaction.followup.send(reply.notice[:2000], ephemeral=True)

    async def post(self, chat_id: str, reply: Reply) -> list[Sent]:
        channel = self.bot.get_channel(int(chat_id)) or await self.bot.fetch_channel(int(chat_id))
        sent = []
        for item in render(reply):
            message = await channel.send(**item.kwargs())
            sent.append(Sent(MessageRef(PLATFORM, str(chat_id), str(message.id)), item.movie_id,
                             message))
        return sent

    async def toast(self, ev: Incoming, text: str | None) -> None:
        interaction: discord.Interaction = ev.source
        if text is None:
            await interaction.response.defer()
        else:   # only the presser sees it
            await interaction.response.send_message(text[:2000], ephemeral=True)

    async def schedule_event(self, chat_id: str, event: party.PlannedEvent) -> str:
        """A party's winner as a Guild Scheduled Event in the channel's server (an
        "external" event, located in the channel); returns the event's link."""
        channel = self.bot.get_channel(int(chat_id)) or await self.bot.fetch_channel(int(chat_id))
        guild = getattr(channel, "guild", None)
        if guild is None:
            raise InvalidInput("Events belong to a server: this channel has none.")
        try:
            created = await guild.create_scheduled_event(
                name=event.name[:100], description=event.description[:1000],
                start_time=event.start, end_time=event.end,
                entity_type=discord.EntityType.external,
                privacy_level=discord.PrivacyLevel.guild_only,
                location=f"#{getattr(channel, 'name', 'movies')}"[:100])
        except discord.Forbidden:
            raise InvalidInput("I need the Manage Events permission in this server to "
                               "schedule it.") from None
        return created.url

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
        await self.text(Incoming(self.who(message.author), chat=message.channel,
                                 event_id=f"message:{message.id}",
                                 where=self.where(message.channel.id, message.guild)), text)

    @commands.Cog.listener()
    async def on_command_error(self, ctx: commands.Context, error: commands.CommandError) -> None:
        ev = Incoming(self.who(ctx.author), chat=ctx, event_id=f"message:{ctx.message.id}",
                      where=self.where(ctx.channel.id, ctx.guild))
        if isinstance(error, commands.CommandNotFound):
            rest = ctx.message.content[len(ctx.prefix or ""):].strip()
            if (ctx.prefix or "").startswith("<@"):
                await self.text(ev, rest)             # "@MovieBot heat": a plain title
            else:
                # "!foo bar": the command layer's usual "I don't know /foo" answer.
                name, _, args = rest.partition(" ")
                await self.command_text(ev, name.lower(), args)
            return
        await self.apologise(ev, getattr(error, "original", error))

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
        ev = Incoming(self.who(interaction.user, interaction.locale), chat=interaction.channel,
                      source=interaction, message_ref=ref, event_id=str(interaction.id),
                      where=self.where(interaction.channel_id, interaction.guild_id))
        try:
            await self.press(ev, custom_id[len(ACTION_PREFIX):])
        except Exception as error:  # noqa: BLE001 - the presser must hear about it
            await self.report_failed_press(interaction, error)

    async def report_failed_press(self, interaction: discord.Interaction,
                                  error: BaseException) -> None:
        """Discord never redelivers an interaction, and discord.py has already retried
        transient 5xx/429 answers; what is left failed for good (e.g. no permission to post
        in this channel). Tell the presser alone, and log without the message's content."""
        log.warning("discord press %s could not be answered: %s", interaction.id,
                    type(error).__name__)
        text = APOLOGY
        if isinstance(error, discord.Forbidden):
            text = "I'm not allowed to post in this channel, so I couldn't answer that button."
        try:
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True)
            else:
                await interaction.response.send_message(text, ephemeral=True)
        except discord.HTTPException as exc:
            log.warning("discord press %s: the apology failed too: %s", interaction.id,
                        type(exc).__name__)

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        await self._reaction(payload, added=True)

    @commands.Cog.listener()
    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        await self._reaction(payload, added=False)

    async def _reaction(self, payload: discord.RawReactionActionEvent, added: bool) -> None:
        if self.bot.user is not None and payload.user_id == self.bot.user.id:
            return   # our own hint reactions
        who = self.user(str(payload.user_id), payload.member.display_name if payload.member else "")
        ref = MessageRef(PLATFORM, str(payload.channel_id), str(payload.message_id))
        try:
            await self.reaction(Incoming(who), ref, {str(payload.emoji): added})
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
        if self._clock is None and self.layer.store is not None:
            self._clock = asyncio.create_task(self.party_clock(self.party_tick))
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
