"""`MessageBatcher`: remember the cards a bot sends, many per INSERT.

Every card is remembered (platform, chat, message -> movie) before its update counts as
handled. One transaction per card was the biggest cost per command in
benchmarks/bench_telegram.py; concurrent calls now share one `Store.remember_messages`
call, and each caller still returns only once its row is committed (or spooled, when the
store is a `SpoolingStore` and the database is down).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.store import FeedbackStore

log = logging.getLogger("moviebot.memory")


class MessageBatcher:
    """``await remember(platform, chat_id, message_id, movie_id, context)``, batched."""

    def __init__(self, store: FeedbackStore, max_delay: float = 0.002, max_batch: int = 500):
        self.store = store
        self.max_delay = max_delay
        self.max_batch = max_batch
        self._queue: list[tuple[tuple, asyncio.Future]] = []
        self._flusher: asyncio.Task | None = None

    async def remember(self, platform: str, chat_id: str, message_id: str,
                       movie_id: int | None, context: dict) -> None:
        future = asyncio.get_running_loop().create_future()
        self._queue.append(((platform, str(chat_id), str(message_id), movie_id, context), future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_soon())
        await future

    async def _flush_soon(self) -> None:
        # Wait a moment so the other cards of this instant join the same INSERT.
        await asyncio.sleep(self.max_delay)
        while self._queue:
            batch, self._queue = self._queue[:self.max_batch], self._queue[self.max_batch:]
            try:
                await self.store.remember_messages([row for row, _ in batch])
            except Exception as exc:  # noqa: BLE001 - retried one by one below
                log.info("batched remember failed (%s); writing one by one", type(exc).__name__)
                await self._one_by_one(batch)
                continue
            for _, future in batch:
                if not future.done():
                    future.set_result(None)

    async def _one_by_one(self, batch: list[tuple[tuple, asyncio.Future]]) -> None:
        for row, future in batch:
            try:
                await self.store.remember_message(*row)
            except Exception as exc:  # noqa: BLE001 - the caller gets the error
                if not future.done():
                    future.set_exception(exc)
            else:
                if not future.done():
                    future.set_result(None)
