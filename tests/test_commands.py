"""The command layer with the real quick-built engine and a real (SQLite) store."""

from __future__ import annotations

import pytest

from bot.actions import Action, PageQuery
from bot.commands import CommandLayer, MessageRef, User
from bot.parsing import emoji_signal, parse, parse_filters, parse_rating
from bot.store import Store
from engine.errors import InvalidInput

ADA = User("telegram", "42", "Ada Lovelace")
ADMIN = User("telegram", "1", "Root", is_admin=True)


@pytest.fixture
async def layer(engine, tmp_path):
    store = await Store.open(f"sqlite:///{tmp_path / 'c.db'}")
    yield CommandLayer(lambda: engine, "moviebot_test_bot", store=store)
    await store.close()


# -- parsing -------------------------------------------------------------------------
def test_parse_commands_and_addressing():
    assert parse("/info@moviebot_test_bot heat", "moviebot_test_bot").args == "heat"
    assert parse("/info@other_bot heat", "moviebot_test_bot") is None
    assert parse("  Heat \u200b") .name == "title"
    with pytest.raises(InvalidInput, match="too long"):
        parse("x" * 10_000)
    with pytest.raises(InvalidInput):
        parse("\x00\x01")


@pytest.mark.parametrize("text, title, stars", [
    ("Heat 4.5", "Heat", 4.5), ("Heat 4,5", "Heat", 4.5), ("The Matrix 5/5", "The Matrix", 5.0),
    ("Heat ★★★½", "Heat", 3.5), ("Se7en 3 stars", "Se7en", 3.0), ("1917 4", "1917", 4.0),
])
def test_parse_rating(text, title, stars):
    assert parse_rating(text) == (title, stars)


@pytest.mark.parametrize("text", ["Heat 7", "Heat 4.3", "Heat 0", "Heat", "4.5", ""])
def test_parse_rating_refuses(text):
    with pytest.raises(InvalidInput):
        parse_rating(text)


def test_parse_filters():
    rest, filters = parse_filters("heat genre:crime,thriller after:1990 before:2005")
    assert rest == "heat"
    assert filters.genres == ["crime", "thriller"]
    assert (filters.year_min, filters.year_max) == (1990, 2005)
    _, filters = parse_filters("year:1999")
    assert (filters.year_min, filters.year_max) == (1999, 1999)
    with pytest.raises(InvalidInput):
        parse_filters("heat after:soon")
    # command-line habits get the chat syntax, not "couldn't find 'casablanca --to 1960'"
    with pytest.raises(InvalidInput, match="genre:comedy after:1990"):
        parse_filters("casablanca --to 1960")
    assert parse_filters("Bohemian Rhapsody - Queen")[0] == "Bohemian Rhapsody - Queen"
    assert parse_filters("Qui de nous deux -M-")[0] == "Qui de nous deux -M-"


def test_emoji_signal():
    assert emoji_signal("👍") == emoji_signal("👍🏽") == emoji_signal("❤️") == "like"
    assert emoji_signal("👎🏿") == "dislike"
    assert emoji_signal("🤔") is None and emoji_signal("") is None


# -- commands ------------------------------------------------------------------------
async def test_start_and_help(layer):
    start = await layer.handle("/start", ADA)
    assert start.text.startswith("Hi Ada!") and start.buttons
    assert "/watchlist" in (await layer.handle("/help", ADA)).text


async def test_plain_title_is_info_with_more_like_this(layer):
    reply = await layer.handle("toy story", ADA)
    card = reply.cards[0]
    assert card.title == "Toy Story (1995)" and card.movie_id == 1
    assert Action.more(1) in {b.action for b in card.buttons}
    assert reply.context == {"command": "info", "movie_id": 1}


async def test_rate_then_history_and_recommend(layer, engine):
    empty = await layer.handle("/recommend", ADA)
    assert "don't know your taste" in empty.text
    saved = await layer.handle("/rate Heat 4.5", ADA)
    assert "★ 4.5/5" in saved.text
    uid = await layer.store.user_id("telegram", "42")
    history = await layer.store.history(uid)
    assert len(history) == 1 and history[0][1] == 4.5
    reply = await layer.handle("/recommend", ADA)
    if engine.has("collab"):
        assert reply.cards and not reply.is_error
        assert len(reply.cards) <= layer.page_size
        assert all(c.movie_id != history[0][0] for c in reply.cards)
    else:
        assert "not built yet" in reply.text


async def test_similar_and_paging(layer, engine):
    reply = await layer.handle("/similar heat", ADA)
    if not engine.has("content"):
        assert "not built yet" in reply.text
        return
    assert len(reply.cards) == layer.page_size and reply.context["command"] == "similar"
    heat = reply.context["query_movie_id"]
    assert all(c.movie_id != heat for c in reply.cards)
    more = [b.action for b in reply.buttons if b.label.startswith("More")]
    assert more == [Action.page("similar", PageQuery(movie_id=heat), 1)]
    page2 = await layer.press(more[0], ADA)
    assert page2.cards and {c.movie_id for c in page2.cards}.isdisjoint(
        {c.movie_id for c in reply.cards})
    # the same through the "More like this" button of a card
    assert (await layer.press(f"more:{heat}", ADA)).cards[0].movie_id == reply.cards[0].movie_id


async def test_song(layer, engine):
    reply = await layer.handle("/song Bohemian Rhapsody", ADA)
    if engine.has("crossmedia"):
        assert reply.cards or reply.is_error
    else:
        assert "not built yet" in reply.text
    assert "Which song" in (await layer.handle("/song", ADA)).text


async def test_an_ambiguous_song_offers_buttons_that_pick_the_track(layer, engine):
    if not engine.has("crossmedia"):
        pytest.fail("the quick build should include the crossmedia component")
    reply = await layer.handle("/song Hallelujah", ADA)
    assert reply.is_error and "Which one?" in reply.text
    assert reply.buttons and all(b.action.verb == "song" for b in reply.buttons)
    assert all(len(b.action.encode().encode()) <= 64 for b in reply.buttons)  # Telegram callback_data
    buckley = next(b for b in reply.buttons if "Jeff Buckley" in b.label)
    picked = await layer.press(buckley.action, ADA)
    assert picked.cards and not picked.is_error
    assert "Jeff Buckley" in picked.text


async def test_watchlist(layer):
    assert "empty" in (await layer.handle("/watchlist", ADA)).text
    assert "Added Heat" in (await layer.handle("/watchlist add heat", ADA)).text
    assert "already" in (await layer.handle("/watchlist add heat", ADA)).text
    assert "• Heat" in (await layer.handle("/watchlist list", ADA)).text
    assert "Added Toy Story" in (await layer.press("watch:1", ADA)).text
    assert "Removed Heat" in (await layer.handle("/watchlist remove heat", ADA)).text
    assert "wasn't" in (await layer.handle("/watchlist remove heat", ADA)).text
    assert "Use /watchlist" in (await layer.handle("/watchlist eat heat", ADA)).text


async def test_forget_needs_confirmation(layer):
    await layer.handle("/rate Heat 4", ADA)
    await layer.handle("/watchlist add toy story", ADA)
    ask = await layer.handle("/forget", ADA)
    assert {b.action for b in ask.buttons} == {Action.forget(True), Action.forget(False)}
    assert "nothing was deleted" in (await layer.press("forget:no", ADA)).text
    uid = await layer.store.user_id("telegram", "42")
    assert await layer.store.history(uid)
    done = await layer.press("forget:yes", ADA)
    assert "deleted 1 reaction or rating and 1 watchlist entry." in done.text
    uid = await layer.store.user_id("telegram", "42")
    assert await layer.store.history(uid) == [] and await layer.store.watchlist(uid) == []


async def test_stats_for_admins_only(layer):
    assert "admins" in (await layer.handle("/stats", ADA)).text
    await layer.handle("/rate Heat 4", ADA)
    stats = await layer.handle("/stats", ADMIN)
    assert "Users: 1" in stats.text and "rating 1" in stats.text


async def test_like_button_is_idempotent_per_press(layer):
    ref = MessageRef("telegram", "42", "77")
    assert "Noted" in (await layer.press("like:1", ADA, ref, event_id="cb-1")).text
    await layer.press("like:1", ADA, ref, event_id="cb-1")           # redelivered
    assert (await layer.store.stats())["events"] == 1
    await layer.press("dislike:1", ADA, ref, event_id="cb-2")
    uid = await layer.store.user_id("telegram", "42")
    assert await layer.store.history(uid) == [(1, "dislike")]


async def test_reactions_on_unknown_messages_and_emoji_are_ignored(layer):
    ref = MessageRef("telegram", "42", "999")
    assert not await layer.reaction(ADA, ref, "👍", added=True)       # not a movie card
    await layer.remember(ref, 1, {"command": "info"})
    assert not await layer.reaction(ADA, ref, "🤔", added=True)
    assert await layer.reaction(ADA, ref, "👍", added=True)
    assert not await layer.reaction(ADA, ref, "👍🏻", added=True)     # same signal: counted once


async def test_unknown_and_ambiguous_titles_offer_buttons(layer):
    reply = await layer.handle("/info toy stor", ADA)
    assert reply.cards or reply.buttons
    miss = await layer.handle("/similar qwzxv plorkt", ADA)
    assert miss.is_error and "couldn" in miss.text
    assert all(b.action.verb == "more" for b in miss.buttons)


async def test_expired_or_forged_buttons(layer):
    for action in ("", "page:similar:99:#1", "like:abc", "drop table", "page:song:1"):
        reply = await layer.press(action, ADA)
        assert reply.is_error and "expired" in reply.text
    forged = await layer.press("like:999999999", ADA, event_id="x")
    assert forged.is_error and "#999999999" in forged.text
    assert (await layer.store.stats())["events"] == 0      # nothing stored for it


async def test_no_store_is_a_friendly_answer(engine):
    layer = CommandLayer(lambda: engine)
    for text in ("/rate Heat 4", "/watchlist", "/recommend", "/forget"):
        reply = await layer.handle(text, ADA)
        assert reply.is_error and "no memory" in reply.text


async def test_components_not_built_answer_with_the_friendly_message(engine):
    from engine import Engine

    bare = Engine(engine.version_dir, {**engine.manifest, "components": {
        k: v for k, v in engine.manifest["components"].items()
        if k not in ("content", "collab", "crossmedia")}}, engine.catalog)
    layer = CommandLayer(lambda: bare)
    for text, component in (("/similar heat", "content"), ("/song bohemian rhapsody", "crossmedia")):
        reply = await layer.handle(text, ADA)
        assert reply.is_error and f"The {component} recommender is not built yet" in reply.text
    assert (await layer.handle("/info heat", ADA)).cards     # the catalog alone still answers


async def test_recommend_says_what_it_picked_from(layer):
    await layer.handle("/rate Heat 1995 4.5", ADA)
    one = await layer.handle("/recommend", ADA)
    assert one.text == "Picked for you from your 1 rating:"
    await layer.handle("/rate toy story 4", ADA)
    assert (await layer.handle("/recommend", ADA)).text == "Picked for you from your 2 ratings:"
    await layer.press(Action.like(2571), ADA, event_id="m")       # The Matrix: a 👍
    mixed = await layer.handle("/recommend", ADA)
    assert mixed.text == "Picked for you from 3 movies you rated or reacted to:"


async def test_start_promises_memory_only_with_a_store(layer, engine):
    assert "gets more personal" in (await layer.handle("/start", ADA)).text
    bare = await CommandLayer(lambda: engine).handle("/start", ADA)
    assert "gets more personal" not in bare.text and "no memory" in bare.text


def test_plural_and_taste_source_are_the_one_place_for_counts():
    from bot.replies import plural, taste_source

    assert plural(1, "rating") == "1 rating" and plural(0, "rating") == "0 ratings"
    assert plural(2, "watchlist entry", "watchlist entries") == "2 watchlist entries"
    assert taste_source([(1, 4.5)]) == "your 1 rating"
    assert taste_source([(1, "like")]) == "1 movie you reacted to"
    assert taste_source([(1, "like"), (2, "dislike")]) == "2 movies you reacted to"
    assert taste_source([(1, "like"), (2, 3.0)]) == "2 movies you rated or reacted to"
