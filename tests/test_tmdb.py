"""The TMDB client against a fake TMDB v3 server serving real dataset rows."""

from __future__ import annotations

import asyncio
import time

import pytest

from engine.config import Settings
from engine.results import Movie
from engine.tmdb import TMDBClient
from tests.fakes.tmdb_api import FakeTMDB, movies_from_dataset


@pytest.fixture(scope="module")
def dataset_movies():
    return movies_from_dataset(Settings.from_env().data_dir)


@pytest.fixture
async def fake(dataset_movies):
    server = await FakeTMDB(dataset_movies).start()
    yield server
    await server.stop()


def _with_trailer_and_cast(movies):
    return next(m for m in movies.values()
                if m["videos"]["results"] and m["credits"]["cast"] and m["poster_path"])


async def test_enrich_fills_poster_cast_trailer_and_votes(fake, dataset_movies):
    row = _with_trailer_and_cast(dataset_movies)
    client = TMDBClient(fake.api_key, base_url=fake.base_url)
    try:
        bare = Movie(movie_id=1, title=row["title"], tmdb_id=row["id"])
        movie = await client.enrich(bare)
    finally:
        await client.close()
    assert movie.poster_path == row["poster_path"]
    assert movie.poster_url.endswith(row["poster_path"])
    assert movie.cast == [c["name"] for c in row["credits"]["cast"][:5]]
    assert movie.youtube_id == row["videos"]["results"][0]["key"]
    assert movie.vote_average == pytest.approx(row["vote_average"])
    assert bare.poster_path == ""   # the original is not modified


async def test_cache_and_shared_inflight_requests(fake, dataset_movies):
    row = _with_trailer_and_cast(dataset_movies)
    client = TMDBClient(fake.api_key, base_url=fake.base_url)
    try:
        results = await asyncio.gather(*(client.movie(row["id"]) for _ in range(10)))
        again = await client.movie(row["id"])
    finally:
        await client.close()
    assert all(r == results[0] for r in results) and again == results[0]
    assert fake.requests == [row["id"]]


async def test_unknown_movie_and_bad_key_leave_dataset_fields(fake):
    movie = Movie(movie_id=1, title="Nothing", tmdb_id=999_999_999, poster_path="/mine.jpg")
    client = TMDBClient(fake.api_key, base_url=fake.base_url)
    wrong = TMDBClient("not-the-key", base_url=fake.base_url)
    try:
        assert await client.enrich(movie) == movie
        assert await wrong.movie(next(iter(fake.movies))) is None
    finally:
        await client.close()
        await wrong.close()


async def test_timeout_gives_up_quickly(fake, dataset_movies):
    fake.delay = 2.0
    client = TMDBClient(fake.api_key, base_url=fake.base_url, timeout=0.3)
    started = time.monotonic()
    try:
        assert await client.movie(next(iter(dataset_movies))) is None
    finally:
        await client.close()
    assert time.monotonic() - started < 1.5


async def test_429_is_retried_after_retry_after(fake, dataset_movies):
    fake.throttle_next = 1
    tmdb_id = next(iter(dataset_movies))
    client = TMDBClient(fake.api_key, base_url=fake.base_url)
    started = time.monotonic()
    try:
        live = await client.movie(tmdb_id)
    finally:
        await client.close()
    assert live is not None and live.tmdb_id == tmdb_id
    assert time.monotonic() - started >= 0.9      # it waited the server's Retry-After
    assert fake.requests == [tmdb_id, tmdb_id]


async def test_requests_are_spaced_by_the_rate_limit(fake, dataset_movies):
    ids = list(dataset_movies)[:6]
    client = TMDBClient(fake.api_key, base_url=fake.base_url, requests_per_second=10)
    started = time.monotonic()
    try:
        await asyncio.gather(*(client.movie(i) for i in ids))
    finally:
        await client.close()
    assert time.monotonic() - started >= 0.45     # 6 requests at 10/s: 5 gaps of 0.1 s
    assert sorted(fake.requests) == sorted(ids)


def test_key_never_in_repr():
    assert "sekrit" not in repr(TMDBClient("sekrit"))


async def test_command_layer_cards_use_live_tmdb_fields(fake, dataset_movies, engine):
    from bot.commands import CommandLayer, User

    df = engine.catalog.df
    known = df[df["tmdb_id"].isin(list(dataset_movies))].sort_values("rating_count")
    row = known.iloc[-1]
    live = dataset_movies[int(row["tmdb_id"])]
    client = TMDBClient(fake.api_key, base_url=fake.base_url)
    layer = CommandLayer(lambda: engine, tmdb=client)
    try:
        reply = await layer.handle(f"/info #{int(row['movie_id'])}", User("console", "me"))
    finally:
        await client.close()
    card = reply.cards[0]
    if live["poster_path"]:
        assert card.image_url.endswith(live["poster_path"])
    if live["videos"]["results"]:
        assert live["videos"]["results"][0]["key"] in card.link_url
    assert fake.requests == [int(row["tmdb_id"])]


async def test_command_layer_without_tmdb_uses_dataset_fields(engine):
    from bot.commands import CommandLayer, User

    reply = await CommandLayer(lambda: engine).handle("/info toy story", User("console", "me"))
    movie = engine.movie(1)
    assert reply.cards[0].image_url == movie.poster_url
    assert reply.cards[0].link_url == (movie.trailer_url or movie.imdb_url)
