"""The front-end contract: what every chat platform does the same way.

A front-end (Telegram, Discord, the console, a web chat) subclasses `Frontend` and only
translates: it turns a platform event into an `Incoming` and calls one of

    await self.text(ev, "toy story")                 # a chat line
    await self.command(ev, "rate", {"title": "Heat", "stars": 4.5})   # typed (slash) command
    await self.command_text(ev, "rate", "Heat 4.5")  # a typed command's argument text ("!rate Heat 4.5")
    await self.press(ev, payload)                    # a button's payload (decoded by bot.actions)

and it implements two primitives that draw on the platform:

    async def send(self, ev, reply) -> list[Sent]    # render and send; the messages sent
    async def toast(self, ev, text | None)           # a short private answer to a press (None: just acknowledge)

(optionally `send_done(ev, sent)`, called once the sent cards are remembered).

Everything else is owned here, once:
  * the per-user rate limit (`UserRateLimit`, a token bucket; one "slow down" per burst);
  * the admin check (`is_admin`, from MOVIEBOT_ADMINS: "telegram:123,discord:456");
  * the one apology for unexpected errors (`APOLOGY`);
  * the reply-or-toast rule: a short text-only answer to a button press is a toast
    (Telegram) / ephemeral message (Discord); anything else is a new message;
  * remember-before-confirm: every sent movie card is remembered (message -> movie, so a
    reaction days later resolves) before the platform event counts as handled. With
    ``defer_memory = True`` (Telegram) the writes are queued and the adapter awaits
    `settle(key)` before it confirms the update; otherwise they are stored inline, before
    `send_done` (where Discord adds its 👍/👎 hint reactions).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from . import party
from .actions import Action
from .cards import group_list
from .commands import Chat, CommandLayer, MessageRef, User
from .replies import APOLOGY, Reply
from .store import is_outage

log = logging.getLogger("moviebot.frontend")

SLOW_DOWN = "You're going fast 🙂 Give me a few seconds and try again."
# Reactions per user: generous (a user going down a list of cards taps fast) but bounded.
REACTION_RATE = 30
REACTION_PERIOD = 30.0
ADMITTED_KEYS = 10_000     # recent event keys whose retries skip the rate limit
TOAST_LIMIT = 180          # characters: Telegram shows up to 200 in a callback answer
__all__ = ["APOLOGY", "SLOW_DOWN", "Frontend", "Incoming", "Sent", "UserRateLimit", "is_admin",
           "is_toast"]


def is_admin(admins: frozenset[str], platform: str, user_id: str) -> bool:
    """MOVIEBOT_ADMINS holds "platform:id" entries only: a bare id would make that number
    an admin on every platform (settings refuse one, see `bot.settings.parse_admins`)."""
    return f"{platform}:{user_id}" in admins


def is_toast(reply: Reply) -> bool:
    """A short text-only answer to a button press is shown as a toast, not a message."""
    return bool(reply.text) and not reply.cards and not reply.buttons and len(reply.text) <= TOAST_LIMIT


class UserRateLimit:
    """Per-user command rate limit: a token bucket per user, in memory; ``rate`` commands
    per ``per`` seconds (``rate <= 0``: no limit). The platform throttles what the bot
    *sends*; this limits what one user can make it *do*, so a single chat hammering
    /recommend cannot starve everyone else on a 2-core box."""

    def __init__(self, rate: int = 8, per: float = 10.0, max_users: int = 50_000):
        self.rate = rate
        self.per = per
        self.max_users = max_users
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # user -> (tokens, t)
        self._warned: set[str] = set()

    def allow(self, user: str, now: float | None = None) -> bool:
        if self.rate <= 0:
            return True
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.pop(user, (float(self.rate), now))
        tokens = min(float(self.rate), tokens + (now - last) * self.rate / self.per)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
            self._warned.discard(user)
        self._buckets[user] = (tokens, now)
        if len(self._buckets) > self.max_users:   # forget the least recently seen user
            old, _ = self._buckets.popitem(last=False)
            self._warned.discard(old)
        return allowed

    def first_refusal(self, user: str) -> bool:
        """True once per burst, so a flooding user gets one "slow down", not one per message."""
        if user in self._warned:
            return False
        self._warned.add(user)
        return True


@dataclass(slots=True)
class Incoming:
    """One platform event, as the adapter translated it."""

    user: User
    chat: Any = None                    # where answers go (a chat id, a channel, a Context)
    source: Any = None                  # the platform object a toast answers (callback query, interaction)
    key: Any = None                     # the event's id for `settle` (Telegram: the update id)
    reply_to: Any = None                # the message a new answer replies to, if any
    message_ref: MessageRef | None = None   # the message a pressed button is on
    # The platform's id of the event (Telegram update, Discord interaction or message): the
    # command layer derives its writes' keys from it, so a redelivery stores them once.
    event_id: str | None = None
    # The chat as the command layer sees it (its id, and whether it is a group).
    where: Chat | None = None


@dataclass(slots=True)
class Sent:
    """One message `send` put out, and the movie its card shows (None: not a card)."""

    ref: MessageRef
    movie_id: int | None
    message: Any = None       # the platform's own message object, if `send_done` needs it


class Frontend:
    platform: ClassVar[str] = ""
    defer_memory: ClassVar[bool] = False     # True: `settle(key)` stores the sent cards

    def __init__(self, layer: CommandLayer, *, admins: frozenset[str] = frozenset(),
                 user_rate: int = 8, user_period: float = 10.0,
                 reaction_rate: int = REACTION_RATE, reaction_period: float = REACTION_PERIOD):
        self.layer = layer
        self.admins = admins
        self.limits = UserRateLimit(user_rate, user_period)
        self.reaction_limits = UserRateLimit(reaction_rate, reaction_period)
        self._admitted: OrderedDict[Any, None] = OrderedDict()   # event keys let through
        self._unstored: dict[Any, list[Awaitable]] = {}   # event key -> card memory writes

    # -- what an adapter implements -------------------------------------------------
    async def send(self, ev: Incoming, reply: Reply) -> list[Sent]:
        """Render ``reply`` and send it to ``ev.chat``; return what was sent."""
        raise NotImplementedError

    async def toast(self, ev: Incoming, text: str | None) -> None:
        """Answer a button press privately with ``text`` (None: acknowledge silently)."""
        raise NotImplementedError

    async def send_done(self, ev: Incoming, sent: list[Sent]) -> None:
        """Called after the sent cards are remembered (or queued); optional."""

    async def edit(self, ev: Incoming, reply: Reply) -> None:
        """Redraw the message the pressed button is on (``ev.message_ref``) as ``reply``,
        and tell the presser ``reply.notice`` privately. This fallback answers with a new
        message instead; adapters that can edit messages override it."""
        await self.toast(ev, reply.notice or None)
        await self.deliver(ev, Reply(text=reply.text, buttons=reply.buttons,
                                     context=reply.context))

    async def post(self, chat_id: str, reply: Reply) -> list[Sent]:
        """Send ``reply`` to a chat unprompted (a party's clock ran out); optional."""
        raise NotImplementedError

    # -- owned here -------------------------------------------------------------------
    def user(self, user_id: str, display_name: str = "", locale: str = "") -> User:
        return User(self.platform, user_id, display_name,
                    is_admin=is_admin(self.admins, self.platform, user_id), locale=locale or "")

    async def text(self, ev: Incoming, text: str) -> None:
        if await self._admit(ev) and not await self._answered_before(ev):
            reply = await self.layer.handle(text, ev.user, event_id=ev.event_id, chat=ev.where)
            if reply is not None:    # None: e.g. a group command for another bot
                await self.deliver(ev, reply)

    async def command(self, ev: Incoming, name: str, values: Mapping[str, Any]) -> None:
        if await self._admit(ev) and not await self._answered_before(ev):
            await self.deliver(ev, await self.layer.run(name, values, ev.user,
                                                        event_id=ev.event_id, chat=ev.where))

    async def command_text(self, ev: Incoming, name: str, text: str) -> None:
        if await self._admit(ev) and not await self._answered_before(ev):
            await self.deliver(ev, await self.layer.run_text(name, text, ev.user,
                                                             event_id=ev.event_id, chat=ev.where))

    async def press(self, ev: Incoming, payload: str) -> None:
        if not self._allowed(ev):
            await self.toast(ev, SLOW_DOWN)      # a press must always be answered
            return
        if await self._answered_before(ev):
            return
        reply = await self.layer.press(payload, ev.user, message_ref=ev.message_ref,
                                       event_id=ev.event_id, chat=ev.where)
        if reply is not None and reply.replace and ev.message_ref is not None:
            await self.edit(ev, reply)      # live counts, the member list
            await self._remember(ev, [])
            return
        if reply is not None and is_toast(reply):
            await self.toast(ev, reply.text)
            await self._remember(ev, [self._mark_answered(ev)])
            return
        if ev.chat is None and reply is not None:
            # a button on a message the bot cannot post beside (a card shared inline)
            await self.elsewhere(ev, payload, reply)
            await self._remember(ev, [])
            return
        await self.toast(ev, None)
        if reply is not None:
            await self.deliver(ev, reply)

    async def elsewhere(self, ev: Incoming, payload: str, reply: Reply) -> None:
        """A press whose answer (cards) cannot be posted where the button is. Telegram
        overrides this with a link into the bot's own chat; the fallback says so."""
        await self.toast(ev, "Open a chat with me to see that.")

    async def follow(self, ev: Incoming, action: Action) -> None:
        """A deep link opened the bot's chat (``/start more-318``): answer as the button
        it came from would have, as messages in this chat."""
        if await self._admit(ev) and not await self._answered_before(ev):
            reply = await self.layer.press(action, ev.user, event_id=ev.event_id, chat=ev.where)
            if reply is not None:
                await self.deliver(ev, reply)

    async def deliver(self, ev: Incoming, reply: Reply) -> None:
        """Send ``reply`` and remember its cards before the event may be confirmed.

        In a group a list of cards goes out as one message (see `group_list`): a group
        allows a bot about 20 messages a minute on Telegram, and a channel scrolls away."""
        if ev.where is not None and ev.where.group:
            reply = group_list(reply)
        sent = await self.send(ev, reply)
        await self._remember(ev, self._memory(reply, sent))
        await self.send_done(ev, sent)

    def _memory(self, reply: Reply, sent: list[Sent]) -> list[Awaitable]:
        memory = [self.layer.remember(s.ref, s.movie_id, reply.context)
                  for s in sent if s.movie_id is not None]
        if reply.remember and sent and sent[0].movie_id is None:
            memory.append(self.layer.remember(sent[0].ref, None, reply.context))
        return memory

    async def announce(self, chat_id: str, reply: Reply) -> None:
        """Post ``reply`` in a group unprompted and remember what it shows."""
        reply = group_list(reply)
        sent = await self.post(chat_id, reply)
        await _all(self._memory(reply, sent))
        await self.send_done(Incoming(self.user("0")), sent)

    async def party_clock(self, every: float = 1.0) -> None:
        """Background task: move on the parties whose time ran out (the automatic start,
        the end of a vote) and post what happened. The deadlines are in the store, so a
        restarted bot picks up where the old one stopped."""
        while True:
            await asyncio.sleep(every)
            try:
                for chat_id, reply in await party.desk(self.layer).due(self.platform):
                    await self.announce(chat_id, reply)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the clock must keep ticking
                if is_outage(exc):
                    log.info("party clock: the database is unreachable; trying again")
                else:
                    log.exception("party clock failed")

    async def _remember(self, ev: Incoming, memory: list[Awaitable]) -> None:
        """Store the sent cards, then mark the event answered (never the mark alone: a
        retry after a failed card write must answer again)."""
        async def then_mark() -> None:
            await _all(memory)
            await self._mark_answered(ev)

        if self.defer_memory:
            self._unstored.setdefault(ev.key, []).append(then_mark())
        else:
            await then_mark()

    async def _mark_answered(self, ev: Incoming) -> None:
        await self.layer.feedback.mark_answered(self.platform, ev.event_id)

    async def _answered_before(self, ev: Incoming) -> bool:
        """A redelivered event that was answered already (its reply went out, the
        platform never got the confirmation): answer nothing, write nothing."""
        if await self.layer.feedback.answered(self.platform, ev.event_id):
            log.info("%s event answered before; not answering it twice", self.platform)
            return True
        return False

    async def settle(self, key: Any) -> None:
        """Store the cards sent for event ``key``; raises if one could not be stored (then
        the event must not be confirmed: the platform delivers it again)."""
        pending = self._unstored.pop(key, None)
        if pending:
            await _all(pending)

    async def apologise(self, ev: Incoming, error: BaseException) -> None:
        """An unexpected error: log it, and say sorry (best effort), never a traceback."""
        log.error("%s event failed: %r", self.platform, error, exc_info=error)
        try:
            await self.send(ev, Reply(text=APOLOGY, is_error=True))
        except Exception:  # noqa: BLE001 - the apology is best effort
            pass

    async def reaction(self, ev: Incoming, ref: MessageRef, changes: Mapping[str, bool],
                       *, at: Any = None, seq: int | None = None) -> None:
        """Emoji put on (True) or taken off (False) one of our messages by ``ev.user``.

        Rate-limited per user like commands, in a bucket of its own (one user toggling
        500 times must not write 500 rows). A refused change is not stored; on Telegram
        the next accepted one carries the user's whole emoji set and repairs the state."""
        if not self.reaction_limits.allow(ev.user.user_id):
            if self.reaction_limits.first_refusal(ev.user.user_id):
                log.info("%s reactions rate-limited for one user", self.platform)
            return
        for emoji, added in changes.items():
            await self.layer.reaction(ev.user, ref, emoji, added=added, at=at, seq=seq)

    def _allowed(self, ev: Incoming) -> bool:
        """The rate limit, charged once per event: a retry of an event already admitted
        (the Bot API was down when it was answered) must not be refused as a flood."""
        if ev.key is not None and ev.key in self._admitted:
            return True
        if not self.limits.allow(ev.user.user_id):
            return False
        if ev.key is not None:
            self._admitted[ev.key] = None
            if len(self._admitted) > ADMITTED_KEYS:
                self._admitted.popitem(last=False)
        return True

    async def _admit(self, ev: Incoming) -> bool:
        user_id = ev.user.user_id
        if self._allowed(ev):
            return True
        if self.limits.first_refusal(user_id):
            await self.send(ev, Reply(text=SLOW_DOWN))
        return False


async def _all(pending: list[Awaitable]) -> None:
    """Await every write (they share the store's batches); raise the first failure."""
    results = await asyncio.gather(*pending, return_exceptions=True)
    error = next((r for r in results if isinstance(r, BaseException)), None)
    if error is not None:
        raise error
