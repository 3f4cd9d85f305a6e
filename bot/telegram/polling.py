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
    TelegramError,
    TimedOut,
)

from .app import ALLOWED_UPDATES, PERMANENT, TelegramFrontend, is_transient
from .render import api_call

log = logging.getLogger("moviebot.telegram.polling")

# A long poll may take its ``timeout`` to answer; the read timeout allows that plus this
# (PTB's get_updates does the same with its default read timeout of 5 s).
READ_MARGIN = 5.0
# Telegram keeps an unconfirmed update for 24 hours: a transient failure (the Bot API or
# the database down) is retried, with this cap on the wait between tries, that long.
MAX_BACKOFF = 30.0
KEEP_FOR = 24 * 3600.0
# On SIGTERM, in-flight updates get this long to finish; the rest stay unconfirmed and
# come again after the restart (Docker kills after 10 s; we promise 5).
SHUTDOWN_GRACE = 2.5
CONFIRM_TIMEOUT = 1.0

def describe(update: Update) -> str:
    """What a log line may say about an update: its kind, never its text or user names."""
    kind = next((k for k in ("message", "callback_query", "message_reaction")
                 if getattr(update, k, None) is not None), "other")
    return f"{update.update_id} ({kind})"


class DurableUpdateLoop:
    def __init__(self, frontend: TelegramFrontend, *, poll_timeout: int = 25, limit: int = 100,
                 retries: int = 3, retry_delay: float = 1.0, max_backoff: float = MAX_BACKOFF,
                 keep_for: float = KEEP_FOR, shutdown_grace: float = SHUTDOWN_GRACE,
                 min_wait: float = 1.0):
        self.frontend = frontend
        self.poll_timeout = poll_timeout
        self.limit = limit                    # updates per getUpdates (Telegram's maximum: 100)
        # Fetch again once no more than this many are still running. Every fetch sends
        # those again (JSON both ways, but no longer parsed into Updates), while fetching
        # too late leaves the workers idle for a round trip: 3x the worker count measured
        # best with a 30 ms Bot API round trip.
        self.low_water = 3 * frontend.options.concurrency
        self.retries = retries                # tries for an unexpected error (a bug)
        self.retry_delay = retry_delay        # first wait between tries, doubled each time ...
        self.max_backoff = max_backoff        # ... up to this
        # A waiting update is tried again early once another one gets through (the outage
        # is over), but not sooner than this: an update that keeps failing on its own must
        # not be retried at the rate the others succeed.
        self.min_wait = min_wait
        self.keep_for = keep_for              # how long Telegram keeps an update
        self.shutdown_grace = shutdown_grace
        self.processed = 0
        self.given_up = 0                     # permanent failures, counted (and logged)
        self._waiting: set[int] = set()       # failed transiently, waiting to be tried again
        self._newest: int | None = None       # highest update id seen
        self._inflight: dict[int, asyncio.Task] = {}
        self._held: set[int] = set()          # stopped before they could be stored
        self._last_in_chat: dict[object, asyncio.Task] = {}
        self._stop = asyncio.Event()
        self._finished = asyncio.Event()      # set each time an in-flight update finishes
        self._recovered = asyncio.Event()     # set (and renewed) when an update gets through

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
            # Updates waiting out a Bot API or database outage take no worker: they must
            # not keep the others from being fetched.
            if len(self._inflight) - len(self._waiting) > self.low_water:
                await self._some_done()           # plenty to do: fetch more later
                continue
            try:
                updates = await self._poll(bot, timeout=0 if self._inflight else self.poll_timeout)
                backoff = 1.0
            except (InvalidToken, EndPointNotFound, Forbidden):
                raise    # a revoked token reads as EndPointNotFound from do_api_request
            except RetryAfter as exc:
                await self._sleep(_seconds(exc.retry_after))
                continue
            except (NetworkError, TimedOut) as exc:
                log.warning("getUpdates failed (%s); retrying in %.0fs", type(exc).__name__, backoff)
                await self._sleep(backoff)      # SIGTERM ends the wait at once
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
        """Process one update until it is handled, or its failure is permanent.

        A transient failure (the Bot API or the database down, flood control) never drops
        the update: it stays unconfirmed (so it also survives a restart) and is tried
        again with capped exponential backoff for as long as Telegram keeps it, while
        updates from other chats go on. Only a permanent Bot API error (a 4xx other than
        429), or an unexpected error `retries` times in a row, gives up on it."""
        attempt = 0
        loop = asyncio.get_running_loop()
        started = loop.time()
        error: BaseException | None = None
        while True:
            if await self.frontend.process(update):
                self.processed += 1
                if self._waiting:
                    recovered, self._recovered = self._recovered, asyncio.Event()
                    recovered.set()
                return
            error = self.frontend.failed.get(update.update_id)
            transient = is_transient(error)
            if not transient and (attempt >= self.retries or isinstance(error, PERMANENT)):
                break
            if transient and loop.time() - started > self.keep_for:
                break      # Telegram has dropped it by now anyway
            if self._stop.is_set():
                self._held.add(update.update_id)   # unconfirmed: delivered again after restart
                return
            if isinstance(error, RetryAfter):
                delay = _seconds(error.retry_after)
            else:
                delay = min(self.retry_delay * (2 ** min(attempt, 30)), self.max_backoff)
            if attempt == 0 or delay >= self.max_backoff:
                log.warning("update %s failed (%s); trying again in %.1fs", describe(update),
                            _error_name(error), delay)
            self._waiting.add(update.update_id)
            # flood control (RetryAfter) is Telegram's order for this chat: never cut short
            wake = None if isinstance(error, RetryAfter) else self._recovered
            try:
                await self._sleep(delay, wake)
            finally:
                self._waiting.discard(update.update_id)
            attempt += 1
        # A poison update must not block its chat forever. Logged without its text or the
        # user's name: the update id and the error are enough to find it.
        self.given_up += 1
        log.error("giving up on update %s after %d attempts: %s (%d given up so far)",
                  describe(update), attempt + 1, _error_name(error), self.given_up)

    async def _sleep(self, seconds: float, wake: asyncio.Event | None = None) -> None:
        """Sleep, but wake at once when stopped (SIGTERM must not wait out a backoff), and
        after ``min_wait`` once ``wake`` is set (another update got through)."""
        loop = asyncio.get_running_loop()
        until = loop.time() + seconds
        await _first_of([self._stop], min(seconds, self.min_wait))
        await _first_of([self._stop] if wake is None else [self._stop, wake], until - loop.time())

    async def _drain(self, bot) -> None:
        """On stop: let in-flight updates finish (briefly), then confirm what is done.

        Bounded in time whatever the Bot API or the database do: what has not finished
        within `shutdown_grace` is cancelled and stays unconfirmed, so Telegram delivers
        it again after the restart (its writes are idempotent, see bot.feedback)."""
        if self._inflight:
            tasks = dict(self._inflight)
            _, late = await asyncio.wait(tasks.values(), timeout=self.shutdown_grace)
            for update_id, task in tasks.items():
                if task in late:
                    self._held.add(update_id)     # before cancelling: never confirmed
                    task.cancel()
            if late:
                await asyncio.wait(late, timeout=1.0)
                log.warning("stopped with %d updates unfinished; Telegram sends them again",
                            len(late))
        if self.offset is not None:
            try:
                await asyncio.wait_for(self._fetch(bot, timeout=0, limit=1), CONFIRM_TIMEOUT)
            except (TelegramError, TimeoutError) as exc:   # they come again on the next start
                log.warning("could not confirm the last updates: %s", _error_name(exc))


def _chat_key(update: Update) -> object:
    chat = update.effective_chat
    return chat.id if chat else update.update_id


def _error_name(error: BaseException | None) -> str:
    """An error's class and, for the Bot API's own errors, its short description (which
    never holds message text); other errors' messages might, so only their class."""
    if error is None:
        return "unknown error"
    if isinstance(error, TelegramError):
        return f"{type(error).__name__}: {error.message[:120]}"
    return type(error).__name__


def _seconds(value) -> float:
    return value.total_seconds() if hasattr(value, "total_seconds") else float(value)


async def _first_of(events: list[asyncio.Event], timeout: float) -> None:
    """Wait until any of ``events`` is set, at most ``timeout`` seconds."""
    if timeout <= 0 or any(e.is_set() for e in events):
        return
    waits = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
