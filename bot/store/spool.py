"""Keep accepting feedback while the database is down.

``SpoolingStore`` wraps a ``Store``. When a write fails because the database cannot be
reached, the operation is appended to a local JSON-lines file (one ``fsync`` per line) and
the bot answers as usual. ``flush()`` (called before the next write, or by
``run_flusher``) replays the file into the database in order.

Exactly once: a flush first renames ``spool.jsonl`` to ``spool.jsonl.flushing`` (new writes
go to a fresh file), replays it, and deletes it only when every line is in. A crash
half-way replays some lines again on the next flush, which is harmless: every event
carries its identity (``(user, event_id)``: a duplicate insert is a no-op), and a
reaction change is identified by (message, user, signal) and carries its time, so
applying it again changes nothing (see `ReactionChange`). Progress is saved in ``.flushing.done`` so a
long file is not replayed from the top after each outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import exc as sa_exc

from engine.config import PROJECT_ROOT

from . import legacy
from .database import normalise_url
from .models import utcnow
from .protocol import FeedbackStore, MessageRow
from .store import Store
from .values import (
    FeedbackEvent,
    MessageKey,
    PartyRecord,
    ReactionChange,
    SentMessage,
    StoreUnavailable,
    is_outage,
)

log = logging.getLogger("moviebot.store.spool")

T = TypeVar("T")

# Consecutive spooled events are written with one batched INSERT of at most this many rows.
REPLAY_BATCH = 500


SPOOL_NAME = "feedback.spool.jsonl"


def default_spool_path(database_url: str) -> Path:
    """Where the spool goes when no path is configured: beside a SQLite database file,
    else ``data/feedback.spool.jsonl`` in the project (the default database's folder)."""
    url = normalise_url(database_url)
    if url.startswith("sqlite:///") and url[len("sqlite:///"):] not in ("", ":memory:"):
        return Path(url[len("sqlite:///"):]).expanduser().parent / SPOOL_NAME
    return PROJECT_ROOT / "data" / SPOOL_NAME


class Spool:
    """An append-only file of store operations, safe for several processes to share."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.flushing = self.path.with_name(self.path.name + ".flushing")
        self.progress = self.path.with_name(self.path.name + ".flushing.done")
        self._append_lock = self.path.with_name(self.path.name + ".lock")
        self._flush_lock = self.path.with_name(self.path.name + ".flush.lock")

    @contextlib.contextmanager
    def _locked(self, lock_path: Path, blocking: bool = True) -> Iterator[bool]:
        with open(lock_path, "a") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def append(self, *ops: dict[str, Any]) -> None:
        """Write operations durably (they are on disk when this returns)."""
        lines = "".join(json.dumps(op, separators=(",", ":"), default=str) + "\n" for op in ops)
        with self._locked(self._append_lock), open(self.path, "ab+") as fh:
            size = fh.seek(0, os.SEEK_END)
            if size:
                fh.seek(size - 1)
                if fh.read(1) != b"\n":  # a writer died mid-line: do not glue onto it
                    lines = "\n" + lines
            fh.write(lines.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())

    def pending_count(self) -> int:
        done = self._done()
        return max(0, _count_lines(self.flushing) - done) + _count_lines(self.path)

    def _done(self) -> int:
        try:
            return int(self.progress.read_text() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def _save_done(self, lines: int) -> None:
        tmp = self.progress.with_suffix(".tmp")
        tmp.write_text(str(lines))
        os.replace(tmp, self.progress)

    async def replay(self, apply: Callable[[list[dict[str, Any]]], Awaitable[None]]) -> int:
        """Hand pending operations to ``apply`` in order, in chunks; returns how many.

        Stops (and raises) at the first chunk ``apply`` fails on; those lines stay pending.
        Another process already flushing makes this a no-op.
        """
        with self._locked(self._flush_lock, blocking=False) as got:
            if not got:
                return 0
            total = 0
            while True:
                if not self.flushing.exists():
                    with self._locked(self._append_lock):
                        if not self.path.exists() or self.path.stat().st_size == 0:
                            return total
                        self.progress.unlink(missing_ok=True)
                        os.replace(self.path, self.flushing)
                ops = _read_lines(self.flushing)
                done = self._done()
                for chunk_end, chunk in _chunks(ops, done):
                    await apply(chunk)
                    self._save_done(chunk_end)
                    total += len(chunk)
                # Progress first: a crash between the two unlinks then replays the whole
                # (idempotent) file instead of skipping lines of a future one.
                self.progress.unlink(missing_ok=True)
                self.flushing.unlink(missing_ok=True)


def _count_lines(path: Path) -> int:
    try:
        with open(path, "rb") as fh:
            return sum(1 for _ in fh)
    except FileNotFoundError:
        return 0


def _read_lines(path: Path) -> list[dict[str, Any]]:
    ops = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                ops.append(json.loads(line))
            except json.JSONDecodeError:
                # Only a torn last line (power loss mid-write) can look like this; the
                # caller never got an answer for it, so dropping it loses nothing promised.
                log.warning("spool %s line %d is not JSON; skipped", path, n)
                ops.append({"op": "skip"})
    return ops


def _chunks(ops: list[dict[str, Any]], start: int) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """Consecutive records (or messages) batched together; every other op alone.

    Yields (end, chunk)."""
    i = start
    while i < len(ops):
        j = i + 1
        if ops[i].get("op") in ("record", "reaction", "message"):
            while j < len(ops) and j - i < REPLAY_BATCH and ops[j].get("op") == ops[i]["op"]:
                j += 1
        yield j, ops[i:j]
        i = j


class SpoolingStore(FeedbackStore):
    """A ``Store`` whose feedback writes never fail because the database is down.

    ``record_feedback``, ``record_reaction`` and ``remember_message(s)`` fall back to the
    spool; ``user_id`` answers from a cache for users seen before. The other
    `FeedbackStore` methods go to the database, with outages raised as the friendly
    ``StoreUnavailable``. After a failure the database is left alone for ``retry_every``
    seconds, so a bot does not wait for a connect timeout on every message.
    """

    def __init__(self, store: Store, spool_path: str | Path, *, retry_every: float = 5.0,
                 timeout: float = 2.5):
        self.store = store
        self.spool = Spool(spool_path)
        self.retry_every = retry_every
        self.timeout = timeout
        self._down_until = 0.0
        # A circuit breaker: after a failure the database is left alone for retry_every
        # seconds (open); then one call at a time tries it (half-open) while every other
        # call spools or answers "unavailable" at once, so a database that silently drops
        # packets costs one `timeout` per retry_every, not one per update.
        self._was_down = False
        self._probing = False
        self._users: dict[tuple[str, str], int] = {}
        self._flush_lock = asyncio.Lock()

    @property
    def db_down(self) -> bool:
        return time.monotonic() < self._down_until or self._probing

    def _mark_down(self, exc: BaseException) -> None:
        if self._probing:      # bounced off the call that is finding out: it decides
            return
        if not self.db_down:
            log.warning("database unreachable (%s); spooling to %s", exc, self.spool.path)
        self._down_until = time.monotonic() + self.retry_every
        self._was_down = True

    async def _call(self, coro: Awaitable[T]) -> T:
        probe = self._was_down
        if probe:
            if self._probing:             # another call is finding out: do not pile on
                coro.close()  # type: ignore[attr-defined]
                raise StoreUnavailable()
            self._probing = True
        try:
            result = await asyncio.wait_for(coro, self.timeout)
        finally:
            if probe:
                self._probing = False
        if self._was_down:
            log.info("database reachable again")
            self._was_down = False
        # Any call that got through closes the breaker: a flush that has just emptied the
        # spool must not be followed by "unavailable" for the rest of retry_every.
        self._down_until = 0.0
        return result

    async def _write(self, ops: list[dict[str, Any]], direct: Callable[[], Awaitable[T]],
                     spooled_result: T) -> T:
        """Write through when possible; otherwise (or while older ops wait) spool ``ops``."""
        if not self.db_down:
            try:
                if self.spool.pending_count():
                    await self.flush()  # keep order: older spooled ops go first
                if not self.spool.pending_count():
                    return await self._call(direct())
            except Exception as exc:
                if not is_outage(exc):
                    raise
                self._mark_down(exc)
        await asyncio.to_thread(self.spool.append, *ops)
        return spooled_result

    async def _read(self, call: Callable[[], Awaitable[T]]) -> T:
        """A database call that cannot be spooled: an outage is `StoreUnavailable`."""
        if self.db_down:
            raise StoreUnavailable()
        try:
            return await self._call(call())
        except Exception as exc:
            if is_outage(exc):
                self._mark_down(exc)
                raise StoreUnavailable() from exc
            raise

    # -- writes that survive an outage ------------------------------------------
    async def record_feedback(self, event: FeedbackEvent) -> bool:
        """True if stored or spooled (a spooled duplicate is dropped when flushed)."""
        if event.created_at is None:  # keep the real time, not the replay time
            event.created_at = utcnow()
        op = {"op": "record", "event": event.to_dict()}
        return await self._write([op], lambda: self.store.record_feedback(event), True)

    async def record_reaction(self, change: ReactionChange) -> bool:
        """True if it changed what is stored, or was spooled."""
        if change.at is None:  # the replay must compare the real time, not its own
            change.at = utcnow()
        op = {"op": "reaction", "change": change.to_dict()}
        return await self._write([op], lambda: self.store.record_reaction(change), True)

    async def remember_message(self, platform: str, chat_id: str, message_id: str,
                               movie_id: int | None, context: dict | None = None) -> None:
        await self.remember_messages([(platform, chat_id, message_id, movie_id, context)])

    async def remember_messages(self, messages: Iterable[MessageRow]) -> None:
        rows: list[MessageRow] = [(platform, str(chat_id), str(message_id), movie_id,
                                   context or {})
                                  for platform, chat_id, message_id, movie_id, context in messages]
        await self._write([{"op": "message", "args": list(row)} for row in rows],
                          lambda: self.store.remember_messages(rows), None)

    async def user_id(self, platform: str, platform_user_id: str,
                      display_name: str | None = None) -> int:
        ref = (platform, str(platform_user_id))
        if not self.db_down:
            try:
                uid = await self._call(self.store.user_id(*ref, display_name))
                self._users[ref] = uid
                return uid
            except Exception as exc:
                if not is_outage(exc):
                    raise
                self._mark_down(exc)
        if ref in self._users:
            return self._users[ref]
        raise StoreUnavailable()

    async def forget_user(self, user_id: int) -> dict[str, int]:
        await self.flush()  # spooled events of this user must not come back afterwards
        self._users = {k: v for k, v in self._users.items() if v != user_id}
        return await self._read(lambda: self.store.forget_user(user_id))

    # -- reads (and writes that need an answer now) ------------------------------
    async def active_reactions(self, message: MessageKey) -> list[tuple[str, str]]:
        return await self._read(lambda: self.store.active_reactions(message))

    async def history(self, user_id: int) -> list[tuple[int, str | float]]:
        return await self._read(lambda: self.store.history(user_id))

    async def lookup_message(self, platform: str, chat_id: str,
                             message_id: str) -> SentMessage | None:
        return await self._read(lambda: self.store.lookup_message(platform, chat_id, message_id))

    async def recent_messages(self, platform: str, since: datetime) -> list[SentMessage]:
        return await self._read(lambda: self.store.recent_messages(platform, since))

    async def watchlist_add(self, user_id: int, movie_id: int) -> bool:
        return await self._read(lambda: self.store.watchlist_add(user_id, movie_id))

    async def watchlist_remove(self, user_id: int, movie_id: int) -> bool:
        return await self._read(lambda: self.store.watchlist_remove(user_id, movie_id))

    async def watchlist(self, user_id: int) -> list[int]:
        return await self._read(lambda: self.store.watchlist(user_id))

    async def stats(self, days: int = 14) -> dict[str, Any]:
        return await self._read(lambda: self.store.stats(days))

    # A party's state is read and compare-and-set in one go, which a spool cannot do
    # (its answer is needed now): these raise the friendly StoreUnavailable while down.
    async def open_party(self, party: PartyRecord) -> PartyRecord | None:
        return await self._read(lambda: self.store.open_party(party))

    async def party(self, party_id: int) -> PartyRecord | None:
        return await self._read(lambda: self.store.party(party_id))

    async def open_party_in(self, platform: str, chat_id: str) -> PartyRecord | None:
        return await self._read(lambda: self.store.open_party_in(platform, chat_id))

    async def save_party(self, party: PartyRecord) -> bool:
        return await self._read(lambda: self.store.save_party(party))

    async def due_parties(self, platform: str, now: datetime) -> list[PartyRecord]:
        return await self._read(lambda: self.store.due_parties(platform, now))

    # A country is a setting the user sees confirmed at once: not spooled, an outage is
    # `StoreUnavailable` (the command says so and nothing changes).
    async def user_country(self, user_id: int) -> str | None:
        return await self._read(lambda: self.store.user_country(user_id))

    async def set_user_country(self, user_id: int, country: str | None) -> None:
        await self._read(lambda: self.store.set_user_country(user_id, country))

    async def close(self) -> None:
        await self.store.close()

    # -- flushing --------------------------------------------------------------
    async def flush(self) -> int:
        """Replay the spool into the database; returns how many operations went in.

        Raises the outage error if the database is still down (the rest stays spooled).
        """
        async with self._flush_lock:
            n = await self.spool.replay(self._apply)
        if n:
            log.info("flushed %d spooled operation(s) into the database", n)
        return n

    async def _apply(self, ops: list[dict[str, Any]]) -> None:
        """Apply a chunk of spooled ops, in order: runs of events, of reaction changes
        and of messages each go in one call."""
        items = [item for op in ops for item in _typed(op)]
        start = 0
        while start < len(items):
            end = start + 1
            while end < len(items) and type(items[end]) is type(items[start]):
                end += 1
            run, start = items[start:end], end
            if isinstance(run[0], FeedbackEvent):
                await self._apply_events(run)
            elif isinstance(run[0], ReactionChange):
                await self._apply_reactions(run)
            else:
                await self._call(self.store.remember_messages(run))

    async def _apply_events(self, events: list[FeedbackEvent]) -> None:
        try:
            await self._call(self.store.record_feedback_many(events))
        except sa_exc.IntegrityError:
            # e.g. the user was forgotten meanwhile: keep the good ones, drop the rest
            for ev in events:
                try:
                    await self._call(self.store.record_feedback(ev))
                except sa_exc.IntegrityError as exc:
                    log.warning("dropping spooled event %s: %s", ev.event_id, exc.orig)

    async def _apply_reactions(self, changes: list[ReactionChange]) -> None:
        try:
            await self._call(self.store.record_reactions(changes))
        except sa_exc.IntegrityError:
            for change in changes:
                try:
                    await self._call(self.store.record_reaction(change))
                except sa_exc.IntegrityError as exc:
                    log.warning("dropping spooled reaction on %s: %s", change.message, exc.orig)

    async def run_flusher(self, interval: float = 5.0) -> None:
        """Background task: flush whenever something is pending and the DB is back."""
        while True:
            await asyncio.sleep(interval)
            if self.spool.pending_count() and not self.db_down:
                try:
                    await self.flush()
                except Exception as exc:
                    if not is_outage(exc):
                        log.exception("spool flush failed")
                    self._mark_down(exc)


def _typed(op: dict[str, Any]) -> list[FeedbackEvent | ReactionChange | tuple]:
    """One spool line as what the store takes (lines of schema 0001 translated)."""
    kind = op.get("op")
    if kind == "record":
        data = op["event"]
        if "idempotency_key" in data:
            return [_legacy_event(data)]
        return [FeedbackEvent.from_dict(data)]
    if kind == "reaction":
        return [ReactionChange.from_dict(op["change"])]
    if kind == "message":
        return [tuple(op["args"])]
    if kind == "retract":  # schema 0001: the key of a reaction that was removed
        key = legacy.parse_key(op["key"])
        if key.kind == "reaction":
            return [ReactionChange(MessageKey(key.platform, key.chat_id, key.message_id),
                                   key.platform_user_id, key.signal, added=False)]
        log.warning("spooled retraction of %r is not a reaction; skipped", op["key"])
    return []                  # "skip" (a torn line), or unknown


def _legacy_event(data: dict[str, Any]) -> FeedbackEvent | ReactionChange:
    key = legacy.parse_key(data["idempotency_key"], data.get("message_ref"))
    at = datetime.fromisoformat(data["created_at"]) if data.get("created_at") else None
    if key.kind == "reaction":
        return ReactionChange(MessageKey(key.platform, key.chat_id, key.message_id),
                              key.platform_user_id, key.signal, added=True,
                              movie_id=data["movie_id"], at=at, user_id=data.get("user_id"),
                              source=data.get("source") or "")
    message = (MessageKey(key.platform, key.chat_id, key.message_id)
               if key.platform and key.chat_id and key.message_id else None)
    return FeedbackEvent(data.get("user_id"), data["movie_id"], data["signal"],
                         data.get("value"), data.get("source") or "", message, key.event_id,
                         kind=key.kind, created_at=at, platform=data.get("platform"),
                         platform_user_id=data.get("platform_user_id"))
