"""The Telegram renderer: whatever the text, captions stay within Telegram's limits and
user text can never become markup."""

from __future__ import annotations

import html
import re

from hypothesis import given, settings
from hypothesis import strategies as st
from telegram import InlineKeyboardMarkup

from bot.actions import Action
from bot.replies import Button, Card
from bot.telegram.render import CAPTION_LIMIT, TEXT_LIMIT, card_html, keyboard

OUR_TAGS = re.compile(r"</?(b|i)>|<a href=\"[^\"]*\">|</a>")
texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=3000)


one_line = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\n\r"), max_size=3000)


@given(one_line, texts, texts, texts)
@settings(max_examples=200, deadline=None)
def test_caption_fits_and_escapes(title, subtitle, reason, body):
    card = Card(title=title[:300], subtitle=subtitle[:300], reason=reason[:300], body=body,
                image_url="https://image.tmdb.org/t/p/w500/x.jpg")
    caption = card_html(card)
    assert len(caption) <= CAPTION_LIMIT
    stripped = OUR_TAGS.sub("", caption)
    assert "<" not in stripped and ">" not in stripped   # only our own tags survive
    # the title comes back intact (or cut with an ellipsis) once the entities are decoded
    shown = html.unescape(stripped).split("\n", 1)[0]
    assert shown == title[:300] or (shown.endswith("…") and title.startswith(shown[:-1].rstrip()))


@given(texts)
@settings(max_examples=100, deadline=None)
def test_body_is_cut_to_the_limit(body):
    card = Card(title="Heat (1995)", body=body)
    assert len(card_html(card)) <= CAPTION_LIMIT
    assert len(card_html(card, TEXT_LIMIT)) <= TEXT_LIMIT


class _Raw(str):
    """A payload as some future Action might encode it (every real one fits: test_actions)."""

    def encode(self) -> str:      # Action.encode() -> the wire text
        return str(self)


def test_keyboard_drops_actions_longer_than_64_bytes_and_keeps_links():
    markup = keyboard([[Button("ok", Action.like(1)), Button("long", _Raw("x" * 65)),
                        Button("Trailer", url="https://www.youtube.com/watch?v=abc")]])
    row = markup["inline_keyboard"][0]
    assert [b["text"] for b in row] == ["ok", "Trailer"]
    assert row[1]["url"].endswith("abc") and "callback_data" not in row[1]
    # what Telegram (and PTB) calls an InlineKeyboardMarkup
    assert InlineKeyboardMarkup.de_json(markup, None).inline_keyboard[0][0].callback_data == "like:1"
    assert keyboard([[Button("long", _Raw("é" * 40))]]) is None
