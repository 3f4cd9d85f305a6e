"""Draw a platform-neutral `bot.replies.Reply` as Telegram messages.

One message per card (a photo with a caption when the card has a poster), so every
recommended movie can get its own 👍/👎 reaction and the reaction maps to exactly one
movie. All user-visible text goes out as HTML with everything escaped: titles and user
input can contain ``<``, ``&`` or Markdown characters and must never be interpreted.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot.replies import Button, Card, Reply

log = logging.getLogger("moviebot.telegram")

CAPTION_LIMIT = 1024      # Telegram's limit for photo captions
TEXT_LIMIT = 4096         # ... and for text messages
CALLBACK_LIMIT = 64       # bytes of callback_data


@dataclass
class SentCard:
    message: Message
    movie_id: int | None


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


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


def keyboard(rows: list[list[Button]]) -> InlineKeyboardMarkup | None:
    out = []
    for row in rows:
        buttons = []
        for b in row:
            if b.url:
                buttons.append(InlineKeyboardButton(b.label, url=b.url))
            elif b.action and len(b.action.encode()) <= CALLBACK_LIMIT:
                buttons.append(InlineKeyboardButton(b.label, callback_data=b.action))
        if buttons:
            out.append(buttons)
    return InlineKeyboardMarkup(out) if out else None


def _rows(buttons: list[Button], per_row: int = 4) -> list[list[Button]]:
    return [buttons[i:i + per_row] for i in range(0, len(buttons), per_row)]


async def send_reply(bot: Bot, chat_id: int, reply: Reply,
                     reply_to: int | None = None) -> list[SentCard]:
    """Send ``reply``; returns every sent message with the movie it shows (if any)."""
    sent: list[SentCard] = []
    trailing = _rows(reply.buttons)
    if reply.text or not reply.cards:
        text = _cut(html.escape(reply.text or "…", quote=False), TEXT_LIMIT)
        markup = keyboard(trailing) if not reply.cards else None
        msg = await bot.send_message(chat_id, text, parse_mode=ParseMode.HTML,
                                     reply_markup=markup, reply_to_message_id=reply_to,
                                     link_preview_options=LinkPreviewOptions(is_disabled=True))
        sent.append(SentCard(msg, None))
    for i, card in enumerate(reply.cards):
        rows = _rows(card.buttons)
        if i == len(reply.cards) - 1:
            rows += trailing  # paging goes under the last card
        sent.append(SentCard(await send_card(bot, chat_id, card, keyboard(rows)), card.movie_id))
    return sent


async def send_card(bot: Bot, chat_id: int, card: Card,
                    markup: InlineKeyboardMarkup | None) -> Message:
    if card.image_url:
        try:
            return await bot.send_photo(chat_id, card.image_url, caption=card_html(card),
                                        parse_mode=ParseMode.HTML, reply_markup=markup)
        except BadRequest as exc:
            # Telegram could not fetch the poster (dead URL): the card still goes out as text.
            log.info("poster rejected for movie %s: %s", card.movie_id, exc.message)
    return await bot.send_message(chat_id, card_html(card, TEXT_LIMIT), parse_mode=ParseMode.HTML,
                                  reply_markup=markup,
                                  link_preview_options=LinkPreviewOptions(is_disabled=True))
