"""The store's tables (SQLAlchemy 2.x declarative models).

The schema itself is created by the Alembic migrations in ``migrations/versions``; these
models are what the queries use. Keep the two in step: a change here needs a new migration.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite has no BIGINT autoincrement; on PostgreSQL event ids may exceed 2**31.
BigId = BigInteger().with_variant(Integer, "sqlite")


class UTCDateTime(TypeDecorator):
    """Timestamps stored as naive UTC, returned timezone-aware.

    SQLite drops time zones and asyncpg refuses naive values for timestamptz, so storing
    naive UTC everywhere is the one representation both back-ends agree on.
    """

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("platform", "platform_user_id", name="uq_users_platform_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(32))
    platform_user_id: Mapped[str] = mapped_column(String(128))
    display_name: Mapped[str | None] = mapped_column(String(256), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # ISO 3166-1 alpha-2, set with /country (migration 0004); None: not chosen
    country: Mapped[str | None] = mapped_column(String(2), nullable=True)


# Partial unique index: at most one active row per (message, user, signal) reaction.
# The same text is the ON CONFLICT target's WHERE (SQLite wants them to match).
ACTIVE_REACTION = "kind = 'reaction' AND NOT retracted"


class FeedbackRow(Base):
    """One feedback event, with its identity in typed columns.

    A reaction (``kind == "reaction"``) is identified by the message it is on
    (``platform, chat_id, message_id``), its user and its signal: at most one such row is
    active (not retracted) at a time, so a redelivered reaction stores nothing new and a
    reaction removed and added again is a new row. Any other event (a button press, a
    /rate) is identified by ``(user_id, event_id)``: the platform's id for the event (a
    callback query or interaction id) or, where there is none, a random one chosen once.
    """

    __tablename__ = "feedback_events"
    __table_args__ = (
        Index("ix_feedback_user_movie", "user_id", "movie_id"),
        Index("ix_feedback_created_at", "created_at"),
        Index("uq_feedback_event", "user_id", "event_id", unique=True),
        Index("uq_feedback_reaction", "platform", "chat_id", "message_id", "user_id", "signal",
              unique=True, sqlite_where=text(ACTIVE_REACTION),
              postgresql_where=text(ACTIVE_REACTION)),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    movie_id: Mapped[int] = mapped_column(Integer)
    signal: Mapped[str] = mapped_column(String(32))
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    source: Mapped[str] = mapped_column(String(64), default="")
    kind: Mapped[str] = mapped_column(String(16), default="other")
    # The message the event is about (a reaction's message, the card a button was on).
    platform: Mapped[str | None] = mapped_column(String(32), nullable=True)
    chat_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    message_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    event_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    retracted: Mapped[bool] = mapped_column(Boolean, default=False)
    retracted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ReactionStateRow(Base):
    """Whether one user has one emoji on one message, and the platform's sequence number
    (Telegram: the update id) of the change that said so. The like/dislike rows in
    ``feedback_events`` follow from the emoji present (see ``Store._record_reactions``)."""

    __tablename__ = "reaction_states"
    __table_args__ = (Index("ix_reaction_states_user", "user_id"),)

    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    emoji: Mapped[str] = mapped_column(String(64), primary_key=True)
    signal: Mapped[str] = mapped_column(String(32))
    present: Mapped[bool] = mapped_column(Boolean)
    seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    movie_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SentMessageRow(Base):
    __tablename__ = "sent_messages"
    __table_args__ = (
        UniqueConstraint("platform", "chat_id", "message_id", name="uq_sent_messages_ref"),
        Index("ix_sent_messages_platform_created", "platform", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[str] = mapped_column(String(128))
    message_id: Mapped[str] = mapped_column(String(128))
    movie_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    context: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WatchlistRow(Base):
    __tablename__ = "watchlist"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    movie_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class JobRunRow(Base):
    __tablename__ = "job_runs"
    __table_args__ = (Index("ix_job_runs_name_finished", "name", "finished_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# At most one party per chat is open (gathering, onboarding or voting); the same text is
# the ON CONFLICT target's WHERE.
OPEN_PARTY = "state IN ('open', 'onboarding', 'voting')"


class PartyRow(Base):
    """One watch party (`bot.party`): the chat it is in, its state and next deadline as
    columns; members, candidates and votes in ``data``. ``version`` is bumped by every
    save (compare-and-set)."""

    __tablename__ = "parties"
    __table_args__ = (
        Index("uq_parties_open_chat", "platform", "chat_id", unique=True,
              sqlite_where=text(OPEN_PARTY), postgresql_where=text(OPEN_PARTY)),
        Index("ix_parties_due", "platform", "state", "deadline"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[str] = mapped_column(String(128))
    host: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16))
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
