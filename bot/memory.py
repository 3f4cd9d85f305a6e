"""Two store helpers the command layer needs and the `bot.store` API does not offer.

* `active_keys(store, prefix)`: idempotency keys of live (not retracted) events whose key
  starts with ``prefix``. Removing a reaction must retract the event its addition
  stored, and that key carries the time of the addition.
* `MessageBatcher`: every card a bot sends is remembered (platform, chat, message ->
  movie) before its update counts as handled. One transaction per card was the biggest
  cost per command in benchmarks/bench_telegram.py; concurrent calls now share one
  INSERT, and each caller still returns only once its row is committed.

Both read the store's tables directly (its models), so they work on a `Store` or on a
`SpoolingStore` (which wraps one as ``.store``); when the database is down the batcher
falls back to the store's own call, which spools.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from bot.store.models import FeedbackRow, SentMessageRow, utcnow

log = logging.getLogger("moviebot.memory")


def is_outage(exc: BaseException) -> bool:
    """The database cannot be reached (as opposed to bad data or a bug)."""
    from bot.store import StoreUnavailable
    from bot.store.spool import is_outage as db_outage

    return isinstance(exc, StoreUnavailable) or db_outage(exc)


def _db(store: Any) -> Any:
    return getattr(store, "store", store)


async def active_keys(store: Any, prefix: str) -> list[str]:
    from sqlalchemy import select

    async with _db(store).engine.connect() as conn:
        rows = await conn.execute(
            select(FeedbackRow.idempotency_key)
            .where(FeedbackRow.idempotency_key.startswith(prefix, autoescape=True),
                   FeedbackRow.retracted.is_(False)))
        return [str(k) for k in rows.scalars()]


class MessageBatcher:
    """``await remember(platform, chat_id, message_id, movie_id, context)``, batched."""

    def __init__(self, store: Any, max_delay: float = 0.002, max_batch: int = 500):
        self.store = store
        self.max_delay = max_delay
        self.max_batch = max_batch
        self._queue: list[tuple[dict, asyncio.Future]] = []
        self._flusher: asyncio.Task | None = None

    async def remember(self, platform: str, chat_id: str, message_id: str,
                       movie_id: int | None, context: dict) -> None:
        row = {"platform": platform, "chat_id": str(chat_id), "message_id": str(message_id),
               "movie_id": movie_id, "context": context or {}, "created_at": utcnow()}
        future = asyncio.get_running_loop().create_future()
        self._queue.append((row, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_soon())
        await future

    async def _flush_soon(self) -> None:
        # Wait a moment so the other cards of this instant join the same INSERT.
        await asyncio.sleep(self.max_delay)
        while self._queue:
            batch, self._queue = self._queue[:self.max_batch], self._queue[self.max_batch:]
            try:
                await self._insert([row for row, _ in batch])
            except Exception as exc:  # noqa: BLE001 - retried one by one below
                log.info("batched remember failed (%s); writing one by one", type(exc).__name__)
                await self._one_by_one(batch)
                continue
            for _, future in batch:
                if not future.done():
                    future.set_result(None)

    async def _insert(self, rows: list[dict]) -> None:
        db = _db(self.store)
        if getattr(self.store, "db_down", False) or not hasattr(db, "engine"):
            raise ConnectionError("database marked down")
        if db.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        stmt = insert(SentMessageRow)
        stmt = stmt.on_conflict_do_update(
            index_elements=["platform", "chat_id", "message_id"],
            set_={"movie_id": stmt.excluded.movie_id, "context": stmt.excluded.context})
        async with db.engine.begin() as conn:
            await conn.execute(stmt, rows)

    async def _one_by_one(self, batch: list[tuple[dict, asyncio.Future]]) -> None:
        for row, future in batch:
            try:   # a SpoolingStore spools this while the database is down
                await self.store.remember_message(row["platform"], row["chat_id"],
                                                  row["message_id"], row["movie_id"],
                                                  row["context"])
            except Exception as exc:  # noqa: BLE001 - the caller gets the error
                if not future.done():
                    future.set_exception(exc)
            else:
                if not future.done():
                    future.set_result(None)
