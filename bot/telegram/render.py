"""Draw a platform-neutral `bot.replies.Reply` as Telegram messages.

One message per card (a photo with a caption when the card has a poster), so every
recommended movie can get its own 👍/👎 reaction and the reaction maps to exactly one
movie. All user-visible text goes out as HTML with everything escaped: titles and user
input can contain ``<``, ``&`` or Markdown characters and must never be interpreted.
"""

from __future__ import annotations

import html
import logging
import warnings
from dataclasses import dataclass
from typing import Any

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.warnings import PTBUserWarning

from bot.replies import Button, Card, Reply

log = logging.getLogger("moviebot.telegram")

CAPTION_LIMIT = 1024      # Telegram's limit for photo captions
TEXT_LIMIT = 4096         # ... and for text messages
CALLBACK_LIMIT = 64       # bytes of callback_data
NO_PREVIEW = {"is_disabled": True}     # LinkPreviewOptions(is_disabled=True), as the API takes it


@dataclass
class SentCard:
    message_id: int
    movie_id: int | None


def quiet_raw_send_hint() -> None:
    """`Bot.do_api_request` warns when it is used for a method PTB wraps (it suggests
    `Bot.send_photo`); here that is on purpose (see `api_call`), so the hint is silenced
    for these methods only."""
    warnings.filterwarnings("ignore", message=r"Please use 'Bot\.(sendMessage|sendPhoto|getUpdates|"
                            r"editMessageText|answerInlineQuery)'",
                            category=PTBUserWarning)


async def api_call(bot: Bot, method: str, params: dict[str, Any], **timeouts) -> Any:
    """One Bot API call through PTB's public `do_api_request`, answered as the raw JSON.

    Used where PTB's typed method does work we throw away. `bot.send_photo(...)` parses
    the answer into a full `Message` (with the keyboard we just sent) and first stat()s
    the photo URL in case it is a local file, yet all we read back is ``message_id``;
    `bot.get_updates` parses every update, also the re-sent ones polling.py skips.
    The call still takes PTB's path for everything that matters: `AIORateLimiter`
    (flood control, retry_after; getUpdates is exempt, as in PTB), timeouts, and the
    mapping of errors to BadRequest, RetryAfter, Forbidden, NetworkError..."""
    return await bot.do_api_request(method, api_kwargs=params, **timeouts)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def escape_cut(text: str, limit: int) -> str:
    """``text`` HTML-escaped and at most ``limit`` characters: cut in the raw text, where a
    character is whole, never inside an entity such as ``&amp;`` (cutting the escaped text
    could leave ``&am``, which Telegram rejects)."""
    escaped = html.escape(text, quote=False)
    if len(escaped) <= limit:
        return escaped
    room, size = limit - 1, 0            # one character for the "…"
    for end, char in enumerate(text):
        size += len(html.escape(char, quote=False))
        if size > room:
            return html.escape(text[:end].rstrip(), quote=False) + "…"
    return escaped


def card_html(card: Card, limit: int = CAPTION_LIMIT) -> str:
    """The card as Telegram HTML, at most ``limit`` characters (escaping can make text up
    to 5x longer, so the raw parts are shortened until the result fits)."""
    cut = 400
    while True:
        text = _card_html(card, limit, cut)
        if len(text) <= limit or cut <= 25:
            return text
        cut //= 2


def _card_html(card: Card, limit: int, cut: int) -> str:
    head = [f"<b>{html.escape(_cut(card.title, cut), quote=False)}</b>"]
    if card.subtitle:
        head.append(f"<i>{html.escape(_cut(card.subtitle, cut), quote=False)}</i>")
    if card.reason:
        head.append("💡 " + html.escape(_cut(card.reason, cut), quote=False))
    if card.link_url and not card.image_url:
        head.append(f'<a href="{html.escape(card.link_url, quote=True)}">Trailer / details</a>')
    text = "\n".join(head)
    if card.body:
        # Cut the raw body before escaping so an entity like &amp; is never split in two.
        room = limit - len(text) - 2 - 20
        body = html.escape(_cut(card.body, room), quote=False) if room > 40 else ""
        while body and len(text) + 2 + len(body) > limit:   # escaping made it longer
            room = room * 3 // 4
            body = html.escape(_cut(card.body, room), quote=False) if room > 40 else ""
        if body:
            text += "\n\n" + body
    return text


def keyboard(rows: list[list[Button]]) -> dict | None:
    """The buttons as the Bot API's InlineKeyboardMarkup JSON ({"inline_keyboard": rows}).

    Plain dicts rather than PTB's InlineKeyboardMarkup objects: PTB would only turn those
    straight back into these dicts (to_dict) for the request, and building plus converting
    them cost ~50 us per card, a measurable share of a command."""
    out = []
    for row in rows:
        buttons = []
        for b in row:
            if b.url:
                buttons.append({"text": b.label, "url": b.url})
            elif b.action is not None:
                data = b.action.encode()
                if len(data.encode()) <= CALLBACK_LIMIT:
                    buttons.append({"text": b.label, "callback_data": data})
        if buttons:
            out.append(buttons)
    return {"inline_keyboard": out} if out else None


def _rows(buttons: list[Button], per_row: int = 4) -> list[list[Button]]:
    if any(b.row is not None for b in buttons):    # the reply says which go together
        rows: dict[int, list[Button]] = {}
        for b in buttons:
            rows.setdefault(b.row if b.row is not None else -1, []).append(b)
        return [rows[r] for r in sorted(rows)]
    return [buttons[i:i + per_row] for i in range(0, len(buttons), per_row)]


INLINE_CACHE_SECONDS = 300


async def inline_results(bot: Bot, query_id: str, cards: list[Card]) -> None:
    """Answer an inline query with one article per card: title, facts and poster in the
    list; choosing one shares the card (HTML, the poster as the link preview above the
    text) with its buttons."""
    results = []
    for card in cards:
        content: dict[str, Any] = {"message_text": card_html(card, TEXT_LIMIT),
                                   "parse_mode": ParseMode.HTML}
        if card.image_url:
            content["link_preview_options"] = {"url": card.image_url, "prefer_large_media": True,
                                               "show_above_text": True}
        else:
            content["link_preview_options"] = NO_PREVIEW
        result: dict[str, Any] = {"type": "article", "id": str(card.movie_id),
                                  "title": card.title[:256], "description": card.subtitle[:256],
                                  "input_message_content": content}
        if card.image_url:
            result["thumbnail_url"] = card.image_url
        markup = keyboard(_rows(card.buttons))
        if markup is not None:
            result["reply_markup"] = markup
        results.append(result)
    await api_call(bot, "answerInlineQuery", {"inline_query_id": query_id, "results": results,
                                              "cache_time": INLINE_CACHE_SECONDS})


async def edit_reply(bot: Bot, chat_id: int, message_id: int, reply: Reply) -> None:
    """Redraw a text message the bot sent as ``reply`` (its text and buttons)."""
    params = _message(chat_id, keyboard(_rows(reply.buttons)) or {"inline_keyboard": []},
                      message_id=message_id, text=escape_cut(reply.text or "…", TEXT_LIMIT),
                      link_preview_options=NO_PREVIEW)
    try:
        await api_call(bot, "editMessageText", params)
    except BadRequest as exc:
        if "not modified" not in exc.message:   # two presses drawing the same counts
            raise


async def send_reply(bot: Bot, chat_id: int, reply: Reply,
                     reply_to: int | None = None) -> list[SentCard]:
    """Send ``reply``; returns every sent message with the movie it shows (if any)."""
    sent: list[SentCard] = []
    trailing = _rows(reply.buttons)
    if reply.text or not reply.cards:
        text = escape_cut(reply.text or "…", TEXT_LIMIT)
        markup = keyboard(trailing) if not reply.cards else None
        params = _message(chat_id, markup, text=text, link_preview_options=NO_PREVIEW)
        if reply_to is not None:
            params["reply_parameters"] = {"message_id": reply_to}
        msg = await api_call(bot, "sendMessage", params)
        sent.append(SentCard(msg["message_id"], None))
    for i, card in enumerate(reply.cards):
        rows = _rows(card.buttons)
        if i == len(reply.cards) - 1:
            rows += trailing  # paging goes under the last card
        sent.append(SentCard(await send_card(bot, chat_id, card, keyboard(rows)), card.movie_id))
    return sent


async def send_card(bot: Bot, chat_id: int, card: Card,
                    markup: dict | None) -> int:
    """Send one card; returns its message_id."""
    if card.image_url:
        try:
            msg = await api_call(bot, "sendPhoto", _message(
                chat_id, markup, photo=card.image_url, caption=card_html(card)))
            return msg["message_id"]
        except BadRequest as exc:
            # Telegram could not fetch the poster (dead URL): the card still goes out as text.
            log.info("poster rejected for movie %s: %s", card.movie_id, exc.message)
    msg = await api_call(bot, "sendMessage", _message(
        chat_id, markup, text=card_html(card, TEXT_LIMIT), link_preview_options=NO_PREVIEW))
    return msg["message_id"]


def _message(chat_id: int, markup: dict | None, **fields: Any) -> dict[str, Any]:
    """Parameters of a sendMessage / sendPhoto: always HTML, the keyboard only if there is one."""
    params: dict[str, Any] = {"chat_id": chat_id, "parse_mode": ParseMode.HTML, **fields}
    if markup is not None:
        params["reply_markup"] = markup     # PTB JSON-encodes it
    return params
