"""`Store`: the bots' persistent state behind one small async API.

Users, feedback events, sent messages, the watchlist and job runs live in one SQL database:
SQLite (WAL mode) by default, PostgreSQL in production. Everything goes through SQLAlchemy
Core, so the same statements run on both; the only dialect-specific piece is
``INSERT ... ON CONFLICT``, which both back-ends spell the same way.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, func, select, text, update

from engine.errors import MovieBotError

from .database import Database, open_database
from .models import (
    ACTIVE_REACTION,
    OPEN_PARTY,
    FeedbackRow,
    JobRunRow,
    PartyRow,
    ReactionStateRow,
    SentMessageRow,
    User,
    WatchlistRow,
    utcnow,
)
from .protocol import FeedbackStore
from .values import (
    PARTY_OPEN_STATES,
    TASTE_SIGNALS,
    FeedbackEvent,
    JobRun,
    MessageKey,
    PartyRecord,
    ReactionChange,
    SentMessage,
)

if TYPE_CHECKING:  # pandas is imported only by the retraining path
    import pandas as pd

log = logging.getLogger("moviebot.store")

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any fixed 64-bit number: two processes opening a fresh PostgreSQL database at once must
# not both run the migrations.
_MIGRATION_LOCK_KEY = 7_406_113_951
# Rows per INSERT when writing many events: big enough to amortise round trips, small
# enough to stay far below PostgreSQL's 32k bind-parameter limit (15 columns per row).
BATCH_ROWS = 1000


def _alembic(conn: Connection, schema: str | None, action: str, revision: str) -> None:
    """Run Alembic's ``upgrade`` or ``downgrade`` (tests) to ``revision`` on ``conn``."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_KEY})
        if schema:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    # Alembic narrates every start at INFO; a bot opening its store should not.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = conn
    cfg.attributes["schema"] = schema
    getattr(command, action)(cfg, revision)


FORGET_JOB = "forget"


class Store(FeedbackStore):
    """Async access to the bots' state. Create with ``await Store.open(url)``.

    Each method is one transaction: a small function over a SQLAlchemy ``Connection``
    that ``self.database`` runs (see database.py for how, per back-end).
    """

    def __init__(self, database: Database, schema: str | None = None):
        self.database = database
        self.schema = schema
        self.dialect = database.dialect

    # -- lifecycle -------------------------------------------------------------
    @classmethod
    async def open(cls, url: str, *, schema: str | None = None,
                   migrate: bool = True, connect_timeout: float = 5.0,
                   statement_timeout: float | None = None) -> Store:
        """Connect, and bring the schema up to date with the Alembic migrations.

        ``url`` and ``schema`` come from the caller's settings (the store reads no
        environment). ``schema`` (PostgreSQL only) keeps every table in that schema,
        created if needed: tests use a fresh one.
        """
        database = open_database(url, schema=schema, connect_timeout=connect_timeout,
                                 statement_timeout=statement_timeout)
        if schema and database.dialect != "postgresql":
            await database.dispose()
            raise MovieBotError(f"A database schema (“{schema}”, MOVIEBOT_DB_SCHEMA) only "
                                f"applies to PostgreSQL; unset it for {database.dialect}.")
        store = cls(database, schema)
        try:
            if migrate:
                await store.migrate()
        except BaseException:
            await database.dispose()
            raise
        return store

    async def migrate(self, revision: str = "head") -> None:
        """Bring the schema up to ``revision`` (tests build old databases with it)."""
        await self.database.run(_alembic, self.schema, "upgrade", revision, write=True)

    async def close(self) -> None:
        await self.database.dispose()

    def _insert(self, table: Any) -> Any:
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        return insert(table)

    # -- users -----------------------------------------------------------------
    async def user_id(self, platform: str, platform_user_id: str,
                      display_name: str | None = None) -> int:
        """The store's id for a platform user, created on first sight."""
        return await self.database.run(self._user_id, platform, str(platform_user_id),
                                       display_name, write=True)

    def _user_id(self, conn: Connection, platform: str, platform_user_id: str,
                 display_name: str | None) -> int:
        where = (User.platform == platform, User.platform_user_id == platform_user_id)
        row = conn.execute(select(User.id, User.display_name).where(*where)).first()
        if row is None:
            stmt = self._insert(User).values(
                platform=platform, platform_user_id=platform_user_id,
                display_name=display_name, created_at=utcnow(),
            ).on_conflict_do_nothing(index_elements=["platform", "platform_user_id"])
            conn.execute(stmt)  # a concurrent first message may have won the race
            return conn.execute(select(User.id).where(*where)).scalar_one()
        if display_name and display_name != row.display_name:
            conn.execute(update(User).where(User.id == row.id).values(display_name=display_name))
        return int(row.id)

    # -- feedback --------------------------------------------------------------
    async def record_feedback(self, event: FeedbackEvent) -> bool:
        """Store one event; False (and nothing changes) if its (user, event_id) is known."""
        return await self.record_feedback_many([event]) == 1

    async def record_feedback_many(self, events: Iterable[FeedbackEvent]) -> int:
        """Store events in batched INSERTs, one transaction; returns how many were new."""
        events = list(events)
        if not events:
            return 0
        return await self.database.run(self._store_events, events, write=True)

    def _store_events(self, conn: Connection, events: list[FeedbackEvent]) -> int:
        users: dict[tuple[str, str], int] = {}
        rows = []
        for ev in events:
            user_id = ev.user_id
            if user_id is None:
                ref = (str(ev.platform), str(ev.platform_user_id))
                if ref not in users:
                    users[ref] = self._user_id(conn, *ref, None)
                user_id = users[ref]
            message = ev.message
            rows.append({
                "user_id": user_id, "movie_id": int(ev.movie_id), "signal": ev.signal,
                "value": None if ev.value is None else float(ev.value),
                "source": ev.source or "", "kind": ev.kind,
                "platform": message.platform if message else ev.platform,
                "chat_id": message.chat_id if message else None,
                "message_id": message.message_id if message else None,
                "event_id": ev.event_id, "created_at": ev.created_at or utcnow(),
                "retracted": False, "retracted_at": None,
            })
        new = 0
        for start in range(0, len(rows), BATCH_ROWS):
            new += len(conn.execute(self._event_stmt, rows[start:start + BATCH_ROWS]).all())
        for ev, row in zip(events, rows, strict=True):
            taken_back = [e for e in ev.replaces if e != ev.event_id]
            if taken_back:      # in order, so a replayed batch ends as the live writes did
                conn.execute(update(FeedbackRow).where(
                    FeedbackRow.user_id == row["user_id"], FeedbackRow.event_id.in_(taken_back),
                    FeedbackRow.retracted.is_(False)).values(retracted=True,
                                                             retracted_at=row["created_at"]))
        return new

    @functools.cached_property
    def _event_stmt(self) -> Any:
        return (self._insert(FeedbackRow)
                .on_conflict_do_nothing(index_elements=["user_id", "event_id"])
                .returning(FeedbackRow.id))

    async def record_reaction(self, change: ReactionChange) -> bool:
        """Add or remove one reaction; True if that changed what is stored."""
        return await self.record_reactions([change]) == 1

    async def record_reactions(self, changes: Iterable[ReactionChange]) -> int:
        """Apply reaction changes in order, in one transaction; returns how many changed."""
        changes = list(changes)
        if not changes:
            return 0
        return await self.database.run(self._record_reactions, changes, write=True)

    def _record_reactions(self, conn: Connection, changes: list[ReactionChange]) -> int:
        users: dict[str, int] = {}
        changed = 0
        for change in changes:
            msg = change.message
            user_id = change.user_id or users.get(change.platform_user_id)
            if user_id is None:
                # A removal by someone unknown has nothing to take back, unless it is
                # ordered (seq): then its state must stop a late redelivered addition.
                if change.added or change.seq is not None:
                    user_id = self._user_id(conn, msg.platform, change.platform_user_id, None)
                else:
                    user_id = conn.execute(select(User.id).where(
                        User.platform == msg.platform,
                        User.platform_user_id == change.platform_user_id)).scalar()
                    if user_id is None:
                        continue
                users[change.platform_user_id] = user_id
            if self._set_reaction_state(conn, user_id, change):
                changed += self._derive_reaction_signals(conn, user_id, change)
        return changed

    def _set_reaction_state(self, conn: Connection, user_id: int, change: ReactionChange) -> bool:
        """Apply one change to the per-emoji state; False if it is stale or changes nothing."""
        msg = change.message
        on_message = (ReactionStateRow.platform == msg.platform,
                      ReactionStateRow.chat_id == msg.chat_id,
                      ReactionStateRow.message_id == msg.message_id,
                      ReactionStateRow.user_id == user_id)
        if change.emoji:
            keys = [change.emoji]
        elif change.added:
            keys = [change.signal]      # a line from before per-emoji state: the signal is the key
        else:                           # the whole signal goes: each of its emoji
            keys = list(conn.execute(select(ReactionStateRow.emoji).where(
                *on_message, ReactionStateRow.signal == change.signal,
                ReactionStateRow.present.is_(True))).scalars()) or [change.signal]
        applied = False
        now = change.at or utcnow()
        for emoji in keys:
            row = conn.execute(select(ReactionStateRow.present, ReactionStateRow.seq,
                                      ReactionStateRow.movie_id)
                               .where(*on_message, ReactionStateRow.emoji == emoji)).first()
            if row is not None:
                if change.seq is not None and row.seq is not None and change.seq <= row.seq:
                    continue                    # a redelivery, or older than what is stored
                if change.seq is None and row.present == change.added:
                    continue                    # unordered and already so
                conn.execute(update(ReactionStateRow).where(
                    *on_message, ReactionStateRow.emoji == emoji).values(
                    present=change.added, updated_at=now,
                    seq=change.seq if change.seq is not None else row.seq,
                    movie_id=change.movie_id if change.movie_id is not None else row.movie_id))
            else:
                conn.execute(self._insert(ReactionStateRow).values(
                    platform=msg.platform, chat_id=msg.chat_id, message_id=msg.message_id,
                    user_id=user_id, emoji=emoji, signal=change.signal, present=change.added,
                    seq=change.seq, movie_id=change.movie_id, updated_at=now))
            applied = True
        return applied or not change.added and not change.emoji

    def _derive_reaction_signals(self, conn: Connection, user_id: int,
                                 change: ReactionChange) -> int:
        """Make the active reaction rows of (message, user) the signals of the emoji on it
        now: a like while any like emoji is there, retracted when the last one goes."""
        msg = change.message
        present = conn.execute(select(ReactionStateRow.signal, ReactionStateRow.movie_id).where(
            ReactionStateRow.platform == msg.platform, ReactionStateRow.chat_id == msg.chat_id,
            ReactionStateRow.message_id == msg.message_id, ReactionStateRow.user_id == user_id,
            ReactionStateRow.present.is_(True))).all()
        wanted = {signal for signal, _ in present}
        movie_id = change.movie_id
        if movie_id is None:
            movie_id = next((m for _, m in present if m is not None), None)
        same = (text(ACTIVE_REACTION), FeedbackRow.platform == msg.platform,
                FeedbackRow.chat_id == msg.chat_id, FeedbackRow.message_id == msg.message_id,
                FeedbackRow.user_id == user_id)
        active = set(conn.execute(select(FeedbackRow.signal).where(*same)).scalars())
        at = change.at or utcnow()
        changed = 0
        for signal in sorted(active - wanted):
            conn.execute(update(FeedbackRow).where(*same, FeedbackRow.signal == signal)
                         .values(retracted=True, retracted_at=at))
            changed = 1
        for signal in sorted(wanted - active):
            if movie_id is None:
                continue
            conn.execute(self._reaction_stmt, {
                "user_id": user_id, "movie_id": int(movie_id), "signal": signal, "value": None,
                "source": change.source or f"{msg.platform}:reaction", "kind": "reaction",
                "platform": msg.platform, "chat_id": msg.chat_id,
                "message_id": msg.message_id, "event_id": None, "created_at": at,
                "retracted": False, "retracted_at": None}).first()
            changed = 1
        return changed

    @functools.cached_property
    def _reaction_stmt(self) -> Any:
        return (self._insert(FeedbackRow)
                .on_conflict_do_nothing(
                    index_elements=["platform", "chat_id", "message_id", "user_id", "signal"],
                    index_where=text(ACTIVE_REACTION))
                .returning(FeedbackRow.id))

    async def active_reactions(self, message: MessageKey) -> list[tuple[str, str]]:
        """(platform user id, signal) of every active reaction on ``message``."""
        message = MessageKey.of(message)
        query = (select(User.platform_user_id, FeedbackRow.signal)
                 .join(User, User.id == FeedbackRow.user_id)
                 .where(text(ACTIVE_REACTION), FeedbackRow.platform == message.platform,
                        FeedbackRow.chat_id == message.chat_id,
                        FeedbackRow.message_id == message.message_id)
                 .order_by(FeedbackRow.id))
        rows = await self.database.run(lambda conn: conn.execute(query).all())
        return [(str(user), str(signal)) for user, signal in rows]

    async def history(self, user_id: int) -> list[tuple[int, str | float]]:
        """The user's taste as ``Engine.recommend`` takes it: latest signal per movie.

        Retracted events are ignored, so removing a reaction restores the earlier one.
        Ordered by when the user last reacted to each movie, oldest first.
        """
        query = (select(FeedbackRow.movie_id, FeedbackRow.signal, FeedbackRow.value)
                 .where(FeedbackRow.user_id == user_id, FeedbackRow.retracted.is_(False),
                        FeedbackRow.signal.in_(TASTE_SIGNALS))
                 .order_by(FeedbackRow.created_at, FeedbackRow.id))
        rows = await self.database.run(lambda conn: conn.execute(query).all())
        latest: dict[int, str | float] = {}
        for movie_id, signal, value in rows:
            latest.pop(movie_id, None)  # re-insert so dict order follows the latest event
            latest[movie_id] = float(value) if signal == "rating" else signal
        return list(latest.items())

    async def feedback_frame(self) -> pd.DataFrame:
        """All users' current taste signals, for retraining.

        Columns ``user_key`` (``"store:<id>"``, never a platform id), ``movie_id``,
        ``signal`` and ``value`` (the rating, NaN for like/dislike); one row per user and
        movie (the latest non-retracted signal), the same view ``history`` gives.
        """
        import pandas as pd

        query = (select(FeedbackRow.user_id, FeedbackRow.movie_id, FeedbackRow.signal,
                        FeedbackRow.value)
                 .where(FeedbackRow.retracted.is_(False), FeedbackRow.signal.in_(TASTE_SIGNALS))
                 .order_by(FeedbackRow.created_at, FeedbackRow.id))
        rows = await self.database.run(lambda conn: conn.execute(query).all(), bulk=True)
        latest: dict[tuple[int, int], tuple[str, float]] = {}
        for user_id, movie_id, signal, value in rows:
            rating = float(value) if signal == "rating" and value is not None else float("nan")
            latest[(user_id, movie_id)] = (signal, rating)
        frame = pd.DataFrame(
            [(f"store:{u}", m, s, v) for (u, m), (s, v) in latest.items()],
            columns=["user_key", "movie_id", "signal", "value"])
        return frame.astype({"user_key": str, "movie_id": "int64", "signal": str,
                             "value": "float64"})

    # -- sent messages ---------------------------------------------------------
    async def remember_message(self, platform: str, chat_id: str, message_id: str,
                               movie_id: int | None, context: dict | None = None) -> None:
        """Keep what a sent message was about, so a reaction days later still resolves."""
        await self.remember_messages([(platform, chat_id, message_id, movie_id, context)])

    async def remember_messages(self, messages: Iterable[tuple[str, str, str, int | None,
                                                                 dict | None]]) -> None:
        """Many `remember_message` calls in one INSERT (a reply's cards arrive together)."""
        rows = [{"platform": platform, "chat_id": str(chat_id), "message_id": str(message_id),
                 "movie_id": movie_id, "context": context or {}, "created_at": utcnow()}
                for platform, chat_id, message_id, movie_id, context in messages]
        if rows:
            await self.database.run(lambda conn: conn.execute(self._remember_stmt, rows),
                                    write=True)

    @functools.cached_property
    def _remember_stmt(self) -> Any:
        # Built once: every card a bot sends passes here, and building the upsert (its
        # `excluded` columns) cost more CPU than executing it on SQLite.
        stmt = self._insert(SentMessageRow)
        return stmt.on_conflict_do_update(
            index_elements=["platform", "chat_id", "message_id"],
            set_={"movie_id": stmt.excluded.movie_id, "context": stmt.excluded.context})

    async def lookup_message(self, platform: str, chat_id: str,
                             message_id: str) -> SentMessage | None:
        query = select(SentMessageRow).where(
            SentMessageRow.platform == platform, SentMessageRow.chat_id == str(chat_id),
            SentMessageRow.message_id == str(message_id))
        row = await self.database.run(lambda conn: conn.execute(query).first())
        return _sent(row) if row else None

    async def recent_messages(self, platform: str, since: datetime) -> list[SentMessage]:
        """Messages sent on ``platform`` since ``since``, oldest first."""
        query = (select(SentMessageRow)
                 .where(SentMessageRow.platform == platform, SentMessageRow.created_at >= since)
                 .order_by(SentMessageRow.created_at, SentMessageRow.id))
        rows = await self.database.run(lambda conn: conn.execute(query).all(), bulk=True)
        return [_sent(r) for r in rows]

    # -- watchlist -------------------------------------------------------------
    async def watchlist_add(self, user_id: int, movie_id: int) -> bool:
        stmt = (self._insert(WatchlistRow)
                .values(user_id=user_id, movie_id=int(movie_id), added_at=utcnow())
                .on_conflict_do_nothing(index_elements=["user_id", "movie_id"])
                .returning(WatchlistRow.movie_id))
        return await self.database.run(lambda conn: conn.execute(stmt).first() is not None,
                                       write=True)

    async def watchlist_remove(self, user_id: int, movie_id: int) -> bool:
        stmt = delete(WatchlistRow).where(WatchlistRow.user_id == user_id,
                                          WatchlistRow.movie_id == int(movie_id))
        return await self.database.run(lambda conn: conn.execute(stmt).rowcount == 1,
                                       write=True)

    async def watchlist(self, user_id: int) -> list[int]:
        """Movie ids on the user's watchlist, oldest first."""
        query = (select(WatchlistRow.movie_id).where(WatchlistRow.user_id == user_id)
                 .order_by(WatchlistRow.added_at, WatchlistRow.movie_id))
        ids = await self.database.run(lambda conn: conn.execute(query).scalars().all())
        return [int(m) for m in ids]

    # -- watch parties ---------------------------------------------------------
    async def open_party(self, party: PartyRecord) -> PartyRecord | None:
        """Store a new open party; None (nothing stored) if its chat has one open already."""
        now = utcnow()
        stmt = (self._insert(PartyRow)
                .values(platform=party.platform, chat_id=str(party.chat_id), host=party.host,
                        state=party.state, deadline=party.deadline, data=party.data,
                        version=0, created_at=now, updated_at=now)
                .on_conflict_do_nothing(index_elements=["platform", "chat_id"],
                                        index_where=text(OPEN_PARTY))
                .returning(PartyRow.id))
        new_id = await self.database.run(lambda conn: conn.execute(stmt).scalar(), write=True)
        if new_id is None:
            return None
        party.id, party.version, party.created_at = int(new_id), 0, now
        return party

    async def party(self, party_id: int) -> PartyRecord | None:
        query = select(PartyRow).where(PartyRow.id == int(party_id))
        row = await self.database.run(lambda conn: conn.execute(query).first())
        return _party(row) if row else None

    async def open_party_in(self, platform: str, chat_id: str) -> PartyRecord | None:
        """The chat's open party, if any."""
        query = select(PartyRow).where(PartyRow.platform == platform,
                                       PartyRow.chat_id == str(chat_id), text(OPEN_PARTY))
        row = await self.database.run(lambda conn: conn.execute(query).first())
        return _party(row) if row else None

    async def save_party(self, party: PartyRecord) -> bool:
        """Write ``party`` if nobody saved it since it was read (compare-and-set on its
        version); False otherwise, and nothing changes. On success its version moves on."""
        stmt = (update(PartyRow)
                .where(PartyRow.id == party.id, PartyRow.version == party.version)
                .values(state=party.state, host=party.host, deadline=party.deadline,
                        data=party.data, version=party.version + 1, updated_at=utcnow()))
        saved = await self.database.run(lambda conn: conn.execute(stmt).rowcount == 1,
                                        write=True)
        if saved:
            party.version += 1
        return saved

    async def due_parties(self, platform: str, now: datetime) -> list[PartyRecord]:
        """Open parties on ``platform`` whose deadline has passed, oldest deadline first."""
        query = (select(PartyRow)
                 .where(PartyRow.platform == platform, text(OPEN_PARTY),
                        PartyRow.deadline.is_not(None), PartyRow.deadline <= now)
                 .order_by(PartyRow.deadline, PartyRow.id))
        rows = await self.database.run(lambda conn: conn.execute(query).all())
        return [_party(r) for r in rows]

    # -- where to watch: each user's country --------------------------------------
    async def user_country(self, user_id: int) -> str | None:
        """The country the user chose with /country (ISO 3166-1 alpha-2), or None."""
        query = select(User.country).where(User.id == user_id)
        return await self.database.run(lambda conn: conn.execute(query).scalar_one_or_none())

    async def set_user_country(self, user_id: int, country: str | None) -> None:
        stmt = update(User).where(User.id == user_id).values(country=country)
        await self.database.run(lambda conn: conn.execute(stmt), write=True)

    # -- privacy ---------------------------------------------------------------
    async def forget_user(self, user_id: int) -> dict[str, int]:
        """Delete everything stored about a user (/forget); returns deleted row counts.

        The next retrain reads ``feedback_frame`` afresh, so the user's events also leave
        the next model.
        """
        def forget(conn: Connection) -> dict[str, int]:
            def deleted(table: Any, column: Any) -> int:
                return conn.execute(delete(table).where(column == user_id)).rowcount

            deleted(ReactionStateRow, ReactionStateRow.user_id)
            who = conn.execute(select(User.platform, User.platform_user_id)
                               .where(User.id == user_id)).first()
            if who is not None:
                self._forget_in_parties(conn, who.platform, who.platform_user_id)
            return {"feedback_events": deleted(FeedbackRow, FeedbackRow.user_id),
                    "watchlist": deleted(WatchlistRow, WatchlistRow.user_id),
                    "users": deleted(User, User.id)}

        counts = await self.database.run(forget, write=True)
        log.info("forgot user %s: %s", user_id, counts)
        # The retrain job publishes the next model even past its quality gate when someone
        # was forgotten since the served version was built: privacy outranks quality.
        await self.record_job_run(FORGET_JOB, "done", {"deleted": counts})
        return counts

    def _forget_in_parties(self, conn: Connection, platform: str, member: str) -> None:
        """/forget reaches the parties too: the member's name, picks and votes leave every
        party's document; a party they host goes on under the next member, or ends."""
        rows = conn.execute(select(PartyRow.id, PartyRow.data, PartyRow.host, PartyRow.state)
                            .where(PartyRow.platform == platform)).all()
        for row in rows:
            data = dict(row.data or {})
            members = dict(data.get("members") or {})
            if member not in members:
                continue
            members.pop(member)
            data["members"] = members
            data["votes"] = {u: m for u, m in (data.get("votes") or {}).items() if u != member}
            data["newcomers"] = [u for u in data.get("newcomers") or [] if u != member]
            changes: dict[str, Any] = {"data": data, "version": PartyRow.version + 1,
                                       "updated_at": utcnow()}
            if row.host == member:
                still_in = [u for u, m in members.items() if m.get("in")]
                changes["host"] = still_in[0] if still_in else ""
                if not still_in and row.state in PARTY_OPEN_STATES:
                    changes.update(state="cancelled", deadline=None)
            conn.execute(update(PartyRow).where(PartyRow.id == row.id).values(**changes))

    # -- jobs and stats --------------------------------------------------------
    async def record_job_run(self, name: str, status: str, details: dict | None = None) -> int:
        stmt = (self._insert(JobRunRow)
                .values(name=name, status=status, details=details or {}, finished_at=utcnow())
                .returning(JobRunRow.id))
        return await self.database.run(lambda conn: int(conn.execute(stmt).scalar_one()),
                                       write=True)

    async def job_runs(self, name: str | None = None, limit: int = 50) -> list[JobRun]:
        """The latest job runs, newest first."""
        query = select(JobRunRow).order_by(JobRunRow.finished_at.desc(), JobRunRow.id.desc())
        if name:
            query = query.where(JobRunRow.name == name)
        rows = await self.database.run(lambda conn: conn.execute(query.limit(limit)).all())
        return [JobRun(r.id, r.name, r.status, r.details or {}, r.finished_at) for r in rows]

    async def stats(self, days: int = 14) -> dict[str, Any]:
        """Numbers for the admin /stats view."""
        since = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) \
            - timedelta(days=days - 1)

        def count_everything(conn: Connection) -> dict[str, Any]:
            def count(query: Any) -> int:
                return int(conn.execute(query).scalar_one())

            day = func.date(FeedbackRow.created_at)
            per_day = conn.execute(select(day, func.count()).where(FeedbackRow.created_at >= since)
                                   .group_by(day).order_by(day))
            by_signal = conn.execute(select(FeedbackRow.signal, func.count())
                                     .where(FeedbackRow.retracted.is_(False))
                                     .group_by(FeedbackRow.signal))
            return {
                "users": count(select(func.count()).select_from(User)),
                "events": count(select(func.count()).select_from(FeedbackRow)),
                "retracted": count(select(func.count()).select_from(FeedbackRow)
                                   .where(FeedbackRow.retracted.is_(True))),
                "watchlist": count(select(func.count()).select_from(WatchlistRow)),
                "sent_messages": count(select(func.count()).select_from(SentMessageRow)),
                "events_per_day": {_day(d): int(n) for d, n in per_day},
                "events_by_signal": {s: int(n) for s, n in by_signal},
            }

        out = await self.database.run(count_everything, bulk=True)
        runs = await self.job_runs(limit=200)
        out["last_job_run"] = _job_dict(runs[0]) if runs else None
        published = next((r for r in runs if r.status == "published"), None)
        out["last_published"] = _job_dict(published) if published else None
        return out


def _day(value: date | str) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def _job_dict(run: JobRun) -> dict[str, Any]:
    return {"name": run.name, "status": run.status, "details": run.details,
            "finished_at": run.finished_at.isoformat()}


def _sent(row: Any) -> SentMessage:
    return SentMessage(row.platform, row.chat_id, row.message_id, row.movie_id,
                       row.context or {}, row.created_at)


def _party(row: Any) -> PartyRecord:
    return PartyRecord(row.platform, row.chat_id, row.host, row.state, dict(row.data or {}),
                       row.deadline, int(row.id), int(row.version), row.created_at)
