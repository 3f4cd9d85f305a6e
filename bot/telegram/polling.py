"""Long polling that never loses an update.

Telegram forgets an update once a ``getUpdates`` call passes an ``offset`` above its id.
PTB's `Updater` sends that offset as soon as it has *queued* updates, before any handler
ran, so a crash (or kill -9) in between loses them. This loop only ever sends
``offset = the smallest update id still being processed``: everything below it has been
handled and its feedback stored. After a crash the unconfirmed updates come again, and
the typed identity of feedback in the store makes the replay harmless (a reaction is
stored once however often it is delivered).

It is a sliding window, not batch-at-a-time: when only a few updates of a batch are
still running it fetches the next batch (``getUpdates`` from the watermark returns those
few again; they are skipped), so stragglers do not leave the workers idle. Updates from
different chats run concurrently (bounded); updates from one chat run in order, so a 👍
and its removal are never swapped.

Because of that re-sending, ``getUpdates`` is called raw (JSON dicts, see `_fetch`) and
only updates not seen before are parsed into `Update` objects: parsing the re-sent ones
only to skip them was a large share of the CPU per command.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from telegram import Update
from telegram.error import (
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)

from bot.store import is_outage

from .app import ALLOWED_UPDATES, TelegramFrontend
from .render import api_call

log = logging.getLogger("moviebot.telegram.polling")

# A long poll may take its ``timeout`` to answer; the read timeout allows that plus this
# (PTB's get_updates does the same with its default read timeout of 5 s).
READ_MARGIN = 5.0


class DurableUpdateLoop:
    def __init__(self, frontend: TelegramFrontend, *, poll_timeout: int = 25, limit: int = 100,
                 retries: int = 3, retry_delay: float = 1.0):
        self.frontend = frontend
        self.poll_timeout = poll_timeout
        self.limit = limit                    # updates per getUpdates (Telegram's maximum: 100)
        # Fetch again once no more than this many are still running. Every fetch sends
        # those again (JSON both ways, but no longer parsed into Updates), while fetching
        # too late leaves the workers idle for a round trip: 3x the worker count measured
        # best with a 30 ms Bot API round trip.
        self.low_water = 3 * frontend.options.concurrency
        self.retries = retries
        self.retry_delay = retry_delay
        self.processed = 0
        self._newest: int | None = None       # highest update id seen
        self._inflight: dict[int, asyncio.Task] = {}
        self._held: set[int] = set()          # stopped before they could be stored
        self._last_in_chat: dict[object, asyncio.Task] = {}
        self._stop = asyncio.Event()
        self._finished = asyncio.Event()      # set each time an in-flight update finishes

    def stop(self) -> None:
        self._stop.set()

    @property
    def offset(self) -> int | None:
        """What the next getUpdates confirms: everything below it is fully handled."""
        pending = self._inflight.keys() | self._held
        if pending:
            return min(pending)
        return self._newest + 1 if self._newest is not None else None

    async def run(self) -> None:
        bot = self.frontend.app.bot
        # A webhook set earlier would make getUpdates fail with a conflict.
        await bot.delete_webhook(drop_pending_updates=False)
        backoff = 1.0
        idle = 0.02
        while not self._stop.is_set():
            if len(self._inflight) > self.low_water:
                await self._some_done()           # plenty to do: fetch more later
                continue
            try:
                updates = await self._poll(bot, timeout=0 if self._inflight else self.poll_timeout)
                backoff = 1.0
            except (InvalidToken, EndPointNotFound, Forbidden):
                raise    # a revoked token reads as EndPointNotFound from do_api_request
            except RetryAfter as exc:
                await asyncio.sleep(_seconds(exc.retry_after))
                continue
            except (NetworkError, TimedOut) as exc:
                log.warning("getUpdates failed (%s); retrying in %.0fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 60.0)
                continue
            if updates is None:                   # stopped while waiting
                break
            fresh = self._parse_fresh(bot, updates)
            for update in fresh:
                self._start(update)
            if self._inflight and len(updates) < self.limit:
                # Nothing more was waiting. A long poll would return at once (the in-flight
                # updates are still unconfirmed), so look again shortly, or as soon as one
                # finishes, and back off while nothing new comes in.
                idle = 0.02 if fresh else min(idle * 2, 1.0)
                await self._some_done(timeout=idle)
        await self._drain(bot)

    async def _poll(self, bot, timeout: int) -> list[dict] | None:
        """One (long) poll, cut short by stop() so SIGTERM does not wait out the timeout."""
        poll = asyncio.ensure_future(self._fetch(bot, timeout, self.limit))
        stopped = asyncio.ensure_future(self._stop.wait())
        await asyncio.wait({poll, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if not poll.done():
            poll.cancel()
            return None
        return poll.result()

    async def _fetch(self, bot, timeout: int, limit: int) -> list[dict]:
        """getUpdates from `offset` (which confirms everything below it), as raw JSON."""
        params = {"offset": self.offset, "limit": limit, "timeout": timeout,
                  "allowed_updates": ALLOWED_UPDATES}
        return await api_call(bot, "getUpdates", params, read_timeout=timeout + READ_MARGIN)

    def _parse_fresh(self, bot, raw: list[dict]) -> list[Update]:
        """The updates not seen before, parsed; re-sent in-flight ones are skipped unparsed."""
        fresh = []
        for data in raw:
            if self._newest is not None and data["update_id"] <= self._newest:
                continue
            update = Update.de_json(data, bot)
            bot.insert_callback_data(update)      # what ExtBot.get_updates does for each
            self._newest = update.update_id
            fresh.append(update)
        return fresh

    async def _some_done(self, timeout: float | None = None) -> None:
        """Wait until an in-flight update finishes (or ``timeout`` passes).

        One event for all of them: asyncio.wait() on every in-flight task hooked and unhooked
        a callback per task (up to 100) on every wake-up, i.e. on every finished update."""
        self._finished.clear()
        if self._inflight:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._finished.wait(), timeout)

    def _start(self, update: Update) -> None:
        chat = _chat_key(update)
        previous = self._last_in_chat.get(chat)
        task = asyncio.create_task(self._handle_after(previous, update))
        self._inflight[update.update_id] = task
        self._last_in_chat[chat] = task

        def finished(_: asyncio.Task, update_id=update.update_id, chat=chat) -> None:
            self._inflight.pop(update_id, None)
            if self._last_in_chat.get(chat) is task:
                del self._last_in_chat[chat]
            self._finished.set()
        task.add_done_callback(finished)

    async def _handle_after(self, previous: asyncio.Task | None, update: Update) -> None:
        if previous is not None:
            await asyncio.wait({previous})    # same chat: keep Telegram's order
        await self.handle_one(update)       # the frontend bounds how many run at once

    async def handle_one(self, update: Update) -> None:
        attempt = 0
        while True:
            if await self.frontend.process(update):
                self.processed += 1
                return
            error = self.frontend.failed.get(update.update_id)
            if error is not None and is_outage(error):
                # The database is down: Telegram keeps the update (24 h), so wait for the
                # database instead of giving up, and never confirm it before it is stored.
                if self._stop.is_set():
                    self._held.add(update.update_id)
                    return
                await asyncio.sleep(min(self.retry_delay * (2 ** attempt), 30.0))
                attempt += 1
                continue
            if attempt >= self.retries:
                break
            await asyncio.sleep(self.retry_delay * (2 ** attempt))
            attempt += 1
        # A poison update must not block everyone behind it forever; it is logged for replay.
        log.error("giving up on update %s after %d attempts: %s", update.update_id,
                  attempt + 1, update.to_json())

    async def _drain(self, bot) -> None:
        """On stop: let in-flight updates finish, then confirm what is done."""
        if self._inflight:
            await asyncio.wait(list(self._inflight.values()), timeout=30)
        if self.offset is not None:
            try:
                await self._fetch(bot, timeout=0, limit=1)
            except (NetworkError, TimedOut) as exc:   # they come again on the next start
                log.warning("could not confirm the last updates: %s", exc)


def _chat_key(update: Update) -> object:
    chat = update.effective_chat
    return chat.id if chat else update.update_id


def _seconds(value) -> float:
    return value.total_seconds() if hasattr(value, "total_seconds") else float(value)
