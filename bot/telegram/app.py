"""The Telegram front-end: a python-telegram-bot `Application` whose handlers hand every
message, button press and reaction to the command layer and render what comes back.

Nothing here parses commands or touches the engine; `bot.commands` does that. This
module only translates Telegram updates into a `User` + text/action/reaction, applies the
per-user rate limit, and sends the `Reply` (see `render.py`).

Updates are fed in by `polling.DurableUpdateLoop` or `webhook.WebhookServer`, never by
PTB's own `Updater` (it confirms updates before the handlers have run).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass

from telegram import ReactionTypeEmoji, Update
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    MessageReactionHandler,
    filters,
)

from bot.commands import CommandLayer, MessageRef, User
from bot.replies import Reply

from .ratelimit import UserRateLimit
from .render import quiet_raw_send_hint, send_reply
from .request import JSONBodyRequest

log = logging.getLogger("moviebot.telegram")

PLATFORM = "telegram"
# message_reaction is not delivered unless asked for explicitly (and, in groups, only
# when the bot is an administrator).
ALLOWED_UPDATES = ["message", "callback_query", "message_reaction"]
# Connections for sending (PTB's own default when it builds the transport itself).
SEND_CONNECTIONS = 256
SLOW_DOWN = "You're going a bit fast 🙂 Give me a few seconds and try again."
OOPS = "Sorry, something went wrong on my side. Please try again in a moment."


@dataclass
class TelegramOptions:
    token: str
    base_url: str = ""                 # TELEGRAM_API_BASE_URL, e.g. a self-hosted Bot API server
    concurrency: int = 8               # updates handled at once (bounded: faster on 2 cores)
    user_rate: int = 8                 # commands per user ...
    user_period: float = 10.0          # ... per this many seconds
    flood_retries: int = 3             # resend after a 429, waiting the server's retry_after
    overall_max_rate: float = 30       # Telegram's documented global send limit (msgs/s)
    group_max_rate: float = 20         # ... and per group (msgs/min)
    admins: frozenset[str] = frozenset()   # MOVIEBOT_ADMINS: "telegram:<id>" or bare ids


def is_admin(admins: frozenset[str], platform: str, user_id: str) -> bool:
    return f"{platform}:{user_id}" in admins or user_id in admins


def bot_api_base(url: str) -> str:
    """PTB appends the token to its base URL; accept both "http://host:8081" and ".../bot"."""
    url = url.rstrip("/")
    return url if url.endswith("/bot") else url + "/bot"


class TelegramFrontend:
    """Owns the PTB Application; `process(update)` handles one update end to end."""

    def __init__(self, commands: CommandLayer, options: TelegramOptions):
        self.commands = commands
        self.options = options
        self.limits = UserRateLimit(options.user_rate, options.user_period)
        self.failed: dict[int, BaseException] = {}   # update id -> what its handler raised
        self._apologised: set[int] = set()
        # At most options.concurrency updates run their handlers at once (CPU work on a
        # small box); waiting for the database (see `process`) does not take a slot.
        self._slots = asyncio.Semaphore(options.concurrency)
        self._unstored: dict[int, list[Awaitable]] = {}   # update id -> its cards to remember
        self.app = self._build()

    def _build(self) -> Application:
        # No Updater: updates come from polling.py / webhook.py, through `process`.
        builder = (Application.builder().token(self.options.token).updater(None)
                   # a second connection for getUpdates: the confirming call on shutdown
                   # must not wait for a cancelled long poll to free the only one
                   .get_updates_connection_pool_size(2)
                   .request(JSONBodyRequest(connection_pool_size=SEND_CONNECTIONS))
                   .rate_limiter(AIORateLimiter(
                       overall_max_rate=self.options.overall_max_rate,
                       group_max_rate=self.options.group_max_rate,
                       max_retries=self.options.flood_retries)))
        if self.options.base_url:
            builder = builder.base_url(bot_api_base(self.options.base_url))
        app = builder.build()
        app.add_handler(MessageHandler(filters.TEXT & ~filters.UpdateType.EDITED, self.on_text))
        app.add_handler(CallbackQueryHandler(self.on_button))
        app.add_handler(MessageReactionHandler(self.on_reaction))
        app.add_error_handler(self.on_error)
        return app

    async def start(self) -> None:
        quiet_raw_send_hint()
        await self.app.initialize()
        self.commands.bot_username = self.app.bot.username or ""

    async def stop(self) -> None:
        await self.app.shutdown()

    async def process(self, update: Update) -> bool:
        """Handle one update; False if a handler failed or what it sent could not be
        remembered (the caller must not confirm it then).

        The handlers run holding a slot. Remembering the sent cards is a database write
        that `MessageBatcher` shares between updates; it is awaited after the slot is given
        back, so updates waiting for it do not keep the others from running (with the slot
        held, the event loop sat idle while all of them waited for the same write)."""
        self.failed.pop(update.update_id, None)
        try:
            async with self._slots:
                await self.app.process_update(update)
        finally:
            await self._remember_sent(update)
        if update.update_id in self.failed:
            return False
        self._apologised.discard(update.update_id)
        return True

    async def _remember_sent(self, update: Update) -> None:
        pending = self._unstored.pop(update.update_id, [])
        if not pending:
            return
        results = await asyncio.gather(*pending, return_exceptions=True)
        error = next((r for r in results if isinstance(r, BaseException)), None)
        if error is not None:
            await self._failed(update, error, self.app.bot)

    # -- handlers ----------------------------------------------------------------
    def who(self, update: Update) -> User:
        user = update.effective_user
        user_id = str(user.id) if user else "0"
        return User(PLATFORM, user_id, user.full_name if user else "",
                    is_admin=is_admin(self.options.admins, PLATFORM, user_id))

    def _limited(self, who: User) -> bool:
        return not self.limits.allow(who.user_id)

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        who = self.who(update)
        if self._limited(who):
            if self.limits.first_refusal(who.user_id):
                await message.reply_text(SLOW_DOWN)
            return
        reply = await self.commands.handle(message.text or "", who)
        if reply is None:     # e.g. chatter in a group that was not addressed to us
            return
        await self.send(update, int(message.chat_id), reply, reply_to=message.message_id)

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        who = self.who(update)
        if self._limited(who):
            await query.answer(SLOW_DOWN)
            return
        ref = None
        if query.message is not None:
            ref = MessageRef(PLATFORM, str(query.message.chat.id), str(query.message.message_id))
        reply = await self.commands.press(query.data or "", who, message_ref=ref,
                                          event_id=query.id)
        if reply is None:
            await query.answer()
            return
        # A short confirmation ("Saved 👍") shows as a toast; anything bigger is a new message.
        if reply.text and not reply.cards and not reply.buttons and len(reply.text) <= 180:
            await query.answer(reply.text)
            return
        await query.answer()
        if query.message is not None:
            await self.send(update, int(query.message.chat.id), reply)

    async def on_reaction(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        change = update.message_reaction
        if change is None or change.user is None:   # anonymous group admins: no one to credit
            return
        who = self.who(update)
        old = {r.emoji for r in change.old_reaction if isinstance(r, ReactionTypeEmoji)}
        new = {r.emoji for r in change.new_reaction if isinstance(r, ReactionTypeEmoji)}
        ref = MessageRef(PLATFORM, str(change.chat.id), str(change.message_id))
        for emoji in new - old:
            await self.commands.reaction(who, ref, emoji, added=True, at=change.date)
        for emoji in old - new:
            await self.commands.reaction(who, ref, emoji, added=False, at=change.date)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._failed(update, context.error, context.bot)

    async def _failed(self, update: object, error: BaseException, bot) -> None:
        # Never a stack trace in chat: log it, apologise, and keep the update unconfirmed.
        log.error("update failed: %r", error, exc_info=error)
        if isinstance(update, Update):
            first_failure = update.update_id not in self._apologised
            self.failed[update.update_id] = error
            self._apologised.add(update.update_id)      # once, not on every retry
            if (first_failure and update.effective_chat and update.effective_message
                    and not update.message_reaction):
                try:
                    await bot.send_message(update.effective_chat.id, OOPS)
                except Exception:  # noqa: BLE001 - the apology is best effort
                    pass

    # -- sending -----------------------------------------------------------------
    async def send(self, update: Update, chat_id: int, reply: Reply,
                   reply_to: int | None = None) -> None:
        sent = await send_reply(self.app.bot, chat_id, reply, reply_to=reply_to)
        # Persist message -> movie so a reaction days later, after restarts, resolves.
        # `process` awaits these (all cards of the reply in one batch) once the handler
        # is done, and only then does the update count as handled.
        self._unstored.setdefault(update.update_id, []).extend(
            self.commands.remember(MessageRef(PLATFORM, str(chat_id), str(item.message_id)),
                                   item.movie_id, reply.context)
            for item in sent if item.movie_id is not None)
