"""Group concurrent ``record_feedback`` calls into one INSERT.

Under load (a popular message collecting reactions from many users) one transaction per
event spends most of its time on round trips and commits. ``FeedbackBatcher`` lets every
caller await its own result while the events of the last few milliseconds are written
together:

    batcher = FeedbackBatcher(store)          # or a SpoolingStore: outages still spool
    stored = await batcher.record_feedback(event)
    await batcher.close()                     # writes what is still queued
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from .store import FeedbackEvent


class FeedbackBatcher:
    def __init__(self, store: Any, max_batch: int = 1000, max_delay: float = 0.01):
        self.store = store
        self.max_batch = max_batch
        self.max_delay = max_delay
        self._queue: list[tuple[FeedbackEvent, asyncio.Future[bool]]] = []
        self._has_items = asyncio.Event()
        self._full = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._closed = False

    async def record_feedback(self, event: FeedbackEvent) -> bool:
        """Same answer as ``Store.record_feedback``: False for a known idempotency key."""
        if self._closed:
            raise RuntimeError("FeedbackBatcher is closed")
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="feedback-batcher")
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.append((event, future))
        self._has_items.set()
        if len(self._queue) >= self.max_batch:
            self._full.set()
        return await future

    async def _run(self) -> None:
        while True:
            if not self._queue:
                if self._closed:
                    return
                self._has_items.clear()
                await self._has_items.wait()
                continue
            if len(self._queue) < self.max_batch and not self._closed:
                # let the other callers of this instant join the batch
                self._full.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), self.max_delay)
            batch, self._queue = self._queue[:self.max_batch], self._queue[self.max_batch:]
            await self._write(batch)

    async def _write(self, batch: list[tuple[FeedbackEvent, asyncio.Future[bool]]]) -> None:
        try:
            new_keys = await self.store.store_events([e for e, _ in batch])
        except Exception as exc:
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
            return
        for event, fut in batch:
            # a key twice in one batch: only its first caller stored something
            fresh = event.idempotency_key in new_keys
            new_keys.discard(event.idempotency_key)
            if not fut.done():
                fut.set_result(fresh)

    async def close(self) -> None:
        self._closed = True
        self._has_items.set()
        self._full.set()
        if self._task is not None:
            await self._task
