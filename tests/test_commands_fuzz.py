"""Property-based fuzzing of the command parser and of whole-message handling."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.commands import CommandLayer, User
from bot.parsing import (
    _FILTER_RE,
    MAX_MESSAGE_CHARS,
    clean_text,
    parse,
    parse_filters,
    parse_rating,
)
from engine.errors import InvalidInput

COMMANDS = ["start", "help", "info", "search", "similar", "song", "recommend", "rate",
            "watchlist", "forget", "stats", "nope"]
messages = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=200),
    st.builds(lambda c, bot, a: f"/{c}{bot} {a}", st.sampled_from(COMMANDS),
              st.sampled_from(["", "@moviebot_test_bot", "@other_bot", "@"]), st.text(max_size=40)),
    st.sampled_from(["<b>x</b>", "**x**", "[a](http://e.vil)", "@everyone", "🎬" * 30,
                     "\x00" * 5, "\u202e evil", "x" * (MAX_MESSAGE_CHARS + 1), "/", "//", "/ "]),
)


@given(messages)
@settings(max_examples=400, deadline=None)
def test_parse_either_reads_or_explains(text):
    try:
        command = parse(text, "moviebot_test_bot")
    except InvalidInput as err:
        assert str(err) and "Traceback" not in str(err)
        return
    if command is None:
        assert "@" in text           # only commands addressed to another bot are skipped
        return
    assert command.name == "title" or command.name.isidentifier()
    assert not any(ch in command.args for ch in "\x00\x07\u200b\u202e")
    assert len(command.args) <= MAX_MESSAGE_CHARS


@given(st.text(max_size=200))
@settings(max_examples=300, deadline=None)
def test_clean_text_is_idempotent(text):
    once = clean_text(text)
    assert clean_text(once) == once


@given(st.text(max_size=30), st.floats(min_value=-10, max_value=10, allow_nan=False))
@settings(max_examples=300, deadline=None)
def test_parse_rating_only_accepts_half_stars(title, stars):
    try:
        parsed_title, value = parse_rating(f"{title} {stars:g}")
    except InvalidInput:
        return
    assert 0.5 <= value <= 5 and value * 2 == int(value * 2)
    assert parsed_title


@given(st.text(max_size=60))
@settings(max_examples=300, deadline=None)
def test_parse_filters_never_crashes(text):
    try:
        rest, filters = parse_filters(text)
    except InvalidInput:
        return
    assert not _FILTER_RE.search(rest)      # every filter token was taken out
    if filters.year_min is not None:
        assert 1870 <= filters.year_min <= 2100


@pytest.fixture(scope="module")
def layer(engine):
    return CommandLayer(lambda: engine, "moviebot_test_bot")


@given(messages)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_whole_messages_always_get_a_reply_never_a_crash(layer, text):
    reply = asyncio.run(layer.handle(text, User("telegram", "42", "Ada")))
    if reply is None:
        assert "@other_bot" in text or "@" in text
        return
    assert reply.text or reply.cards
    assert "Traceback" not in reply.text and "Exception" not in reply.text
