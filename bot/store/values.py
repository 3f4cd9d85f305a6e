"""The store's value types: what goes in and comes out of a `FeedbackStore`."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import exc as sa_exc

from engine.errors import InvalidInput, MovieBotError

# Signals that describe taste, i.e. what Engine.recommend understands. Others ("watchlist",
# "skip", ...) are kept as events for analysis but are not part of a user's history.
TASTE_SIGNALS = ("like", "dislike", "rating")


class StoreUnavailable(MovieBotError):
    """The database cannot be reached; the bot keeps answering without it."""

    def __str__(self) -> str:
        return ("I can't reach my memory right now, so I can't look up your likes. "
                "Please try again in a minute.")


# How a (non-reaction) event reached us; reactions are rows of kind "reaction".
EVENT_KINDS = ("button", "command", "other")


@dataclass(frozen=True)
class MessageKey:
    """One message on a platform: what a reaction is on, or the card a button was on."""

    platform: str
    chat_id: str
    message_id: str

    @classmethod
    def of(cls, ref: Any) -> MessageKey:
        """From anything with ``platform``, ``chat_id`` and ``message_id`` (a MessageRef)."""
        if isinstance(ref, MessageKey):
            return ref
        return cls(str(ref.platform), str(ref.chat_id), str(ref.message_id))


@dataclass
class FeedbackEvent:
    """One rating or button press by a user about a movie (reactions: `ReactionChange`).

    ``event_id`` identifies the event for its user: storing the same ``(user, event_id)``
    twice is a no-op, which is what makes redeliveries and spool replays safe. Pass the
    platform's id for the event (a Telegram callback query id, a Discord interaction id);
    without one, a random id is chosen once, so the event's spool line replays once.

    ``user_id`` may be None when ``platform`` and ``platform_user_id`` are given: the store
    then finds or creates the user when it writes the event (useful while the database is
    down and no id can be looked up).

    ``replaces``: event ids of the same user's earlier events this one takes back (a party
    vote moved to another film): the store retracts them in the same transaction as it
    stores this one, so a replay or redelivery ends in the same state.
    """

    user_id: int | None
    movie_id: int
    signal: str                       # "like", "dislike", "rating", "watchlist", ...
    value: float | None = None        # the rating for "rating"; optional otherwise
    source: str = ""                  # free text for people reading the table; never parsed
    message: MessageKey | None = None  # the message the event refers to (a card)
    event_id: str = ""
    kind: str = "other"               # one of EVENT_KINDS
    created_at: datetime | None = None
    platform: str | None = None
    platform_user_id: str | None = None
    replaces: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.replaces = tuple(str(e) for e in self.replaces or ())
        if not self.event_id:
            self.event_id = secrets.token_hex(12)
        if len(self.event_id) > 255:
            raise ValueError("FeedbackEvent.event_id is longer than 255 characters")
        if self.message is not None:
            self.message = MessageKey.of(self.message)
        if self.kind not in EVENT_KINDS:
            raise ValueError(f"FeedbackEvent.kind must be one of {EVENT_KINDS}")
        _check_signal(self.signal)
        if self.signal == "rating":
            if self.value is None or not 0.5 <= float(self.value) <= 5.0:
                raise InvalidInput("Ratings go from 0.5 to 5 stars.")
        if self.user_id is None and not (self.platform and self.platform_user_id):
            raise ValueError("FeedbackEvent needs user_id or platform + platform_user_id")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe form (the spool's line format)."""
        data = dict(self.__dict__)
        data["created_at"] = self.created_at.isoformat() if self.created_at else None
        data["message"] = self.message.__dict__ if self.message else None
        data["replaces"] = list(self.replaces)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeedbackEvent:
        data = dict(data)
        if data.get("created_at"):
            data["created_at"] = datetime.fromisoformat(data["created_at"])
        if data.get("message"):
            data["message"] = MessageKey(**data["message"])
        return cls(**data)


@dataclass
class ReactionChange:
    """A user put an emoji on a message (``added``) or took it off.

    State is kept per (message, user, emoji); the like/dislike a movie gets from a
    (message, user) is derived from the set of emoji on it now, so removing ❤ from a card
    that still has 👍 keeps the like. ``seq`` is the platform's own order of the change
    (Telegram: the update id; the same for every emoji one update changes): a change whose
    ``seq`` is not above the one stored for its emoji is a redelivery or stale and changes
    nothing, so any replay (redelivery after kill -9, the spool) ends in the same state.
    Wall-clock time never orders changes (Telegram's has one-second resolution). Without a
    ``seq`` (Discord, which does not redeliver) changes apply in arrival order.

    ``emoji`` empty: the change is about ``signal`` as a whole (spool lines written before
    per-emoji state, and the Discord reconciliation): removing takes every emoji of that
    signal off.
    """

    message: MessageKey
    platform_user_id: str
    signal: str
    added: bool
    movie_id: int | None = None       # the movie of the message (needed to add)
    at: datetime | None = None
    user_id: int | None = None        # the store's id, when known
    source: str = ""
    emoji: str = ""
    seq: int | None = None

    def __post_init__(self) -> None:
        self.message = MessageKey.of(self.message)
        if len(self.emoji) > 64:
            raise InvalidInput("That reaction is not one I know.")
        self.platform_user_id = str(self.platform_user_id)
        _check_signal(self.signal)
        if self.added and self.movie_id is None:
            raise ValueError("adding a reaction needs the movie_id of its message")

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["message"] = self.message.__dict__
        data["at"] = self.at.isoformat() if self.at else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReactionChange:
        data = dict(data)
        data["message"] = MessageKey(**data["message"])
        if data.get("at"):
            data["at"] = datetime.fromisoformat(data["at"])
        return cls(**data)


def _check_signal(signal: str) -> None:
    if not signal or len(signal) > 32:
        raise InvalidInput(f"“{signal}” is not a feedback signal I know.")


def is_outage(exc: BaseException) -> bool:
    """True when the database cannot be reached (as opposed to bad data or a bug): the
    friendly `StoreUnavailable`, or a driver error that means "unreachable"."""
    if isinstance(exc, StoreUnavailable):
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        return exc.connection_invalidated or isinstance(
            exc, sa_exc.OperationalError | sa_exc.InterfaceError)
    return isinstance(exc, OSError | TimeoutError | ConnectionError | sa_exc.TimeoutError)


@dataclass
class SentMessage:
    platform: str
    chat_id: str
    message_id: str
    movie_id: int | None
    context: dict = field(default_factory=dict)
    created_at: datetime | None = None


@dataclass
class JobRun:
    id: int
    name: str
    status: str                       # "published", "rejected", "failed", "skipped", "ok"...
    details: dict
    finished_at: datetime


PARTY_OPEN_STATES = ("open", "onboarding", "voting")


@dataclass
class PartyRecord:
    """One watch party as the store keeps it (see `bot.party` for what ``data`` holds).

    ``state``: "open" (gathering members), "onboarding" (new members pick favourites),
    "voting", "done" or "cancelled". ``deadline``: when the clock moves it on by itself
    (the automatic start, the end of a vote); None: it waits for the host.
    ``version``: the save it was read at; `Store.save_party` only succeeds on that one.
    """

    platform: str
    chat_id: str
    host: str                          # the host's platform user id
    state: str = "open"
    data: dict = field(default_factory=dict)
    deadline: datetime | None = None
    id: int | None = None
    version: int = 0
    created_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.state in PARTY_OPEN_STATES
