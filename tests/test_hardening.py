"""Issue 14's smaller items: escape-aware truncation, strict button payloads, admins as
platform:id only."""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.actions import Action, InvalidAction
from bot.settings import BotSettings, parse_admins
from bot.telegram.render import TEXT_LIMIT, escape_cut
from engine.errors import MovieBotError

ENTITY = re.compile(r"&(amp|lt|gt);")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("a &<>é🎬\n"), max_size=5000),
       st.integers(5, TEXT_LIMIT))
def test_escape_cut_never_splits_an_entity_and_fits(text, limit):
    out = escape_cut(text, limit)
    assert len(out) <= limit
    body = out.removesuffix("…")
    # every "&" starts a whole entity: unescaping and escaping again gives it back
    assert html.escape(html.unescape(body), quote=False) == body
    assert html.unescape(body) == text[:len(html.unescape(body))]


def test_a_reply_cut_at_an_ampersand_stays_valid_html():
    text = "a" * (TEXT_LIMIT - 3) + "&&&&"
    out = escape_cut(text, TEXT_LIMIT)
    assert out.endswith("…") and not re.search(r"&(?!amp;|lt;|gt;)", out)


@pytest.mark.parametrize("payload", ["like:²", "like:١٢", "more:0", "like:+5", "like: 5",
                                     "like:5\n", "dislike:05", "info:99999999999",
                                     "page:recommend:²", "page:similar:1:m=²", "watch:"])
def test_button_payloads_are_parsed_strictly(payload):
    with pytest.raises(InvalidAction):
        Action.decode(payload)


def test_admins_must_name_their_platform(monkeypatch):
    assert parse_admins(" telegram:1, discord:22 ,") == {"telegram:1", "discord:22"}
    for bad in ("12345", "telegram:", "tg:5", ":5"):
        with pytest.raises(MovieBotError, match="platform:id"):
            parse_admins(bad)
    monkeypatch.setenv("MOVIEBOT_ADMINS", "42")
    with pytest.raises(MovieBotError, match="telegram:42"):
        BotSettings.from_env()
