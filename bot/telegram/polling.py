"""Long polling that never loses an update.

Telegram forgets an update once a ``getUpdates`` call passes an ``offset`` above its id.
PTB's `Updater` sends that offset as soon as it has *queued* a batch, before any handler
ran, so a crash (or kill -9) in between loses those updates. This loop confirms a batch
only after every update in it was handled and its feedback stored; after a crash the
whole unconfirmed batch comes again, and idempotency keys in the store make the replay
harmless (a reaction is stored once however often it is delivered).

Within a batch, updates from different chats run concurrently (bounded), updates from
the same chat run in order: a 👍 followed by its removal must not be swapped.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

from telegram import Update
from telegram.error import Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut

from .app import ALLOWED_UPDATES, TelegramFrontend

log = logging.getLogger("moviebot.telegram.polling")


class DurableUpdateLoop:
    def __init__(self, frontend: TelegramFrontend, *, poll_timeout: int = 25, limit: int = 100,
                 retries: int = 3, retry_delay: float = 1.0):
        self.frontend = frontend
        self.poll_timeout = poll_timeout
        self.limit = limit
        self.retries = retries
        self.retry_delay = retry_delay
        self.offset: int | None = None
        self.processed = 0
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        bot = self.frontend.app.bot
        # A webhook set earlier would make getUpdates fail with a conflict.
        await bot.delete_webhook(drop_pending_updates=False)
        backoff = 1.0
        while not self._stop.is_set():
            try:
                updates = await self._poll(bot)
                if updates is None:   # stopped while waiting
                    break
                backoff = 1.0
            except (InvalidToken, Forbidden):
                raise
            except RetryAfter as exc:
                await asyncio.sleep(_seconds(exc.retry_after))
                continue
            except (NetworkError, TimedOut) as exc:
                log.warning("getUpdates failed (%s); retrying in %.0fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 60.0)
                continue
            if not updates:
                continue
            await self.handle_batch(updates)
            # Only now may Telegram forget them: the next getUpdates carries this offset.
            self.offset = updates[-1].update_id + 1
        if self.offset is not None:
            # Confirm the last batch before leaving, so a clean restart does not replay it.
            await bot.get_updates(offset=self.offset, limit=1, timeout=0,
                                  allowed_updates=ALLOWED_UPDATES)

    async def _poll(self, bot) -> list[Update] | None:
        """One long poll, cut short by stop() (so SIGTERM does not wait out the timeout)."""
        poll = asyncio.ensure_future(bot.get_updates(
            offset=self.offset, limit=self.limit, timeout=self.poll_timeout,
            allowed_updates=ALLOWED_UPDATES))
        stopped = asyncio.ensure_future(self._stop.wait())
        await asyncio.wait({poll, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if not poll.done():
            poll.cancel()
            return None
        return poll.result()

    async def handle_batch(self, updates: list[Update]) -> None:
        by_chat: dict[object, list[Update]] = defaultdict(list)
        for update in updates:
            by_chat[_chat_key(update)].append(update)
        gate = asyncio.Semaphore(self.frontend.options.concurrency)

        async def run_chat(chat_updates: list[Update]) -> None:
            async with gate:
                for update in chat_updates:
                    await self.handle_one(update)

        await asyncio.gather(*(run_chat(u) for u in by_chat.values()))

    async def handle_one(self, update: Update) -> None:
        for attempt in range(self.retries + 1):
            if await self.frontend.process(update):
                self.processed += 1
                return
            if attempt < self.retries:
                await asyncio.sleep(self.retry_delay * (2 ** attempt))
        # A poison update must not block everyone behind it forever; it is logged for replay.
        log.error("giving up on update %s after %d attempts: %s", update.update_id,
                  self.retries + 1, update.to_json())


def _chat_key(update: Update) -> object:
    chat = update.effective_chat
    return chat.id if chat else update.update_id


def _seconds(value) -> float:
    return value.total_seconds() if hasattr(value, "total_seconds") else float(value)
