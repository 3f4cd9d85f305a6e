"""Where to watch (issue 18, item 3): /where, /country, the card line, and each user's country.

TMDB is the fake server (tests/fakes/tmdb_api.py): its provider table is test scaffolding
with different offers in the US and in Germany; the films are real dataset rows.
"""

from __future__ import annotations

import time

import pytest

from bot.commands import CommandLayer, User
from bot.countries import country_code, country_from_locale
from bot.store import Store
from bot.store.spool import SpoolingStore
from bot.store.testing import open_test_store, unopenable_sqlite
from bot.watch import ATTRIBUTION, NEEDS_KEY
from engine.tmdb import TMDBClient
from tests.fakes.tmdb_api import FakeTMDB, movies_from_dataset

ADA = User("console", "ada")
OPPENHEIMER = 872585
ROWS = 2600          # reaches past Oppenheimer (2023) in the shared TMDB file


@pytest.fixture(scope="module")
def tmdb_movies(data_dir):
    return movies_from_dataset(data_dir, limit=ROWS)


@pytest.fixture
async def fake(tmdb_movies):
    server = await FakeTMDB(dict(tmdb_movies)).start()   # a test may add a film
    yield server
    await server.stop()


@pytest.fixture
async def client(fake):
    client = TMDBClient(fake.api_key, base_url=fake.base_url, timeout=2.0)
    yield client
    await client.close()


def make_layer(engine, client, tmp_path, **options) -> CommandLayer:
    layer = CommandLayer(lambda: engine, tmdb=client, **options)
    layer.ondemand.root = tmp_path
    return layer


def lines_of(reply) -> list[str]:
    return reply.text.splitlines()


# -- /where -----------------------------------------------------------------------------
async def test_where_lists_providers_by_type_for_two_countries(engine, client, tmp_path):
    layer = make_layer(engine, client, tmp_path)
    germany = await layer.handle("/where Oppenheimer DE", ADA)
    usa = await layer.run("where", {"title": "Oppenheimer", "country": "us"}, ADA)
    assert not germany.is_error and not usa.is_error
    assert lines_of(germany) == ["Where to watch Oppenheimer (2023) in Germany:",
                                 "Stream: Disney Plus, WOW", "Buy: Amazon Video", ATTRIBUTION]
    assert lines_of(usa) == ["Where to watch Oppenheimer (2023) in the United States:",
                             "Stream: Netflix", "Rent: Apple TV, Amazon Video",
                             "Buy: Apple TV, Amazon Video", ATTRIBUTION]
    assert "JustWatch" in ATTRIBUTION
    assert germany.buttons[0].url.endswith("/watch?locale=DE")


async def test_where_for_a_catalog_film_uses_the_users_country(engine, client, fake, tmp_path):
    layer = make_layer(engine, client, tmp_path, default_country="DE")
    heat = engine.resolve("heat")
    fake.movies.setdefault(int(heat.tmdb_id), {**fake.movies[OPPENHEIMER], "id": int(heat.tmdb_id),
                                               "title": "Heat"})
    # no /country, no locale: the configured default; a German app: Germany; Brazil: none listed
    assert "in Germany" in (await layer.handle("/where heat", ADA)).text
    assert "in the United States" in (await layer.handle("/where heat", User("console", "b", locale="en-US"))).text
    none = await layer.handle("/where heat", User("console", "c", locale="pt-BR"))
    assert "anywhere to stream, rent or buy Heat (1995) in Brazil" in none.text
    assert "JustWatch" in none.text


async def test_where_with_a_film_that_has_no_offers(engine, client, fake, tmp_path):
    fake.no_providers.add(OPPENHEIMER)
    reply = await make_layer(engine, client, tmp_path).handle("/where Oppenheimer US", ADA)
    assert "I don't know anywhere" in reply.text and "/where Oppenheimer US" in reply.text


async def test_where_without_a_key_says_what_is_needed(engine):
    reply = await CommandLayer(lambda: engine).handle("/where Heat", ADA)
    assert reply.is_error and reply.text == NEEDS_KEY and "TMDB_API_KEY" in reply.text


async def test_where_with_a_bad_country_is_a_friendly_no(engine, client, fake, tmp_path):
    layer = make_layer(engine, client, tmp_path)
    reply = await layer.run("where", {"title": "Oppenheimer", "country": "XX"}, ADA)
    assert reply.is_error and "isn't a country code" in reply.text
    assert fake.calls == []                      # nothing was asked of TMDB
    assert (await layer.handle("/where", ADA)).is_error


async def test_where_when_tmdb_does_not_answer(engine, fake, tmp_path):
    client = TMDBClient(fake.api_key, base_url=fake.base_url, timeout=0.3)
    layer = make_layer(engine, client, tmp_path, tmdb_timeout=0.5)
    fake.delay = 2.0
    try:
        reply = await layer.handle("/where heat US", ADA)
    finally:
        await client.close()
    assert reply.is_error and "didn't answer" in reply.text


# -- the card line ------------------------------------------------------------------------
def where_line(card) -> str:
    return next((line for line in card.body.splitlines() if line.startswith("Where to watch")), "")


async def test_cards_get_a_where_to_watch_line_with_a_key(engine, client, fake, tmp_path):
    layer = make_layer(engine, client, tmp_path)
    inception = engine.resolve("inception")
    info = await layer.handle("/info inception", User("console", "d", locale="de-DE"))
    assert where_line(info.cards[0]) == ("Where to watch (DE, JustWatch): stream on Disney Plus, "
                                         "WOW · buy on Amazon Video")
    assert f"/3/movie/{inception.tmdb_id}/watch/providers" in fake.calls
    similar = await layer.handle("/similar inception", ADA)
    with_line = [c for c in similar.cards if where_line(c)]
    # every listed film the fake TMDB knows gets the US line
    known = [c for c in similar.cards if int(engine.movie(c.movie_id).tmdb_id or 0) in fake.movies]
    assert len(with_line) == len(known)
    assert all("stream on Netflix" in where_line(c) for c in with_line)


async def test_no_key_no_line(engine):
    info = await CommandLayer(lambda: engine).handle("/info inception", ADA)
    assert not where_line(info.cards[0])


@pytest.mark.parametrize("trouble", ["slow", "down"])
async def test_tmdb_slow_or_down_gives_the_normal_answer_without_the_line(engine, fake, tmp_path,
                                                                          trouble):
    client = TMDBClient(fake.api_key, base_url=fake.base_url, timeout=0.3)
    layer = make_layer(engine, client, tmp_path, tmdb_timeout=0.5)
    if trouble == "slow":
        fake.delay = 2.0
    else:
        await fake.stop()
    started = time.monotonic()
    try:
        info = await layer.handle("/info inception", ADA)
        similar = await layer.handle("/similar heat", ADA)
    finally:
        await client.close()
    assert info.cards[0].title == "Inception (2010)" and not info.is_error
    assert not where_line(info.cards[0])
    assert similar.cards and not any(where_line(c) for c in similar.cards)
    assert time.monotonic() - started < 10     # bounded by the timeouts, not by TMDB


# -- /country and the store --------------------------------------------------------------
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_country_is_remembered_across_a_restart(engine, client, tmp_path, backend):
    async with open_test_store(backend, tmp_path) as store:
        layer = make_layer(engine, client, tmp_path, store=store)
        assert "the bot's default" in (await layer.handle("/country", ADA)).text
        saved = await layer.handle("/country de", ADA)
        assert saved.text.startswith("Got it") and "Germany (DE)" in saved.text
        bad = await layer.handle("/country XX", ADA)
        assert bad.is_error and "isn't a country code" in bad.text
        uid = await store.user_id("console", "ada")
        assert await store.user_country(uid) == "DE"      # the bad code changed nothing
        # a restart: a fresh layer (no cache) over the same database
        again = make_layer(engine, client, tmp_path, store=store)
        assert "Germany (DE; you chose it)" in (await again.handle("/country", ADA)).text
        assert "in Germany" in (await again.handle("/where Oppenheimer", ADA)).text
        # /forget deletes the country with everything else
        await again.press("forget:yes", ADA)
        assert "the bot's default" in (await again.handle("/country", ADA)).text


async def test_country_survives_a_new_store_on_the_same_file(engine, client, tmp_path):
    url = f"sqlite:///{tmp_path}/c.db"
    store = await Store.open(url)
    await make_layer(engine, client, tmp_path, store=store).handle("/country GB", ADA)
    await store.close()
    store = await Store.open(url)
    try:
        reply = await make_layer(engine, client, tmp_path, store=store).handle("/country", ADA)
    finally:
        await store.close()
    assert "United Kingdom (GB; you chose it)" in reply.text


async def test_migration_0004_adds_the_country_to_existing_users(tmp_path):
    store = await Store.open(f"sqlite:///{tmp_path}/m.db", migrate=False)
    try:
        await store.migrate("0003")
        uid = await store.user_id("telegram", "7", "Old user")
        await store.migrate("head")
        assert await store.user_country(uid) is None
        await store.set_user_country(uid, "FR")
        assert await store.user_country(uid) == "FR"
        assert await store.user_id("telegram", "7") == uid
    finally:
        await store.close()


async def test_country_without_a_store_or_while_it_is_down(engine, client, tmp_path):
    bare = make_layer(engine, client, tmp_path)
    reply = await bare.handle("/country DE", ADA)
    assert reply.is_error and "/where Heat DE" in reply.text
    spooling = SpoolingStore(Store(unopenable_sqlite(tmp_path)), tmp_path / "spool.jsonl",
                             retry_every=60)
    down = make_layer(engine, client, tmp_path, store=spooling)
    try:
        reply = await down.handle("/country DE", ADA)
        assert reply.is_error and "isn't saved" in reply.text
        # cards still answer, in the default country
        info = await down.handle("/info inception", ADA)
        assert "Where to watch (US" in info.cards[0].body
    finally:
        await spooling.close()


def test_country_codes_and_locales():
    assert country_code(" de ") == "DE" and country_code("uk") == "GB"
    assert country_code("XX") is None and country_code("Germany") is None and country_code("") is None
    assert country_from_locale("pt-BR") == "BR" and country_from_locale("en_GB") == "GB"
    assert country_from_locale("de") == "DE" and country_from_locale("ja") == "JP"
    assert country_from_locale("en") is None and country_from_locale("es") is None
    assert country_from_locale("") is None and country_from_locale("zh-Hans") is None


# -- the TMDB client's provider calls ------------------------------------------------------
async def test_providers_follow_retry_after_and_are_cached(fake, client):
    fake.throttle_next = 1
    started = time.monotonic()
    first = await client.watch_providers(OPPENHEIMER)
    again = await client.watch_providers(OPPENHEIMER)
    assert time.monotonic() - started >= 0.9          # it waited the server's Retry-After
    assert first == again and set(first) == {"US", "DE"}
    assert first["DE"]["flatrate"][0]["provider_name"] == "Disney Plus"
    assert fake.calls.count(f"/3/movie/{OPPENHEIMER}/watch/providers") == 2   # 429, then one


async def test_search_finds_titles_and_a_year_narrows_it(client):
    found = await client.search("oppenheimer")
    assert found and found[0]["id"] == OPPENHEIMER
    assert await client.search("oppenheimer", 1999) == []
    assert await client.search("xqzzyv blorptastic") == []


# -- a real Telegram bot (python-telegram-bot against the fake Bot API) --------------------
async def test_telegram_where_info_and_country_end_to_end(engine, fake, tmp_path):
    from tests.fakes.harness import telegram_bot

    client = TMDBClient(fake.api_key, base_url=fake.base_url)
    try:
        async with telegram_bot(engine, tmp_path / "t.db",
                                layer_options={"tmdb": client}) as (tg, frontend, _):
            frontend.layer.ondemand.root = tmp_path
            tg.push_text("/where Oppenheimer", language_code="de")        # a German app
            await tg.wait_for(lambda f: len(_texts(f)) >= 1, 20)
            tg.push_text("/country GB", language_code="de")
            await tg.wait_for(lambda f: len(_texts(f)) >= 2, 20)
            tg.push_text("/info Oppenheimer", language_code="de")
            await tg.wait_for(lambda f: len(_texts(f)) >= 3, 20)
            tg.push_text("/similar Oppenheimer", language_code="de")
            await tg.wait_for(lambda f: len(_texts(f)) >= 4, 20)
            sent = _texts(tg)
    finally:
        await client.close()
    assert sent[0].startswith("Where to watch Oppenheimer (2023) in Germany:")
    assert "JustWatch" in sent[0]
    assert "United Kingdom (GB)" in sent[1]
    assert "Oppenheimer (2023)" in sent[2] and "queued" in sent[2]
    # GB is not in the fake's table: the card has no line rather than a wrong one
    assert "Where to watch" not in sent[2]
    assert any("new to me" in s for s in sent[3:])


def _texts(fake, chat_id: int = 42) -> list[str]:
    return [c.params.get("text") or c.params.get("caption") or ""
            for c in fake.sent(chat_id=chat_id) if c.method in ("sendMessage", "sendPhoto")]


# -- a real Discord bot (discord.py against the fake REST API and gateway) -----------------
async def test_discord_slash_where_uses_the_interaction_locale(engine, fake, tmp_path):
    import asyncio

    from bot.discord.client import DiscordOptions, build_bot
    from tests.fakes.discord_api import FakeDiscord

    discord_fake = await FakeDiscord().start()
    client = TMDBClient(fake.api_key, base_url=fake.base_url)
    bot = build_bot(make_layer(engine, client, tmp_path),
                    DiscordOptions(api_base=discord_fake.api_base, gateway=discord_fake.gateway_url,
                                   guild_ready_timeout=0.2))
    task = asyncio.create_task(bot.start(discord_fake.token))
    try:
        await asyncio.wait_for(bot.wait_until_ready(), 20)
        answers = {}
        for locale in ("de", "en-US"):
            interaction = await discord_fake.slash("where", {"title": "Oppenheimer"}, locale=locale)
            await discord_fake.wait_for(
                lambda f, i=interaction: any(c["interaction_id"] == i for c in f.callbacks), 20)
            callback = next(c for c in discord_fake.callbacks if c["interaction_id"] == interaction)
            answers[locale] = callback["data"]["content"]
    finally:
        await bot.close()
        await asyncio.wait_for(task, 10)
        await client.close()
        await discord_fake.stop()
    assert answers["de"].startswith("Where to watch Oppenheimer (2023) in Germany:")
    assert answers["en-US"].startswith("Where to watch Oppenheimer (2023) in the United States:")
    assert all("JustWatch" in a for a in answers.values())


async def test_a_party_winner_is_announced_with_where_to_watch(engine, client, fake, tmp_path):
    # issue 19: "announce the winner with its card, trailer and, where the live catalog
    # gives it, where to watch" -- in the host's country (here the configured default)
    from bot import party
    from bot.actions import Action
    from bot.commands import Chat, MessageRef
    from bot.store import FeedbackEvent

    group = Chat("telegram", "-100901", group=True)
    ann, bo = User("telegram", "31", "Ann"), User("telegram", "32", "Bo")
    ref = MessageRef("telegram", group.chat_id, "1")
    store = await Store.open(f"sqlite:///{tmp_path / 'party.db'}")
    try:
        layer = CommandLayer(lambda: engine, store=store, tmdb=client, default_country="DE")
        party.configure(layer, party.PartyOptions(start_after=600, vote_time=600))
        for user, ratings in ((ann, {2571: 5.0, 1: 4.0}), (bo, {296: 5.0, 1214: 4.5})):
            uid = await store.user_id(user.platform, user.user_id, user.display_name)
            for movie_id, stars in ratings.items():
                await store.record_feedback(FeedbackEvent(uid, movie_id, "rating", stars,
                                                          event_id=f"seed:{movie_id}"))
        pid = (await layer.run("party", {}, ann, chat=group)).context["party"]
        await layer.press(Action.party_step("join", pid), bo, ref, "j1", group)
        ballot = await layer.run("party", {"step": "go"}, ann, chat=group)
        choice = next(b.action.movie_id for b in ballot.buttons
                      if b.action and b.action.step == "vote")
        tmdb_id = int(engine.movie(choice).tmdb_id)   # the fake serves offers for its films
        fake.movies.setdefault(tmdb_id, {**fake.movies[OPPENHEIMER], "id": tmdb_id})
        await layer.press(Action.party_step("vote", pid, choice), ann, ref, "v1", group)
        await layer.press(Action.party_step("vote", pid, choice), bo, ref, "v2", group)
        done = await layer.press(Action.party_step("close", pid), ann, ref, "c1", group)
    finally:
        await store.close()
    assert "winner" in done.text and done.cards[0].movie_id == choice
    assert "Where to watch (DE, JustWatch): stream on Disney Plus, WOW" in done.cards[0].body
