"""`FeedbackDesk`: likes, reactions and the memory of sent cards, for the command layer.

The command layer holds one and delegates to it (`CommandLayer.reaction`, `.remember`,
`.sync_reactions`, `.recent_messages`, `.record`). It turns what the front-ends report
into the store's typed values: a `FeedbackEvent` for a button press or a /rate, a
`ReactionChange` for an emoji put on or taken off a card. Identity is typed, so a
platform delivering the same event twice stores it once:

* a button press is ``(user, event_id)``: the platform's id for the press;
* a reaction is state per (message, user, emoji), ordered by the platform's own sequence
  (Telegram: the update id), never the clock; the like/dislike of a card follows from the
  emoji on it now (see `ReactionChange`);
* a /rate (or any command's write) is ``(user, <platform event id>:<what>)``: the front-end
  passes the update or interaction id down (`CommandLayer.handle(..., event_id=...)`),
  and `event_key` derives the write's key from it, so a redelivered /rate stores once.
"""

from __future__ import annotations

import contextlib
import logging
from collections import OrderedDict
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import datetime
from typing import TYPE_CHECKING

from engine.errors import InvalidInput

from .memory import MessageBatcher
from .parsing import emoji_signal
from .store import (
    FeedbackEvent,
    FeedbackStore,
    MessageKey,
    ReactionChange,
    SentMessage,
    is_outage,
)

if TYPE_CHECKING:  # the command layer imports this module
    from .commands import MessageRef, User

log = logging.getLogger("moviebot.feedback")

RECENT_CARDS = 20_000      # card -> movie mappings kept in memory

# The platform's id of the event being handled (a Telegram update, a Discord interaction),
# set by the command layer around one command so its writes get stable keys.
CURRENT_EVENT: ContextVar[str | None] = ContextVar("moviebot_event", default=None)

# Events already answered are remembered as "sent messages" in this pseudo-chat, so the
# marker shares the cards' batched writes and their spool, and a redelivered update (kill -9
# after the reply went out, before Telegram got the confirmation) is not answered twice.
ANSWERED = "~answered"

NO_STORE = ("I have no memory configured here, so I can't keep likes, ratings or a "
            "watchlist.")


class FeedbackDesk:
    """``store`` is optional: without it feedback is off (`need_store` says so)."""

    def __init__(self, store: FeedbackStore | None):
        self.store = store
        self._messages = MessageBatcher(store) if store is not None else None
        self._recent: OrderedDict[MessageKey, int] = OrderedDict()   # card -> movie id

    @staticmethod
    @contextlib.contextmanager
    def event(event_id: str | None) -> Iterator[None]:
        """Within this block, `event_key` derives write keys from ``event_id`` (None: keep
        the event already set, e.g. `handle` calling `run_text`)."""
        if event_id is None:
            yield
            return
        token = CURRENT_EVENT.set(event_id)
        try:
            yield
        finally:
            CURRENT_EVENT.reset(token)

    @staticmethod
    def event_key(what: str) -> str | None:
        """A stable idempotency key for the write ``what`` of the event being handled, or
        None (a random one is chosen) where the platform gave no id (the console)."""
        event = CURRENT_EVENT.get()
        return f"{event}:{what}" if event else None

    def need_store(self) -> FeedbackStore:
        if self.store is None:
            raise InvalidInput(NO_STORE)
        return self.store

    async def user_id(self, user: User) -> int:
        return await self.need_store().user_id(user.platform, user.user_id,
                                               user.display_name or None)

    async def _user_id_or_none(self, user: User) -> int | None:
        try:
            return await self.user_id(user)
        except Exception as exc:
            if not is_outage(exc):
                raise
            return None    # database down: the spool finds or creates the user on replay

    async def record(self, user: User, movie_id: int, signal: str,
                     event_id: str | None = None, *, value: float | None = None,
                     kind: str = "other", source: str = "",
                     message_ref: MessageRef | None = None,
                     at: datetime | None = None, replaces: tuple[str, ...] = ()) -> bool:
        """Store a button press, a /rate...; False if ``(user, event_id)`` was stored before.

        ``event_id`` is the platform's id for the event; None when it has none (the event
        then gets a random one: a redelivery of it would count twice). ``replaces``: the
        user's earlier events this one takes back (retracted with it, `FeedbackEvent`).
        """
        store = self.need_store()
        event = FeedbackEvent(await self._user_id_or_none(user), int(movie_id), signal, value,
                              source or user.platform,
                              MessageKey.of(message_ref) if message_ref else None,
                              event_id or "", kind=kind, created_at=at,
                              platform=user.platform, platform_user_id=user.user_id,
                              replaces=replaces)
        return await store.record_feedback(event)

    async def remember(self, ref: MessageRef, movie_id: int | None, context: dict) -> None:
        """Keep what a sent card is about, so a reaction to it resolves (batched)."""
        if self._messages is not None:
            await self._messages.remember(ref.platform, ref.chat_id, ref.message_id,
                                          movie_id, context or {})
            if movie_id is not None:
                self._note_sent(MessageKey.of(ref), movie_id)

    async def recent_messages(self, platform: str, since: datetime) -> list[SentMessage]:
        if self.store is None:
            return []
        return [m for m in await self.store.recent_messages(platform, since)
                if m.chat_id != ANSWERED]

    async def answered(self, platform: str, event_id: str | None) -> bool:
        """True if the event ``event_id`` was answered before (a redelivery)."""
        if self.store is None or not event_id:
            return False
        try:
            return await self.store.lookup_message(platform, ANSWERED, event_id) is not None
        except Exception as exc:
            if not is_outage(exc):
                raise
            return False     # database down: answer (a rare double beats a lost command)

    async def mark_answered(self, platform: str, event_id: str | None) -> None:
        """Remember that ``event_id`` was answered (batched with the cards, spooled if down)."""
        if self._messages is not None and event_id:
            await self._messages.remember(platform, ANSWERED, event_id, None, {})

    def is_recent_card(self, ref: MessageRef) -> bool:
        """A movie card sent lately (known without asking the database)."""
        return MessageKey.of(ref) in self._recent

    def _note_sent(self, message: MessageKey, movie_id: int) -> int:
        # Recent cards are known without the database, so reactions to them still count
        # (spooled) while it is down.
        self._recent[message] = movie_id
        self._recent.move_to_end(message)
        if len(self._recent) > RECENT_CARDS:
            self._recent.popitem(last=False)
        return movie_id

    async def reaction(self, user: User, ref: MessageRef, emoji: str, added: bool,
                       at: datetime | None = None, seq: int | None = None) -> bool:
        """An emoji put on (or taken off) one of our messages; True if it changed what is
        stored (or was spooled). ``at``: when it happened, where the platform says (kept,
        never used for ordering); ``seq``: the platform's order of the change (Telegram:
        the update id), which makes redeliveries and replays harmless.

        Raises (StoreUnavailable...) when it cannot be stored, so the front-end does not
        confirm the update and it is delivered again.
        """
        signal = emoji_signal(emoji)
        if signal is None or self.store is None:
            return False
        message = MessageKey.of(ref)
        if not added:
            # Needs neither the movie nor a new user.
            return await self.store.record_reaction(ReactionChange(
                message, user.user_id, signal, added=False, at=at, emoji=emoji, seq=seq))
        movie_id = self._recent.get(message)
        if movie_id is None:
            sent = await self.store.lookup_message(message.platform, message.chat_id,
                                                   message.message_id)
            if sent is None or sent.movie_id is None:
                return False   # not a movie card (or sent before message memory existed)
            movie_id = self._note_sent(message, sent.movie_id)
        return await self.store.record_reaction(ReactionChange(
            message, user.user_id, signal, added=True, movie_id=movie_id, at=at,
            user_id=await self._user_id_or_none(user), source=f"{message.platform}:reaction",
            emoji=emoji, seq=seq))

    async def sync_reactions(self, ref: MessageRef,
                             present: dict[str, tuple[User, set[str]]]) -> None:
        """Make stored reactions on one message match what the platform shows now
        (reactions added or removed while the bot was offline). ``present`` maps a
        platform user id to the user and the emoji they have on the message."""
        if self.store is None:
            return
        for who, emojis in present.values():
            for emoji in emojis:
                await self.reaction(who, ref, emoji, added=True)
        message = MessageKey.of(ref)
        for platform_user_id, signal in await self.store.active_reactions(message):
            still = present.get(platform_user_id)
            if still is None or signal not in {emoji_signal(e) for e in still[1]}:
                await self.store.record_reaction(
                    ReactionChange(message, platform_user_id, signal, added=False))
