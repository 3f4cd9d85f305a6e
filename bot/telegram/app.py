"""The Telegram front-end: a python-telegram-bot `Application` whose handlers hand every
message, button press and reaction to the command layer and render what comes back.

Nothing here parses commands or touches the engine; `bot.commands` does that. This
module only translates Telegram updates into `bot.frontend.Incoming` events for the
`Frontend` base (which owns the rate limit, the admin check, the toast rule and the card
memory) and sends the `Reply` (see `render.py`). Card memory is deferred
(``defer_memory``): `process` awaits it after giving back its handler slot, and only then
may the update be confirmed.

Updates are fed in by `polling.DurableUpdateLoop` or `webhook.WebhookServer`, never by
PTB's own `Updater` (it confirms updates before the handlers have run).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from dataclasses import dataclass

from telegram import ReactionTypeEmoji, Update
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    ChosenInlineResultHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    MessageReactionHandler,
    filters,
)

from bot.actions import Action, InvalidAction
from bot.commands import Chat, CommandLayer, MessageRef, User
from bot.frontend import APOLOGY, Frontend, Incoming, Sent
from bot.inline import inline_cards
from bot.replies import Reply
from bot.store import is_outage

from .render import edit_reply, inline_results, quiet_raw_send_hint, send_reply
from .request import JSONBodyRequest

log = logging.getLogger("moviebot.telegram")

PLATFORM = "telegram"
# message_reaction is not delivered unless asked for explicitly (and, in groups, only
# when the bot is an administrator).
ALLOWED_UPDATES = ["message", "callback_query", "message_reaction", "inline_query",
                   "chosen_inline_result"]
# A shared inline card's message id (inline_message_id) lives in no chat the bot can see.
INLINE_CHAT = "inline"
_DEEP_LINK = re.compile(r"/start(?:@\w+)?\s+(\S+)\s*")
# Connections for sending (PTB's own default when it builds the transport itself).
SEND_CONNECTIONS = 256


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
    admins: frozenset[str] = frozenset()   # MOVIEBOT_ADMINS: "telegram:<id>" entries
    party_tick: float = 1.0            # how often the party clock looks for due parties (s)


# The Bot API's answers that will not change however often the update is retried (a 4xx
# other than 429): the message cannot be sent, the chat is gone, the bot was blocked.
PERMANENT = (BadRequest, Forbidden, ChatMigrated, Conflict, EndPointNotFound, InvalidToken)


def is_transient(error: BaseException | None) -> bool:
    """Worth retrying for as long as Telegram keeps the update: flood control, a network
    error or 5xx from the Bot API, the database unreachable."""
    if error is None:
        return False
    if isinstance(error, PERMANENT):
        return False
    return isinstance(error, RetryAfter | NetworkError | TimedOut) or is_outage(error)


def _event_id(update: Update) -> str:
    """The id a command's writes are keyed by: Telegram's update id, the same on every
    redelivery of the update (after a kill -9, or a retry in `DurableUpdateLoop`)."""
    return f"update:{update.update_id}"


def _where(chat) -> Chat:
    """The chat as the command layer sees it: groups and supergroups are groups."""
    return Chat(PLATFORM, str(chat.id), group=chat.type in ("group", "supergroup"))


def bot_api_base(url: str) -> str:
    """PTB appends the token to its base URL; accept both "http://host:8081" and ".../bot"."""
    url = url.rstrip("/")
    return url if url.endswith("/bot") else url + "/bot"


class TelegramFrontend(Frontend):
    """Owns the PTB Application; `process(update)` handles one update end to end."""

    platform = PLATFORM
    defer_memory = True

    def __init__(self, commands: CommandLayer, options: TelegramOptions):
        super().__init__(commands, admins=options.admins, user_rate=options.user_rate,
                         user_period=options.user_period)
        self.commands = commands
        self.options = options
        self.failed: dict[int, BaseException] = {}   # update id -> what its handler raised
        self._apologised: set[int] = set()
        # At most options.concurrency updates run their handlers at once (CPU work on a
        # small box); waiting for the database (see `process`) does not take a slot.
        self._slots = asyncio.Semaphore(options.concurrency)
        self._clock: asyncio.Task | None = None
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
        app.add_handler(InlineQueryHandler(self.on_inline_query))
        app.add_handler(ChosenInlineResultHandler(self.on_chosen_inline_result))
        app.add_error_handler(self.on_error)
        return app

    async def start(self) -> None:
        quiet_raw_send_hint()
        await self.app.initialize()
        self.commands.bot_username = self.app.bot.username or ""
        if self.commands.store is not None:
            self._clock = asyncio.create_task(self.party_clock(self.options.party_tick))

    async def stop(self) -> None:
        if self._clock is not None:
            self._clock.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._clock
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
            try:
                await self.settle(update.update_id)     # remember-before-confirm
            except Exception as error:  # noqa: BLE001 - the update stays unconfirmed
                await self._failed(update, error, self.app.bot)
        if update.update_id in self.failed:
            return False
        self._apologised.discard(update.update_id)
        return True

    # -- handlers: translate the update, the Frontend base does the rest -------------
    def who(self, update: Update) -> User:
        user = update.effective_user
        return self.user(str(user.id) if user else "0", user.full_name if user else "",
                         (user.language_code or "") if user else "")

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        ev = Incoming(self.who(update), chat=int(message.chat_id), key=update.update_id,
                      reply_to=message.message_id, event_id=_event_id(update),
                      where=_where(message.chat))
        link = _DEEP_LINK.fullmatch(message.text or "")
        if link is not None and message.chat.type == "private":
            try:       # "/start more-318": a shared card's button sent the user here
                return await self.follow(ev, Action.from_deep_link(link[1]))
            except InvalidAction:
                pass   # an ordinary "/start something": /start answers it
        await self.text(ev, message.text or "")

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        chat, ref, where = None, None, None
        if query.message is not None:
            chat = int(query.message.chat.id)
            ref = MessageRef(PLATFORM, str(chat), str(query.message.message_id))
            where = _where(query.message.chat)
        elif query.inline_message_id:       # a card someone shared inline
            ref = MessageRef(PLATFORM, INLINE_CHAT, query.inline_message_id)
        await self.press(Incoming(self.who(update), chat=chat, source=query, key=update.update_id,
                                  message_ref=ref, event_id=query.id, where=where),
                         query.data or "")

    async def on_reaction(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        change = update.message_reaction
        if change is None or change.user is None:   # anonymous group admins: no one to credit
            return
        old = {r.emoji for r in change.old_reaction if isinstance(r, ReactionTypeEmoji)}
        new = {r.emoji for r in change.new_reaction if isinstance(r, ReactionTypeEmoji)}
        ref = MessageRef(PLATFORM, str(change.chat.id), str(change.message_id))
        # Telegram sends the user's whole emoji set: every emoji in it is on the message
        # (stating the unchanged ones too repairs a change the rate limit held back), the
        # ones that left are off. The update id orders the changes (the date has
        # one-second resolution), so a redelivery or a replay changes nothing.
        changes = {emoji: False for emoji in old - new} | {emoji: True for emoji in new}
        await self.reaction(Incoming(self.who(update), key=update.update_id), ref, changes,
                            at=change.date, seq=update.update_id)

    async def on_inline_query(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """"@bot incep" typed in any chat: matching films as cards to share. Not rate
        limited like commands: Telegram sends one per pause in typing, and the answer is a
        cached sub-millisecond lookup."""
        query = update.inline_query
        try:
            cards = await inline_cards(self.layer, query.query or "")
        except Exception as error:  # noqa: BLE001 - an empty answer, never a retry storm
            log.warning("inline query failed: %s", type(error).__name__)
            cards = []
        await inline_results(self.app.bot, query.id, cards)

    async def on_chosen_inline_result(self, update: Update,
                                      context: ContextTypes.DEFAULT_TYPE) -> None:
        """A card was shared (Telegram reports it when inline feedback is on): remember
        which film that message shows, as for any card."""
        chosen = update.chosen_inline_result
        if chosen.inline_message_id and chosen.result_id.isdigit():
            await self.layer.remember(MessageRef(PLATFORM, INLINE_CHAT, chosen.inline_message_id),
                                      int(chosen.result_id),
                                      {"command": "inline", "query": chosen.query[:200]})

    async def elsewhere(self, ev: Incoming, payload: str, reply: Reply) -> None:
        """"More like this" on a card shared inline: the bot may not be in that chat, so the
        answer opens the bot's own chat with the button's deep link (``/start more-318``),
        which answers there, for whoever pressed it."""
        try:
            link = Action.decode(payload).deep_link()
        except InvalidAction:
            link = None
        if link and self.layer.bot_username:
            await ev.source.answer(url=f"https://t.me/{self.layer.bot_username}?start={link}")
        else:
            await self.toast(ev, "Open a chat with me to see that.")

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._failed(update, context.error, context.bot)

    async def _failed(self, update: object, error: BaseException, bot) -> None:
        # Never a stack trace in chat: log it, apologise, and keep the update unconfirmed.
        if is_transient(error):      # an outage: one line (the loop says when it retries)
            log.info("update failed: %s", type(error).__name__)
        else:
            log.error("update failed: %r", error, exc_info=error)
        if isinstance(update, Update):
            first_failure = update.update_id not in self._apologised
            self.failed[update.update_id] = error
            self._apologised.add(update.update_id)      # once, not on every retry
            # A transient failure is retried until it is answered: "please try again" would
            # be wrong there (it went out beside the real answer when an outage ended just
            # between the two sends), and a user who did would get two answers.
            if (first_failure and not is_transient(error) and update.effective_chat
                    and update.effective_message and not update.message_reaction):
                try:
                    await bot.send_message(update.effective_chat.id, APOLOGY)
                except Exception:  # noqa: BLE001 - the apology is best effort
                    pass

    # -- the Frontend primitives -------------------------------------------------------
    async def send(self, ev: Incoming, reply: Reply) -> list[Sent]:
        if ev.chat is None:         # a press on a message Telegram no longer shows us
            return []
        sent = await send_reply(self.app.bot, ev.chat, reply, reply_to=ev.reply_to)
        chat = str(ev.chat)
        return [Sent(MessageRef(PLATFORM, chat, str(item.message_id)), item.movie_id) for item in sent]

    async def toast(self, ev: Incoming, text: str | None) -> None:
        await ev.source.answer(text)

    async def edit(self, ev: Incoming, reply: Reply) -> None:
        await self.toast(ev, reply.notice or None)
        await edit_reply(self.app.bot, int(ev.message_ref.chat_id),
                         int(ev.message_ref.message_id), reply)

    async def post(self, chat_id: str, reply: Reply) -> list[Sent]:
        sent = await send_reply(self.app.bot, int(chat_id), reply)
        return [Sent(MessageRef(PLATFORM, str(chat_id), str(item.message_id)), item.movie_id)
                for item in sent]
